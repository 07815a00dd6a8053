"""Platform-neutral objects at the pipeline's boundary. Adapters turn platform payloads into these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

EventKind = Literal["comment", "reply", "dm", "click", "conversion"]


@dataclass(frozen=True, slots=True)
class Thread:
    """Where a comment was written: a video, a channel post, a live room, a DM chat."""

    id: str
    title: str = ""
    description: str = ""
    course_id: str | None = None  # set by the creator's mapping; otherwise inferred from the title


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
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    raw: dict[str, Any] = field(default_factory=dict)
