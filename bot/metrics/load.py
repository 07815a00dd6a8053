"""Read one day's `Activity` from the store: one pass over the day's events (`bot.metrics.scan`: replies,
handoffs, viewers and question texts come with it), then small queries for links, clicks and orders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.metrics.rows import (
    Activity,
    Conversion,
    LinkClick,
    TrackedLink,
    ViewerDay,
)
from bot.metrics.scan import Day, ViewerTally, scan_events
from bot.metrics.window import DayWindow, as_utc
from bot.store import models as m

EVENTS = m.EventRecord.__table__
VIEWERS = m.Viewer.__table__
UNDERSTANDINGS = m.UnderstandingRecord.__table__
DECISIONS = m.DecisionRecord.__table__
OUTBOX = m.OutboxMessage.__table__
LINKS = m.TrackedLink.__table__
CLICKS = m.LinkClick.__table__
CONVERSIONS = m.Conversion.__table__
MMAP_BYTES = 1 << 30  # an upper bound: SQLite maps no more than the file's size


def _viewers(day: Day, activity: Activity, tallies: dict[int, ViewerTally]) -> None:
    """The day's viewers by pseudonym, with their clicks and orders of the day."""
    rows: dict[str, ViewerDay] = {}
    for t in tallies.values():
        rows[t.pseudonym] = ViewerDay(t.pseudonym, t.new, t.comments, t.replies, t.dms, 0, 0,
                                      None if t.first_comment is None else float(t.first_comment), None if t.last_dm is None else float(t.last_dm))
    for pseudonym, (clicks, orders) in _clicks_and_orders_by_viewer(day).items():
        v = rows.get(pseudonym) or ViewerDay(pseudonym, False)
        rows[pseudonym] = ViewerDay(v.viewer, v.new, v.comments, v.replies, v.dms, clicks, orders, v.first_comment, v.last_dm)
    activity.viewers = list(rows.values())


def _clicks_and_orders_by_viewer(day: Day) -> dict[str, tuple[int, int]]:
    """Per viewer: unique clicks of the day (the links they opened, reloads and preview fetchers not counted) and orders."""
    window = day.window
    clicks = (sa.select(VIEWERS.c.pseudonym, sa.func.count(sa.distinct(CLICKS.c.link_id)))
              .select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id).join(VIEWERS, VIEWERS.c.id == CLICKS.c.viewer_id))
              .where(CLICKS.c.clicked_at >= window.start, CLICKS.c.clicked_at < window.end, sa.not_(CLICKS.c.automated)))
    orders = (sa.select(VIEWERS.c.pseudonym, sa.func.count())
              .select_from(CONVERSIONS.outerjoin(LINKS, LINKS.c.id == CONVERSIONS.c.link_id).join(VIEWERS, VIEWERS.c.id == CONVERSIONS.c.viewer_id))
              .where(CONVERSIONS.c.occurred_at >= window.start, CONVERSIONS.c.occurred_at < window.end))
    if day.platforms:
        clicks = clicks.where(LINKS.c.platform.in_(day.platforms))
        orders = orders.where(sa.or_(CONVERSIONS.c.platform.in_(day.platforms), LINKS.c.platform.in_(day.platforms)))
    result: dict[str, list[int]] = {}
    for index, query in enumerate((clicks.group_by(VIEWERS.c.pseudonym), orders.group_by(VIEWERS.c.pseudonym))):
        for viewer, n in day.conn.execute(query):
            result.setdefault(viewer, [0, 0])[index] = int(n)
    return {viewer: (c, o) for viewer, (c, o) in result.items()}


def _links(day: Day, activity: Activity) -> None:
    """Links shown to viewers that day (created with a bot decision whose message was sent) and their clicks."""
    window = day.window
    sent = sa.select(OUTBOX.c.decision_id).where(OUTBOX.c.state == "sent", OUTBOX.c.decision_id == LINKS.c.decision_id).exists()
    links = (
        sa.select(LINKS.c.id, LINKS.c.created_at, LINKS.c.template_id, LINKS.c.variant_id, VIEWERS.c.pseudonym, DECISIONS.c.event_pk)
        .select_from(LINKS.join(DECISIONS, DECISIONS.c.id == LINKS.c.decision_id).outerjoin(VIEWERS, VIEWERS.c.id == LINKS.c.viewer_id))
        .where(LINKS.c.created_at >= window.start, LINKS.c.created_at < window.end, sent)
    )
    if day.platforms:
        links = links.where(LINKS.c.platform.in_(day.platforms))
    activity.links = [TrackedLink(*row) for row in day.conn.execute(links)]
    clicks = (sa.select(CLICKS.c.link_id, CLICKS.c.clicked_at, CLICKS.c.visitor, CLICKS.c.automated, CLICKS.c.id)
              .select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id))
              .where(LINKS.c.created_at >= window.start, LINKS.c.created_at < window.end))
    known = {link.id for link in activity.links}
    activity.link_clicks = [LinkClick(link_id, at, None, visitor or f"#{pk}", bool(automated), as_utc(at).astimezone(window.tz).date())
                            for link_id, at, visitor, automated, pk in day.conn.execute(clicks) if link_id in known]


