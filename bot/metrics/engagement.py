"""Interaction frequency and depth, the creator-analytics formulas: F = I / T, D = (C + P) / I, λ1·F + λ2·D.

The platforms do not tell a bot about likes or shares, so the terms are mapped onto what coursebot sees:
- I (interactions): every viewer action of the day — comments, replies, DMs, link clicks, conversions;
- T: the length of the day in hours (23 or 25 on a daylight-saving switch day);
- C (conversation): replies inside a thread and DMs — talk that goes beyond a first comment;
- P (propagation): unique tracked-link clicks and conversions — interest carried beyond the comment section
  (a reload is not more interest).
So F is interactions per hour and D the share of interactions that went deeper than a top-level comment.
"""

from __future__ import annotations

import heapq
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


def day_engagement(activity: Activity, hours: float, *, weight_frequency: float, weight_depth: float) -> Engagement:
    conversation = sum(b.count for b in activity.buckets if b.kind in {"reply", "dm"})
    propagation = activity.unique_clicks + len(activity.conversions)
    interactions = activity.event_count + propagation
    return engagement(interactions, conversation, propagation, hours, weight_frequency=weight_frequency, weight_depth=weight_depth)


def most_engaged(activity: Activity, hours: float, *, weight_frequency: float, weight_depth: float, limit: int = 5) -> list[EngagedViewer]:
    """Top fans / KOL candidates: viewers ranked by their own λ1·F + λ2·D over the day."""
    scored_viewers = []
    for v in activity.viewers:
        interactions = v.comments + v.dms + v.clicks + v.conversions
        if not interactions:
            continue
        scored = engagement(interactions, v.replies + v.dms, v.clicks + v.conversions, hours,
                            weight_frequency=weight_frequency, weight_depth=weight_depth)
        scored_viewers.append((-round(scored.score or 0.0, 4), -interactions, v.viewer, v))
    # nsmallest == sorted(...)[:limit], without sorting a busy day's ~20,000 viewers to keep five.
    return [EngagedViewer(v.viewer, -minus_interactions, v.comments, v.dms, v.clicks, v.conversions, -minus_score)
            for minus_score, minus_interactions, _, v in heapq.nsmallest(limit, scored_viewers, key=lambda item: item[:3])]
