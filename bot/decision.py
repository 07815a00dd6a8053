"""What the pipeline decides about one event, and the facts it decides from.

`Facts` is everything the policy needs from the database, loaded before deciding; `Decision` is stored
before anything is sent. Both are plain values, so deciding is a pure function of (analysis, facts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot.analysis import Analysis
from bot.events import Action, Event

Channel = Literal["public", "dm", "public_and_dm"]
REPLY_ACTIONS = frozenset({"reply_public", "reply_dm"})


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event the store has accepted (recorded durably). `decided`: it already has a decision."""

    event: Event
    event_pk: int
    viewer_id: int | None = None
    pseudonym: str | None = None
    decided: bool = False
    dm_reachable: bool | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """The state of the world the policy decides against (from the store, at `now`)."""

    now: datetime
    paused: bool = False
    dry_run: bool | None = None  # the run-time dry-run switch; None: the config's [policy] dry_run stands
    platform_off: bool = False  # the creator switched this platform's replies off
    quiet_hours: Mapping[str, str] | None = None  # run-time quiet hours ({} none); None: the config's stand
    duplicate: bool = False  # this event was already decided (redelivery, or twice in one batch)
    taken_over: bool = False  # a human answers in this thread
    viewer_taken_over: bool = False  # a human answers this viewer, on every thread of the platform
    dm_reachable: bool | None = None
    replies_in_thread_last_hour: int = 0
    replies_to_viewer_last_day: int = 0
    replies_on_platform_last_day: int = 0
    proactive_dms_today: int = 0  # DMs not answering the viewer, sent or queued since the platform's day began
    proactive_dms_unanswered: int = 0  # …and since the viewer last wrote to us
    recent_thread_texts: tuple[str, ...] = ()  # the bot's last messages in the thread, newest first
    variants: Mapping[str, str] = field(default_factory=dict)  # sticky A/B: experiment → variant id
    live: LiveRoomFacts | None = None  # live rooms: what the bot already said there, and when it may speak next


@dataclass(frozen=True, slots=True)
class LiveRoomFacts:
    """A live room's recent bot answers (answer key → when answered) and its next free danmaku slot."""

    answered: Mapping[str, datetime] = field(default_factory=dict)
    last_sent_at: datetime | None = None  # the latest bot danmaku scheduled in the room (sent or queued)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The policy's answer before composing: what to do and why."""

    action: Action
    reason: str
    channel: Channel | None = None  # for replies
    template: str | None = None  # template key (ask_price, faq, handoff_ack…)
    send_after: datetime | None = None  # quiet hours: deliver then
    dry_run: bool = False
    acknowledge: bool = False  # a handoff the viewer is told about
    invite_dm: bool = False  # details belong in a DM the bot may not start: reply publicly with a deep link
    min_gap: float = 0.0  # live rooms: seconds the thread's bot messages must stay apart (enforced when queued)

    @property
    def replies(self) -> bool:
        return self.action in REPLY_ACTIONS


@dataclass(frozen=True, slots=True)
class TrackedLinkSpec:
    id: str
    url: str  # the real destination
    course_id: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    text: str | None = None  # public reply (reply_public), the DM (reply_dm), or the handoff acknowledgement
    dm_text: str | None = None  # the details sent by DM alongside a public reply
    template_id: str | None = None
    variant_id: str | None = None
    course_id: str | None = None
    answer_id: str | None = None
    intent: str | None = None
    confidence: float = 0.0
    dry_run: bool = False
    send_after: datetime | None = None
    links: tuple[TrackedLinkSpec, ...] = ()
    assignment: tuple[str, str] | None = None  # (experiment, variant) to store as the viewer's sticky variant
    decided_at: datetime | None = None
    min_gap: float = 0.0  # live rooms: seconds between this thread's bot messages; the queue enforces it

    @property
    def replies(self) -> bool:
        return self.action in REPLY_ACTIONS

    @property
    def counts_as_reply(self) -> bool:
        """Counted by rate limits: a reply that is (or will be) sent."""
        return self.replies and not self.dry_run


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: Accepted
    analysis: Analysis | None  # None for events that are not comments (clicks, conversions)
    decision: Decision
