"""The outbox table as a queue: claim due messages, mark them sent, failed (retry later) or dead.

A claimed row is `sending` with a lease. A row still `sending` after its lease ran out was interrupted
(the process died mid-send); `claim_due` hands it out again flagged `interrupted`, and `in_flight` when its
request had begun (`begin_attempt`), and the worker decides whether it may be re-sent (see bot/outbox.py).
A message the worker will not send (in doubt after a crash, or too late) is `held`: final for the worker,
on the creator's handoff queue until resent (bot/store/admin.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bot.events import OutgoingMessage
from bot.store.models import OutboxMessage, utcnow
from bot.store.rows import chunks, clean_text, update_rows

DUE_STATES = ("pending", "failed")
FINAL_STATES = ("sent", "dead", "held")


@dataclass(frozen=True, slots=True)
class Claim:
    message: OutgoingMessage
    attempts: int  # including this one
    interrupted: bool  # a previous claim died mid-send (the process stopped before marking the message)
    viewer_id: int | None = None
    in_flight: bool = False  # interrupted after its request began: it may or may not have reached the platform
    waiting_since: datetime | None = None  # when it was last due to go out (queued, scheduled or retry time)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue by hand (a human's answer to a handoff, an admin reply)."""

    idempotency_key: str
    platform: str
    kind: str  # reply_public | reply_dm
    text: str
    thread_id: str | None = None
    reply_to: str | None = None
    recipient_id: str | None = None
    viewer_id: int | None = None
    handoff_id: int | None = None
    decision_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    not_before: datetime | None = None


