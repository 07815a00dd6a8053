"""What the creator and the adapters change at run time: kill switch, human queue (and the replies held on
it), takeovers, cursors, scheduled jobs, viewer flags, clicks/conversions, and forgetting a viewer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.store.models import (
    AbAssignment,
    Conversion,
    DecisionRecord,
    EventRecord,
    Handoff,
    LinkClick,
    OutboxMessage,
    PlatformCursor,
    ProactiveDm,
    RuntimeSwitch,
    ScheduledJob,
    ThreadRecord,
    TrackedLink,
    UnderstandingRecord,
    Viewer,
    ViewerProfile,
    utcnow,
)
from bot.store.queue import NewMessage
from bot.store.rows import clean_json, clean_text
from bot.web.visitors import is_automated

PAUSED = "paused"
# Runtime overrides of [policy] settings, changed by the console, the CLI and Telegram; read by every worker before
# each batch (Ledger). Unset: the config's value stands.
DRY_RUN = "dry_run"  # true | false
PLATFORMS_OFF = "platforms_off"  # ["bilibili", …]: the bot sends nothing there (comments still read and handed off)
QUIET_HOURS = "quiet_hours"  # {"start": "23:00", "end": "08:00", "mode": "defer" | "skip"}, or {} for none
HELD_TEXT_SHOWN = 500  # characters of a held reply quoted in its handoff's reason


@dataclass(frozen=True, slots=True)
class Switches:
    """The run-time switches as stored; None where the config's own setting stands."""

    paused: bool = False
    dry_run: bool | None = None
    platforms_off: tuple[str, ...] = ()
    quiet_hours: dict[str, str] | None = None  # {} switches quiet hours off


def switches_from_rows(values: dict[str, Any]) -> Switches:
    dry_run, quiet = values.get(DRY_RUN), values.get(QUIET_HOURS)
    return Switches(
        paused=bool(values.get(PAUSED, False)),
        dry_run=None if dry_run is None else bool(dry_run),
        platforms_off=tuple(sorted(str(p) for p in values.get(PLATFORMS_OFF) or ())),
        quiet_hours={str(k): str(v) for k, v in quiet.items()} if isinstance(quiet, dict) else None,
    )


class NotFound(LookupError):
    """An id the creator typed does not exist (one-line message for the CLI / Telegram)."""


@dataclass(frozen=True, slots=True)
class HandoffView:
    id: int
    state: str
    platform: str
    thread_id: str | None
    thread_title: str
    viewer: str | None  # pseudonym, never the raw id
    viewer_name: str | None
    text: str
    reason: str
    created_at: datetime
    resolved_by: str | None
    reply_text: str | None


