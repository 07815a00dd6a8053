"""The effective FAQ and catalog: the files in `config/` overridden by the creator's revisions, in order.

A revision is one `creator_corrections` row of a knowledge kind (docs/knowledge.md): the same append-only
rows as every other lesson, so the knowledge version every worker compares moves with each edit. Folding is
pure (no store, no model): the Teacher, `coursebot faq …` and the console all compute the same knowledge.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.catalog import Course, FaqEntry

log = logging.getLogger(__name__)

# The kinds that change the FAQ or the catalog. `faq_entry` and `faq_phrasing` came first (issue 17, saving a
# handoff's answer as FAQ); the edits of the console and `coursebot faq` are the other four. Kind names fit
# the column's 16 characters.
FAQ_KINDS = ("faq_entry", "faq_phrasing", "faq_edit", "faq_unphrase", "faq_retire")
KNOWLEDGE_KINDS = (*FAQ_KINDS, "course_edit")
# What an edit may change. An FAQ entry's id is what history, phrasings and stored replies refer to, so a
# "rename" is a new entry and a retired one. Course titles, aliases and tags feed jieba's dictionary and the
# course-name patterns built at start-up (a restart's worth of work), and a course id is referenced by FAQ
# entries and thread mappings: those stay in catalog.yaml. Price, link and description are the facts a
# creator changes between shoots (a promotion, a new shop link, a rewritten pitch). `live_answer` and
# `live_topic` (the live rooms' short danmaku form, bot/live/policy.py) are read per comment like the answer.
FAQ_FIELDS = ("question", "answer", "course_id", "live_answer", "live_topic")
COURSE_FIELDS = ("price", "url", "description")


@dataclass(frozen=True, slots=True)
class Change:
    """One stored revision of the knowledge, as the fold needs it."""

    kind: str
    target: str  # the FAQ entry's id, or the course's for course_edit
    payload: Mapping[str, Any]
    revision: int = 0  # the correction row's id (0: not stored, e.g. in a benchmark)
    by: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an entry's current content comes from: the file, or the creator's latest revision of it."""

    source: str  # "file" or "creator"
    revision: int | None = None
    by: str | None = None
    at: datetime | None = None


@dataclass
class Effective:
    courses: dict[str, Course]
    faq: dict[str, FaqEntry]
    origins: dict[str, Origin] = field(default_factory=dict)  # FAQ entry id → where its content comes from
    course_origins: dict[str, Origin] = field(default_factory=dict)


def change_of(kind: str, payload: Mapping[str, Any], revision: int = 0, by: str = "", at: datetime | None = None) -> Change | None:
    """The Change a stored correction makes (None for other kinds or a payload naming nothing)."""
    if kind not in KNOWLEDGE_KINDS:
        return None
    target = payload.get("course_id" if kind == "course_edit" else "faq_id")
    return Change(kind, str(target), dict(payload), revision, by, at) if target else None


def additive_changes(entries: Iterable[FaqEntry], phrasings: Mapping[str, Sequence[str]]) -> tuple[Change, ...]:
    """The changes of lessons given only as new entries and phrasings (benchmarks build Lessons that way)."""
    changes = [Change("faq_entry", e.id, {"faq_id": e.id, "question": e.question, "answer": e.answer, "course_id": e.course_id})
               for e in entries]
    changes += [Change("faq_phrasing", faq_id, {"faq_id": faq_id, "phrasing": p}) for faq_id, ps in phrasings.items() for p in ps]
    return tuple(changes)


def effective(courses: Mapping[str, Course], faq: Mapping[str, FaqEntry], changes: Iterable[Change]) -> Effective:
    """The files' courses and FAQ with every change applied, oldest first. A change that no longer applies
    (a phrasing of a retired entry, an edit that would make the entry invalid) is skipped with a warning:
    the writes validate against the knowledge of their time, and the files may have changed since."""
    course_rows = {cid: c.model_dump() for cid, c in courses.items()}
    faq_rows = {fid: f.model_dump() for fid, f in faq.items()}
    origins: dict[str, Origin] = {fid: Origin("file") for fid in faq}
    course_origins: dict[str, Origin] = {cid: Origin("file") for cid in courses}
    for change in changes:
        origin = Origin("creator", change.revision or None, change.by or None, change.at)
        p = change.payload
        if change.kind == "course_edit":
            row = course_rows.get(change.target)
            if row is None:
                log.warning("revision #%s: course %r is not in the catalog; edit skipped", change.revision, change.target)
                continue
            candidate = {**row, **{k: v for k, v in dict(p.get("after") or {}).items() if k in COURSE_FIELDS}}
            if _valid(Course, candidate, change):
                course_rows[change.target] = candidate
                course_origins[change.target] = origin
            continue
        if change.kind == "faq_entry":
            row = {"id": change.target, "question": p.get("question"), "answer": p.get("answer"), "course_id": p.get("course_id"),
                   "alternatives": list(p.get("alternatives") or []), "live_answer": p.get("live_answer"), "live_topic": p.get("live_topic")}
            if _valid(FaqEntry, row, change):
                faq_rows[change.target] = row
                origins[change.target] = origin
            continue
        row = faq_rows.get(change.target)
        if row is None:
            log.warning("revision #%s: FAQ entry %r is not there (retired or never added); %s skipped",
                        change.revision, change.target, change.kind)
            continue
        if change.kind == "faq_retire":
            del faq_rows[change.target]
            del origins[change.target]
            continue
        if change.kind == "faq_phrasing":
            phrasing = str(p.get("phrasing") or "").strip()
            if not phrasing or phrasing in (row["question"], *row["alternatives"]):
                continue
            candidate = {**row, "alternatives": [*row["alternatives"], phrasing]}
        elif change.kind == "faq_unphrase":
            candidate = {**row, "alternatives": [a for a in row["alternatives"] if a != p.get("phrasing")]}
        else:  # faq_edit
            candidate = {**row, **{k: v for k, v in dict(p.get("after") or {}).items() if k in FAQ_FIELDS}}
        if _valid(FaqEntry, candidate, change):
            faq_rows[change.target] = candidate
            origins[change.target] = origin
    return Effective(
        courses={cid: Course.model_validate(row) for cid, row in course_rows.items()},
        faq={fid: FaqEntry.model_validate(row) for fid, row in faq_rows.items()},
        origins=origins,
        course_origins=course_origins,
    )


def _valid(model: type[BaseModel], row: dict[str, Any], change: Change) -> bool:
    try:
        model.model_validate(row)
    except ValidationError as exc:
        log.warning("revision #%s of %r skipped: %s", change.revision, change.target, exc.errors()[0]["msg"])
        return False
    return True
