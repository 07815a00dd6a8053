"""Telegram's sending limits, kept before the API has to enforce them with 429s.

About one message per second into one chat, twenty per minute into one group, thirty per second overall.
Telegram counts a message when its request *arrives*, which we never see: we only know when ours started
and when the answer came back. So a send is paced from the previous one's **completion** (the previous
request surely arrived before its answer left), plus a `margin` (a fraction of the interval and of the
group window) for Telegram's own clock. Pacing from the start of the request, as before, let network jitter
bring two requests 0.996 s apart to Telegram and drew 429s in bursts.

`async with throttle.slot(chat_id):` waits until a message to that chat fits all three windows, books it,
sends, and re-books the chat at completion; sends to one chat are serialised. `hold` blocks a chat after
the API said "retry after N" so other messages queued for it do not hit the same wall. The clock and sleep
are injectable so tests can check the arithmetic without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

_PURGE_ABOVE = 10_000  # chats remembered before expired entries are dropped


class SendThrottle:
    def __init__(self, *, chat_interval: float = 1.0, group_per_minute: int = 20, global_per_second: int = 25,
                 margin: float = 0.1, group_window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.chat_interval = chat_interval * (1 + margin)
        self.group_per_minute = group_per_minute
        self.group_window = group_window * (1 + margin)  # tests shrink the minute to keep a 200-message burst fast
        self.global_per_second = global_per_second
        self._clock = clock
        self._sleep = sleep
        self._chat_free_at: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._global_sends: deque[float] = deque()
        self._chat_locks: dict[int, asyncio.Lock] = {}

    @asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[float]:
        """Wait for a message to `chat_id` to fit, yield the seconds waited while it is sent, then book its completion."""
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        async with lock:  # a second message to the same chat waits for the first one's answer
            waited = await self.wait(chat_id)
            try:
                yield waited
            finally:
                self.completed(chat_id)
        if not lock.locked() and len(self._chat_locks) > _PURGE_ABOVE:
            self._chat_locks.pop(chat_id, None)

    async def wait(self, chat_id: int) -> float:
        """Sleep until a message to `chat_id` is allowed, book it (as started now), and return the seconds waited."""
        waited = 0.0
        while (delay := self._delay(chat_id, self._clock())) > 0:
            await self._sleep(delay)
            waited += delay
        self._book(chat_id, self._clock())
        return waited

    def completed(self, chat_id: int) -> None:
        """The request booked last for `chat_id` got its answer: count the chat's interval and window from now."""
        now = self._clock()
        self._chat_free_at[chat_id] = max(self._chat_free_at.get(chat_id, 0.0), now + self.chat_interval)
        group = self._group_sends.get(chat_id)
        if chat_id < 0 and group:
            group[-1] = max(group[-1], now)

    def hold(self, chat_id: int, seconds: float) -> None:
        """The API asked us to wait `seconds` before writing to this chat again."""
        until = self._clock() + seconds
        self._chat_free_at[chat_id] = max(self._chat_free_at.get(chat_id, 0.0), until)

    def _delay(self, chat_id: int, now: float) -> float:
        delays = [self._chat_free_at.get(chat_id, now) - now]
        group = self._group_sends.get(chat_id)
        if chat_id < 0 and group is not None:
            _expire(group, now - self.group_window)
            if len(group) >= self.group_per_minute:
                delays.append(group[0] + self.group_window - now)
        _expire(self._global_sends, now - 1.0)
        if len(self._global_sends) >= self.global_per_second:
            delays.append(self._global_sends[0] + 1.0 - now)
        return max(delays)

    def _book(self, chat_id: int, now: float) -> None:
        self._chat_free_at[chat_id] = now + self.chat_interval
        if chat_id < 0:  # groups and channels have negative ids; private chats positive
            self._group_sends.setdefault(chat_id, deque()).append(now)
        self._global_sends.append(now)
        if len(self._chat_free_at) > _PURGE_ABOVE:
            self._purge(now)

    def _purge(self, now: float) -> None:
        for chat_id in [c for c, free_at in self._chat_free_at.items() if free_at <= now]:
            del self._chat_free_at[chat_id]
            group = self._group_sends.get(chat_id)
            if group is not None:
                _expire(group, now - self.group_window)
                if not group:
                    del self._group_sends[chat_id]


def _expire(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
