"""Who wrote and what they wanted: volume, new vs returning viewers, intent and sentiment mix, keywords."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from bot.metrics.rows import PUBLIC_KINDS, Activity
from bot.metrics.stats import ratio
from bot.metrics.window import DayWindow

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


def volume(activity: Activity, window: DayWindow, *, top_threads: int = 5) -> Volume:
    by_hour = [0] * 24
    viewers: set[str] = set()
    platforms: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    comments = dms = 0
    for event in activity.events:
        by_hour[window.local_hour(event.created_at)] += 1
        platforms[event.platform] += 1
        if event.kind in PUBLIC_KINDS:
            comments += 1
            if event.thread_id:
                threads[f"{event.platform}:{event.thread_id}"] += 1
        elif event.kind == "dm":
            dms += 1
        if event.viewer:
            viewers.add(event.viewer)
    new = sum(1 for v in viewers if v in activity.first_seen and window.contains(activity.first_seen[v]))
    return Volume(comments, dms, len(viewers), new, len(viewers) - new, tuple(by_hour), dict(platforms.most_common()),
                  threads.most_common(top_threads))


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


def mood(activity: Activity, window: DayWindow, previous_sentiments: dict[str, int] | None = None) -> Mood:
    intents = Counter(e.intent for e in activity.events if e.intent)
    sentiments = Counter(e.sentiment for e in activity.events if e.sentiment in SENTIMENT_VALUE)
    hour_sum = [0] * 24
    hour_n = [0] * 24
    for event in activity.events:
        if event.sentiment in SENTIMENT_VALUE:
            hour = window.local_hour(event.created_at)
            hour_sum[hour] += SENTIMENT_VALUE[event.sentiment]
            hour_n[hour] += 1
    by_hour = tuple(ratio(s, n) for s, n in zip(hour_sum, hour_n))
    previous = net_sentiment(previous_sentiments) if previous_sentiments else None
    return Mood(dict(intents.most_common()), {k: sentiments[k] for k in SENTIMENT_VALUE if sentiments[k]},
                net_sentiment(sentiments), by_hour, previous)


def top_keywords(activity: Activity, *, limit: int = 10, extract: Callable[[str], Iterable[str]] | None = None) -> list[tuple[str, int]]:
    """Most frequent topic keywords, counted once per comment.

    Uses the keywords the pipeline stored with each understanding; `extract` (e.g. `Segmenter.keywords`)
    fills in for events stored without any.
    """
    counts: Counter[str] = Counter()
    for event in activity.events:
        if event.intent == "spam":
            continue
        words = event.topics or (tuple(extract(event.text)) if extract and event.text else ())
        counts.update(set(words))
    return counts.most_common(limit)
