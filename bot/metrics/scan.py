"""One pass over a day's events: every per-event aggregate the summary needs, from a single query.

Reading the day's rows is the expensive part (each event joins its understanding and decision), so the
rows are read exactly once, as narrow tuples, and folded in Python: 15-minute buckets, threads, topic
lists, per-viewer totals, reply-worthy events and the ids of unanswered questions.

Local hours come from 15-minute UTC buckets: every time zone in use today is offset from UTC by a
multiple of 15 minutes, so each bucket lies within one local hour, on daylight-saving days too.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa

from bot.metrics.rows import (
    BOT_REPLY_ACTIONS,
    PUBLIC_KINDS,
    TEXT_KINDS,
    Activity,
    Bucket,
)
from bot.metrics.window import DayWindow
from bot.store import models as m
from retrieval.intents import QUESTION_INTENTS

EVENTS = m.EventRecord.__table__
UNDERSTANDINGS = m.UnderstandingRecord.__table__
DECISIONS = m.DecisionRecord.__table__
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

    def events(self) -> sa.FromClause:
        return (EVENTS.outerjoin(UNDERSTANDINGS, UNDERSTANDINGS.c.event_pk == EVENTS.c.id)
                .outerjoin(DECISIONS, DECISIONS.c.event_pk == EVENTS.c.id))

    def where(self, query: sa.Select) -> sa.Select:
        query = query.where(EVENTS.c.created_at >= self.window.start, EVENTS.c.created_at < self.window.end,
                            EVENTS.c.kind.in_(TEXT_KINDS))
        return query.where(EVENTS.c.platform.in_(self.platforms)) if self.platforms else query

    def ids(self) -> sa.Select:
        """Ids of the day's viewer text events: the subquery replies, handoffs and links hang off."""
        return self.where(sa.select(EVENTS.c.id))

    def hour_of_bucket(self) -> list[int]:
        count = int((self.window.end - self.window.start).total_seconds()) // BUCKET_SECONDS + 1
        return [self.window.local_hour(self.window.start + timedelta(seconds=b * BUCKET_SECONDS)) for b in range(count)]


class ViewerTally:
    """Per viewer id: public comments, replies, DMs, first public comment, last DM (epoch seconds)."""

    __slots__ = ("comments", "dms", "first_comment", "last_dm", "replies")

    def __init__(self) -> None:
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


def scan_events(day: Day, activity: Activity, *, top_threads: int = 5) -> tuple[dict[int, ViewerTally], list[int], list[tuple]]:
    """Fill buckets, threads and topic lists; return per-viewer tallies, unanswered question ids and the
    reply-worthy events as (id, epoch, action)."""
    query = day.where(sa.select(EVENTS.c.id, day.epoch(EVENTS.c.created_at), EVENTS.c.kind, EVENTS.c.platform, EVENTS.c.thread_id,
                                EVENTS.c.viewer_id, UNDERSTANDINGS.c.intent, UNDERSTANDINGS.c.sentiment,
                                sa.cast(UNDERSTANDINGS.c.topics, sa.Text), DECISIONS.c.action).select_from(day.events()))
    hours, start = day.hour_of_bucket(), day.start_epoch
    buckets: Counter[tuple] = Counter()
    threads: Counter[tuple[str, str]] = Counter()
    topics: Counter[str] = Counter()
    viewers: dict[int, ViewerTally] = {}
    questions: list[int] = []
    worthy: list[tuple] = []
    for pk, at, kind, platform, thread, viewer, intent, sentiment, topic_text, action in day.conn.execute(query):
        at = int(at)
        buckets[(hours[(at - start) // BUCKET_SECONDS], kind, platform, intent, sentiment)] += 1
        if kind in PUBLIC_KINDS and thread is not None:
            threads[(platform, thread)] += 1
        if intent != "spam":
            if topic_text and topic_text != "[]":
                topics[topic_text] += 1
            if intent in NEEDS_ANSWER or action in ANSWERING_ACTIONS:
                worthy.append((pk, at, action))
        if intent in QUESTION_INTENTS and action not in BOT_REPLY_ACTIONS:
            questions.append(pk)
        if viewer is not None:
            tally = viewers.get(viewer)
            if tally is None:
                tally = viewers[viewer] = ViewerTally()
            tally.add(kind, at)
        else:
            activity.anonymous_events += 1
    activity.buckets = [Bucket(*key, count) for key, count in buckets.items()]
    activity.threads = [(f"{p}:{t}", n) for (p, t), n in sorted(threads.items(), key=lambda item: (-item[1], item[0]))[:top_threads]]
    merged: Counter[tuple[str, ...]] = Counter()
    for text, count in topics.items():
        merged[tuple(json.loads(text))] += count
    activity.topic_lists = dict(merged)
    return viewers, questions, worthy