class QueueStore:
    dialect: str

    def enqueue(self, message: NewMessage) -> int:
        """Queue a message once: the same idempotency key returns the existing row's id."""
        with self.session() as session:  # type: ignore[attr-defined]
            existing = session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == message.idempotency_key)).first()
            if existing is not None:
                return existing
            row = OutboxMessage(
                idempotency_key=message.idempotency_key, platform=message.platform, kind=message.kind,
                text=clean_text(message.text), thread_id=message.thread_id, reply_to=message.reply_to,
                recipient_id=message.recipient_id, viewer_id=message.viewer_id, handoff_id=message.handoff_id,
                decision_id=message.decision_id, extra=message.extra, next_attempt_at=message.not_before or utcnow(),
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def claim_due(self, now: datetime | None = None, *, limit: int = 20, lease: float = 120.0,
                  platforms: Iterable[str] | None = None) -> list[Claim]:
        """Take up to `limit` due messages for sending (state → sending, attempts + 1, lease until now + lease).

        An interrupted row's attempt is not counted again: the claim that died counted it (and for a message it
        never tried, that count stands for the send that follows)."""
        now = now or utcnow()
        due = sa.or_(
            sa.and_(OutboxMessage.state.in_(DUE_STATES), OutboxMessage.next_attempt_at <= now),  # type: ignore[attr-defined]
            sa.and_(OutboxMessage.state == "sending", OutboxMessage.lease_until <= now),  # type: ignore[operator]
        )
        outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
        # Plain columns, not ORM objects: a claim of a hundred messages is on the outbox worker's every turn.
        query = sa.select(outbox.c.id, outbox.c.platform, outbox.c.kind, outbox.c.text, outbox.c.thread_id, outbox.c.reply_to,
                          outbox.c.recipient_id, outbox.c.extra, outbox.c.attempts, outbox.c.state, outbox.c.viewer_id,
                          outbox.c.attempt_started_at, outbox.c.created_at, outbox.c.next_attempt_at).where(due)
        if platforms is not None:
            query = query.where(outbox.c.platform.in_(list(platforms)))
        query = query.order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit)
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)  # parallel workers take different rows
        lease_until = now + timedelta(seconds=lease)
        with self.session() as session:  # type: ignore[attr-defined]
            connection = session.connection()
            rows = connection.execute(query).all()
            if not rows:
                return []
            # One UPDATE for the whole claim (not one per row); the rows stay locked (PostgreSQL) or the
            # database write-locked (SQLite, BEGIN IMMEDIATE) until the commit.
            for part in chunks([row.id for row in rows]):
                connection.execute(sa.update(outbox).where(outbox.c.id.in_(part)).values(
                    state="sending", attempts=outbox.c.attempts + sa.case((outbox.c.state == "sending", 0), else_=1), lease_until=lease_until,
                    attempt_started_at=None))
            return [_claim(row) for row in rows]

    def begin_attempt(self, outbox_id: int, now: datetime | None = None) -> None:
        """Record that the message's request is about to be sent: a crash from here on leaves it in doubt.

        A full-durability commit: were this write lost, a crash would make an attempted message look untried,
        and it would be sent again."""
        self.write(sa.update(OutboxMessage).where(OutboxMessage.id == outbox_id)  # type: ignore[arg-type]
                   .values(attempt_started_at=now or utcnow()))

    def mark_sent(self, outbox_id: int, platform_message_id: str, now: datetime | None = None) -> None:
        self.mark_sent_many([(outbox_id, platform_message_id)], now)

    def mark_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime | None = None) -> None:
        """Mark delivered messages (outbox id, platform message id) sent, all in one transaction."""
        if not sent:
            return
        # Relaxed durability: if the database server itself crashed before flushing this, the messages would be
        # seen as interrupted sends after restart: confirmed via the sink's find_sent, or given up — never resent.
        rows = [{"id": pk, "platform_message_id": clean_text(str(message_id), 200)} for pk, message_id in sent]
        with self.writing(relaxed=True) as connection:  # type: ignore[attr-defined]
            update_rows(connection, self.dialect, OutboxMessage, rows, state="sent", sent_at=now or utcnow(), lease_until=None,
                        last_error=None)

    def mark_failed(self, outbox_id: int, error: str, retry_at: datetime | None = None) -> str:
        """Record a failed attempt: retried at `retry_at`, or dead when None. Returns the new state."""
        state = "failed" if retry_at is not None else "dead"
        values: dict[str, Any] = {"state": state, "last_error": clean_text(error, 1000), "lease_until": None}
        if retry_at is not None:
            values["next_attempt_at"] = retry_at
        self.write(sa.update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(**values))  # type: ignore[attr-defined]
        return state

    def postpone(self, outbox_id: int, until: datetime) -> None:
        """A claimed message the sink did not try (e.g. the account is paused): due again at `until`, attempt not counted."""
        self.write(sa.update(OutboxMessage).where(OutboxMessage.id == outbox_id, OutboxMessage.state == "sending")  # type: ignore[arg-type]
                   .values(state="pending", attempts=OutboxMessage.attempts - 1, lease_until=None, next_attempt_at=until))

    def release_claims(self, outbox_ids: Iterable[int]) -> None:
        """Hand claimed but unsent messages back (the worker ran out of lease time): due again, attempt not counted."""
        ids = list(outbox_ids)
        if ids:
            self.write(sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.state == "sending")  # type: ignore[attr-defined,union-attr]
                       .values(state="pending", attempts=OutboxMessage.attempts - 1, lease_until=None))

    def outbox_counts(self) -> dict[str, int]:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            rows = session.exec(select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state))
            return {state: count for state, count in rows}

    def next_due_at(self) -> datetime | None:
        """When the next unfinished message becomes due (None: nothing left to send)."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            pending = session.exec(select(sa.func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.state.in_(DUE_STATES))).one()  # type: ignore[attr-defined]
            leased = session.exec(select(sa.func.min(OutboxMessage.lease_until)).where(OutboxMessage.state == "sending")).one()
        moments = [m for m in (pending, leased) if m is not None]
        if not moments:
            return None
        return min(m if m.tzinfo else m.replace(tzinfo=utcnow().tzinfo) for m in moments)

    def outbox_message(self, outbox_id: int) -> OutboxMessage | None:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return session.get(OutboxMessage, outbox_id)


def _claim(row: Any) -> Claim:
    interrupted = row.state == "sending"
    message = OutgoingMessage(outbox_id=row.id, platform=row.platform, kind=row.kind, text=row.text, thread_id=row.thread_id,
                              reply_to=row.reply_to, recipient_id=row.recipient_id, extra=dict(row.extra or {}))
    return Claim(message, row.attempts + (0 if interrupted else 1), interrupted, row.viewer_id,
                 in_flight=interrupted and row.attempt_started_at is not None, waiting_since=max(row.created_at, row.next_attempt_at))
