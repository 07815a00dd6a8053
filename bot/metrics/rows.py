"""What the metrics read for one day, independent of how the store lays out its tables.

A busy day has 100k comments, so the database does the counting: `bot.metrics.load` fills an `Activity`
with small aggregates (15-minute buckets, per-viewer totals, per-variant link counts) and with rows only
where each one matters (reply-worthy events, unanswered questions, orders). Tests and other callers can
build one by hand. Viewers appear only as pseudonyms — raw platform ids never reach metrics or summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from retrieval.intents import QUESTION_INTENTS

# Viewer actions that carry text; clicks and conversions arrive as their own rows.
TEXT_KINDS = frozenset({"comment", "reply", "dm"})
PUBLIC_KINDS = frozenset({"comment", "reply"})
BOT_REPLY_ACTIONS = frozenset({"reply_public", "reply_dm"})


@dataclass(frozen=True, slots=True)
class ViewerEvent:
    """One inbound comment / reply / DM with what the bot understood and decided about it."""

    id: int  # the store's row id: replies and handoffs point at it
    platform: str
    kind: str
    created_at: datetime  # UTC
    viewer: str | None = None  # pseudonym
    thread_id: str | None = None
    text: str = ""
    intent: str | None = None
    sentiment: str | None = None
    topics: tuple[str, ...] = ()
    action: str | None = None  # reply_public | reply_dm | handoff | ignore; None: not decided (yet)
    reason: str = ""

    @property
    def is_question(self) -> bool:
        return self.intent in QUESTION_INTENTS

    @property
    def reply_worthy(self) -> bool:
        """Needs an answer from someone: a question, a complaint, or anything the policy chose to answer or
        hand to a human. Spam and chit-chat the bot rightly ignores do not lower the reply rate."""
        if self.intent == "spam":
            return False
        return self.is_question or self.intent == "complaint" or self.action in BOT_REPLY_ACTIONS or self.action == "handoff"


@dataclass(frozen=True, slots=True)
class TrackedLink:
    """A link the bot put into a reply; clicks and conversions are matched to it by `id`."""

    id: str
    created_at: datetime
    template_id: str | None = None
    variant: str | None = None
    viewer: str | None = None
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class LinkClick:
    link_id: str
    clicked_at: datetime
    viewer: str | None = None
    visitor: str | None = None  # who clicked (pseudonymised); None: unknown, the click counts on its own
    automated: bool = False  # a link-preview fetcher or crawler: raw click only
    day: date | None = None  # the creator-local day of the click (unique clicks are per visitor, link and day)

    @property
    def unique_key(self) -> tuple | None:
        """Clicks with the same key are one unique click; None: not a person's click."""
        if self.automated:
            return None
        return (self.link_id, self.visitor or ("click", self.clicked_at), self.day or self.clicked_at.date())


@dataclass(frozen=True, slots=True)
class Conversion:
    """An enrolment (or other sale), imported by CSV or posted to the webhook."""

    created_at: datetime
    link_id: str | None = None
    viewer: str | None = None
    amount: float = 0.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """How many events of one kind / platform / intent / sentiment fell into one local hour."""

    hour: int  # local wall-clock hour, 0–23
    kind: str
    platform: str
    intent: str | None
    sentiment: str | None
    count: int


@dataclass(frozen=True, slots=True)
class WorthyEvent:
    """A reply-worthy event and how it was answered; times are seconds since the epoch (UTC)."""

    event_id: int
    created_at: float  # when the viewer wrote it (the platform's time)
    action: str | None
    first_bot_reply: float | None = None  # first bot message for it that was actually sent
    handed_off: bool = False
    resolved_at: float | None = None  # when a human resolved the handoff
    received_at: float | None = None  # when coursebot accepted it; None: as soon as it was written


@dataclass(frozen=True, slots=True)
class ViewerDay:
    """One viewer's day: what they did and when they first commented / last wrote a DM (epoch seconds)."""

    viewer: str  # pseudonym
    new: bool  # wrote for the first time on this day (by the platform's time of their earliest comment)
    comments: int = 0  # public comments and replies
    replies: int = 0  # of which replies inside a thread
    dms: int = 0
    clicks: int = 0
    conversions: int = 0
    first_comment: float | None = None
    last_dm: float | None = None


@dataclass(slots=True)
class Activity:
    """Everything one day's metrics need (see the module docstring).

    `links` were created that day in replies that were sent; `link_clicks` are all clicks ever made on them
    (for CTR); `clicks` (raw), `unique_clicks` (one per visitor, link and day, people only) and `conversions`
    happened that day; `questions` are the day's questions the bot did not answer itself, with their text.
    """

    buckets: list[Bucket] = field(default_factory=list)
    threads: list[tuple[str, int]] = field(default_factory=list)  # "platform:thread" → public comments, busiest first
    topic_lists: dict[tuple[str, ...], int] = field(default_factory=dict)  # distinct topic lists of non-spam events → count
    worthy: list[WorthyEvent] = field(default_factory=list)
    outbox: dict[tuple[str, str | None], int] = field(default_factory=dict)  # (state, last error) → messages
    viewers: list[ViewerDay] = field(default_factory=list)
    anonymous_events: int = 0  # events without a known viewer
    questions: list[ViewerEvent] = field(default_factory=list)
    links: list[TrackedLink] = field(default_factory=list)
    link_clicks: list[LinkClick] = field(default_factory=list)
    clicks: int = 0
    unique_clicks: int = 0
    conversions: list[Conversion] = field(default_factory=list)
    bot_links: frozenset[str] = frozenset()  # ids of tracked links (any day) that appeared in a bot reply

    @property
    def event_count(self) -> int:
        return sum(b.count for b in self.buckets)
