"""Proactive DMs per viewer, counted in the store: "N a day, M until the viewer writes back" for every worker.

A proactive DM is one that does not answer the viewer's own message (e.g. the details after a public price
answer). Each one sent, or being sent, is a row; "until the viewer writes back" is read from their latest stored
DM event, so no hook has to reset a counter and a restart forgets nothing. A reservation is taken under a lock
per viewer (PostgreSQL advisory lock; SQLite's write lock), so workers racing for one viewer never exceed the
limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.store.models import EventRecord, OutboxMessage, ProactiveDm, Viewer, utcnow
from bot.store.rows import aware, chunks

BEIJING = ZoneInfo("Asia/Shanghai")  # Douyin counts its days in Beijing time
QUEUED = ("pending", "failed", "sending")


@dataclass(frozen=True, slots=True)
class DmUsage:
    """A viewer's proactive DMs: sent since the local day began, and since they last wrote to us."""

    today: int = 0
    unanswered: int = 0

    def refusal(self, per_day: int, per_viewer: int) -> str | None:
        """'unanswered' (wait for the viewer), 'daily' (wait for tomorrow) or None (a proactive DM may go out)."""
        if self.unanswered >= per_viewer:
            return "unanswered"
        if self.today >= per_day:
            return "daily"
        return None


def day_start(now: datetime, zone: ZoneInfo = BEIJING) -> datetime:
    local = now.astimezone(zone)
    return datetime.combine(local.date(), datetime.min.time(), zone)


def next_day(now: datetime, zone: ZoneInfo = BEIJING) -> datetime:
    return day_start(now, zone) + timedelta(days=1)


class ProactiveDmStore:
    dialect: str

    def reserve_proactive_dm(self, platform: str, author_id: str, *, per_day: int, per_viewer: int,
                             now: datetime | None = None, zone: ZoneInfo = BEIJING) -> tuple[int | None, str | None]:
        """Count a proactive DM about to be sent: (reservation id, None), or (None, refusal) over a limit."""
        now = now or utcnow()
        pseudonym = self.pseudonym(platform, author_id)  # type: ignore[attr-defined]
        with self.session() as session:  # type: ignore[attr-defined]
            if self.dialect == "postgresql":  # serialise reservations for this viewer across workers
                session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"proactive_dm:{platform}:{pseudonym}"))))
            usage = proactive_dm_usage(session, platform, [pseudonym], now, zone).get(pseudonym, DmUsage())
            if (refusal := usage.refusal(per_day, per_viewer)) is not None:
                return None, refusal
            row = ProactiveDm(platform=platform, pseudonym=pseudonym, sent_at=now)
            session.add(row)
            session.flush()
            return row.id, None

    def release_proactive_dm(self, reservation: int) -> None:
        """The DM surely did not go out (the platform refused it): it no longer counts."""
        self.write(sa.delete(ProactiveDm).where(ProactiveDm.id == reservation))  # type: ignore[attr-defined,arg-type]


def proactive_dm_usage(session: Session, platform: str, pseudonyms: Iterable[str], now: datetime,
                       zone: ZoneInfo = BEIJING) -> dict[str, DmUsage]:
    """Usage of each viewer named (by pseudonym) who was ever sent a proactive DM on `platform`."""
    start, usage = day_start(now, zone), {}
    for part in chunks(sorted(set(pseudonyms))):
        sent: dict[str, list[datetime]] = {}
        for pseudonym, at in session.execute(select(ProactiveDm.pseudonym, ProactiveDm.sent_at).where(
                ProactiveDm.platform == platform, ProactiveDm.pseudonym.in_(part))):  # type: ignore[attr-defined]
            sent.setdefault(pseudonym, []).append(aware(at))
        if not sent:
            continue
        last_wrote = dict(session.execute(
            select(Viewer.pseudonym, sa.func.max(EventRecord.received_at))
            .join(EventRecord, EventRecord.viewer_id == Viewer.id)
            .where(Viewer.platform == platform, Viewer.pseudonym.in_(list(sent)), EventRecord.kind == "dm")  # type: ignore[attr-defined]
            .group_by(Viewer.pseudonym)).tuples().all())
        for pseudonym, times in sent.items():
            wrote = aware(last_wrote[pseudonym]) if last_wrote.get(pseudonym) else None
            usage[pseudonym] = DmUsage(today=sum(t >= start for t in times),
                                       unanswered=sum(wrote is None or t > wrote for t in times))
    return usage


def proactive_dms_by_viewer(session: Session, viewers: Sequence[tuple[int, str, str]], now: datetime) -> dict[int, DmUsage]:
    """For a batch being decided: viewer id → usage, from (viewer id, platform, pseudonym). Proactive DMs still in
    the outbox count too (as sent today and unanswered): the decision must not promise a DM that one of them will
    use up."""
    found: dict[int, DmUsage] = {}
    for platform in {p for _, p, _ in viewers}:
        mine = [(v, pseudonym) for v, p, pseudonym in viewers if p == platform]
        usage = proactive_dm_usage(session, platform, [pseudonym for _, pseudonym in mine], now)
        found.update((v, usage[pseudonym]) for v, pseudonym in mine if pseudonym in usage)
    ids = sorted({v for v, _, _ in viewers})
    for part in chunks(ids):
        # A DM row without reply_to answers no message of the viewer's: proactive (see intake._messages).
        for v, queued in session.execute(select(OutboxMessage.viewer_id, sa.func.count()).where(
                OutboxMessage.viewer_id.in_(part), OutboxMessage.kind == "reply_dm", OutboxMessage.reply_to.is_(None),  # type: ignore[union-attr]
                OutboxMessage.state.in_(QUEUED)).group_by(OutboxMessage.viewer_id)):  # type: ignore[attr-defined]
            usage = found.get(v, DmUsage())
            found[v] = DmUsage(today=usage.today + queued, unanswered=usage.unanswered + queued)
    return found
