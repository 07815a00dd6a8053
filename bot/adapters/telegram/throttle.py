"""Telegram's sending limits, kept before the API has to enforce them with 429s.

About one message per second into one chat, twenty per minute into one group, thirty per second overall.
`wait(chat_id)` sleeps until a message to that chat fits all three windows and then books it; `hold`
blocks a chat after the API said "retry after N" so other messages queued for it do not hit the same wall.
The clock and sleep are injectable so tests can check the arithmetic without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

_PURGE_ABOVE = 10_000  # chats remembered before expired entries are dropped


class SendThrottle:
    def __init__(self, *, chat_interval: float = 1.0, group_per_minute: int = 20, global_per_second: int = 25,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.global_per_second = global_per_second
        self._clock = clock
        self._sleep = sleep
        self._chat_free_at: dict[int, float] = {}
        self._group_sends: dict[int, deque[float]] = {}
        self._global_sends: deque[float] = deque()

    async def wait(self, chat_id: int) -> float:
        """Sleep until a message to `chat_id` is allowed, book it, and return the seconds waited."""
        waited = 0.0
        while (delay := self._delay(chat_id, self._clock())) > 0:
            await self._sleep(delay)
            waited += delay
        self._book(chat_id, self._clock())
        return waited

    def hold(self, chat_id: int, seconds: float) -> None:
        """The API asked us to wait `seconds` before writing to this chat again."""
        until = self._clock() + seconds
        self._chat_free_at[chat_id] = max(self._chat_free_at.get(chat_id, 0.0), until)

    def _delay(self, chat_id: int, now: float) -> float:
        delays = [self._chat_free_at.get(chat_id, now) - now]
        group = self._group_sends.get(chat_id)
        if chat_id < 0 and group is not None:
            _expire(group, now - 60.0)
            if len(group) >= self.group_per_minute:
                delays.append(group[0] + 60.0 - now)
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
                _expire(group, now - 60.0)
                if not group:
                    del self._group_sends[chat_id]


def _expire(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
