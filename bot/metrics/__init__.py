"""Interaction metrics over one creator-local day. Pure functions over `Activity` (aggregates and the rows that matter); `bot.metrics.load`
reads those rows from the store."""

from bot.metrics.audience import Mood, Volume, mood, top_keywords, volume
from bot.metrics.business import Business, VariantComparison, VariantStats, business
from bot.metrics.engagement import (
    EngagedViewer,
    Engagement,
    day_engagement,
    most_engaged,
)
from bot.metrics.performance import BotPerformance, bot_performance
from bot.metrics.questions import (
    QuestionCluster,
    cluster_questions,
    unanswered_questions,
)
from bot.metrics.rows import (
    Activity,
    Bucket,
    Conversion,
    LinkClick,
    TrackedLink,
    ViewerDay,
    ViewerEvent,
    WorthyEvent,
)
from bot.metrics.stats import ProportionTest, percentile, two_proportion_z_test
from bot.metrics.window import DayWindow

__all__ = [
    "Activity",
    "BotPerformance",
    "Bucket",
    "Business",
    "Conversion",
    "DayWindow",
    "EngagedViewer",
    "Engagement",
    "LinkClick",
    "Mood",
    "ProportionTest",
    "QuestionCluster",
    "TrackedLink",
    "VariantComparison",
    "VariantStats",
    "ViewerDay",
    "ViewerEvent",
    "Volume",
    "WorthyEvent",
    "bot_performance",
    "business",
    "cluster_questions",
    "day_engagement",
    "mood",
    "most_engaged",
    "percentile",
    "top_keywords",
    "two_proportion_z_test",
    "unanswered_questions",
    "volume",
]
