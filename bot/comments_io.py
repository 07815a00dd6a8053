"""JSONL comment files in and routing decisions out (`coursebot route`, demos, replays).

Input lines: `{"id", "text"}` plus optional `platform`, `author`, `author_name`, `thread_id`,
`thread_title`, `thread_description`, `thread_course_id`, `kind`, `parent_id`. Unknown keys are kept
in `raw` and otherwise ignored. A malformed line is reported with its number and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.analysis import Analysis
from bot.events import Event, Thread

MAX_LINE_BYTES = 1_000_000
_KINDS = {"comment", "reply", "dm"}


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    message: str
    raw: bytes | str = b""  # the line as read: quarantined for the creator

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def parse_comment(obj: Any, *, default_platform: str = "jsonl") -> Event:
    """One decoded JSON value → Event, or ValueError naming the field."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "text"):
        if key not in obj or obj[key] is None:
            raise ValueError(f"missing field '{key}'")
    if not isinstance(obj["id"], (str, int)) or isinstance(obj["id"], bool) or str(obj["id"]).strip() == "":
        raise ValueError(f"field 'id' must be a non-empty string, got {obj['id']!r}")
    if not isinstance(obj["text"], str):
        raise ValueError(f"field 'text' must be a string, got {type(obj['text']).__name__}")
    optional = {}
    for key in ("platform", "author", "author_name", "thread_id", "thread_title", "thread_description", "thread_course_id", "parent_id"):
        value = obj.get(key)
        if value is not None and not isinstance(value, (str, int)):
            raise ValueError(f"field '{key}' must be a string, got {type(value).__name__}")
        optional[key] = str(value) if value is not None else None
    kind = obj.get("kind", "comment")
    if kind not in _KINDS:
        raise ValueError(f"field 'kind' must be one of {sorted(_KINDS)}, got {kind!r}")
    thread = None
    if optional["thread_id"] or optional["thread_title"]:
        thread = Thread(
            id=optional["thread_id"] or f"title:{optional['thread_title']}",
            title=optional["thread_title"] or "",
            description=optional["thread_description"] or "",
            course_id=optional["thread_course_id"],
        )
    return Event(
        platform=optional["platform"] or default_platform,
        event_id=str(obj["id"]),
        text=obj["text"],
        kind=kind,
        thread=thread,
        parent_id=optional["parent_id"],
        author_id=optional["author"],
        author_name=optional["author_name"],
        raw=obj,
    )


def read_comments(stream: IO[bytes]) -> Iterator[tuple[int, Event | BadLine]]:
    """Events from a JSONL byte stream, line by line; bad lines become BadLine, never an exception."""
    for number, raw in enumerate(stream, 1):
        if len(raw) > MAX_LINE_BYTES:
            yield number, BadLine(number, f"line is {len(raw):,} bytes, over the {MAX_LINE_BYTES:,}-byte limit", raw)
            continue
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield number, BadLine(number, f"not UTF-8 (invalid byte at column {exc.start + 1})", raw)
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, BadLine(number, f"invalid JSON at column {exc.colno}: {exc.msg}", raw)
            continue
        try:
            yield number, parse_comment(obj)
        except ValueError as exc:
            yield number, BadLine(number, str(exc), raw)


def decision_record(analysis: Analysis) -> dict[str, Any]:
    """The `coursebot route` output line for one comment."""
    u, m = analysis.understanding, analysis.match
    return {
        "id": analysis.event.event_id,
        "intent": u.intent,
        "intent_confidence": u.intent_confidence,
        "sentiment": u.sentiment,
        "topics": list(u.topics),
        "matches": [
            {"id": h.id.split(":", 1)[1], "kind": h.kind, "score": h.fused, "dense": h.dense, "bm25": h.bm25}
            for h in m.hits
        ],
        "answer_id": m.answer_id,
        "answer_kind": m.answer_kind,
        "course_id": m.course_id,
        "course_source": m.course_source,
        "confidence": m.confidence,
        "reason": m.reason,
        "recommendations": [r.as_dict() for r in m.recommendations],
    }


def open_input(path: Path) -> IO[bytes]:
    from retrieval.errors import InputError

    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a JSONL file") from None
