"""Read one day's `Activity` from the store: one pass over the day's events (`bot.metrics.scan`), then
small queries for what hangs off them — sent replies, handoffs, viewers, question texts, links, orders.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.metrics.rows import (
    Activity,
    Conversion,
    LinkClick,
    TrackedLink,
    ViewerDay,
    ViewerEvent,
    WorthyEvent,
)
from bot.metrics.scan import Day, ViewerTally, scan_events
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
CHUNK = 2000  # ids per IN list


def _chunks(ids: Sequence[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _performance(day: Day, activity: Activity, worthy: list[tuple]) -> None:
    """How each reply-worthy event was answered, and the outbox states of the day's replies."""
    first_sent: dict[int, float] = {}
    sent = (sa.select(DECISIONS.c.event_pk, sa.func.min(day.epoch(OUTBOX.c.sent_at)))
            .select_from(OUTBOX.join(DECISIONS, DECISIONS.c.id == OUTBOX.c.decision_id))
            .where(OUTBOX.c.state == "sent", DECISIONS.c.event_pk.in_(day.ids())).group_by(DECISIONS.c.event_pk))
    first_sent = {pk: float(at) for pk, at in day.conn.execute(sent)}
    handoffs = sa.select(HANDOFFS.c.event_pk, day.epoch(HANDOFFS.c.resolved_at)).where(HANDOFFS.c.event_pk.in_(day.ids()))
    handed = {pk: None if at is None else float(at) for pk, at in day.conn.execute(handoffs)}
    activity.worthy = [WorthyEvent(pk, float(at), action, first_sent.get(pk), pk in handed, handed.get(pk)) for pk, at, action in worthy]
    states = (sa.select(OUTBOX.c.state, OUTBOX.c.last_error, sa.func.count())
              .select_from(OUTBOX.join(DECISIONS, DECISIONS.c.id == OUTBOX.c.decision_id))
              .where(DECISIONS.c.event_pk.in_(day.ids())).group_by(OUTBOX.c.state, OUTBOX.c.last_error))
    activity.outbox = {(state, error): int(n) for state, error, n in day.conn.execute(states)}


def _viewers(day: Day, activity: Activity, tallies: dict[int, ViewerTally]) -> None:
    """Pseudonyms and new/returning for the day's viewers, plus their clicks and orders of the day."""
    window = day.window
    new = sa.case((sa.and_(VIEWERS.c.first_seen >= window.start, VIEWERS.c.first_seen < window.end), 1), else_=0)
    names: dict[int, tuple[str, bool]] = {}
    for chunk in _chunks(list(tallies)):
        for pk, pseudonym, is_new in day.conn.execute(sa.select(VIEWERS.c.id, VIEWERS.c.pseudonym, new).where(VIEWERS.c.id.in_(chunk))):
            names[pk] = (pseudonym, bool(is_new))
    rows: dict[str, ViewerDay] = {}
    for pk, t in tallies.items():
        pseudonym, is_new = names.get(pk, (f"#{pk}", False))
        rows[pseudonym] = ViewerDay(pseudonym, is_new, t.comments, t.replies, t.dms, 0, 0,
                                    None if t.first_comment is None else float(t.first_comment), None if t.last_dm is None else float(t.last_dm))
    for pseudonym, (clicks, orders) in _clicks_and_orders_by_viewer(day).items():
        v = rows.get(pseudonym) or ViewerDay(pseudonym, False)
        rows[pseudonym] = ViewerDay(v.viewer, v.new, v.comments, v.replies, v.dms, clicks, orders, v.first_comment, v.last_dm)
    activity.viewers = list(rows.values())


def _clicks_and_orders_by_viewer(day: Day) -> dict[str, tuple[int, int]]:
    window = day.window
    clicks = (sa.select(VIEWERS.c.pseudonym, sa.func.count())
              .select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id).join(VIEWERS, VIEWERS.c.id == CLICKS.c.viewer_id))
              .where(CLICKS.c.clicked_at >= window.start, CLICKS.c.clicked_at < window.end))
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


def _questions(day: Day, activity: Activity, ids: list[int]) -> None:
    """Text of the day's questions the bot did not answer itself (the clustered list)."""
    for chunk in _chunks(ids):
        query = (sa.select(EVENTS.c.id, EVENTS.c.platform, EVENTS.c.kind, EVENTS.c.created_at, VIEWERS.c.pseudonym, EVENTS.c.thread_id,
                           EVENTS.c.text, UNDERSTANDINGS.c.intent, UNDERSTANDINGS.c.sentiment, UNDERSTANDINGS.c.topics, DECISIONS.c.action)
                 .select_from(day.events().outerjoin(VIEWERS, VIEWERS.c.id == EVENTS.c.viewer_id)).where(EVENTS.c.id.in_(chunk)))
        activity.questions.extend(ViewerEvent(pk, p, k, at, v, th, text or "", i, s, tuple(topics or ()), a)
                                  for pk, p, k, at, v, th, text, i, s, topics, a in day.conn.execute(query))


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
    clicks = (sa.select(CLICKS.c.link_id, CLICKS.c.clicked_at).select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id))
              .where(LINKS.c.created_at >= window.start, LINKS.c.created_at < window.end))
    known = {link.id for link in activity.links}
    activity.link_clicks = [LinkClick(link_id, at) for link_id, at in day.conn.execute(clicks) if link_id in known]


def _clicks_and_conversions(day: Day, activity: Activity) -> None:
    window = day.window
    clicks = (sa.select(sa.func.count()).select_from(CLICKS.join(LINKS, LINKS.c.id == CLICKS.c.link_id))
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
    activity.clicks = int(day.conn.execute(clicks).scalar_one())
    bot_links = set()
    for occurred_at, link_id, viewer, amount, decision_id in day.conn.execute(conversions):
        activity.conversions.append(Conversion(occurred_at, link_id, viewer, float(amount or 0.0)))
        if link_id and decision_id is not None:
            bot_links.add(link_id)
    activity.bot_links = frozenset(bot_links)


def load_activity(engine: Engine, window: DayWindow, *, platforms: Sequence[str] = ()) -> Activity:
    """Everything `window`'s metrics need, read on one connection."""
    activity = Activity()
    with engine.connect() as conn:
        day = Day(conn, window, platforms)
        tallies, questions, worthy = scan_events(day, activity)
        _performance(day, activity, worthy)
        _viewers(day, activity, tallies)
        _questions(day, activity, questions)
        _links(day, activity)
        _clicks_and_conversions(day, activity)
    return activity


def sentiment_counts(engine: Engine, window: DayWindow, *, platforms: Sequence[str] = ()) -> dict[str, int]:
    """How many of `window`'s comments were positive / neutral / negative (for the day-over-day trend)."""
    with engine.connect() as conn:
        day = Day(conn, window, platforms)
        query = day.where(sa.select(UNDERSTANDINGS.c.sentiment, sa.func.count())
                          .select_from(EVENTS.join(UNDERSTANDINGS, UNDERSTANDINGS.c.event_pk == EVENTS.c.id)))
        return {sentiment: int(n) for sentiment, n in conn.execute(query.group_by(UNDERSTANDINGS.c.sentiment)) if sentiment}
