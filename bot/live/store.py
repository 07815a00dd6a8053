"""What live rooms keep in the database: the facts the live policy decides from, the danmaku pacing the queue
enforces, the question board's groups, and post-live summaries.

Pacing holds across restarts and workers because it is read from, and written to, the outbox itself: the latest
scheduled message of a room is the reference, and a new live message is queued no earlier than `min_gap` after it,
under a per-room lock (PostgreSQL advisory lock; SQLite has one writer at a time). The policy plans the same slot
from the ledger, so with one worker the queue changes nothing; with several, it can only push a message later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from bot.decision import Decision, LiveRoomFacts
from bot.store.models import (
    DecisionRecord,
    EventRecord,
    LiveQuestion,
    LiveQuestionGroup,
    LiveSummaryRecord,
    OutboxMessage,
    ThreadRecord,
    utcnow,
)
from bot.store.rows import aware, clean_text, insert_rows, pairs_in

LOOKBACK = timedelta(hours=1)  # live answers and slots older than this never matter to a decision
_UNSENT_FINAL = ("dead", "held")  # messages that will not go out do not take a slot
MAX_EXAMPLES = 3

Thread = tuple[str, str]  # (platform, thread id)


def _lock(session: Session, dialect: str, name: str) -> None:
    if dialect == "postgresql":  # serialise this room's writers across workers until the transaction ends
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(name))))


def _latest_slots(session: Session, threads: set[Thread], since: datetime) -> dict[Thread, datetime]:
    outbox = OutboxMessage
    rows = session.execute(
        sa.select(outbox.platform, outbox.thread_id, sa.func.max(outbox.next_attempt_at))
        .where(pairs_in(outbox.platform, outbox.thread_id, threads), outbox.state.not_in(_UNSENT_FINAL),  # type: ignore[attr-defined,arg-type]
               outbox.created_at > since)
        .group_by(outbox.platform, outbox.thread_id))
    return {(p, t): aware(m) for p, t, m in rows if m is not None}


class LiveLedger:
    """The live part of a batch's facts: per room, answers given (by answer key) and the latest bot danmaku slot."""

    def __init__(self) -> None:
        self.answered: dict[Thread, dict[str, datetime]] = defaultdict(dict)
        self.last: dict[Thread, datetime] = {}

    def facts(self, thread: Thread) -> LiveRoomFacts:
        return LiveRoomFacts(answered=dict(self.answered.get(thread, {})), last_sent_at=self.last.get(thread))

    def load(self, session: Session, threads: set[Thread], now: datetime) -> None:
        if not threads:
            return
        since = now - LOOKBACK
        d = DecisionRecord
        # Dry-run answers count too: a dry run shows what the bot would do, grouping and pacing included.
        rows = session.execute(
            sa.select(d.platform, d.thread_id, d.variant_id, d.decided_at, d.send_after)
            .where(d.action == "reply_public", pairs_in(d.platform, d.thread_id, threads), d.decided_at > since))  # type: ignore[arg-type]
        for platform, thread_id, key, decided_at, send_after in rows:
            thread = (platform, thread_id)
            decided_at = aware(decided_at)
            self.answered[thread][key] = max(decided_at, self.answered[thread].get(key, decided_at))
            self._advance(thread, aware(send_after) if send_after else decided_at)
        for thread, slot in _latest_slots(session, threads, since).items():
            self._advance(thread, slot)

    def note(self, thread: Thread, decision: Decision) -> None:
        """A live answer decided in this batch: the next decision sees it answered and the room's slot taken."""
        now = decision.decided_at or utcnow()
        if decision.variant_id:  # the live answer key (bot/live/policy.py live_key)
            self.answered[thread][decision.variant_id] = now
        parts = len(decision.text.split("\n")) if decision.text else 1
        self._advance(thread, (decision.send_after or now) + timedelta(seconds=decision.min_gap * (parts - 1)))

    def _advance(self, thread: Thread, slot: datetime) -> None:
        if thread not in self.last or slot > self.last[thread]:
            self.last[thread] = slot


def live_parts(text: str) -> list[tuple[str, str]]:
    """(channel key, text) per danmaku of a live answer: the first keeps the usual `public` key."""
    lines = [line for line in text.split("\n") if line.strip()]
    return [("public" if n == 0 else f"public:{n + 1}", line) for n, line in enumerate(lines)]


