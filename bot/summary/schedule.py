"""Send each recipient the summary of their previous local day at their configured local time.

State lives in the store's `scheduled_jobs` table, one row per recipient (`daily-summary:<name>`):
`next_run_at` is when the next summary is due and `payload.next_day` which day it covers. A day is
taken by a compare-and-set on `next_run_at` *before* it is delivered, so across restarts and several
workers each day goes out at most once: a crash in the middle of a delivery loses that one summary
(`coursebot summary --date` rebuilds it) rather than sending it twice. After downtime the newest
`catch_up_days` missed days are sent once, oldest first; older ones are skipped and logged.
The first start ever does not send the past: the first summary is the next one due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.store.models import ScheduledJob
from bot.summary.build import SummaryOptions, build_daily_summary
from bot.summary.chart import Chart, render_chart
from bot.summary.delivery import Recipient, SummaryDelivery
from retrieval.encoder import Encoder
from retrieval.errors import InputError

log = logging.getLogger(__name__)
JOBS = ScheduledJob.__table__
JOB_PREFIX = "daily-summary:"


def send_instant(recipient: Recipient, day: date) -> datetime:
    """When the summary of `day` is due: `send_at` on the following local day, as UTC. A time that does not
    exist on a spring-forward night resolves to the instant one hour later on the wall clock."""
    return datetime.combine(day + timedelta(days=1), recipient.send_at, tzinfo=recipient.tz).astimezone(UTC)


def latest_due_day(recipient: Recipient, now: datetime) -> date:
    """The newest day whose summary is due at `now`."""
    day = now.astimezone(recipient.tz).date()
    while send_instant(recipient, day) > now:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True, slots=True)
class Sent:
    recipient: str
    day: date
    delivered: tuple[str, ...]  # deliveries that succeeded
    failed: tuple[str, ...]


class SummaryScheduler:
    def __init__(self, engine: Engine, recipients: Sequence[Recipient], deliveries: Sequence[SummaryDelivery], *,
                 options: SummaryOptions | None = None, encoder: Encoder | None = None, catch_up_days: int = 1,
                 chart: bool = True, chart_font=None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.recipients = list(recipients)
        self.deliveries = list(deliveries)
        self.options = options or SummaryOptions()
        self.encoder = encoder
        self.catch_up_days = max(1, catch_up_days)
        self.chart = chart
        self.chart_font = chart_font
        self.clock = clock

    # -- job rows ---------------------------------------------------------------------------------------------
    def _job(self, recipient: Recipient) -> tuple[datetime, date] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(JOBS.c.next_run_at, JOBS.c.payload).where(JOBS.c.name == JOB_PREFIX + recipient.name)).first()
        return None if row is None else (row[0], date.fromisoformat(row[1]["next_day"]))

    def _ensure(self, recipient: Recipient, now: datetime) -> None:
        """Create the job at the next due summary; follow a changed send time / zone for the same next day."""
        job = self._job(recipient)
        if job is None:
            first = latest_due_day(recipient, now) + timedelta(days=1)
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.insert(JOBS).values(name=JOB_PREFIX + recipient.name, next_run_at=send_instant(recipient, first),
                                                        payload={"next_day": first.isoformat()}, last_status="created"))
            except IntegrityError:
                pass  # another worker created it first
            return
        next_run_at, next_day = job
        if next_run_at != send_instant(recipient, next_day):
            self._advance(recipient, next_run_at, next_day, "rescheduled (send time or time zone changed)")

    def _advance(self, recipient: Recipient, expected: datetime, next_day: date, status: str) -> bool:
        """Compare-and-set: move the job to `next_day` only if nobody moved it since we read `expected`."""
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(JOBS).where(JOBS.c.name == JOB_PREFIX + recipient.name, JOBS.c.next_run_at == expected)
                .values(next_run_at=send_instant(recipient, next_day), payload={"next_day": next_day.isoformat()},
                        last_run_at=self.clock(), last_status=status[:1000])
            )
        return result.rowcount == 1

    def _note(self, recipient: Recipient, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(JOBS).where(JOBS.c.name == JOB_PREFIX + recipient.name).values(last_status=status[:1000]))

    def _claim_next(self, recipient: Recipient, now: datetime) -> date | None:
        """Take the next day to send, skipping days older than the catch-up window; None when nothing is due."""
        job = self._job(recipient)
        if job is None or job[0] > now:
            return None
        next_run_at, day = job
        oldest = latest_due_day(recipient, now) - timedelta(days=self.catch_up_days - 1)
        if day < oldest:
            skipped = f"skipped {day.isoformat()}..{(oldest - timedelta(days=1)).isoformat()} (process was down)"
            log.warning("daily summary for %s: %s", recipient.name, skipped)
            if not self._advance(recipient, next_run_at, oldest, skipped):
                return None
            next_run_at, day = send_instant(recipient, oldest), oldest
        if not self._advance(recipient, next_run_at, day + timedelta(days=1), f"delivering {day.isoformat()}"):
            return None  # another worker took this day
        return day

    # -- sending ----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        now = self.clock()
        for recipient in self.recipients:
            await asyncio.to_thread(self._ensure, recipient, now)

    async def _send(self, recipient: Recipient, day: date) -> Sent:
        summary = await build_daily_summary(self.engine, day, recipient.tz, options=self.options, encoder=self.encoder,
                                            platforms=recipient.platforms, recipient=recipient.name)
        chart: Chart | None = None
        if self.chart:
            try:
                chart = await asyncio.to_thread(render_chart, summary, font_path=self.chart_font)
            except InputError as exc:
                log.error("daily summary chart for %s %s not drawn: %s", recipient.name, day, exc)
        delivered, failed = [], []
        for delivery in self.deliveries:
            try:
                await delivery.deliver(recipient, summary, chart)
                delivered.append(delivery.name)
            except Exception as exc:  # noqa: BLE001 - one broken delivery must not stop the others
                log.error("daily summary for %s %s: %s delivery failed: %s", recipient.name, day, delivery.name, exc)
                failed.append(delivery.name)
        status = f"sent {day.isoformat()} via {', '.join(delivered) or 'nothing'}" + (f"; failed: {', '.join(failed)}" if failed else "")
        await asyncio.to_thread(self._note, recipient, status)
        return Sent(recipient.name, day, tuple(delivered), tuple(failed))

    async def run_due(self, now: datetime | None = None) -> list[Sent]:
        """Send everything due at `now` (default: the clock), each day at most once."""
        now = now or self.clock()
        sent = []
        for recipient in self.recipients:
            while (day := await asyncio.to_thread(self._claim_next, recipient, now)) is not None:
                sent.append(await self._send(recipient, day))
        return sent

    async def seconds_until_due(self, now: datetime | None = None, *, cap: float = 300.0) -> float:
        now = now or self.clock()
        jobs = [await asyncio.to_thread(self._job, r) for r in self.recipients]
        upcoming = [(job[0] - now).total_seconds() for job in jobs if job is not None]
        return max(0.0, min([cap, *upcoming]))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until `stop` is set: send what is due (missed summaries first), then sleep until the next one."""
        stop = stop or asyncio.Event()
        await self.start()
        while not stop.is_set():
            await self.run_due()
            try:
                await asyncio.wait_for(stop.wait(), timeout=await self.seconds_until_due())
            except TimeoutError:
                pass
