"""`coursebot import`: comments exported from a platform (CSV or JSONL) → Events, columns mapped by config.

For platforms or accounts without API access (Kuaishou, or a Douyin/Bilibili export from the creator
center). Each field is looked up under the configured column (`[imports.<platform>]`), else under the
usual export headers below. A bad row is reported with its line number and skipped; the rest go on.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.adapters.bilibili.bvid import aid_to_bvid
from bot.comments_io import BadLine
from bot.events import Event, Thread
from retrieval.errors import InputError

PLATFORMS = ("kuaishou", "douyin", "bilibili")
FIELDS = ("id", "text", "author", "author_name", "thread_id", "thread_title", "parent_id", "created_at", "kind")
EXPORT_TIMEZONE = ZoneInfo("Asia/Shanghai")  # creator-center exports write Beijing time without an offset
_COMMON: dict[str, tuple[str, ...]] = {
    "id": ("评论ID", "评论id", "comment_id", "id"),
    "text": ("评论内容", "内容", "comment", "content", "text", "message"),
    "author": ("用户ID", "用户id", "user_id", "author_id", "author"),
    "author_name": ("用户昵称", "昵称", "nickname", "author_name", "uname"),
    "thread_id": ("thread_id",),
    "thread_title": ("thread_title", "title"),
    "parent_id": ("回复评论ID", "父评论ID", "parent_id", "reply_to"),
    "created_at": ("评论时间", "时间", "create_time", "created_at", "ctime"),
    "kind": ("kind",),
}
DEFAULT_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "kuaishou": {"author": ("快手号", "快手ID"), "thread_id": ("作品ID", "作品id", "photo_id"),
                 "thread_title": ("作品标题", "作品描述", "作品名称")},
    "douyin": {"author": ("抖音号", "open_id"), "thread_id": ("视频ID", "作品ID", "item_id"),
               "thread_title": ("视频标题", "作品标题", "视频描述")},
    "bilibili": {"id": ("rpid",), "author": ("UID", "mid"), "thread_id": ("BV号", "bvid", "稿件BV号", "oid", "aid"),
                 "thread_title": ("稿件标题", "视频标题"), "parent_id": ("parent", "回复对象ID")},
}


def columns_for(platform: str, configured: Any, header: list[str]) -> dict[str, str]:
    """Field → column present in `header`. A configured column that is missing is an error; so are id/text."""
    chosen: dict[str, str] = {}
    present = {h.strip(): h for h in header}
    for field in FIELDS:
        wanted = getattr(configured, field, None) if configured is not None else None
        if wanted:
            if wanted.strip() not in present:
                raise InputError(f"imports.{platform}.{field}: column {wanted!r} is not in the header ({', '.join(present)})")
            chosen[field] = present[wanted.strip()]
            continue
        candidates = DEFAULT_COLUMNS.get(platform, {}).get(field, ()) + _COMMON[field]
        found = next((present[c] for c in candidates if c in present), None)
        if found is not None:
            chosen[field] = found
    for field in ("id", "text"):
        if field not in chosen:
            expected = " / ".join(DEFAULT_COLUMNS.get(platform, {}).get(field, ()) + _COMMON[field])
            raise InputError(f"no {field} column: expected one of {expected}, or name it in the config: imports.{platform}.{field}")
    return chosen


def parse_time(value: str) -> datetime:
    text = value.strip()
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        stamp = float(text)
        return datetime.fromtimestamp(stamp / 1000 if stamp > 1e12 else stamp, UTC)
    text = text.replace("/", "-").replace("年", "-").replace("月", "-").replace("日", "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"created_at: unreadable time {value!r} (expected 2024-05-01 12:30[:00], ISO 8601 or unix seconds)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=EXPORT_TIMEZONE)


def _thread_id(platform: str, value: str) -> str:
    # An aid becomes the BV id the live adapter uses; anything else that looks numeric ("²", 5,000 digits, 0) is
    # no aid and stays as written rather than failing the row.
    if platform == "bilibili" and value.isascii() and value.isdigit() and len(value) <= 16 and 0 < int(value) < 1 << 51:
        return aid_to_bvid(int(value))
    return value


def row_event(platform: str, row: Mapping[str, Any], columns: dict[str, str], *, source: str, line: int) -> Event:
    """One export row → Event, or ValueError naming the field."""
    value = {f: ("" if row.get(c) is None else str(row.get(c)).strip()) for f, c in columns.items()}
    if not value.get("id"):
        raise ValueError(f"{columns['id']}: empty comment id")
    text = str(row.get(columns["text"]) or "")
    if not text.strip():
        raise ValueError(f"{columns['text']}: empty comment text")
    kind = value.get("kind") or ("reply" if value.get("parent_id") and value["parent_id"] != "0" else "comment")
    if kind not in ("comment", "reply", "dm"):
        raise ValueError(f"{columns.get('kind', 'kind')}: must be comment, reply or dm, got {kind!r}")
    thread = None
    if value.get("thread_id") or value.get("thread_title"):
        thread = Thread(id=_thread_id(platform, value.get("thread_id") or f"title:{value['thread_title']}"),
                        title=value.get("thread_title") or "")
    return Event(
        platform=platform, event_id=value["id"], text=text, kind=kind, thread=thread,  # type: ignore[arg-type]
        parent_id=value.get("parent_id") if value.get("parent_id") not in (None, "", "0") else None,
        author_id=value.get("author") or None, author_name=value.get("author_name") or None,
        created_at=parse_time(value["created_at"]) if value.get("created_at") else datetime.now(UTC),
        raw={"imported_from": source, "line": line},
    )


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK/GB18030 by default
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: neither UTF-8 nor GB18030")


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | BadLine, list[str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = list(reader.fieldnames or [])
    for row in reader:
        if None in row:  # more cells than headers
            cells = [*(v for k, v in row.items() if k is not None), *row[None]]
            yield reader.line_num, BadLine(reader.line_num, f"{len(header) + len(row[None])} cells, header has {len(header)}",
                                           json.dumps(cells, ensure_ascii=False)), header
        else:
            yield reader.line_num, row, header


def _jsonl_rows(text: str) -> Iterator[tuple[int, dict[str, Any] | BadLine, list[str]]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, BadLine(number, f"invalid JSON at column {exc.colno}: {exc.msg}", line), []
            continue
        if not isinstance(row, dict):
            yield number, BadLine(number, f"expected a JSON object, got {type(row).__name__}", line), []
            continue
        yield number, row, list(row)  # each line names its own fields


def read_export(path: Path, platform: str, configured: Any = None) -> Iterator[Event | BadLine]:
    """Events from a CSV (header row) or JSONL export; bad rows come out as BadLine, never as exceptions."""
    if platform not in PLATFORMS:
        raise InputError(f"--platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
    try:
        text = _decode(path.read_bytes(), path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a CSV or JSONL export") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
    rows = _jsonl_rows(text) if jsonl else _csv_rows(text)
    known: dict[tuple[str, ...], dict[str, str]] = {}
    for number, row, header in rows:
        if isinstance(row, BadLine):
            yield row
            continue
        if tuple(header) not in known:
            try:
                known[tuple(header)] = columns_for(platform, configured, header)
            except InputError as exc:
                if not jsonl:  # a CSV header that lacks id/text: no row can be read
                    raise InputError(f"{path}:1: {exc}") from None
                yield BadLine(number, str(exc), _as_text(row))
                continue
        try:
            event = row_event(platform, row, known[tuple(header)], source=path.name, line=number)
        except ValueError as exc:
            yield BadLine(number, str(exc), _as_text(row))
            continue
        yield replace(event, origin=f"{path}:line {number}")


def _as_text(row: Mapping[str, Any]) -> str:
    """A row as it was read (its cells as a JSON object), for the quarantine."""
    return json.dumps(row, ensure_ascii=False, default=str)


def event_record(event: Event) -> dict[str, Any]:
    """The JSONL line `coursebot route` / `coursebot replay` read back."""
    record = {"id": event.event_id, "text": event.text, "platform": event.platform, "kind": event.kind,
              "author": event.author_id, "author_name": event.author_name,
              "thread_id": event.thread.id if event.thread else None,
              "thread_title": event.thread.title if event.thread and event.thread.title else None,
              "parent_id": event.parent_id, "created_at": event.created_at.isoformat()}
    return {k: v for k, v in record.items() if v is not None}


class ExportSource:
    """A Source over an export file, for the runner (`coursebot import` without --dry-run)."""

    def __init__(self, path: Path, platform: str, configured: Any = None, *,
                 on_bad_row: Callable[[BadLine], Awaitable[None] | None] | None = None) -> None:
        self.platform, self.path, self._configured, self._on_bad_row = platform, path, configured, on_bad_row
        self.read = self.skipped = 0

    async def events(self) -> AsyncIterator[Event]:
        for item in read_export(self.path, self.platform, self._configured):
            if isinstance(item, BadLine):
                self.skipped += 1
                if self._on_bad_row is not None and inspect.isawaitable(done := self._on_bad_row(item)):
                    await done  # e.g. Runner.quarantine
                continue
            self.read += 1
            yield item
