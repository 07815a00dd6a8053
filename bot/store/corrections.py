"""What the creator taught, stored as data: answers to handoffs, relabels, wrong replies, FAQ phrasings and entries.

Every creator action is one append-only `creator_corrections` row (who, when, what, on which comment); the
CLI, Telegram and `labels import` all call these methods, so no action is implemented twice. The highest row
id is the knowledge version: a worker compares it before each batch and reloads what changed (bot/learning).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bot.store.admin import NotFound
from bot.store.models import CreatorCorrection, DecisionRecord, EventRecord, Handoff, UnderstandingRecord
from bot.store.rows import clean_json, clean_text
from retrieval.intents import INTENTS, SENTIMENTS
from retrieval.vetoes import answer_key

# faq_edit, faq_unphrase, faq_retire and course_edit are the knowledge edits of `coursebot faq` and the
# console (bot/learning/knowledge_base.py, docs/knowledge.md).
# `sentiment_label` is a relabel of how a comment feels (payload `sentiment`), a kind of its own rather than a
# payload on `relabel`: an intent relabel and a sentiment one are separate lessons (either may come alone, the
# latest of each kind wins), and `labels export` keeps offering a comment for its intent after a sentiment label.
# `undo` takes back one earlier lesson (payload `correction_id`, and its `kind` for the history): a row of its own,
# so nothing is ever edited or deleted and the knowledge version moves like for any other lesson.
KINDS = ("answer", "relabel", "sentiment_label", "wrong_reply", "right_reply", "faq_phrasing", "faq_entry", "faq_edit", "faq_unphrase",
         "faq_retire", "course_edit", "undo")
# The lessons an undo can take back; the fold (bot/learning/lessons.py) ignores them once undone. The knowledge
# edits have their own reversal in `coursebot faq` (UNDO_ELSEWHERE), which keeps the entry's history readable.
UNDOABLE = ("relabel", "sentiment_label", "wrong_reply", "right_reply")
UNDO_ELSEWHERE = {
    "faq_entry": "coursebot faq retire {faq_id}",
    "faq_phrasing": 'coursebot faq phrasing remove {faq_id} "{phrasing}"',
    "faq_unphrase": 'coursebot faq phrasing add {faq_id} "{phrasing}"',
    "faq_edit": "coursebot faq edit {faq_id} with the earlier values (coursebot faq history {faq_id} shows them)",
    "faq_retire": "coursebot faq add --id {faq_id} (coursebot faq history {faq_id} shows what it said)",
    "course_edit": "coursebot faq course-edit {course_id} with the earlier values (coursebot faq history {course_id} shows them)",
}
REPLY_ACTIONS = ("reply_public", "reply_dm")


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    kind: str
    event_pk: int | None
    text: str
    by: str
    at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One stored correction as `labels history` lists it, with the undo that took it back (if any)."""

    correction: Correction
    undone_by: int | None


@dataclass(frozen=True, slots=True)
class RecentComment:
    """A stored comment as the creator sees it when choosing what to correct."""

    event_pk: int
    platform: str
    text: str
    intent: str | None
    action: str
    answer_key: str | None
    reply: str | None
    at: datetime


def answer_correction(handoff: Handoff, event: EventRecord | None, by: str, reply_text: str) -> CreatorCorrection:
    """The row recording a creator's answer to a handoff (added in `resolve_handoff`'s own transaction)."""
    return CreatorCorrection(kind="answer", event_pk=handoff.event_pk, text=event.text if event else "", by=clean_text(by, 200),
                             payload={"answer": reply_text, "handoff_id": handoff.id})


def forget_statement(events: Any) -> sa.Update:
    """Forgetting a viewer blanks the comment text kept with their corrections (those lessons lapse). FAQ
    phrasings and entries keep their own copy in the payload: the creator adopted that wording as theirs."""
    return sa.update(CreatorCorrection).where(CreatorCorrection.event_pk.in_(events)).values(text="")  # type: ignore[union-attr]


