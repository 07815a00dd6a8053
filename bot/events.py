"""Platform-neutral objects at the pipeline's boundary. Adapters turn platform payloads into these.

An Event (and its Thread) is made storable as it is built (bot/storable.py): whatever an adapter, a file or a
webhook hands over, every reader after it (store, analysis, decisions, outbox, logs) sees the same clean
texts and the same mapped ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from bot.storable import AUTHOR_CHARS, COURSE_CHARS, PLATFORM_CHARS, optional_id, storable_id, storable_text

# Live rooms (bilibili-live): danmaku and super chats are read and answered; the rest is engagement only.
EventKind = Literal["comment", "reply", "dm", "click", "conversion",
                    "danmaku", "super_chat", "gift", "engagement", "live_start", "live_end"]


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a comment was written: a video, a channel post, a live room, a DM chat."""

    id: str
    title: str = ""
    description: str = ""
    course_id: str | None = None  # set by the creator's mapping; otherwise inferred from the title

    def __post_init__(self) -> None:
        _set(self, "id", storable_id(self.id))
        _set(self, "title", storable_text(self.title))
        _set(self, "description", storable_text(self.description))
        _set(self, "course_id", optional_id(self.course_id, COURSE_CHARS))


@dataclass(frozen=True, slots=True)
class Event:
    platform: str
    event_id: str  # the platform's own id: the idempotency key
    text: str
    kind: EventKind = "comment"
    thread: Thread | None = None
    parent_id: str | None = None
    author_id: str | None = None  # raw platform id: pseudonymise before logging
    author_name: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    raw: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # where it was read (`comments.jsonl:line 17`, `douyin Msg-Id …`): named if it cannot be stored

    def __post_init__(self) -> None:
        _set(self, "platform", storable_id(self.platform, PLATFORM_CHARS))
        _set(self, "event_id", storable_id(self.event_id))
        _set(self, "text", storable_text(self.text))
        _set(self, "parent_id", optional_id(self.parent_id))
        _set(self, "author_id", optional_id(self.author_id, AUTHOR_CHARS))
        _set(self, "author_name", storable_text(self.author_name) if self.author_name is not None else None)
        _set(self, "created_at", _utc(self.created_at))


_set = object.__setattr__  # frozen dataclasses: __post_init__ assigns through object


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC, one that leaves datetime's range in UTC (year 1 at +14:00) is now."""
    try:
        return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except OverflowError:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Input that could not be read or stored: kept as it came for the creator (`coursebot quarantine`)."""

    origin: str  # file:line, or the delivery (`douyin Msg-Id …`)
    reason: str  # one line naming the field
    raw: bytes | str  # the line or body as received


Action = Literal["reply_public", "reply_dm", "handoff", "ignore"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message the outbox asks a platform sink to send. Built from a stored outbox row."""

    outbox_id: int  # the outbox row: sinks may use it as an idempotency key where the platform has one
    platform: str
    kind: Literal["reply_public", "reply_dm"]
    text: str
    thread_id: str | None = None  # video / post / chat the reply belongs to
    reply_to: str | None = None  # the platform id of the comment answered (public replies)
    recipient_id: str | None = None  # raw platform user id (DMs); never logged
    extra: dict[str, Any] = field(default_factory=dict)  # platform specifics (e.g. bilibili root/parent/oid/type)


class SendError(Exception):
    """A sink could not send. `transient` errors are retried by the outbox (after `retry_after` seconds
    when the platform said so); permanent ones go straight to the dead state with `reason`."""

    def __init__(self, reason: str, *, transient: bool, retry_after: float | None = None, code: str | int | None = None,
                 recipient_unreachable: bool = False, attempted: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.retry_after = retry_after
        self.code = code
        self.recipient_unreachable = recipient_unreachable  # e.g. Telegram 403: the viewer blocked / never started the bot
        self.attempted = attempted  # False: the platform was not called (e.g. the account is paused): no attempt used up


class Sink(Protocol):
    """Sends outbox messages to one platform. Returns the platform's id for the sent message."""

    platform: str

    async def send(self, message: OutgoingMessage) -> str: ...


class Source(Protocol):
    """Yields Events from one platform until cancelled."""

    platform: str

    def events(self) -> AsyncIterator[Event]: ...
