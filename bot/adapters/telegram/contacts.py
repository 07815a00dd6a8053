"""Who can be written to by DM. A Telegram bot cannot start a conversation: a viewer must have started
it (pressed Start or written to it) first, and may block it later."""

from __future__ import annotations

from typing import Protocol


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
