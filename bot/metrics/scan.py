"""One pass over a day's events: every per-event aggregate the summary needs, from a single query.

Reading the day's rows is the expensive part, so each event is read exactly once, joined with all that
hangs off it one-to-one (understanding, decision, handoff, viewer) plus its outbox messages, as narrow
tuples folded in Python: 15-minute buckets, threads, topic lists, per-viewer totals, reply-worthy events
with their first sent reply, outbox states and the unanswered questions with their text. (Restricting
those side tables to "the day's events" in separate queries cost more than the pass itself: every one
rebuilt the day's id list.)

An event with two messages (a public reply and a DM) comes back twice; only its outbox columns are
counted the second time.

Local hours come from 15-minute UTC buckets: every time zone in use today is offset from UTC by a
multiple of 15 minutes, so each bucket lies within one local hour, on daylight-saving days too.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bot.metrics.rows import (
    BOT_REPLY_ACTIONS,
    PUBLIC_KINDS,
    TEXT_KINDS,
    Activity,
    Bucket,
    ViewerEvent,
    WorthyEvent,
)
from bot.metrics.window import DayWindow
from bot.store import models as m
from retrieval.intents import QUESTION_INTENTS

EVENTS = m.EventRecord.__table__
UNDERSTANDINGS = m.UnderstandingRecord.__table__
DECISIONS = m.DecisionRecord.__table__
HANDOFFS = m.Handoff.__table__
OUTBOX = m.OutboxMessage.__table__
VIEWERS = m.Viewer.__table__
BUCKET_SECONDS = 900
NEEDS_ANSWER = QUESTION_INTENTS | {"complaint"}
ANSWERING_ACTIONS = BOT_REPLY_ACTIONS | {"handoff"}


class Day:
    """SQL pieces for one window on one connection's dialect."""

    def __init__(self, conn: sa.Connection, window: DayWindow, platforms: Sequence[str]) -> None:
        self.conn, self.window, self.platforms = conn, window, tuple(platforms)
        self.sqlite = conn.dialect.name == "sqlite"
        self.start_epoch = int(window.start.timestamp())

    def epoch(self, column: sa.ColumnElement) -> sa.ColumnElement:
        """Whole seconds since the epoch, computed by the database (both store UTC)."""
        if self.sqlite:
            # unixepoch() (SQLite ≥ 3.38) is several times faster than strftime('%s')
            name = "unixepoch" if sqlite3.sqlite_version_info >= (3, 38) else None
            return getattr(sa.func, name)(column) if name else sa.cast(sa.func.strftime("%s", column), sa.Integer)
        return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)

    def where(self, query: sa.Select) -> sa.Select:
        query = query.where(EVENTS.c.created_at >= self.window.start, EVENTS.c.created_at < self.window.end,
                            EVENTS.c.kind.in_(TEXT_KINDS))
        return query.where(EVENTS.c.platform.in_(self.platforms)) if self.platforms else query

    def hour_of_bucket(self) -> list[int]:
        count = int((self.window.end - self.window.start).total_seconds()) // BUCKET_SECONDS + 1
        return [self.window.local_hour(self.window.start + timedelta(seconds=b * BUCKET_SECONDS)) for b in range(count)]


class ViewerTally:
    """One viewer's day: public comments, replies, DMs, first public comment, last DM (epoch seconds)."""

    __slots__ = ("comments", "dms", "first_comment", "last_dm", "new", "pseudonym", "replies")

    def __init__(self, pseudonym: str, new: bool) -> None:
        self.pseudonym, self.new = pseudonym, new
        self.comments = self.replies = self.dms = 0
        self.first_comment: int | None = None
        self.last_dm: int | None = None

    def add(self, kind: str, at: int) -> None:
        if kind == "dm":
            self.dms += 1
            self.last_dm = at if self.last_dm is None or at > self.last_dm else self.last_dm
            return
        self.comments += 1
        self.replies += kind == "reply"
        self.first_comment = at if self.first_comment is None or at < self.first_comment else self.first_comment


