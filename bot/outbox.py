"""The outbox worker: sends stored messages through the platform sinks, exactly once where it can.

Claim due rows → `Sink.send` → `mark_sent` with the platform's message id. A transient `SendError` is
retried after the platform's `retry_after` (exactly) or an exponential backoff with jitter; after
`max_attempts`, or on a permanent error, the message is dead with the reason. A row found still
`sending` after its lease was interrupted by a crash: if the sink can look it up (`find_sent`) the worker
asks it. A sink that cannot gets each message's attempt recorded just before its request
(`begin_attempt`), so after a crash the messages of the claim never tried are sent normally, and only the
one whose request was in flight is in doubt: it is not re-sent, because a duplicate reply is worse than a
missing one, but held on the creator's handoff queue ("this reply may not have gone out") to check and
resend with one command.

A message that has waited longer than `max_age` past the time it was due (the bot was down, a backlog
built up) is held for the creator the same way instead of being flushed late at full speed.

Marks are written one transaction per message, except for sinks that can confirm a send (`find_sent`):
their quick deliveries are marked in groups (up to `MARK_WINDOW` seconds of sending, never beyond the
claim). A crash before a group is written leaves its messages `sending`; after the lease the sink confirms
them, so they are marked sent, not re-sent. A platform slower than `MARK_WINDOW` per message is still
marked message by message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.config import OutboxSettings
from bot.events import SendError, Sink
from bot.store.models import utcnow
from bot.store.queue import Claim
from bot.store.store import Store, StoreUnavailable

log = logging.getLogger(__name__)
ANY_PLATFORM = "*"
MARK_WINDOW = 0.2  # seconds of quick deliveries (to sinks with find_sent) marked sent in one transaction
IN_DOUBT = "this reply may not have gone out: the bot stopped while sending it (not re-sent, to avoid a duplicate)"
TOO_LATE = "this reply was not sent: {late} after it was due (longer than [outbox] max_age), too late to send unchecked"


class _SentMarks:
    """Delivered messages not yet marked sent: written together once the oldest send began MARK_WINDOW ago."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock
        self.sent: list[tuple[int, str]] = []
        self.since = 0.0  # monotonic start of the oldest unmarked send

    def add(self, outbox_id: int, platform_id: str, started: float) -> None:
        if not self.sent:
            self.since = started
        self.sent.append((outbox_id, platform_id))

    async def flush(self, *, unless_recent: bool = False) -> None:
        if not self.sent or (unless_recent and time.monotonic() - self.since < MARK_WINDOW):
            return
        sent, self.sent = self.sent, []
        await asyncio.to_thread(self.store.mark_sent_many, sent, self.clock())


