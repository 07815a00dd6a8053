"""Fit a text into danmaku: whole sentences or clauses only, a link never split or cut.

Pure: text in, parts out (or None when it cannot be said within the limits without cutting something).
"""

from __future__ import annotations

import re

# A clause ends after one of these (kept with it); a URL is one unbreakable piece.
_URL = re.compile(r"https?://[^\s，。！？；、]+")
_CLAUSE_END = re.compile(r"(?<=[。！？!?；;，,、…~])|(?<=\s)")
_TRAILING = "，,、；; "  # a part may not end on a dangling comma; sentence ends (。！？) stay


def pieces(text: str) -> list[str]:
    """The text cut after every clause end, URLs kept whole."""
    out: list[str] = []
    position = 0
    for url in _URL.finditer(text):
        out += _clauses(text[position:url.start()])
        if out and not re.search(r"[。！？!?；;，,、\s]$", out[-1]):
            out[-1] += url.group()  # "链接：https://…" stays together with what introduces it
        else:
            out.append(url.group())
        position = url.end()
    out += _clauses(text[position:])
    return [p for p in out if p.strip()]


def _clauses(text: str) -> list[str]:
    return [p for p in _CLAUSE_END.split(text) if p]


def fit_danmaku(text: str, limit: int, max_parts: int = 1) -> list[str] | None:
    """`text` as at most `max_parts` danmaku of at most `limit` characters each, split only after a clause; None if
    that is impossible (a clause or a link longer than `limit`, or more parts needed)."""
    text = " ".join(text.split())
    if not text:
        return None
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for piece in pieces(text):
        if len(piece.rstrip(_TRAILING)) > limit:
            return None
        if len((current + piece).rstrip(_TRAILING)) <= limit:
            current += piece
            continue
        parts.append(current.rstrip(_TRAILING))
        current = piece.lstrip()
    if current.strip():
        parts.append(current.rstrip(_TRAILING))
    parts = [p for p in parts if p]
    return parts if len(parts) <= max_parts else None
