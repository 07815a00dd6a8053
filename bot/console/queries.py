"""What the console's pages show, read from the store in one or two queries each (synchronous; pages call them
with asyncio.to_thread). Read models only: every change goes through bot/actions.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bot.store.models import DecisionRecord, EventRecord, Handoff, OutboxMessage, ThreadRecord, UnderstandingRecord, Viewer
from bot.store.store import Store

PAGE_SIZE = 50
HITS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Understood:
    """What the bot made of a comment (UnderstandingRecord), as the creator reads it."""

    intent: str
    confidence: float
    sentiment: str
    answer: str | None  # e.g. faq:price or course:py-101
    match_confidence: float
    match_reason: str
    hits: list[dict[str, Any]]

    @classmethod
    def of(cls, u: UnderstandingRecord | None) -> Understood | None:
        if u is None:
            return None
        answer = f"{u.answer_kind}:{u.answer_id or u.course_id}" if u.answer_kind else None
        return cls(u.intent, u.intent_confidence, u.sentiment, answer, u.match_confidence, u.match_reason, list(u.hits[:HITS_SHOWN]))


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    state: str
    platform: str
    thread_id: str | None
    thread_pk: int | None  # the conversation page's id
    thread_title: str
    viewer_name: str | None
    viewer: str | None  # pseudonym
    event_pk: int
    kind: str
    text: str
    reason: str  # why it came to the creator
    decision_reason: str | None
    created_at: datetime
    understood: Understood | None
    resolved_by: str | None
    reply_text: str | None
    taken_over: bool
    viewer_taken_over: bool = False  # a human answers this viewer everywhere (bot/actions.py take_over_viewer)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "platform": self.platform, "thread_id": self.thread_id,
                "thread_title": self.thread_title, "viewer_name": self.viewer_name, "viewer": self.viewer,
                "comment_id": self.event_pk, "text": self.text, "reason": self.reason, "created_at": self.created_at.isoformat(),
                "understood": None if self.understood is None else {
                    "intent": self.understood.intent, "confidence": self.understood.confidence, "sentiment": self.understood.sentiment,
                    "answer": self.understood.answer, "match_confidence": self.understood.match_confidence,
                    "match_reason": self.understood.match_reason, "hits": self.understood.hits},
                "resolved_by": self.resolved_by, "reply_text": self.reply_text}


@dataclass(frozen=True, slots=True)
class InboxFilter:
    platform: str | None = None
    thread_id: str | None = None
    intent: str | None = None
    state: str = "open"
    before: int | None = None  # keyset paging: handoffs with a smaller id (older)


@dataclass(frozen=True, slots=True)
class InboxPage:
    items: list[InboxItem]
    open_count: int
    next_before: int | None  # the next (older) page, None at the end


def _handoff_query():
    return (
        select(Handoff, EventRecord, Viewer, ThreadRecord, UnderstandingRecord, DecisionRecord.reason)
        .join(EventRecord, EventRecord.id == Handoff.event_pk)
        .join(Viewer, Viewer.id == Handoff.viewer_id, isouter=True)
        .join(ThreadRecord, sa.and_(ThreadRecord.platform == Handoff.platform, ThreadRecord.thread_id == Handoff.thread_id), isouter=True)
        .join(UnderstandingRecord, UnderstandingRecord.event_pk == Handoff.event_pk, isouter=True)
        .join(DecisionRecord, DecisionRecord.event_pk == Handoff.event_pk, isouter=True)
    )


def _item(h: Handoff, e: EventRecord, v: Viewer | None, t: ThreadRecord | None, u: UnderstandingRecord | None,
          decision_reason: str | None) -> InboxItem:
    return InboxItem(h.id, h.state, h.platform, h.thread_id, t.id if t else None, t.title if t else "",  # type: ignore[arg-type]
                     v.display_name if v else None, v.pseudonym if v else None, e.id, e.kind, e.text, h.reason,  # type: ignore[arg-type]
                     decision_reason, h.created_at, Understood.of(u), h.resolved_by, h.reply_text, bool(t and t.taken_over),
                     bool(v and v.taken_over_at))


def inbox_page(store: Store, f: InboxFilter, limit: int = PAGE_SIZE) -> InboxPage:
    """Newest first, `limit` at a time (keyset on (created_at, id): the 200th page costs what the first does)."""
    query = _handoff_query().where(Handoff.state == f.state)
    if f.platform:
        query = query.where(Handoff.platform == f.platform)
    if f.thread_id:
        query = query.where(Handoff.thread_id == f.thread_id)
    if f.intent:
        query = query.where(UnderstandingRecord.intent == f.intent)
    if f.before:  # older than that handoff: (created_at, id) below its own, read off the state+time index
        since = select(Handoff.created_at).where(Handoff.id == f.before).scalar_subquery()
        query = query.where(sa.tuple_(Handoff.created_at, Handoff.id) < sa.tuple_(since, f.before))
    # By time, then id: the order of ix_handoffs_state_time, so the database walks it and stops after one page
    # (ordered by id alone, SQLite read every open handoff through that index and sorted them: 0.5 s at 10,000).
    query = query.order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit + 1)  # type: ignore[union-attr]
    with store.session(write=False) as session:
        rows = [_item(*row) for row in session.exec(query)]
        open_count = session.exec(select(sa.func.count()).select_from(Handoff).where(Handoff.state == "open")).one()
    more = len(rows) > limit
    rows = rows[:limit]
    return InboxPage(rows, int(open_count), rows[-1].id if more and rows else None)


def inbox_item(store: Store, handoff_id: int) -> InboxItem | None:
    with store.session(write=False) as session:
        row = session.exec(_handoff_query().where(Handoff.id == handoff_id)).first()
    return _item(*row) if row else None


# -- conversations -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: int
    platform: str
    thread_id: str
    title: str
    taken_over: bool
    human_owner: str | None
    comments: int
    open_handoffs: int
    last_at: datetime | None


@dataclass(frozen=True, slots=True)
class Sent:
    id: int
    kind: str
    text: str
    state: str  # pending | sending | sent | failed | dead | held
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    by_human: bool


@dataclass(frozen=True, slots=True)
class Turn:
    """One comment in a thread with what the bot made of it, decided, and sent."""

    event_pk: int
    kind: str
    viewer_name: str | None
    viewer: str | None
    text: str
    created_at: datetime
    understood: Understood | None
    action: str | None
    reason: str | None
    confidence: float | None
    dry_run: bool
    handoff_id: int | None
    handoff_state: str | None
    sent: list[Sent]


def threads(store: Store, limit: int = 100) -> list[ThreadSummary]:
    """Threads with comments, the most recently active first."""
    stats = (select(EventRecord.platform, EventRecord.thread_id, sa.func.count().label("n"), sa.func.max(EventRecord.created_at).label("last"))
             .where(EventRecord.thread_id.is_not(None)).group_by(EventRecord.platform, EventRecord.thread_id).subquery())  # type: ignore[union-attr]
    opened = (select(Handoff.platform, Handoff.thread_id, sa.func.count().label("n")).where(Handoff.state == "open")
              .group_by(Handoff.platform, Handoff.thread_id).subquery())
    query = (select(ThreadRecord, stats.c.n, stats.c.last, opened.c.n)
             .join(stats, sa.and_(stats.c.platform == ThreadRecord.platform, stats.c.thread_id == ThreadRecord.thread_id))
             .join(opened, sa.and_(opened.c.platform == ThreadRecord.platform, opened.c.thread_id == ThreadRecord.thread_id), isouter=True)
             .order_by(stats.c.last.desc()).limit(limit))
    with store.session(write=False) as session:
        return [ThreadSummary(t.id, t.platform, t.thread_id, t.title, t.taken_over, t.human_owner, int(n), int(o or 0), last)
                for t, n, last, o in session.exec(query)]


def thread(store: Store, thread_pk: int, limit: int = 200) -> tuple[ThreadRecord | None, list[Turn]]:
    """A thread and its latest `limit` comments, oldest first, each with its decision and messages."""
    with store.session(write=False) as session:
        record = session.get(ThreadRecord, thread_pk)
        if record is None:
            return None, []
        rows = list(session.exec(
            select(EventRecord, Viewer, UnderstandingRecord, DecisionRecord, Handoff)
            .join(Viewer, Viewer.id == EventRecord.viewer_id, isouter=True)
            .join(UnderstandingRecord, UnderstandingRecord.event_pk == EventRecord.id, isouter=True)
            .join(DecisionRecord, DecisionRecord.event_pk == EventRecord.id, isouter=True)
            .join(Handoff, Handoff.event_pk == EventRecord.id, isouter=True)
            .where(EventRecord.platform == record.platform, EventRecord.thread_id == record.thread_id)
            .order_by(EventRecord.created_at.desc(), EventRecord.id.desc()).limit(limit)))  # type: ignore[attr-defined,union-attr]
        decision_ids = [d.id for _, _, _, d, _ in rows if d is not None]
        handoff_ids = [h.id for *_, h in rows if h is not None]
        messages = list(session.exec(select(OutboxMessage).where(sa.or_(
            OutboxMessage.decision_id.in_(decision_ids or [-1]), OutboxMessage.handoff_id.in_(handoff_ids or [-1])))  # type: ignore[union-attr]
            .order_by(OutboxMessage.id)))
    by_decision: dict[int, list[Sent]] = {}
    by_handoff: dict[int, list[Sent]] = {}
    for m in messages:
        sent = Sent(m.id, m.kind, m.text, m.state, m.attempts, m.last_error, m.created_at, m.sent_at, bool(m.extra.get("by_human")))  # type: ignore[arg-type]
        if m.handoff_id is not None:
            by_handoff.setdefault(m.handoff_id, []).append(sent)
        elif m.decision_id is not None:
            by_decision.setdefault(m.decision_id, []).append(sent)
    turns = [
        Turn(e.id, e.kind, v.display_name if v else None, v.pseudonym if v else None, e.text, e.created_at, Understood.of(u),  # type: ignore[arg-type]
             d.action if d else None, d.reason if d else None, d.confidence if d else None, bool(d and d.dry_run),
             h.id if h else None, h.state if h else None,
             by_decision.get(d.id, []) + (by_handoff.get(h.id, []) if h else []) if d else (by_handoff.get(h.id, []) if h else []))  # type: ignore[arg-type]
        for e, v, u, d, h in reversed(rows)
    ]
    return record, turns