def _clicks_and_conversions(day: Day, activity: Activity) -> None:
    window = day.window
    # one window is one day: unique clicks of the day are the distinct (link, visitor) pairs of people's clicks
    visitor = sa.func.coalesce(CLICKS.c.visitor, sa.literal("#") + sa.cast(CLICKS.c.id, sa.String))
    person = sa.case((sa.not_(CLICKS.c.automated), CLICKS.c.link_id + sa.literal(" ") + visitor))  # NULL for a fetcher
    clicks = (sa.select(sa.func.count(), sa.func.count(sa.distinct(person)))
              .select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id))
              .where(CLICKS.c.clicked_at >= window.start, CLICKS.c.clicked_at < window.end))
    conversions = (
        sa.select(CONVERSIONS.c.occurred_at, CONVERSIONS.c.link_id, VIEWERS.c.pseudonym, CONVERSIONS.c.amount, LINKS.c.decision_id)
        .select_from(CONVERSIONS.outerjoin(LINKS, LINKS.c.id == CONVERSIONS.c.link_id)
                     .outerjoin(VIEWERS, VIEWERS.c.id == CONVERSIONS.c.viewer_id))
        .where(CONVERSIONS.c.occurred_at >= window.start, CONVERSIONS.c.occurred_at < window.end)
    )
    if day.platforms:
        clicks = clicks.where(LINKS.c.platform.in_(day.platforms))
        conversions = conversions.where(sa.or_(CONVERSIONS.c.platform.in_(day.platforms), LINKS.c.platform.in_(day.platforms)))
    raw, unique_clicks = day.conn.execute(clicks).one()
    activity.clicks, activity.unique_clicks = int(raw), int(unique_clicks)
    bot_links = set()
    for occurred_at, link_id, viewer, amount, decision_id in day.conn.execute(conversions):
        activity.conversions.append(Conversion(occurred_at, link_id, viewer, float(amount or 0.0)))
        if link_id and decision_id is not None:
            bot_links.add(link_id)
    activity.bot_links = frozenset(bot_links)


def load_activity(engine: Engine, window: DayWindow, *, platforms: Sequence[str] = ()) -> Activity:
    """Everything `window`'s metrics need, read on one connection."""
    activity = Activity()
    with engine.connect() as conn, _mapped(conn):
        day = Day(conn, window, platforms)
        _viewers(day, activity, scan_events(day, activity))
        _links(day, activity)
        _clicks_and_conversions(day, activity)
    return activity


@contextmanager
def _mapped(conn: sa.Connection) -> Iterator[None]:
    """On SQLite, read the day through a memory map: the pass visits pages all over the file (rows joined by
    id, read in time order) and SQLite's own 2 MiB page cache would copy most of them in again and again.
    Only for this read: a long-running bot keeps its resident memory free of the mapped file."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(f"PRAGMA mmap_size={MMAP_BYTES}")
    try:
        yield
    finally:
        conn.exec_driver_sql("PRAGMA mmap_size=0")


def sentiment_counts(engine: Engine, window: DayWindow, *, platforms: Sequence[str] = ()) -> dict[str, int]:
    """How many of `window`'s comments were positive / neutral / negative (for the day-over-day trend)."""
    with engine.connect() as conn:
        day = Day(conn, window, platforms)
        query = day.where(sa.select(UNDERSTANDINGS.c.sentiment, sa.func.count())
                          .select_from(EVENTS.join(UNDERSTANDINGS, UNDERSTANDINGS.c.event_pk == EVENTS.c.id)))
        return {sentiment: int(n) for sentiment, n in conn.execute(query.group_by(UNDERSTANDINGS.c.sentiment)) if sentiment}
