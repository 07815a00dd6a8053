"""Fold the stored corrections into lessons: FAQ phrasings and entries, intent labels, vetoed answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from bot.catalog import FaqEntry
from bot.learning.revisions import KNOWLEDGE_KINDS, Change, additive_changes, change_of
from bot.store.corrections import UNDOABLE, Correction
from retrieval.text import normalize

log = logging.getLogger(__name__)
# The kinds that change what the bot knows (an `answer` only becomes knowledge once saved as FAQ), and the
# undos that take one of them back.
LESSON_KINDS = ("relabel", "sentiment_label", "wrong_reply", "right_reply", *KNOWLEDGE_KINDS, "undo")


@dataclass(frozen=True)
class Lessons:
    phrasings: dict[str, tuple[str, ...]]  # FAQ entry id → the creator's extra phrasings, oldest first
    entries: tuple[FaqEntry, ...]  # FAQ entries the creator added
    labels: dict[str, str]  # normalised comment text → intent (the latest label wins)
    wrong: tuple[tuple[str, str], ...]  # (normalised comment text, vetoed answer key)
    # (dense, BM25, right?) of each reviewed FAQ reply, the creator's latest word per comment (bot/learning/calibration.py)
    feedback: tuple[tuple[float, float, bool], ...] = ()
    # Every change to the FAQ and catalog, oldest first (bot/learning/revisions.py folds them over the files)
    knowledge: tuple[Change, ...] = ()
    sentiments: dict[str, str] = field(default_factory=dict)  # normalised comment text → sentiment (the latest wins)

    def changes(self) -> tuple[Change, ...]:
        """The knowledge changes; lessons built from entries and phrasings alone (benchmarks) make theirs."""
        return self.knowledge or additive_changes(self.entries, self.phrasings)

    @classmethod
    def none(cls) -> Lessons:
        return cls({}, (), {}, ())

    @classmethod
    def fold(cls, corrections: Sequence[Correction]) -> Lessons:
        """The lessons of `corrections` (oldest first). An undone lesson is as if never taught: the text's previous
        label stands again (else the model's), an undone wrong reply vetoes nothing and counts as no feedback."""
        undone = _undone(corrections)
        phrasings: dict[str, list[str]] = {}
        entries: dict[str, FaqEntry] = {}
        labels: dict[str, str] = {}
        sentiments: dict[str, str] = {}
        wrong: dict[tuple[str, str], None] = {}
        feedback: dict[int, tuple[float, float, bool]] = {}
        knowledge: list[Change] = []
        for c in corrections:
            if c.id in undone or c.kind == "undo":
                continue
            change = change_of(c.kind, c.payload, c.id, c.by, c.at)
            if change is not None:
                knowledge.append(change)
            # A phrasing saved for the entry the bot held back below the cut carries its scores: a right answer there.
            if c.kind in ("wrong_reply", "right_reply", "faq_phrasing") and c.event_pk is not None and "dense" in c.payload:
                feedback[c.event_pk] = (float(c.payload["dense"]), float(c.payload.get("bm25", 0.0)), c.kind != "wrong_reply")
            text = normalize(c.text).plain if c.text else ""
            if c.kind == "relabel" and text:
                labels.pop(text, None)  # re-insert: dict order is the order labels were given
                labels[text] = str(c.payload.get("intent"))
            elif c.kind == "sentiment_label" and text:
                sentiments.pop(text, None)
                sentiments[text] = str(c.payload.get("sentiment"))
            elif c.kind == "wrong_reply" and text and c.payload.get("answer_key"):
                wrong[(text, str(c.payload["answer_key"]))] = None
            elif c.kind == "right_reply" and text and c.payload.get("answer_key"):
                # the creator's latest verdict on a reply wins for the veto as for the feedback
                wrong.pop((text, str(c.payload["answer_key"])), None)
            elif c.kind == "faq_phrasing" and c.payload.get("phrasing") and c.payload.get("faq_id"):
                known = phrasings.setdefault(str(c.payload["faq_id"]), [])
                if c.payload["phrasing"] not in known:
                    known.append(str(c.payload["phrasing"]))
            elif c.kind == "faq_entry":
                try:
                    entry = FaqEntry(id=c.payload.get("faq_id"), question=c.payload.get("question"),
                                     answer=c.payload.get("answer"), course_id=c.payload.get("course_id"))
                except ValidationError as exc:
                    log.warning("correction #%d: FAQ entry skipped (%s)", c.id, exc.errors()[0]["msg"])
                    continue
                entries[entry.id] = entry
        return cls({k: tuple(v) for k, v in phrasings.items()}, tuple(entries.values()), labels, tuple(wrong),
                   tuple(feedback.values()), tuple(knowledge), sentiments)


def _undone(corrections: Sequence[Correction]) -> set[int]:
    """The ids of the lessons an `undo` took back. Only UNDOABLE kinds: the store refuses the others, and a
    knowledge edit must fold the same here as in `coursebot faq` (which reads no undos)."""
    kinds = {c.id: c.kind for c in corrections}
    targets = {c.payload.get("correction_id") for c in corrections if c.kind == "undo"}
    return {t for t in targets if isinstance(t, int) and kinds.get(t) in UNDOABLE}
