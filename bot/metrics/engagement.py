"""Interaction frequency and depth, the creator-analytics formulas: F = I / T, D = (C + P) / I, λ1·F + λ2·D.

The platforms do not tell a bot about likes or shares, so the terms are mapped onto what coursebot sees:
- I (interactions): every viewer action of the day — comments, replies, DMs, link clicks, conversions;
- T: the length of the day in hours (23 or 25 on a daylight-saving switch day);
- C (conversation): replies inside a thread and DMs — talk that goes beyond a first comment;
- P (propagation): tracked-link clicks and conversions — interest carried beyond the comment section.
So F is interactions per hour and D the share of interactions that went deeper than a top-level comment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.metrics.rows import Activity
from bot.metrics.stats import ratio


@dataclass(frozen=True, slots=True)
class Engagement:
    interactions: int
    conversation: int
    propagation: int
    hours: float
    frequency: float | None  # F = I / T
    depth: float | None  # D = (C + P) / I
    score: float | None  # λ1·F + λ2·D


def engagement(interactions: int, conversation: int, propagation: int, hours: float, *, weight_frequency: float,
               weight_depth: float) -> Engagement:
    frequency = ratio(interactions, hours)
    depth = ratio(conversation + propagation, interactions)
    score = None if frequency is None or depth is None else weight_frequency * frequency + weight_depth * depth
    return Engagement(interactions, conversation, propagation, hours, frequency, depth, score)


@dataclass(frozen=True, slots=True)
class EngagedViewer:
    viewer: str  # pseudonym
    interactions: int
    comments: int
    dms: int
    clicks: int
    conversions: int
    score: float


def _counts(activity: Activity) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Per viewer: all interactions, conversation (C) and propagation (P)."""
    total: Counter[str] = Counter()
    conversation: Counter[str] = Counter()
    propagation: Counter[str] = Counter()
    for event in activity.events:
        if event.viewer:
            total[event.viewer] += 1
            conversation[event.viewer] += event.kind in {"reply", "dm"}
    for row in (*activity.clicks, *activity.conversions):
        if row.viewer:
            total[row.viewer] += 1
            propagation[row.viewer] += 1
    return total, conversation, propagation


def day_engagement(activity: Activity, hours: float, *, weight_frequency: float, weight_depth: float) -> Engagement:
    interactions = len(activity.events) + len(activity.clicks) + len(activity.conversions)
    conversation = sum(1 for e in activity.events if e.kind in {"reply", "dm"})
    propagation = len(activity.clicks) + len(activity.conversions)
    return engagement(interactions, conversation, propagation, hours, weight_frequency=weight_frequency, weight_depth=weight_depth)


def most_engaged(activity: Activity, hours: float, *, weight_frequency: float, weight_depth: float, limit: int = 5) -> list[EngagedViewer]:
    """Top fans / KOL candidates: viewers ranked by their own λ1·F + λ2·D over the day."""
    total, conversation, propagation = _counts(activity)
    kinds: dict[str, Counter[str]] = {}
    for event in activity.events:
        if event.viewer:
            kinds.setdefault(event.viewer, Counter())[event.kind] += 1
    clicks = Counter(c.viewer for c in activity.clicks if c.viewer)
    conversions = Counter(c.viewer for c in activity.conversions if c.viewer)
    ranked = []
    for viewer, count in total.items():
        scored = engagement(count, conversation[viewer], propagation[viewer], hours, weight_frequency=weight_frequency, weight_depth=weight_depth)
        seen = kinds.get(viewer, Counter())
        ranked.append(EngagedViewer(viewer, count, seen["comment"] + seen["reply"], seen["dm"], clicks[viewer], conversions[viewer],
                                    round(scored.score or 0.0, 4)))
    ranked.sort(key=lambda v: (-v.score, -v.interactions, v.viewer))
    return ranked[:limit]
