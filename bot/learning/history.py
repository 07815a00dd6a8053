"""How a stored correction reads in a listing (`coursebot labels history`, Telegram `/history`, `coursebot faq
history`): what it taught, in a few words, and its fields. No store, no model: a formatter of stored rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.corrections import Correction


def fields_text(values: Mapping[str, Any], width: int = 60) -> str:
    """`name=value; …`, each value cut to `width` characters; "-" for none."""
    return "; ".join(f"{k}={str(v)[:width]}" for k, v in values.items()) or "-"


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def taught(c: Correction) -> str:
    """What the correction taught: the intent, the sentiment, the vetoed or confirmed answer, the FAQ entry…"""
    p = c.payload
    if c.kind == "relabel":
        return f"intent {p.get('intent')}"
    if c.kind == "sentiment_label":
        return f"sentiment {p.get('sentiment')}"
    if c.kind in ("wrong_reply", "right_reply"):
        verdict = "vetoed" if c.kind == "wrong_reply" else "confirmed"
        score = f" (cosine {float(p['dense']):.2f})" if "dense" in p else ""
        return f"{verdict} {p.get('answer_key') or 'the reply'}{score}"
    if c.kind == "undo":
        return f"undid #{p.get('correction_id')} ({p.get('kind')})"
    if c.kind == "answer":
        return f"answered handoff #{p.get('handoff_id')}: {str(p.get('answer', ''))[:40]}"
    if c.kind == "faq_entry":
        return f"new FAQ entry {p.get('faq_id')}"
    if c.kind in ("faq_phrasing", "faq_unphrase"):
        return f"{'phrasing of' if c.kind == 'faq_phrasing' else 'phrasing removed from'} {p.get('faq_id')}"
    if c.kind == "faq_retire":
        return f"retired {p.get('faq_id')}"
    target = p.get("course_id") if c.kind == "course_edit" else p.get("faq_id")
    return f"edited {target}: {fields_text(dict(p.get('after') or {}), 30)}"  # faq_edit, course_edit
