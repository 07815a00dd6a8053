"""A Source that reads comments from a JSONL file (`coursebot replay`, imports, tests).

Lines are parsed by bot.comments_io (same format as `coursebot route`); malformed lines are reported
through `on_bad_line` (which may quarantine them) and skipped. Each event names its line (`origin`).
Replaying a file again is safe: the store ignores events it has seen.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.comments_io import BadLine, open_input, read_comments
from bot.events import Event


class JsonlSource:
    platform = "jsonl"

    def __init__(self, path: Path, *, on_bad_line: Callable[[BadLine], Awaitable[None] | None] | None = None,
                 yield_every: int = 256) -> None:
        self.path = path
        self.on_bad_line = on_bad_line
        self.yield_every = yield_every
        self.read = 0
        self.skipped = 0

    async def events(self) -> AsyncIterator[Event]:
        with open_input(self.path) as stream:
            for number, item in read_comments(stream):
                if isinstance(item, BadLine):
                    self.skipped += 1
                    if self.on_bad_line is not None and inspect.isawaitable(done := self.on_bad_line(item)):
                        await done  # e.g. Runner.quarantine: kept before the next line is read
                    continue
                self.read += 1
                yield replace(with_written_time(item), origin=f"{self.path}:line {number}")
                if number % self.yield_every == 0:
                    await asyncio.sleep(0)  # file reads are fast: let the loop breathe on huge files


def with_written_time(event: Event) -> Event:
    """Use the line's optional `created_at` (ISO 8601, or unix seconds) as the time the comment was written."""
    value = event.raw.get("created_at")
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value.strip():
            moment = datetime.fromisoformat(value.strip())  # 3.11 reads a trailing Z
        else:
            return event
    except (ValueError, OverflowError, OSError):
        return event  # an unreadable time is not worth losing the comment: keep "now"
    return replace(event, created_at=moment if moment.tzinfo else moment.replace(tzinfo=UTC))