class OutboxWorker:
    def __init__(self, store: Store, sinks: Mapping[str, Sink], settings: OutboxSettings, *,
                 clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()

    def _sink(self, platform: str) -> Sink | None:
        return self.sinks.get(platform) or self.sinks.get(ANY_PLATFORM)

    def _platforms(self) -> list[str] | None:
        return None if ANY_PLATFORM in self.sinks else list(self.sinks)

    async def run_once(self) -> int:
        """Send what is due now; returns the number of messages handled."""
        claims = await asyncio.to_thread(self.store.claim_due, self.clock(), limit=self.settings.batch_size,
                                         lease=self.settings.lease, platforms=self._platforms())
        started = time.monotonic()
        marks = _SentMarks(self.store, self.clock)
        try:
            for n, claim in enumerate(claims):
                if n and time.monotonic() - started > self.settings.lease / 2:
                    # Slow platform (paced sends): give the rest back before their lease runs out, or a restart
                    # would take them for interrupted sends (delivered ones are marked by the finally below).
                    await asyncio.to_thread(self.store.release_claims, [c.message.outbox_id for c in claims[n:]])
                    return n
                await self._deliver(claim, marks)
                await marks.flush(unless_recent=True)
        finally:
            await marks.flush()
        return len(claims)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: send due messages, sleeping `poll_interval` when idle; survives DB outages."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except StoreUnavailable as exc:
                log.warning("outbox: %s; retrying", exc)
                handled = 0
            if not handled:
                try:
                    await asyncio.wait_for(stop.wait(), self.settings.poll_interval)
                except TimeoutError:
                    pass

    async def drain(self, timeout: float = 60.0) -> bool:
        """Send until nothing is left that becomes due within `timeout` seconds; True when all are final."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.run_once():
                continue
            due = await asyncio.to_thread(self.store.next_due_at)
            if due is None:
                return True
            wait = (due - self.clock()).total_seconds()
            if wait > deadline - time.monotonic():
                return False
            await asyncio.sleep(min(max(wait, 0.01), self.settings.poll_interval))
        return False

    async def _deliver(self, claim: Claim, marks: _SentMarks) -> None:
        message = claim.message
        started = time.monotonic()
        sink = self._sink(message.platform)
        if sink is None:  # claim_due filters by platform, so only a sink removed at run time lands here
            await self._fail(claim, SendError(f"no sink for platform {message.platform}", transient=True, retry_after=60))
            return
        finder = getattr(sink, "find_sent", None)
        if claim.interrupted and finder is not None:
            found = await finder(message)
            if found is not None:
                marks.add(message.outbox_id, str(found), started)
                return
        elif claim.in_flight:
            await self._hold(claim, IN_DOUBT)
            return
        if self._too_late(claim):
            await self._hold(claim, TOO_LATE.format(late=_duration(self.clock() - claim.waiting_since)))  # type: ignore[operator]
            return
        if finder is None:
            await asyncio.to_thread(self.store.begin_attempt, message.outbox_id, self.clock())
        try:
            platform_id = await sink.send(message)
        except SendError as exc:
            await self._fail(claim, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a sink bug or network error must not stop the worker
            await self._fail(claim, SendError(f"{type(exc).__name__}: {exc}", transient=True))
            return
        if finder is None:  # a crash before the mark could not be told apart from a failed send: mark now
            await asyncio.to_thread(self.store.mark_sent, message.outbox_id, str(platform_id), self.clock())
        else:
            marks.add(message.outbox_id, str(platform_id), started)

    def _too_late(self, claim: Claim) -> bool:
        max_age = self.settings.max_age
        return bool(max_age) and claim.waiting_since is not None and \
            (self.clock() - claim.waiting_since).total_seconds() > max_age

    async def _hold(self, claim: Claim, reason: str) -> None:
        """Not sent, and not lost: held with the reason, on the creator's handoff queue with its text."""
        message = claim.message
        handoff_id = await asyncio.to_thread(self.store.hold_message, message.outbox_id, reason)
        where = f"handoff #{handoff_id}" if handoff_id is not None else "no handoff (no comment to attach it to)"
        viewer = message.extra.get("viewer") or "-"  # the pseudonym, never the raw platform id
        log.warning("outbox #%s (%s %s to %s) %s; held for the creator: %s", message.outbox_id, message.platform, message.kind,
                    viewer, reason, where)

    async def _fail(self, claim: Claim, error: SendError) -> None:
        message = claim.message
        reason = f"{error.code}: {error.reason}" if error.code is not None else error.reason
        if not error.attempted and error.transient:  # never reached the platform: wait, without using up an attempt
            until = self.clock() + timedelta(seconds=self.backoff(claim.attempts, error.retry_after))
            await asyncio.to_thread(self.store.postpone, message.outbox_id, until)
            log.info("outbox #%s postponed, not attempted: %s", message.outbox_id, reason)
            return
        if error.recipient_unreachable and message.recipient_id:
            await asyncio.to_thread(self.store.set_dm_reachable, message.platform, message.recipient_id, False)
        retry_at = None
        if error.transient and claim.attempts < self.settings.max_attempts:
            retry_at = self.clock() + timedelta(seconds=self.backoff(claim.attempts, error.retry_after))
        elif error.transient:
            reason = f"gave up after {claim.attempts} attempts: {reason}"
        state = await asyncio.to_thread(self.store.mark_failed, message.outbox_id, reason, retry_at)
        log.info("outbox #%s %s: %s", message.outbox_id, state, reason)

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds before the next attempt: the platform's retry_after exactly, else doubling with ±20 % jitter."""
        if retry_after is not None and retry_after >= 0:
            return float(retry_after)
        base = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** max(0, attempts - 1))
        return base * self.rng.uniform(0.8, 1.2)


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