class CorrectionStore:
    dialect: str

    def record_correction(self, kind: str, by: str, *, event_pk: int | None = None, text: str | None = None,
                          payload: dict[str, Any] | None = None) -> Correction:
        """Store one lesson; `text` defaults to the stored comment's own text."""
        if kind not in KINDS:
            raise ValueError(f"unknown correction kind {kind!r}, expected one of {', '.join(KINDS)}")
        with self.session() as session:  # type: ignore[attr-defined]
            if event_pk is not None:
                event = session.get(EventRecord, event_pk)
                if event is None:
                    raise NotFound(f"comment #{event_pk} not found (coursebot labels recent lists them)")
                text = event.text if text is None else text
            row = CreatorCorrection(kind=kind, event_pk=event_pk, text=clean_text(text or "", 4000), by=clean_text(by, 200),
                                    payload=clean_json(payload or {}))
            session.add(row)
            session.flush()
            return _view(row)

    def undo_correction(self, correction_id: int, by: str) -> Correction:
        """Take back one lesson (UNDOABLE) with a new `undo` row; refused in one line for an unknown id, an answer,
        a knowledge edit (which `coursebot faq` command reverses it), an undo, or a lesson already undone. One
        transaction, so two undos of the same lesson cannot both be stored on SQLite (a race on PostgreSQL
        would store a second undo, which the fold reads the same as one)."""
        with self.session() as session:  # type: ignore[attr-defined]
            target = session.get(CreatorCorrection, correction_id)
            if target is None:
                raise NotFound(f"correction #{correction_id} not found (coursebot labels history lists them)")
            if target.kind not in UNDOABLE:
                raise ValueError(_not_undoable(target))
            undone_by = _undone_by(session).get(correction_id)
            if undone_by is not None:
                raise ValueError(f"correction #{correction_id} was already undone by #{undone_by}")
            # The comment's id and text as the lesson had them: `forget` blanks this copy with the lesson's own.
            row = CreatorCorrection(kind="undo", event_pk=target.event_pk, text=target.text, by=clean_text(by, 200),
                                    payload={"correction_id": correction_id, "kind": target.kind})
            session.add(row)
            session.flush()
            return _view(row)

    def correction_history(self, limit: int = 20, kind: str | None = None, event_pk: int | None = None) -> list[HistoryEntry]:
        """The newest corrections (of `kind`, about the comment `event_pk`, when given), newest first, each with the
        undo that took it back."""
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown correction kind {kind!r}, expected one of {', '.join(KINDS)}")
        query = select(CreatorCorrection)
        if kind is not None:
            query = query.where(CreatorCorrection.kind == kind)
        if event_pk is not None:
            query = query.where(CreatorCorrection.event_pk == event_pk)
        query = query.order_by(CreatorCorrection.id.desc()).limit(limit)  # type: ignore[union-attr]
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            undone = _undone_by(session)
            return [HistoryEntry(_view(row), undone.get(row.id)) for row in session.exec(query)]  # type: ignore[arg-type]

    def relabel(self, event_pk: int, intent: str, by: str) -> Correction:
        """The creator says what a comment wants (e.g. this is a complaint)."""
        if intent not in INTENTS:
            raise ValueError(f"unknown intent {intent!r}, expected one of {', '.join(INTENTS)}")
        return self.record_correction("relabel", by, event_pk=event_pk, payload={"intent": intent})

    def relabel_sentiment(self, event_pk: int, sentiment: str, by: str) -> Correction:
        """The creator says how a comment feels (negative sentiment sends near-identical comments to a human)."""
        check_sentiment(sentiment)
        return self.record_correction("sentiment_label", by, event_pk=event_pk, payload={"sentiment": sentiment})

    def mark_wrong(self, event_pk: int, by: str) -> Correction:
        """The bot's reply to this comment was wrong: that answer is vetoed for near-identical comments."""
        key, reply, scores = self._sent_reply(event_pk)
        if key is None:
            raise NotFound(f"comment #{event_pk}: its reply answered nothing from the catalog, so there is nothing to veto")
        return self.record_correction("wrong_reply", by, event_pk=event_pk, payload={"answer_key": key, "reply": reply, **scores})

    def confirm_reply(self, event_pk: int, by: str) -> Correction:
        """The bot's reply to this comment was right: evidence for the answer thresholds (bot/learning/calibration.py)."""
        key, reply, scores = self._sent_reply(event_pk)
        return self.record_correction("right_reply", by, event_pk=event_pk, payload={"answer_key": key, "reply": reply, **scores})

    def _sent_reply(self, event_pk: int) -> tuple[str | None, str | None, dict[str, float]]:
        """(answer key, reply text, the answering FAQ hit's scores as they were when the reply was decided)."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            decision = session.exec(select(DecisionRecord).where(DecisionRecord.event_pk == event_pk)).first()
            understanding = session.exec(select(UnderstandingRecord).where(UnderstandingRecord.event_pk == event_pk)).first()
        if decision is None or decision.action not in REPLY_ACTIONS or understanding is None:
            raise NotFound(f"comment #{event_pk}: the bot sent no reply to it (coursebot labels recent lists its replies)")
        key = answer_key(understanding.answer_kind, understanding.answer_id, understanding.course_id)
        return key, decision.text, _threshold_scores(understanding)

    def save_answer_as_faq(self, handoff_id: int, by: str, faq_id: str | None = None) -> Correction:
        """A handoff's comment and the creator's answer become FAQ knowledge: another phrasing of `faq_id`, or
        (without it) a new entry answering with the creator's reply. The caller checks that `faq_id` exists."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            handoff = session.get(Handoff, handoff_id)
            if handoff is None:
                raise NotFound(f"handoff #{handoff_id} not found (coursebot handoffs --all lists them)")
            event = session.get(EventRecord, handoff.event_pk)
            understanding = session.exec(select(UnderstandingRecord).where(UnderstandingRecord.event_pk == handoff.event_pk)).first()
        text = (event.text if event else "").strip()
        if not text:
            raise NotFound(f"handoff #{handoff_id}: its comment has no text (forgotten or a sticker)")
        if faq_id is not None:
            return self.record_correction("faq_phrasing", by, event_pk=handoff.event_pk,
                                          payload={"faq_id": faq_id, "phrasing": text, **_missed_scores(understanding, faq_id)})
        if not handoff.reply_text:
            raise NotFound(f"handoff #{handoff_id} has no answer yet: answer it first (coursebot handoff resolve {handoff_id} --reply ...)")
        return self.add_faq_entry(text, handoff.reply_text, by, event_pk=handoff.event_pk,
                                  course_id=understanding.course_id if understanding else None)

    def add_faq_entry(self, question: str, answer: str, by: str, *, event_pk: int | None = None, course_id: str | None = None,
                      faq_id: str | None = None, alternatives: list[str] | None = None, live: dict[str, str] | None = None) -> Correction:
        """A new FAQ entry the creator wrote; its id is `faq_id`, or `creator-<correction id>` without one. `live`:
        its `live_answer` / `live_topic` (the live rooms' short form)."""
        with self.session() as session:  # type: ignore[attr-defined]
            payload: dict[str, Any] = {"question": clean_text(question, 4000), "answer": clean_text(answer, 4000), "course_id": course_id}
            if alternatives:
                payload["alternatives"] = [clean_text(a, 4000) for a in alternatives]
            payload.update({k: clean_text(v, 4000) for k, v in (live or {}).items() if k in ("live_answer", "live_topic") and v})
            row = CreatorCorrection(kind="faq_entry", event_pk=event_pk, text=clean_text(question, 4000), by=clean_text(by, 200),
                                    payload=payload)
            session.add(row)
            session.flush()
            row.payload = {**row.payload, "faq_id": faq_id or f"creator-{row.id}"}
            session.add(row)
            session.flush()
            return _view(row)

    def comment_text(self, event_pk: int) -> str:
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            event = session.get(EventRecord, event_pk)
        if event is None:
            raise NotFound(f"comment #{event_pk} not found (coursebot labels recent lists them)")
        return event.text

    def corrections(self, kinds: tuple[str, ...] | None = None) -> list[Correction]:
        query = select(CreatorCorrection).order_by(CreatorCorrection.id)  # type: ignore[arg-type]
        if kinds:
            query = query.where(CreatorCorrection.kind.in_(kinds))  # type: ignore[attr-defined]
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return [_view(row) for row in session.exec(query)]

    def knowledge_version(self) -> int:
        """The newest correction's id (0 for none): one index lookup, cheap enough to run before every batch."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return int(session.exec(select(sa.func.max(CreatorCorrection.id))).one() or 0)

    def unlabelled_comments(self, limit: int = 2000) -> list[tuple[int, str, str, float, str]]:
        """(comment id, text, intent, intent confidence, sentiment) of the newest analysed comments whose intent
        the creator has not labelled."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            undone = list(_undone_by(session))  # an undone label is offered again (unless another label stands)
        labelled = select(CreatorCorrection.event_pk).where(CreatorCorrection.kind == "relabel", CreatorCorrection.id.not_in(undone),  # type: ignore[union-attr]
                                                            CreatorCorrection.event_pk.is_not(None))  # type: ignore[union-attr]
        query = (
            select(EventRecord.id, EventRecord.text, UnderstandingRecord.intent, UnderstandingRecord.intent_confidence,
                   UnderstandingRecord.sentiment)
            .join(UnderstandingRecord, UnderstandingRecord.event_pk == EventRecord.id)
            .where(EventRecord.text != "", EventRecord.id.not_in(labelled))  # type: ignore[union-attr]
            .order_by(EventRecord.id.desc()).limit(limit)  # type: ignore[union-attr]
        )
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return [(int(i), t, intent, float(c), sentiment) for i, t, intent, c, sentiment in session.exec(query)]

    def recent_comments(self, limit: int = 20) -> list[RecentComment]:
        """The newest decided events with what the bot made of them, newest first."""
        query = (
            select(EventRecord, UnderstandingRecord, DecisionRecord)
            .join(UnderstandingRecord, UnderstandingRecord.event_pk == EventRecord.id, isouter=True)
            .join(DecisionRecord, DecisionRecord.event_pk == EventRecord.id)
            .order_by(EventRecord.id.desc()).limit(limit)  # type: ignore[union-attr]
        )
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return [
                RecentComment(e.id, e.platform, e.text, u.intent if u else d.intent, d.action,  # type: ignore[arg-type]
                              answer_key(u.answer_kind, u.answer_id, u.course_id) if u and d.action in REPLY_ACTIONS else None,
                              d.text, e.created_at)
                for e, u, d in session.exec(query)
            ]