def pace_live_messages(session: Session, dialect: str, messages: Sequence[Any]) -> None:
    """Push live messages (extra.min_gap) later where needed so a room's bot messages stay min_gap apart."""
    paced = [m for m in messages if (m["extra"] or {}).get("min_gap")]
    if not paced:
        return
    threads = {(m["platform"], m["thread_id"]) for m in paced}
    for platform, thread_id in sorted(threads):
        _lock(session, dialect, f"live_pace:{platform}:{thread_id}")
    latest = _latest_slots(session, threads, utcnow() - LOOKBACK)
    for message in paced:
        thread = (message["platform"], message["thread_id"])
        slot = aware(message["next_attempt_at"])
        previous = latest.get(thread)
        if previous is not None and slot < previous + timedelta(seconds=float(message["extra"]["min_gap"])):
            slot = previous + timedelta(seconds=float(message["extra"]["min_gap"]))
            message["next_attempt_at"] = slot
        latest[thread] = slot


# -- the board ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BoardQuestion:
    """A live question to put on the board (built by bot/live/board.py from a decided event)."""

    event_pk: int
    platform: str
    thread_id: str
    text: str
    vector: np.ndarray
    asked_at: datetime
    price: float | None = None  # super chat
    answer_key: str | None = None  # the bot's answer for it, when it has a confident one
    bot_answer: str | None = None  # the danmaku the bot queued for it
    covered: bool = False  # answered by a danmaku the bot already sent for the same question


def choose_group(vector: np.ndarray, centroids: np.ndarray, keys: Sequence[str | None], key: str | None,
                 similarity: float) -> int | None:
    """The group a question joins: the one the bot's answer for it already covers, else the closest centroid at
    `similarity` or above; None for a new group. Greedy and incremental: earlier groups never move."""
    if key is not None and key in keys:
        return list(keys).index(key)
    if len(centroids) == 0:
        return None
    scores = centroids @ vector
    best = int(np.argmax(scores))
    return best if scores[best] >= similarity else None


class LiveStore:
    dialect: str

    def record_live_questions(self, questions: Sequence[BoardQuestion], *, similarity: float, window: float) -> int:
        """Put questions on their rooms' boards (new groups or existing ones); redeliveries are skipped. Returns how many."""
        if not questions:
            return 0
        by_thread: dict[Thread, list[BoardQuestion]] = defaultdict(list)
        for q in questions:
            by_thread[(q.platform, q.thread_id)].append(q)
        added = 0
        with self.session() as session:  # type: ignore[attr-defined]
            for (platform, thread_id), items in sorted(by_thread.items()):
                _lock(session, self.dialect, f"live_board:{platform}:{thread_id}")
                added += _add_to_board(session, self.dialect, platform, thread_id, items, window, similarity)
        return added

    def mark_live_group(self, thread: Thread, group_id: int, by: str, now: datetime | None = None) -> bool:
        """The host marks a group answered; False when the room has no such group."""
        with self.session() as session:  # type: ignore[attr-defined]
            group = session.get(LiveQuestionGroup, group_id)
            if group is None or (group.platform, group.thread_id) != thread:
                return False
            group.marked_answered_at = now or utcnow()
            group.marked_by = clean_text(by, 200)
            session.add(group)
            return True

    def live_groups(self, thread: Thread, since: datetime | None = None) -> list[tuple[LiveQuestionGroup, int]]:
        """The room's groups active since `since` (all when None) with their questions since then, newest first."""
        platform, thread_id = thread
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            query = select(LiveQuestionGroup).where(LiveQuestionGroup.platform == platform, LiveQuestionGroup.thread_id == thread_id)
            counts = sa.select(LiveQuestion.group_id, sa.func.count()).where(
                LiveQuestion.platform == platform, LiveQuestion.thread_id == thread_id)
            if since is not None:
                query = query.where(LiveQuestionGroup.last_at > since)
                counts = counts.where(LiveQuestion.asked_at > since)
            groups = list(session.exec(query.order_by(LiveQuestionGroup.last_at.desc(), LiveQuestionGroup.id.desc())))  # type: ignore[attr-defined,union-attr]
            recent = dict(session.execute(counts.group_by(LiveQuestion.group_id)).all())
            for group in groups:
                session.expunge(group)
            return [(g, recent.get(g.id, 0)) for g in groups]

    def live_threads(self, room_id: str) -> list[ThreadRecord]:
        """The room's live sessions, latest start first."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            rows = list(session.exec(select(ThreadRecord).where(ThreadRecord.thread_id.like(f"live:{room_id}:%"))))  # type: ignore[attr-defined]
            for row in rows:
                session.expunge(row)
        return sorted(rows, key=lambda r: _start(r.thread_id), reverse=True)

    def live_sessions(self, limit: int = 200) -> list[ThreadRecord]:
        """Every room's live sessions (threads live:<room>:<start>), latest start first (the console's room list)."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            rows = list(session.exec(select(ThreadRecord).where(ThreadRecord.thread_id.like("live:%"))))  # type: ignore[attr-defined]
            for row in rows:
                session.expunge(row)
        return sorted(rows, key=lambda r: _start(r.thread_id), reverse=True)[:limit]

    def live_ended_at(self, platform: str, thread_id: str) -> datetime | None:
        """When the session's live_end arrived (None: still live, or the end was never seen)."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            at = session.execute(sa.select(sa.func.max(EventRecord.created_at)).where(
                EventRecord.platform == platform, EventRecord.thread_id == thread_id, EventRecord.kind == "live_end")).scalar()
        return aware(at) if at is not None else None

    def save_live_summary(self, platform: str, thread_id: str, ended_at: datetime, data: dict[str, Any]) -> None:
        """Store (or replace: asked again, or the live ended again after a reconnect) a session's summary."""
        with self.session() as session:  # type: ignore[attr-defined]
            row = session.exec(select(LiveSummaryRecord).where(LiveSummaryRecord.platform == platform,
                                                               LiveSummaryRecord.thread_id == thread_id)).first()
            row = row or LiveSummaryRecord(platform=platform, thread_id=thread_id)
            row.ended_at, row.created_at, row.data = ended_at, utcnow(), data
            session.add(row)

    def live_summaries(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Summaries of sessions that ended in [start, end), oldest first."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return [row.data for row in session.exec(select(LiveSummaryRecord).where(
                LiveSummaryRecord.ended_at >= start, LiveSummaryRecord.ended_at < end).order_by(LiveSummaryRecord.ended_at))]


