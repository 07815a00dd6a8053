"""What the metrics read: plain rows for one day, independent of how the store lays out its tables.

`bot.metrics.load` fills an `Activity` from the database; tests and other callers can build one by hand.
Viewers appear only as pseudonyms here — raw platform ids never reach metrics or summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
class Reply:
    """An outbox message the bot composed for an event (public reply or DM)."""

    event_id: int
    state: str  # pending | sending | sent | failed | dead
    created_at: datetime
    sent_at: datetime | None = None
    kind: str = "reply_public"
    template_id: str | None = None
    variant: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    """An event handed to a human; `resolved_at` is when the creator answered or closed it."""

    event_id: int
    created_at: datetime
    resolved_at: datetime | None = None
    answered_by_human: bool = True  # a resolution that sent an answer (False: dismissed)


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


@dataclass(frozen=True, slots=True)
class Conversion:
    """An enrolment (or other sale), imported by CSV or posted to the webhook."""

    created_at: datetime
    link_id: str | None = None
    viewer: str | None = None
    amount: float = 0.0


@dataclass(slots=True)
class Activity:
    """Everything one day's metrics need.

    `events`, `clicks` and `conversions` are the day's; `replies` and `handoffs` belong to the day's events
    (whenever they happened); `links` were created that day; `link_clicks` are all clicks ever made on those
    links (for CTR); `first_seen` maps each of the day's viewers to when coursebot first saw them.
    """

    events: list[ViewerEvent] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    links: list[TrackedLink] = field(default_factory=list)
    link_clicks: list[LinkClick] = field(default_factory=list)
    clicks: list[LinkClick] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)
    bot_links: frozenset[str] = frozenset()  # ids of every tracked link that appeared in a bot reply
    first_seen: dict[str, datetime] = field(default_factory=dict)
