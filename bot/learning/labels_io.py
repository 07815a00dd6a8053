"""`coursebot labels import`: a file of the creator's labels (CSV or JSONL) stored as corrections, row by row.

Columns: `text` plus `intent` and/or `sentiment` (negative, neutral, positive) and/or `faq_id` / `answer`, or `correct = false` / `true` for a sent reply (`true`
needs the `id` of a stored comment the bot replied to); optional `id` of a stored comment. A bad row is refused with file, line and field; the rest are loaded.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.storable import MAX_ROW_ID
from bot.store.admin import NotFound
from retrieval.errors import InputError
from retrieval.intents import INTENTS, SENTIMENTS

COLUMNS = ("id", "text", "intent", "sentiment", "faq_id", "answer", "correct")
INFORMATIVE = ("bot_intent", "bot_confidence", "bot_sentiment", "similar_waiting")  # what `labels export` shows beside them; ignored
_FALSE = {"false", "0", "no", "n", "错", "否", "wrong"}
_TRUE = {"true", "1", "yes", "y", "对", "是", ""}


@dataclass
class ImportReport:
    loaded: int = 0
    blank: int = 0  # rows with nothing filled in (a sheet the creator did not finish): skipped, not errors
    refused: list[str] = field(default_factory=list)  # "file:line: field 'x': why", one per refused row


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row) per data line; a row that cannot be parsed (or is not UTF-8) comes as its error message."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    lines = list(_decoded_lines(data))
    if path.suffix.lower() == ".csv":
        yield from _csv_rows(path, lines)
        return
    for number, line in lines:
        if isinstance(line, UnicodeDecodeError):
            yield number, _not_utf8(line)
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"invalid JSON ({exc.msg})"
            continue
        yield number, row if isinstance(row, dict) else "expected a JSON object"


def _decoded_lines(data: bytes) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """Each line decoded on its own, so one line a spreadsheet saved in another encoding refuses only itself."""
    for number, raw in enumerate(data.splitlines(), 1):
        try:
            yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            yield number, exc


def _not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 (byte 0x{exc.object[exc.start]:02x} at column {exc.start + 1}); save the file as UTF-8"


def _csv_rows(path: Path, lines: list[tuple[int, str | UnicodeDecodeError]]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    good = [(number, line) for number, line in lines if isinstance(line, str)]
    for number, line in lines:
        if isinstance(line, UnicodeDecodeError):
            if number == 1:
                raise InputError(f"{path}:1: the header is {_not_utf8(line)}")
            yield number, _not_utf8(line)
    reader = csv.DictReader(line for _, line in good)
    unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS) - set(INFORMATIVE))
    if unknown or not reader.fieldnames:
        raise InputError(f"{path}:1: unknown column '{unknown[0]}', expected some of {', '.join(COLUMNS)}" if unknown
                         else f"{path}:1: empty file, expected a header with {', '.join(COLUMNS)}")
    for row in reader:
        yield good[reader.line_num - 1][0], {k: v for k, v in row.items() if k is not None}


def import_labels(store, path: Path, by: str, faq_ids: Callable[[], set[str]]) -> ImportReport:
    """Store every valid row as a correction (through the same Store methods as the single commands)."""
    report = ImportReport()
    known: set[str] | None = None
    for number, row in read_rows(path):
        where = f"{path}:{number}"
        if isinstance(row, str):
            report.refused.append(f"{where}: {row}")
            continue
        try:
            if known is None and (row.get("faq_id") not in (None, "")):
                known = faq_ids()
            stored = _store_row(store, row, by, known or set())
            report.loaded += stored
            report.blank += stored == 0
        except _Refused as exc:
            report.refused.append(f"{where}: field '{exc.field}': {exc.why}")
        except (NotFound, ValueError) as exc:
            report.refused.append(f"{where}: {exc}")
    return report


class _Refused(Exception):
    def __init__(self, field: str, why: str) -> None:
        super().__init__(why)
        self.field, self.why = field, why


def _store_row(store, row: dict[str, Any], by: str, faq_ids: set[str]) -> int:
    """Store one row's lessons; returns how many corrections it became."""
    value = {k: str(v).strip() if v is not None else "" for k, v in row.items() if k in COLUMNS}
    event_pk = _event_id(value.get("id", ""))
    text = value.get("text", "")
    if event_pk is None and not text:
        raise _Refused("text", "empty: give the comment's text (or the id of a stored comment)")
    intent, faq_id, answer = value.get("intent", ""), value.get("faq_id", ""), value.get("answer", "")
    sentiment = value.get("sentiment", "").lower()
    correct = value.get("correct", "").lower()
    if correct not in _TRUE | _FALSE:
        raise _Refused("correct", f"{value['correct']!r} is neither true nor false")
    if intent and intent not in INTENTS:
        raise _Refused("intent", f"unknown intent {intent!r}, expected one of {', '.join(INTENTS)}")
    if sentiment and sentiment not in SENTIMENTS:
        raise _Refused("sentiment", f"unknown sentiment {value['sentiment']!r}, expected one of {', '.join(SENTIMENTS)}")
    if faq_id and faq_id not in faq_ids:
        raise _Refused("faq_id", f"no FAQ entry {faq_id!r}")
    if correct in _FALSE:
        return _wrong(store, event_pk, text, faq_id, by)
    if faq_id and answer:
        raise _Refused("answer", "give faq_id (another phrasing of that entry) or answer (a new entry), not both")
    confirmed = correct in _TRUE - {""} and event_pk is not None  # a sent reply the creator checked: right
    if not (intent or sentiment or faq_id or answer or confirmed):
        return 0
    text_arg = text or None
    stored = 0
    if confirmed:
        store.confirm_reply(event_pk, by)
        stored += 1
    if intent:
        store.record_correction("relabel", by, event_pk=event_pk, text=text_arg, payload={"intent": intent})
        stored += 1
    if sentiment:
        store.record_correction("sentiment_label", by, event_pk=event_pk, text=text_arg, payload={"sentiment": sentiment})
        stored += 1
    if faq_id:
        phrasing = text or _stored_text(store, event_pk)
        store.record_correction("faq_phrasing", by, event_pk=event_pk, text=text_arg, payload={"faq_id": faq_id, "phrasing": phrasing})
        stored += 1
    if answer:
        store.add_faq_entry(text or _stored_text(store, event_pk), answer, by, event_pk=event_pk)
        stored += 1
    return stored


def _wrong(store, event_pk: int | None, text: str, faq_id: str, by: str) -> int:
    if event_pk is not None and not faq_id:
        store.mark_wrong(event_pk, by)
        return 1
    if not faq_id:
        raise _Refused("faq_id", "correct = false without a stored comment id needs the FAQ entry that was wrong")
    store.record_correction("wrong_reply", by, event_pk=event_pk, text=text or None, payload={"answer_key": f"faq:{faq_id}"})
    return 1


def _event_id(raw: str) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ROW_ID:
        shown = raw if len(raw) <= 24 else raw[:20] + "…"
        raise _Refused("id", f"{shown!r} is not a stored comment id (coursebot labels recent shows them)")
    return int(raw)


def _stored_text(store, event_pk: int | None) -> str:
    text = store.comment_text(event_pk) if event_pk is not None else ""
    if not text:
        raise _Refused("text", "empty, and the stored comment has no text")
    return text
