"""Risk control (-352/-412) pauses the whole account: reads and sends wait, and the state outlives a restart.

Bilibili's risk control judges the account (cookies, IP), not one request: after a -412 every further call
during the pause only deepens the suspicion. So one `AccountPause` per account is shared by the source and
the sink (through the client, which every call passes), and kept in the store as a cursor row
(`bilibili:risk:<uid>`), which every worker and the next start read.

Each risk error starts a pause of `base`, 2×base, 4×base … up to `cap` (with jitter). A successful call does
not reset the doubling: Bilibili lets a few calls through between refusals, and resetting on each of them
kept the pause at its first rung. The doubling starts over only after `quiet_period` seconds without a risk
error since the last pause ended.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from bot.adapters.bilibili.cursors import CursorStore
from bot.adapters.bilibili.pacing import Backoff

log = logging.getLogger("coursebot.bilibili")


class AccountPause:
    def __init__(self, backoff: Backoff, *, quiet_period: float = 7200.0, state: CursorStore | None = None,
                 key: str = "bilibili:risk", clock: Callable[[], float] = time.time) -> None:
        self.backoff = backoff
        self.quiet_period = quiet_period
        self.key = key
        self._state = state
        self._clock = clock  # wall-clock seconds: the pause must mean the same after a restart
        self._until = 0.0  # the account may call again from then on
        self._streak = 0  # risk errors since the last quiet period: the next pause is base × 2**streak
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Any, state: CursorStore | None = None, **overrides: Any) -> AccountPause:
        options: dict[str, Any] = {"quiet_period": settings.risk_quiet_period, "state": state,
                                   "key": f"bilibili:risk:{settings.uid or 'account'}"}
        return cls(Backoff(settings.risk_backoff, settings.risk_backoff_max), **{**options, **overrides})

    async def remaining(self) -> float:
        """Seconds the account must still wait (0 when it may call); re-read from the store, another worker may
        have been refused meanwhile."""
        await self._load()
        return max(0.0, self._until - self._clock())

    async def trip(self) -> float:
        """A risk error: start (or lengthen) the account's pause; returns its length in seconds."""
        async with self._lock:
            await self._load()
            now = self._clock()
            if now - self._until >= self.quiet_period:
                self._streak = 0
            self.backoff.attempts = self._streak
            delay = self.backoff.next_delay()
            self._streak += 1
            self._until = max(self._until, now + delay)
            await self._save()
        log.warning("bilibili: risk control; the account pauses reads and sends for %.0f s (pause %d in a row)",
                    self._until - now, self._streak)
        return self._until - now

    async def _load(self) -> None:
        if self._state is None:
            return
        saved = await self._state.load(self.key)
        if saved:  # the store is the truth: every worker of this account writes there
            self._until, self._streak = float(saved.get("until") or 0), int(saved.get("streak") or 0)

    async def _save(self) -> None:
        if self._state is not None:
            await self._state.save(self.key, {"until": self._until, "streak": self._streak})