class AdminStore:
    dialect: str

    # -- switches --------------------------------------------------------------------------------------------
    def set_switch(self, key: str, value: Any, by: str | None = None) -> None:
        with self.session() as session:  # type: ignore[attr-defined]
            row = session.get(RuntimeSwitch, key) or RuntimeSwitch(key=key)
            row.value, row.updated_at, row.updated_by = value, utcnow(), by
            session.add(row)

    def get_switch(self, key: str, default: Any = None) -> Any:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            row = session.get(RuntimeSwitch, key)
            return default if row is None else row.value

    def set_paused(self, paused: bool, by: str | None = None) -> None:
        """The kill switch: while paused the bot decides (and hands off) but sends no reply."""
        self.set_switch(PAUSED, bool(paused), by)

    def is_paused(self) -> bool:
        return bool(self.get_switch(PAUSED, False))

    def _paused(self, session: Session) -> bool:
        row = session.get(RuntimeSwitch, PAUSED)
        return bool(row.value) if row is not None else False

    def _switches(self, session: Session) -> Switches:
        rows = session.exec(select(RuntimeSwitch).where(RuntimeSwitch.key.in_((PAUSED, DRY_RUN, PLATFORMS_OFF, QUIET_HOURS))))  # type: ignore[attr-defined]
        return switches_from_rows({row.key: row.value for row in rows})

    def switches(self) -> Switches:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return self._switches(session)

    def clear_switch(self, key: str) -> None:
        """Back to the config's setting."""
        with self.session() as session:  # type: ignore[attr-defined]
            session.execute(sa.delete(RuntimeSwitch).where(RuntimeSwitch.key == key))

    # -- human queue ------------------------------------------------------------------------------------------
    def open_handoff(self, event_pk: int, reason: str) -> int:
        with self.session() as session:  # type: ignore[attr-defined]
            existing = session.exec(select(Handoff).where(Handoff.event_pk == event_pk)).first()
            if existing is not None:
                return existing.id  # type: ignore[return-value]
            event = session.get(EventRecord, event_pk)
            if event is None:
                raise NotFound(f"event #{event_pk} not found")
            row = Handoff(event_pk=event_pk, platform=event.platform, thread_id=event.thread_id, viewer_id=event.viewer_id, reason=reason)
            session.add(row)
            session.flush()
            return row.id  # type: ignore[return-value]

    def list_handoffs(self, state: str | None = "open", limit: int = 50) -> list[HandoffView]:
        query = (
            select(Handoff, EventRecord, Viewer, ThreadRecord)
            .join(EventRecord, EventRecord.id == Handoff.event_pk)
            .join(Viewer, Viewer.id == Handoff.viewer_id, isouter=True)
            .join(ThreadRecord, sa.and_(ThreadRecord.platform == Handoff.platform, ThreadRecord.thread_id == Handoff.thread_id), isouter=True)
            .order_by(Handoff.id).limit(limit)
        )
        if state:
            query = query.where(Handoff.state == state)
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return [_handoff_view(h, e, v, t) for h, e, v, t in session.exec(query)]

    def handoff(self, handoff_id: int) -> HandoffView | None:
        query = (
            select(Handoff, EventRecord, Viewer, ThreadRecord)
            .join(EventRecord, EventRecord.id == Handoff.event_pk)
            .join(Viewer, Viewer.id == Handoff.viewer_id, isouter=True)
            .join(ThreadRecord, sa.and_(ThreadRecord.platform == Handoff.platform, ThreadRecord.thread_id == Handoff.thread_id), isouter=True)
            .where(Handoff.id == handoff_id)
        )
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            found = session.exec(query).first()
        return _handoff_view(*found) if found else None

    def resolve_handoff(self, handoff_id: int, by: str, reply_text: str | None = None) -> HandoffView:
        """Close a handoff; with `reply_text`, the human's answer is queued to the same viewer and thread."""
        reply_text = (reply_text or "").strip() or None
        with self.session() as session:  # type: ignore[attr-defined]
            handoff = session.get(Handoff, handoff_id)
            if handoff is None:
                raise NotFound(f"handoff #{handoff_id} not found (coursebot handoffs lists the open ones)")
            event = session.get(EventRecord, handoff.event_pk)
            viewer = session.get(Viewer, handoff.viewer_id) if handoff.viewer_id else None
            if handoff.state != "resolved":
                handoff.state, handoff.resolved_at, handoff.resolved_by = "resolved", utcnow(), by
                handoff.reply_text = reply_text
                if reply_text:
                    from bot.store.corrections import answer_correction  # imports this module

                    session.add(answer_correction(handoff, event, by, reply_text))
            session.add(handoff)
            session.flush()
        if reply_text and event is not None:
            dm = event.kind == "dm"
            self.enqueue(NewMessage(  # type: ignore[attr-defined]
                idempotency_key=f"handoff:{handoff_id}", platform=event.platform, kind="reply_dm" if dm else "reply_public",
                text=reply_text, thread_id=event.thread_id, reply_to=event.event_id,
                recipient_id=viewer.author_id if viewer and dm else None, viewer_id=handoff.viewer_id, handoff_id=handoff_id,
                extra={"viewer": viewer.pseudonym if viewer else None, "event_kind": event.kind, "parent_id": event.parent_id,
                       "by_human": True, **({"reply": event.raw["reply"]} if isinstance(event.raw.get("reply"), dict) else {})},
            ))
        return self.handoff(handoff_id)  # type: ignore[return-value]

    def hold_message(self, outbox_id: int, reason: str) -> int | None:
        """Hold an outbox message back (state `held`, final for the worker) and put it on the creator's queue: the
        handoff of the comment it answers, opened (or reopened) with `reason` and the reply's text. Returns the
        handoff id; None when the message answers no stored comment (e.g. a Telegram welcome DM)."""
        with self.session() as session:  # type: ignore[attr-defined]
            message = session.get(OutboxMessage, outbox_id)
            if message is None:
                raise NotFound(f"outbox message #{outbox_id} not found")
            message.state, message.last_error, message.lease_until = "held", clean_text(reason, 1000), None
            session.add(message)
            event_pk, decision_id = _answered_event(session, message)
            if event_pk is None:
                return None
            note = _held_note(message)
            handoff = session.exec(select(Handoff).where(Handoff.event_pk == event_pk)).first()
            if handoff is None:
                event = session.get(EventRecord, event_pk)
                handoff = Handoff(event_pk=event_pk, decision_id=decision_id, platform=message.platform, reason=note,
                                  thread_id=event.thread_id if event else message.thread_id, viewer_id=message.viewer_id)
            elif handoff.state == "open":  # already waiting for the creator: say both
                handoff.reason = f"{note} | {handoff.reason}"
            else:  # answered before (e.g. the creator's reply was the message in doubt): open again
                handoff.state, handoff.reason, handoff.resolved_at, handoff.resolved_by = "open", note, None, None
            session.add(handoff)
            session.flush()
            return handoff.id

    def resend_held(self, handoff_id: int, by: str) -> tuple[HandoffView, int]:
        """Queue the replies held on a handoff again (sent by the running bot's outbox as if new) and resolve it,
        unless it was open for another reason before (a comment handed to a human): then it stays open with that
        reason. Returns the handoff and how many messages were queued."""
        with self.session() as session:  # type: ignore[attr-defined]
            handoff = session.get(Handoff, handoff_id)
            if handoff is None:
                raise NotFound(f"handoff #{handoff_id} not found (coursebot handoffs lists the open ones)")
            decisions = select(DecisionRecord.id).where(DecisionRecord.event_pk == handoff.event_pk)
            held = list(session.exec(select(OutboxMessage).where(OutboxMessage.state == "held", sa.or_(
                OutboxMessage.handoff_id == handoff_id, OutboxMessage.decision_id.in_(decisions)))))  # type: ignore[arg-type,union-attr]
            if not held:
                raise NotFound(f"handoff #{handoff_id} holds no reply to resend (`coursebot handoff resolve` answers it yourself)")
            now, reason, notes = utcnow(), handoff.reason, {_held_note(m) for m in held}
            for message in held:
                reason = reason.replace(f"{_held_note(message)} | ", "", 1)
                message.state, message.attempts, message.next_attempt_at = "pending", 0, now
                message.attempt_started_at = message.last_error = message.lease_until = None
                session.add(message)
            if reason in notes:  # open only for the held replies: done
                handoff.state, handoff.resolved_at, handoff.resolved_by = "resolved", now, by
            else:
                handoff.reason = reason
            session.add(handoff)
        return self.handoff(handoff_id), len(held)  # type: ignore[return-value]

    # -- human takeover of a thread ---------------------------------------------------------------------------
    def take_over(self, platform: str, thread_id: str, by: str) -> None:
        """A human answers in this thread from now on; the bot stays silent there until `release`."""
        with self.session() as session:  # type: ignore[attr-defined]
            row = session.exec(select(ThreadRecord).where(ThreadRecord.platform == platform, ThreadRecord.thread_id == thread_id)).first()
            row = row or ThreadRecord(platform=platform, thread_id=clean_text(thread_id, 200))
            row.taken_over, row.human_owner, row.taken_over_at = True, by, utcnow()
            session.add(row)

    def release(self, platform: str, thread_id: str) -> bool:
        with self.session() as session:  # type: ignore[attr-defined]
            result = session.execute(sa.update(ThreadRecord).where(
                ThreadRecord.platform == platform, ThreadRecord.thread_id == thread_id, ThreadRecord.taken_over.is_(True))  # type: ignore[attr-defined]
                .values(taken_over=False, human_owner=None, taken_over_at=None))
            return bool(result.rowcount)

    def taken_over_threads(self) -> list[ThreadRecord]:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return list(session.exec(select(ThreadRecord).where(ThreadRecord.taken_over.is_(True))))  # type: ignore[attr-defined]

    # -- human takeover of a viewer --------------------------------------------------------------------------
    def take_over_viewer(self, pseudonym: str, by: str) -> TakenOverViewer:
        """A human answers this viewer from now on, on every thread of their platform and in DMs; the bot stays
        silent with them (their comments are handed off) until `release_viewer`. Taking over twice keeps the first
        owner and time."""
        with self.session() as session:  # type: ignore[attr-defined]
            row = _viewer_by_pseudonym(session, pseudonym)
            if row.taken_over_at is None:
                row.taken_over_at, row.taken_over_by = utcnow(), clean_text(by, 200)
                session.add(row)
                session.flush()
            return _taken_over(row)

    def release_viewer(self, pseudonym: str) -> bool:
        """False when the viewer was not taken over (NotFound when there is no such viewer)."""
        with self.session() as session:  # type: ignore[attr-defined]
            row = _viewer_by_pseudonym(session, pseudonym)
            result = session.execute(sa.update(Viewer).where(Viewer.id == row.id, Viewer.taken_over_at.is_not(None))  # type: ignore[union-attr]
                                     .values(taken_over_at=None, taken_over_by=None))
            return bool(result.rowcount)

    def taken_over_viewers(self, limit: int = 200) -> list[TakenOverViewer]:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            rows = session.exec(select(Viewer).where(Viewer.taken_over_at.is_not(None))  # type: ignore[union-attr]
                                .order_by(Viewer.taken_over_at.desc()).limit(limit))  # type: ignore[union-attr]
            return [_taken_over(row) for row in rows]

    # -- adapters' positions and schedules -------------------------------------------------------------------
    def get_cursor(self, platform: str, name: str) -> str | None:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            row = session.get(PlatformCursor, (platform, name))
            return row.value if row else None

    def set_cursor(self, platform: str, name: str, value: str) -> None:
        with self.session() as session:  # type: ignore[attr-defined]
            row = session.get(PlatformCursor, (platform, name)) or PlatformCursor(platform=platform, name=name)
            row.value, row.updated_at = str(value), utcnow()
            session.add(row)

    def ensure_job(self, name: str, next_run_at: datetime, payload: dict[str, Any] | None = None) -> None:
        """Create the job if it does not exist (an existing job keeps its schedule)."""
        with self.session() as session:  # type: ignore[attr-defined]
            if session.get(ScheduledJob, name) is None:
                session.add(ScheduledJob(name=name, next_run_at=next_run_at, payload=payload or {}))

    def claim_job(self, name: str, now: datetime | None = None, lease: float = 600.0) -> ScheduledJob | None:
        """Atomically take a due job (only one worker gets it); None when not due or someone else runs it."""
        now = now or utcnow()
        with self.session() as session:  # type: ignore[attr-defined]
            result = session.execute(sa.update(ScheduledJob).where(
                ScheduledJob.name == name, ScheduledJob.next_run_at <= now,
                sa.or_(ScheduledJob.running_until.is_(None), ScheduledJob.running_until <= now))  # type: ignore[union-attr,operator]
                .values(running_until=now + timedelta(seconds=lease)))
            return session.get(ScheduledJob, name) if result.rowcount else None

    def finish_job(self, name: str, next_run_at: datetime, status: str = "ok") -> None:
        with self.session() as session:  # type: ignore[attr-defined]
            session.execute(sa.update(ScheduledJob).where(ScheduledJob.name == name).values(
                next_run_at=next_run_at, last_run_at=utcnow(), last_status=clean_text(status, 1000), running_until=None))

    # -- viewers ----------------------------------------------------------------------------------------------
    def viewer(self, platform: str, author_id: str) -> Viewer | None:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return session.exec(select(Viewer).where(Viewer.platform == platform,
                                                     Viewer.pseudonym == self.pseudonym(platform, author_id))).first()  # type: ignore[attr-defined]

    def _viewer_for_update(self, session: Session, platform: str, author_id: str) -> Viewer:
        pseudonym = self.pseudonym(platform, author_id)  # type: ignore[attr-defined]
        row = session.exec(select(Viewer).where(Viewer.platform == platform, Viewer.pseudonym == pseudonym)).first()
        return row or Viewer(platform=platform, pseudonym=pseudonym, author_id=clean_text(str(author_id), 128))

    def set_dm_reachable(self, platform: str, author_id: str, reachable: bool) -> None:
        with self.session() as session:  # type: ignore[attr-defined]
            row = self._viewer_for_update(session, platform, author_id)
            row.dm_reachable = reachable
            session.add(row)

    def set_attribution(self, platform: str, author_id: str, payload: dict[str, Any]) -> None:
        with self.session() as session:  # type: ignore[attr-defined]
            row = self._viewer_for_update(session, platform, author_id)
            row.attribution = {**(row.attribution or {}), **clean_json(payload)}
            session.add(row)

    # -- clicks and conversions ------------------------------------------------------------------------------
    def record_click(self, link_id: str, *, user_agent: str | None = None, referrer: str | None = None,
                     at: datetime | None = None) -> bool:
        """Count a click on a tracked link; False when the link id is unknown."""
        with self.session() as session:  # type: ignore[attr-defined]
            link = session.get(TrackedLink, link_id)
            if link is None:
                return False
            viewer = session.get(Viewer, link.viewer_id) if link.viewer_id else None
            session.add(LinkClick(link_id=link_id, viewer_id=link.viewer_id, clicked_at=at or utcnow(),
                                  user_agent=clean_text(user_agent, 400) or None, referrer=clean_text(referrer, 400) or None,
                                  visitor=viewer.pseudonym if viewer else None, automated=is_automated(user_agent)))
            return True

    def record_conversion(self, platform: str, external_id: str, *, link_id: str | None = None, course_id: str | None = None,
                          amount: float = 0.0, currency: str = "CNY", at: datetime | None = None) -> bool:
        """An order (idempotent on platform + external id); attributed to the link's viewer when known."""
        with self.session() as session:  # type: ignore[attr-defined]
            if session.exec(select(Conversion.id).where(Conversion.platform == platform, Conversion.external_id == external_id)).first():
                return False
            link = session.get(TrackedLink, link_id) if link_id else None
            session.add(Conversion(platform=platform, external_id=clean_text(external_id, 200), link_id=link.id if link else None,
                                   viewer_id=link.viewer_id if link else None, course_id=course_id or (link.course_id if link else None),
                                   amount=amount, currency=currency, occurred_at=at or utcnow()))
            return True

    # -- privacy ----------------------------------------------------------------------------------------------
    def forget_viewer(self, ref: str) -> dict[str, int]:
        """Delete a viewer's data. `ref`: a pseudonym (v_…) or `platform:author_id`. Returns rows touched per table."""
        with self.session() as session:  # type: ignore[attr-defined]
            viewers = self._viewers_for_ref(session, ref)
            if not viewers:
                raise NotFound(f"no viewer {ref!r} (give a pseudonym v_… or platform:author_id)")
            _pseudonymise_event_ids(session, viewers)
            return _forget(session, [v.id for v in viewers])  # type: ignore[misc]

    def _viewers_for_ref(self, session: Session, ref: str) -> list[Viewer]:
        ref = ref.strip()
        found = list(session.exec(select(Viewer).where(Viewer.pseudonym == ref)))
        if not found and ":" in ref:
            platform, author_id = ref.split(":", 1)
            found = list(session.exec(select(Viewer).where(Viewer.platform == platform,
                                                           Viewer.pseudonym == self.pseudonym(platform, author_id))))  # type: ignore[attr-defined]
        return found


