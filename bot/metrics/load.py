"""Read one day's `Activity` from the store: a handful of column-only queries bounded by indexed times.

Rows come back as tuples (no ORM objects), so a day of 100k events loads in well under a second.
Viewers leave the database as pseudonyms only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.metrics.rows import (
    TEXT_KINDS,
    Activity,
    Conversion,
    Handoff,
    LinkClick,
    Reply,
    TrackedLink,
    ViewerEvent,
)
from bot.metrics.window import DayWindow
from bot.store import models as m

EVENTS = m.EventRecord.__table__
VIEWERS = m.Viewer.__table__
UNDERSTANDINGS = m.UnderstandingRecord.__table__
DECISIONS = m.DecisionRecord.__table__
OUTBOX = m.OutboxMessage.__table__
HANDOFFS = m.Handoff.__table__
LINKS = m.TrackedLink.__table__
CLICKS = m.LinkClick.__table__
CONVERSIONS = m.Conversion.__table__


def _day_events(window: DayWindow, platforms: Sequence[str]) -> sa.Select:
    """Ids of the day's viewer text events: the subquery replies, handoffs and links hang off."""
    query = sa.select(EVENTS.c.id).where(EVENTS.c.created_at >= window.start, EVENTS.c.created_at < window.end,
                                         EVENTS.c.kind.in_(TEXT_KINDS))
    return query.where(EVENTS.c.platform.in_(platforms)) if platforms else query


def _events(conn: sa.Connection, window: DayWindow, platforms: Sequence[str], activity: Activity) -> None:
    query = (
        sa.select(EVENTS.c.id, EVENTS.c.platform, EVENTS.c.kind, EVENTS.c.created_at, VIEWERS.c.pseudonym, EVENTS.c.thread_id,
                  EVENTS.c.text, UNDERSTANDINGS.c.intent, UNDERSTANDINGS.c.sentiment, UNDERSTANDINGS.c.topics,
                  DECISIONS.c.action, DECISIONS.c.reason, VIEWERS.c.first_seen)
        .select_from(EVENTS.outerjoin(VIEWERS, VIEWERS.c.id == EVENTS.c.viewer_id)
                     .outerjoin(UNDERSTANDINGS, UNDERSTANDINGS.c.event_pk == EVENTS.c.id)
                     .outerjoin(DECISIONS, DECISIONS.c.event_pk == EVENTS.c.id))
        .where(EVENTS.c.id.in_(_day_events(window, platforms)))
    )
    for row in conn.execute(query):
        activity.events.append(ViewerEvent(row[0], row[1], row[2], row[3], row[4], row[5], row[6] or "", row[7], row[8],
                                           tuple(row[9] or ()), row[10], row[11] or ""))
        if row[4] is not None and row[12] is not None:
            activity.first_seen[row[4]] = row[12]


def _replies_and_handoffs(conn: sa.Connection, window: DayWindow, platforms: Sequence[str], activity: Activity) -> None:
    day = _day_events(window, platforms)
    replies = (
        sa.select(DECISIONS.c.event_pk, OUTBOX.c.state, OUTBOX.c.created_at, OUTBOX.c.sent_at, OUTBOX.c.kind,
                  DECISIONS.c.template_id, DECISIONS.c.variant_id, OUTBOX.c.last_error)
        .select_from(OUTBOX.join(DECISIONS, DECISIONS.c.id == OUTBOX.c.decision_id))
        .where(DECISIONS.c.event_pk.in_(day))
    )
    activity.replies.extend(Reply(*row) for row in conn.execute(replies))
    handoffs = sa.select(HANDOFFS.c.event_pk, HANDOFFS.c.created_at, HANDOFFS.c.resolved_at).where(HANDOFFS.c.event_pk.in_(day))
    activity.handoffs.extend(Handoff(*row) for row in conn.execute(handoffs))