def _day_rows(day: Day) -> sa.Select:
    window = day.window
    new_viewer = sa.case((sa.and_(VIEWERS.c.first_seen >= window.start, VIEWERS.c.first_seen < window.end), 1), else_=0)
    # only questions need their text (for the unanswered list); a busy day's other texts stay in the database
    question_text = sa.case((UNDERSTANDINGS.c.intent.in_(QUESTION_INTENTS), EVENTS.c.text))
    rows = (EVENTS.outerjoin(UNDERSTANDINGS, UNDERSTANDINGS.c.event_pk == EVENTS.c.id)
            .outerjoin(DECISIONS, DECISIONS.c.event_pk == EVENTS.c.id)
            .outerjoin(HANDOFFS, HANDOFFS.c.event_pk == EVENTS.c.id)
            .outerjoin(OUTBOX, OUTBOX.c.decision_id == DECISIONS.c.id)
            .outerjoin(VIEWERS, VIEWERS.c.id == EVENTS.c.viewer_id))
    return day.where(sa.select(
        EVENTS.c.id, day.epoch(EVENTS.c.created_at), EVENTS.c.kind, EVENTS.c.platform, EVENTS.c.thread_id,
        EVENTS.c.viewer_id, VIEWERS.c.pseudonym, new_viewer,
        UNDERSTANDINGS.c.intent, UNDERSTANDINGS.c.sentiment, sa.cast(UNDERSTANDINGS.c.topics, sa.Text), question_text,
        DECISIONS.c.action, HANDOFFS.c.id, day.epoch(HANDOFFS.c.resolved_at), day.epoch(EVENTS.c.received_at),
        OUTBOX.c.state, OUTBOX.c.last_error, day.epoch(OUTBOX.c.sent_at),
    ).select_from(rows))


def scan_events(day: Day, activity: Activity, *, top_threads: int = 5) -> dict[int, ViewerTally]:
    """Fill everything in `activity` that comes from the day's events; return the per-viewer tallies
    (clicks and orders are added to them by the caller)."""
    hours, start = day.hour_of_bucket(), day.start_epoch
    buckets: Counter[tuple] = Counter()
    threads: Counter[tuple[str, str]] = Counter()
    topics: Counter[str] = Counter()
    outbox: Counter[tuple[str, str | None]] = Counter()
    viewers: dict[int, ViewerTally] = {}
    first_sent: dict[int, int] = {}
    handed: dict[int, int | None] = {}
    worthy: list[tuple[int, int, str | None, int | None]] = []
    seen: set[int] = set()
    parsed: dict[str | None, tuple[str, ...]] = {}
    for (pk, at, kind, platform, thread, viewer, pseudonym, new, intent, sentiment, topic_text, text, action,
         handoff, resolved, received, state, error, sent) in day.conn.execute(_day_rows(day)):
        if state is not None:
            outbox[(state, error)] += 1
            if state == "sent" and sent is not None and (pk not in first_sent or sent < first_sent[pk]):
                first_sent[pk] = int(sent)
        if pk in seen:
            continue
        seen.add(pk)
        at = int(at)
        buckets[(hours[(at - start) // BUCKET_SECONDS], kind, platform, intent, sentiment)] += 1
        if kind in PUBLIC_KINDS and thread is not None:
            threads[(platform, thread)] += 1
        if handoff is not None:
            handed[pk] = resolved
        if intent != "spam":
            if topic_text and topic_text != "[]":
                topics[topic_text] += 1
            if intent in NEEDS_ANSWER or action in ANSWERING_ACTIONS:
                worthy.append((pk, at, action, received))
        if text is not None and action not in BOT_REPLY_ACTIONS:
            topic_list = parsed.get(topic_text)
            if topic_list is None:  # a day repeats few distinct topic lists: parse each once
                topic_list = parsed[topic_text] = tuple(json.loads(topic_text or "[]"))
            activity.questions.append(ViewerEvent(pk, platform, kind, datetime.fromtimestamp(at, UTC), pseudonym, thread, text, intent,
                                                  sentiment, topic_list, action))
        if viewer is not None:
            tally = viewers.get(viewer)
            if tally is None:
                tally = viewers[viewer] = ViewerTally(pseudonym or f"#{viewer}", bool(new))
            tally.add(kind, at)
        else:
            activity.anonymous_events += 1
    activity.buckets = [Bucket(*key, count) for key, count in buckets.items()]
    activity.threads = [(f"{p}:{t}", n) for (p, t), n in sorted(threads.items(), key=lambda item: (-item[1], item[0]))[:top_threads]]
    merged: Counter[tuple[str, ...]] = Counter()
    for topic_text, count in topics.items():
        merged[parsed[topic_text] if topic_text in parsed else tuple(json.loads(topic_text))] += count
    activity.topic_lists = dict(merged)
    activity.outbox = dict(outbox)
    activity.worthy = [WorthyEvent(pk, float(at), action, _float(first_sent.get(pk)), pk in handed, _float(handed.get(pk)), _float(received))
                       for pk, at, action, received in worthy]
    return viewers


def _float(value: int | None) -> float | None:
    return None if value is None else float(value)