def check_sentiment(sentiment: str) -> None:
    if sentiment not in SENTIMENTS:
        raise ValueError(f"unknown sentiment {sentiment!r}, expected one of {', '.join(SENTIMENTS)}")


def _undone_by(session) -> dict[int, int]:
    """Undone correction id → the id of the undo that took it back (undo rows are few: one per taking back)."""
    rows = session.exec(select(CreatorCorrection).where(CreatorCorrection.kind == "undo"))
    return {int(row.payload["correction_id"]): int(row.id) for row in rows if isinstance(row.payload.get("correction_id"), int)}


def _not_undoable(target: CreatorCorrection) -> str:
    """Why this correction cannot be undone, in one line naming what to do instead."""
    head = f"correction #{target.id} ({target.kind})"
    if target.kind == "undo":
        return f"{head} is itself an undo of #{target.payload.get('correction_id')}: teach that lesson again instead (coursebot labels relabel/wrong/right)"
    if target.kind == "answer":
        return f"{head} is your answer to a handoff, not a lesson: there is nothing to undo (saved as FAQ, it is reversed with coursebot faq)"
    fields = {"faq_id": "", "course_id": "", "phrasing": "", **{k: str(v) for k, v in target.payload.items()}}
    return f"{head} changed the FAQ or the catalog, which coursebot faq reverses: {UNDO_ELSEWHERE[target.kind].format(**fields)}"


