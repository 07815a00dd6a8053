"""`DailySummary`: everything the creator is told about one local day, as plain data.

Renderers (text, markdown, JSON, chart) read it; nothing here touches the database or a platform.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from bot.metrics.audience import Mood, Volume
from bot.metrics.business import Business
from bot.metrics.engagement import EngagedViewer, Engagement
from bot.metrics.performance import BotPerformance
from bot.metrics.questions import QuestionCluster

QuestionGrouping = Literal["embeddings", "keywords"]


@dataclass(frozen=True, slots=True)
class DailySummary:
    day: date
    timezone: str
    hours: float  # length of the local day (23/25 on a daylight-saving switch)
    start_utc: datetime
    end_utc: datetime
    generated_at: datetime
    platforms: tuple[str, ...]  # the platforms it covers; empty: all
    volume: Volume
    performance: BotPerformance
    mood: Mood
    keywords: list[tuple[str, int]]
    questions: list[QuestionCluster]
    question_grouping: QuestionGrouping
    engaged_viewers: list[EngagedViewer]
    engagement: Engagement
    business: Business
    recipient: str | None = None
    notes: list[str] = field(default_factory=list)
    live: list[dict[str, Any]] = field(default_factory=list)  # post-live summaries of lives that ended this day (bot/live)

    @property
    def is_empty(self) -> bool:
        return self.volume.total == 0 and self.business.clicks_today == 0 and self.business.conversions == 0 and not self.live

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings, rates included next to the counts they come from."""
        data = _plain(dataclasses.asdict(self))
        data["volume"]["total"] = self.volume.total
        data["performance"] |= {
            "reply_rate": self.performance.reply_rate, "abstain_rate": self.performance.abstain_rate,
            "handoff_rate": self.performance.handoff_rate, "containment": self.performance.containment,
        }
        data["mood"]["trend"] = self.mood.trend
        data["business"] |= {"ctr": self.business.ctr, "comment_to_dm": self.business.comment_to_dm}
        for variant, stats in zip(data["business"]["variants"], self.business.variants):
            variant["ctr"] = stats.ctr
        for test, comparison in zip(data["business"]["ab_tests"], self.business.ab_tests):
            test["test"] |= {"rate_a": comparison.test.rate_a, "rate_b": comparison.test.rate_b,
                             "significant": comparison.test.significant(), "method": "two-proportion z-test, two-sided, pooled"}
        data["keywords"] = [{"keyword": k, "count": n} for k, n in self.keywords]
        data["volume"]["top_threads"] = [{"thread": t, "count": n} for t, n in self.volume.top_threads]
        data["is_empty"] = self.is_empty
        return data


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value