def _pseudonymise_event_ids(session: Session, viewers: list[Viewer]) -> None:
    """Event ids that begin with the viewer's raw id (Telegram DMs stored before DM ids were pseudonymised:
    `<chat id>:<message id>`, and a private chat's id is the user id) get the pseudonym in its place."""
    for viewer in viewers:
        if not viewer.author_id:
            continue
        prefix = f"{viewer.author_id}:"
        rows = session.exec(select(EventRecord.id, EventRecord.event_id).where(  # type: ignore[call-overload]
            EventRecord.viewer_id == viewer.id, EventRecord.platform == viewer.platform,
            sa.func.substr(EventRecord.event_id, 1, len(prefix)) == prefix)).all()
        for pk, event_id in rows:
            new_id = f"{viewer.pseudonym}:{event_id[len(prefix):]}"
            taken = session.exec(select(EventRecord.id).where(EventRecord.platform == viewer.platform, EventRecord.event_id == new_id)).first()
            session.execute(sa.update(EventRecord).where(EventRecord.id == pk).values(  # type: ignore[arg-type]
                event_id=clean_text(f"{new_id}:{pk}" if taken else new_id, 200)))


def _forget(session: Session, ids: list[int]) -> dict[str, int]:
    """Personal data goes; anonymous rows stay (without text) so the bot still never answers an event twice."""
    events = select(EventRecord.id).where(EventRecord.viewer_id.in_(ids)).scalar_subquery()  # type: ignore[union-attr]
    links = select(TrackedLink.id).where(TrackedLink.viewer_id.in_(ids)).scalar_subquery()  # type: ignore[union-attr]
    counts: dict[str, int] = {}

    def run(name: str, statement: Any) -> None:
        counts[name] = counts.get(name, 0) + (session.execute(statement).rowcount or 0)

    run("link_clicks", sa.delete(LinkClick).where(sa.or_(LinkClick.viewer_id.in_(ids), LinkClick.link_id.in_(links))))  # type: ignore[union-attr]
    run("conversions", sa.delete(Conversion).where(sa.or_(Conversion.viewer_id.in_(ids), Conversion.link_id.in_(links))))  # type: ignore[union-attr]
    run("outbox", sa.delete(OutboxMessage).where(OutboxMessage.viewer_id.in_(ids)))  # type: ignore[union-attr]
    run("links", sa.delete(TrackedLink).where(TrackedLink.viewer_id.in_(ids)))  # type: ignore[union-attr]
    run("handoffs", sa.delete(Handoff).where(Handoff.viewer_id.in_(ids)))  # type: ignore[union-attr]
    run("ab_assignments", sa.delete(AbAssignment).where(AbAssignment.viewer_id.in_(ids)))  # type: ignore[attr-defined]
    run("understandings", sa.delete(UnderstandingRecord).where(UnderstandingRecord.event_pk.in_(events)))  # type: ignore[attr-defined]
    run("decisions", sa.update(DecisionRecord).where(DecisionRecord.viewer_id.in_(ids)).values(  # type: ignore[union-attr]
        viewer_id=None, text=None, dm_text=None))
    from bot.store.corrections import forget_statement  # imports this module

    run("creator_corrections", forget_statement(events))
    run("events", sa.update(EventRecord).where(EventRecord.viewer_id.in_(ids)).values(viewer_id=None, text="", raw={}))  # type: ignore[union-attr]
    run("proactive_dms", sa.delete(ProactiveDm).where(ProactiveDm.pseudonym.in_(  # type: ignore[attr-defined]
        select(Viewer.pseudonym).where(Viewer.id.in_(ids)).scalar_subquery())))  # type: ignore[union-attr]
    run("viewer_profiles", sa.delete(ViewerProfile).where(ViewerProfile.viewer_id.in_(ids)))  # type: ignore[attr-defined]
    run("viewers", sa.delete(Viewer).where(Viewer.id.in_(ids)))  # type: ignore[union-attr]
    return counts


