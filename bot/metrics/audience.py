"""Who wrote and what they wanted: volume, new vs returning viewers, intent and sentiment mix, keywords."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bot.metrics.rows import PUBLIC_KINDS, Activity
from bot.metrics.stats import ratio

SENTIMENT_VALUE = {"positive": 1, "neutral": 0, "negative": -1}


@dataclass(frozen=True, slots=True)
class Volume:
    comments: int = 0  # public comments and replies in threads
    dms: int = 0
    unique_viewers: int = 0
    new_viewers: int = 0  # first seen by coursebot on this day
    returning_viewers: int = 0
    by_hour: tuple[int, ...] = (0,) * 24  # local wall-clock hour
    by_platform: dict[str, int] = field(default_factory=dict)
    top_threads: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.comments + self.dms


def volume(activity: Activity, *, top_threads: int = 5) -> Volume:
    by_hour = [0] * 24
    kinds: Counter[str] = Counter()
    platforms: Counter[str] = Counter()
    for bucket in activity.buckets:
        by_hour[bucket.hour] += bucket.count
        kinds[bucket.kind] += bucket.count
        platforms[bucket.platform] += bucket.count
    writers = [v for v in activity.viewers if v.comments or v.dms]
    new = sum(1 for v in writers if v.new)
    return Volume(sum(kinds[k] for k in PUBLIC_KINDS), kinds["dm"], len(writers), new, len(writers) - new, tuple(by_hour),
                  dict(platforms.most_common()), activity.threads[:top_threads])


@dataclass(frozen=True, slots=True)
class Mood:
    intents: dict[str, int] = field(default_factory=dict)
    sentiments: dict[str, int] = field(default_factory=dict)
    net_sentiment: float | None = None  # (positive − negative) / all with a sentiment, −1…1
    net_by_hour: tuple[float | None, ...] = (None,) * 24
    previous_net_sentiment: float | None = None

    @property
    def trend(self) -> float | None:
        """Change in net sentiment against the previous day (None when either day had no comments)."""
        if self.net_sentiment is None or self.previous_net_sentiment is None:
            return None
        return self.net_sentiment - self.previous_net_sentiment


def net_sentiment(counts: dict[str, int]) -> float | None:
    return ratio(counts.get("positive", 0) - counts.get("negative", 0), sum(counts.values()))


def mood(activity: Activity, previous_sentiments: dict[str, int] | None = None) -> Mood:
    intents: Counter[str] = Counter()
    sentiments: Counter[str] = Counter()
    hour_sum = [0] * 24
    hour_n = [0] * 24
    for bucket in activity.buckets:
        if bucket.intent:
            intents[bucket.intent] += bucket.count
        if bucket.sentiment in SENTIMENT_VALUE:
            sentiments[bucket.sentiment] += bucket.count
            hour_sum[bucket.hour] += SENTIMENT_VALUE[bucket.sentiment] * bucket.count
            hour_n[bucket.hour] += bucket.count
    by_hour = tuple(ratio(s, n) for s, n in zip(hour_sum, hour_n))
    previous = net_sentiment(previous_sentiments) if previous_sentiments else None
    return Mood(dict(intents.most_common()), {k: sentiments[k] for k in SENTIMENT_VALUE if sentiments[k]},
                net_sentiment(sentiments), by_hour, previous)


def top_keywords(activity: Activity, *, limit: int = 10) -> list[tuple[str, int]]:
    """Most frequent topic keywords (stored by the pipeline with each understanding), counted once per comment."""
    counts: Counter[str] = Counter()
    for topics, count in activity.topic_lists.items():
        for word in set(topics):
            counts[word] += count
    return counts.most_common(limit)