def _start(thread_id: str) -> int:
    try:
        return int(thread_id.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def _add_to_board(session: Session, dialect: str, platform: str, thread_id: str, items: Iterable[BoardQuestion],
                  window: float, similarity: float) -> int:
    """Group a batch of one room's questions in memory (numpy), then write each touched group once and the
    questions in one INSERT: per-question ORM flushes cost half of a 500 danmaku/s run (benchmarks/live_board.py)."""
    items = list(items)
    seen = set(session.exec(select(LiveQuestion.event_pk).where(LiveQuestion.event_pk.in_([q.event_pk for q in items]))))  # type: ignore[attr-defined]
    items = [q for q in items if q.event_pk not in seen]
    if not items:
        return 0
    since = min(q.asked_at for q in items) - timedelta(seconds=window)
    groups = list(session.exec(select(LiveQuestionGroup).where(
        LiveQuestionGroup.platform == platform, LiveQuestionGroup.thread_id == thread_id, LiveQuestionGroup.last_at > since)
        .order_by(LiveQuestionGroup.id)))
    dimension = len(items[0].vector)
    centroids = np.zeros((len(groups) + len(items), dimension), dtype=np.float32)  # room for a new group per question
    sums = np.zeros_like(centroids)
    for n, group in enumerate(groups):
        centroids[n] = np.asarray(group.centroid, dtype=np.float32) if len(group.centroid) == dimension else 0.0
        sums[n] = centroids[n] * group.questions
    keys = [g.answer_key for g in groups]
    examples = [list(g.examples) for g in groups]
    touched: set[int] = set()
    joined: list[tuple[BoardQuestion, int, str]] = []
    for q in sorted(items, key=lambda q: (q.asked_at, q.event_pk)):
        vector = np.asarray(q.vector, dtype=np.float32)
        vector = vector / (np.linalg.norm(vector) or 1.0)
        index = choose_group(vector, centroids[: len(groups)], keys, q.answer_key, similarity)
        if index is None:
            groups.append(LiveQuestionGroup(platform=platform, thread_id=thread_id, first_at=q.asked_at, last_at=q.asked_at,
                                            answer_key=q.answer_key))
            keys.append(q.answer_key)
            examples.append([])
            index = len(groups) - 1
        group = groups[index]
        sums[index] += vector
        centroids[index] = sums[index] / (np.linalg.norm(sums[index]) or 1.0)
        group.questions += 1
        group.paid += int(q.price is not None)
        group.last_at = max(aware(group.last_at), q.asked_at)
        text = clean_text(q.text, 200)
        examples[index] = ([text] + [e for e in examples[index] if e != text])[:MAX_EXAMPLES]
        if q.answer_key and not group.answer_key:
            group.answer_key = keys[index] = q.answer_key
        if q.bot_answer:
            group.bot_answer, group.bot_answered_at = q.bot_answer, q.asked_at
        touched.add(index)
        joined.append((q, index, text))
    for index in touched:
        groups[index].centroid = [round(float(x), 5) for x in centroids[index]]
        groups[index].examples = examples[index]
        session.add(groups[index])
    session.flush()  # new groups get their ids
    insert_rows(session, dialect, LiveQuestion, [
        {"id": None, "event_pk": q.event_pk, "group_id": groups[index].id, "platform": platform, "thread_id": thread_id,
         "text": text, "price": q.price, "answered_by_bot": bool(q.bot_answer) or q.covered, "asked_at": q.asked_at}
        for q, index, text in joined])
    return len(joined)