def _threshold_scores(understanding: UnderstandingRecord) -> dict[str, float]:
    """The dense and BM25 scores of the FAQ hit that answered, when the abstain threshold let it answer (a
    course's own typed FAQ entry or a catalog answer is decided by the intent, not by these scores: {})."""
    if understanding.answer_kind != "faq" or not understanding.match_reason.startswith("faq match"):
        return {}
    hit = next((h for h in understanding.hits if h.get("id") == f"faq:{understanding.answer_id}"), None)
    return {"dense": float(hit["dense"]), "bm25": float(hit["bm25"])} if hit else {}


def _missed_scores(understanding: UnderstandingRecord | None, faq_id: str) -> dict[str, float]:
    """The dense and BM25 scores of `faq_id` when the bot ranked it first among FAQ entries but handed the comment
    off below the cut: the creator saving the comment as a phrasing of that very entry says the answer the bot
    held back was right (loosening evidence for bot/learning/calibration.py). Any other case: {}."""
    if understanding is None or not understanding.match_reason.startswith("no answer above threshold"):
        return {}
    first = next((h for h in understanding.hits if str(h.get("id", "")).startswith("faq:")), None)
    if first is None or first["id"] != f"faq:{faq_id}":
        return {}
    return {"dense": float(first["dense"]), "bm25": float(first["bm25"])}


def _view(row: CreatorCorrection) -> Correction:
    return Correction(row.id, row.kind, row.event_pk, row.text, row.by, row.at, dict(row.payload))  # type: ignore[arg-type]