def _links(conn: sa.Connection, window: DayWindow, platforms: Sequence[str], activity: Activity) -> None:
    """Links shown to viewers that day: created with a bot decision whose message was actually sent."""
    sent = sa.select(OUTBOX.c.decision_id).where(OUTBOX.c.state == "sent", OUTBOX.c.decision_id == LINKS.c.decision_id).exists()
    links = (
        sa.select(LINKS.c.id, LINKS.c.created_at, LINKS.c.template_id, LINKS.c.variant_id, VIEWERS.c.pseudonym, DECISIONS.c.event_pk)
        .select_from(LINKS.join(DECISIONS, DECISIONS.c.id == LINKS.c.decision_id).outerjoin(VIEWERS, VIEWERS.c.id == LINKS.c.viewer_id))
        .where(LINKS.c.created_at >= window.start, LINKS.c.created_at < window.end, sent)
    )
    if platforms:
        links = links.where(LINKS.c.platform.in_(platforms))
    activity.links.extend(TrackedLink(*row) for row in conn.execute(links))
    ids = [link.id for link in activity.links]
    for start in range(0, len(ids), 5000):  # bounded IN lists
        chunk = ids[start : start + 5000]
        query = sa.select(CLICKS.c.link_id, CLICKS.c.clicked_at).where(CLICKS.c.link_id.in_(chunk))
        activity.link_clicks.extend(LinkClick(*row) for row in conn.execute(query))


def _clicks_and_conversions(conn: sa.Connection, window: DayWindow, platforms: Sequence[str], activity: Activity) -> None:
    clicks = (
        sa.select(CLICKS.c.link_id, CLICKS.c.clicked_at, VIEWERS.c.pseudonym)
        .select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id).outerjoin(VIEWERS, VIEWERS.c.id == CLICKS.c.viewer_id))
        .where(CLICKS.c.clicked_at >= window.start, CLICKS.c.clicked_at < window.end)
    )
    conversions = (
        sa.select(CONVERSIONS.c.occurred_at, CONVERSIONS.c.link_id, VIEWERS.c.pseudonym, CONVERSIONS.c.amount, LINKS.c.decision_id)
        .select_from(CONVERSIONS.outerjoin(LINKS, LINKS.c.id == CONVERSIONS.c.link_id)
                     .outerjoin(VIEWERS, VIEWERS.c.id == CONVERSIONS.c.viewer_id))
        .where(CONVERSIONS.c.occurred_at >= window.start, CONVERSIONS.c.occurred_at < window.end)
    )
    if platforms:
        clicks = clicks.where(LINKS.c.platform.in_(platforms))
        conversions = conversions.where(sa.or_(CONVERSIONS.c.platform.in_(platforms), LINKS.c.platform.in_(platforms)))
    activity.clicks.extend(LinkClick(*row) for row in conn.execute(clicks))
    bot_links = set()
    for occurred_at, link_id, viewer, amount, decision_id in conn.execute(conversions):
        activity.conversions.append(Conversion(occurred_at, link_id, viewer, float(amount or 0.0)))
        if link_id and decision_id is not None:
            bot_links.add(link_id)
    activity.bot_links = frozenset(bot_links)


def load_activity(engine: Engine, window: DayWindow, *, platforms: Sequence[str] = ()) -> Activity:
    """Everything `window`'s metrics need, read in one consistent transaction."""
    activity = Activity()
    with engine.connect() as conn:
        _events(conn, window, platforms, activity)
        _replies_and_handoffs(conn, window, platforms, activity)
        _links(conn, window, platforms, activity)
        _clicks_and_conversions(conn, window, platforms, activity)
    return activity


def sentiment_counts(engine: Engine, window: DayWindow, *, platforms: Sequence[str] = ()) -> dict[str, int]:
    """How many of `window`'s comments were positive / neutral / negative (for the day-over-day trend)."""
    query = (
        sa.select(UNDERSTANDINGS.c.sentiment, sa.func.count())
        .select_from(EVENTS.join(UNDERSTANDINGS, UNDERSTANDINGS.c.event_pk == EVENTS.c.id))
        .where(EVENTS.c.id.in_(_day_events(window, platforms)))
        .group_by(UNDERSTANDINGS.c.sentiment)
    )
    with engine.connect() as conn:
        return {sentiment: int(count) for sentiment, count in conn.execute(query) if sentiment}
