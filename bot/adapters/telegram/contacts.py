"""Who can be written to by DM. A Telegram bot cannot start a conversation: a viewer must have started
it (pressed Start or written to it) first, and may block it later."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol


class DmContacts(Protocol):
    async def can_message(self, user_id: str) -> bool: ...

    async def opened(self, user_id: str) -> None:
        """The viewer wrote to the bot in private: DMs are allowed from now on."""

    async def unreachable(self, user_id: str) -> None:
        """Telegram refused a DM (blocked, or never started): stop trying."""


class MemoryDmContacts:
    """In-process contacts; forgets everything on restart (the store-backed one does not)."""

    def __init__(self) -> None:
        self._open: set[str] = set()

    async def can_message(self, user_id: str) -> bool:
        return user_id in self._open

    async def opened(self, user_id: str) -> None:
        self._open.add(user_id)

    async def unreachable(self, user_id: str) -> None:
        self._open.discard(user_id)


class StoreDmContacts:
    """Contacts kept in the store's `viewers.dm_reachable`, so they survive restarts and are shared by workers."""

    def __init__(self, store: Any, platform: str = "telegram") -> None:
        self.store = store
        self.platform = platform

    async def can_message(self, user_id: str) -> bool:
        viewer = await asyncio.to_thread(self.store.viewer, self.platform, user_id)
        return viewer is not None and viewer.dm_reachable is True

    async def opened(self, user_id: str) -> None:
        await asyncio.to_thread(self.store.set_dm_reachable, self.platform, user_id, True)

    async def unreachable(self, user_id: str) -> None:
        await asyncio.to_thread(self.store.set_dm_reachable, self.platform, user_id, False)
