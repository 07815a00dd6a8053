"""Human-slow pacing: randomised pauses between calls, and exponential back-off with jitter after risk control."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Waits so that two calls are at least a random `low`..`high` seconds apart (never a fixed rhythm)."""

    def __init__(self, low: float, high: float, *, rng: random.Random | None = None, sleep: Sleep = asyncio.sleep) -> None:
        if low < 0 or high < low:
            raise ValueError(f"pacing needs 0 <= low <= high, got {low}..{high}")
        self.low, self.high = low, high
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:  # concurrent callers queue up instead of firing together
            if self._last is not None and self.high > 0:
                gap = self._rng.uniform(self.low, self.high) - (time.monotonic() - self._last)
                if gap > 0:
                    await self._sleep(gap)
            self._last = time.monotonic()


class Backoff:
    """`base`, 2×base, 4×base … capped at `cap`, each multiplied by a random factor in [1-jitter, 1+jitter]."""

    def __init__(self, base: float, cap: float, *, jitter: float = 0.25, rng: random.Random | None = None) -> None:
        self.base, self.cap, self.jitter = base, max(cap, base), jitter
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2 ** self.attempts)
        self.attempts += 1
        return delay * self._rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempts = 0
