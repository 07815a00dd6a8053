"""Text from outside made storable on every database: one rule for free text, one for ids (applied by `Event`)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

# Column sizes of the ids an Event carries (bot/store/models.py).
PLATFORM_CHARS = 32
ID_CHARS = 200  # event, thread and parent ids
AUTHOR_CHARS = 128
COURSE_CHARS = 64
MAX_ROW_ID = 2**63 - 1  # the largest integer key either database stores: a bigger id names no row

# NUL (PostgreSQL refuses it in text) and the other C0/C1 control characters, which show as nothing or drive a
# terminal (`coursebot handoffs` prints comments); tab, newline and carriage return are text.
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_SURROGATES = "\ud800-\udfff"  # lone halves (surrogateescape, `"\ud800"` in JSON): not encodable as UTF-8
_UNSTORABLE = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
_CONTROL = re.compile(f"[{_CONTROLS}]")
_SURROGATE = re.compile(f"[{_SURROGATES}]")
_DIGEST_CHARS = 16


def row_id(text: str) -> int | None:
    """A row number as typed (a handoff, comment or correction id), or None: not a plain number, or larger than
    any stored row (a longer run of digits is refused before `int`, which would read it digit by digit)."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ROW_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ROW_ID else None


def storable_text(value: Any) -> str:
    """`value` as text every backend stores: lone surrogates become U+FFFD, control characters are removed."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not _UNSTORABLE.search(text):
        return text
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))


def storable_id(value: Any, limit: int = ID_CHARS) -> str:
    """`value` as an id that fits `limit` characters, the same every time for the same raw id.

    An id that is too long or holds characters `storable_text` would change is never cut or edited (two ids
    could then become one): it becomes its readable start, `~` and 16 hex digits of the raw id's SHA-256.
    Storage and every lookup use this one mapped value, and a mapped id maps to itself."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit and not _UNSTORABLE.search(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    readable = storable_text(text)[: limit - _DIGEST_CHARS - 1]
    return f"{readable}~{digest}"


def optional_id(value: Any, limit: int = ID_CHARS) -> str | None:
    return None if value is None else storable_id(value, limit)


def storable_copy(value: bytes | str) -> str:
    """Input kept as it came, as storable text: bytes that are not UTF-8 and characters `storable_text` would drop
    are written as Python escapes (\\xff, \\x00, \\ud800), so the creator sees exactly what arrived."""
    text = value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value
    return _UNSTORABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)
