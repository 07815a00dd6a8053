"""What the Telegram tests share besides fixtures: the admin's and a viewer's ids, a consumer of a source's
events, a free local port. A module of its own (not `conftest`), so `from telegram_helpers import …` finds this
file whichever folder's conftest.py pytest imported first (`pytest tests/console tests/telegram`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

from bot.events import Event

ADMIN_ID = 5550001
VIEWER_ID = 7770001


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EventFeed:
    """Consumes a source's events in a background task, like the pipeline would, one at a time."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._events = events
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for event in self._events:
            await self.queue.put(event)

    async def next(self, timeout: float = 10.0) -> Event:
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()
            raise AssertionError("the source stopped without an error")
        raise AssertionError(f"no event within {timeout} s")

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