@dataclass(frozen=True, slots=True)
class TakenOverViewer:
    platform: str
    pseudonym: str  # never the raw id
    name: str | None
    by: str | None
    at: datetime | None


def _viewer_by_pseudonym(session: Session, pseudonym: str) -> Viewer:
    row = session.exec(select(Viewer).where(Viewer.pseudonym == pseudonym.strip())).first()
    if row is None:
        raise NotFound(f"no viewer {pseudonym.strip()!r} (give the pseudonym v_… shown with their comments)")
    return row


def _taken_over(row: Viewer) -> TakenOverViewer:
    return TakenOverViewer(row.platform, row.pseudonym, row.display_name, row.taken_over_by, row.taken_over_at)


def _held_note(message: OutboxMessage) -> str:
    """A held reply on its handoff: why it was held (the message's last error) and its text."""
    return f"{message.last_error}: {message.text[:HELD_TEXT_SHOWN]}"


def _answered_event(session: Session, message: OutboxMessage) -> tuple[int | None, int | None]:
    """The comment an outbox message answers (event pk) and its decision, through the decision or the handoff."""
    if message.decision_id is not None:
        decision = session.get(DecisionRecord, message.decision_id)
        if decision is not None:
            return decision.event_pk, decision.id
    if message.handoff_id is not None:
        handoff = session.get(Handoff, message.handoff_id)
        if handoff is not None:
            return handoff.event_pk, handoff.decision_id
    return None, None


def _handoff_view(h: Handoff, e: EventRecord, v: Viewer | None, t: ThreadRecord | None) -> HandoffView:
    return HandoffView(
        id=h.id, state=h.state, platform=h.platform, thread_id=h.thread_id, thread_title=t.title if t else "",  # type: ignore[arg-type]
        viewer=v.pseudonym if v else None, viewer_name=v.display_name if v else None, text=e.text, reason=h.reason,
        created_at=h.created_at, resolved_by=h.resolved_by, reply_text=h.reply_text,
    )
