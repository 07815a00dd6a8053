"""Hands events from aiogram handlers to the pipeline, one at a time, without losing any on a crash.

Telegram forgets an update once a later getUpdates confirms it (offset), and a webhook call once it was
answered 200. So a handler must not return before the pipeline has the event: `deliver` waits until the
consumer of `events()` has taken the event *and asked for the next one* (i.e. finished with it). A
process killed in between never confirmed the update, and Telegram delivers it again after the restart;
the event id makes that redelivery harmless downstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.events import Event


class EventInbox:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Event, asyncio.Future[None]]] = asyncio.Queue(maxsize=1)

    async def deliver(self, event: Event) -> None:
        """Called by a handler; returns once the pipeline is done with `event`."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, done))
        await done

    async def events(self, receiver: asyncio.Future[None]) -> AsyncIterator[Event]:
        """Events until `receiver` (the polling or webhook task feeding the handlers) stops; its error, if
        any, is raised here so the pipeline does not wait forever on a dead connection."""
        while True:
            getter = asyncio.ensure_future(self._queue.get())
            try:
                await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getter.done():
                    getter.cancel()
            if getter.cancelled():
                receiver.result()
                return
            event, done = getter.result()
            try:
                yield event
            except GeneratorExit:
                # The consumer stopped mid-event: leave the update unconfirmed so Telegram sends it again.
                if not done.done():
                    done.cancel()
                raise
            if not done.done():
                done.set_result(None)
