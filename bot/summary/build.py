"""Build a `DailySummary`: load one local day from the store, compute every metric, hand back plain data.

`build_daily_summary` is the one entry point for the CLI, the scheduler and the Telegram `/summary`
command, so all three always say the same thing about a day.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from bot.live import LIVE_PLATFORM
from bot.live.summary import live_summaries_between
from bot.metrics.audience import mood, top_keywords, volume
from bot.metrics.business import business
from bot.metrics.engagement import day_engagement, most_engaged
from bot.metrics.performance import DEFAULT_LATE_AFTER_S, bot_performance
from bot.metrics.questions import (
    cluster_questions,
    group_by_keyword,
    unanswered_questions,
)
from bot.metrics.rows import Activity
from bot.metrics.window import DayWindow
from bot.summary.model import DailySummary
from retrieval.encoder import Encoder


@dataclass(frozen=True, slots=True)
class SummaryOptions:
    weight_frequency: float = 1.0
    weight_depth: float = 1.0
    top_keywords: int = 10
    top_questions: int = 5
    top_viewers: int = 5
    question_similarity: float = 0.85
    max_question_texts: int = 400
    late_after_s: float = DEFAULT_LATE_AFTER_S

    @classmethod
    def from_settings(cls, settings) -> SummaryOptions:
        summary, metrics = settings.summary, settings.metrics
        return cls(metrics.weight_frequency, metrics.weight_depth, summary.top_keywords, summary.top_questions,
                   summary.top_viewers, summary.question_similarity, summary.max_question_texts, metrics.late_after_minutes * 60)


def summary_zone(settings, tz: str | None = None) -> ZoneInfo:
    """The zone a summary is read in: `tz` if given, else [summary] timezone, else [policy] timezone.
    The CLI and the console's Today page both ask here, so they agree on where a day starts."""
    from bot.local_days import zone

    return zone(tz or settings.summary.timezone or settings.policy.timezone)


def summarize(activity: Activity, window: DayWindow, *, options: SummaryOptions = SummaryOptions(), encoder: Encoder | None = None,
              previous_sentiments: dict[str, int] | None = None, platforms: Sequence[str] = (), recipient: str | None = None,
              now: datetime | None = None) -> DailySummary:
    """Every metric of `activity` for `window`. Pure: the same rows give the same summary."""
    unanswered = unanswered_questions(activity.questions)
    if encoder is not None:
        questions = cluster_questions(unanswered, encoder, similarity=options.question_similarity, limit=options.top_questions,
                                      max_texts=options.max_question_texts)
    else:
        questions = group_by_keyword(unanswered, limit=options.top_questions)
    weights = {"weight_frequency": options.weight_frequency, "weight_depth": options.weight_depth}
    return DailySummary(
        day=window.day, timezone=window.tz.key, hours=window.hours, start_utc=window.start, end_utc=window.end,
        generated_at=now or datetime.now(UTC), platforms=tuple(platforms),
        volume=volume(activity), performance=bot_performance(activity, late_after_s=options.late_after_s), mood=mood(activity, previous_sentiments),
        keywords=top_keywords(activity, limit=options.top_keywords),
        questions=questions, question_grouping="embeddings" if encoder is not None else "keywords",
        engaged_viewers=most_engaged(activity, window.hours, limit=options.top_viewers, **weights),
        engagement=day_engagement(activity, window.hours, **weights), business=business(activity), recipient=recipient,
    )


def daily_summary(engine: Engine, day: date, tz: ZoneInfo | str, *, options: SummaryOptions = SummaryOptions(),
                  encoder: Encoder | None = None, platforms: Sequence[str] = (), recipient: str | None = None, now: datetime | None = None) -> DailySummary:
    """Blocking version of `build_daily_summary` (CLI, benchmarks, worker threads)."""
    from bot.metrics.load import load_activity, sentiment_counts

    window = DayWindow.of(day, tz)
    activity = load_activity(engine, window, platforms=platforms)
    previous = sentiment_counts(engine, window.previous(), platforms=platforms)
    summary = summarize(activity, window, options=options, encoder=encoder, previous_sentiments=previous, platforms=platforms,
                        recipient=recipient, now=now)
    if not platforms or LIVE_PLATFORM in platforms:
        summary = dataclasses.replace(summary, live=live_summaries_between(engine, window.start, window.end))
    return summary


async def build_daily_summary(engine: Engine, day: date, tz: ZoneInfo | str, *, options: SummaryOptions = SummaryOptions(),
                              encoder: Encoder | None = None, platforms: Sequence[str] = (), recipient: str | None = None,
                              now: datetime | None = None) -> DailySummary:
    """The summary of local day `day` in zone `tz`, for the bot's event loop: database reads and the
    embedding model run in a worker thread. `encoder=None` groups unanswered questions by keyword
    instead of by meaning (no model needed)."""
    return await asyncio.to_thread(daily_summary, engine, day, tz, options=options, encoder=encoder, platforms=platforms,
                                   recipient=recipient, now=now)
