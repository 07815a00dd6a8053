"""Read and edit the FAQ and catalog: the one API `coursebot faq …` and the console's Knowledge page call.

Every edit is validated by the file loaders' own validators (bot/catalog.py: the same pydantic models and the
same wording), against the effective knowledge of the moment, and stored as one revision — an append-only
`creator_corrections` row — so the knowledge version moves and every worker's Teacher folds it in before its
next comment (bot/learning/teacher.py). An edit returns the revision (kind, target, by, before → after: what an
audit row needs) or the refused fields, never both. See docs/knowledge.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.catalog import Course, FaqEntry, faq_errors, field_errors, load_catalog, unknown_course, validated_rows
from bot.learning.revisions import COURSE_FIELDS, FAQ_FIELDS, KNOWLEDGE_KINDS, Effective, Origin, change_of, effective
from bot.live.fit import fit_danmaku
from bot.storable import storable_text
from bot.store.corrections import Correction
from retrieval.errors import InputError
from retrieval.text import normalize

# Saved with every revision: longer texts are cut by the store (bot/store/rows.py clean_text) — refuse instead.
MAX_CHARS = 4000
M = TypeVar("M", FaqEntry, Course)  # what an edit revises


@dataclass(frozen=True, slots=True)
class Revision:
    """One stored change, as history and audit show it: who changed what, when, from what to what."""

    id: int
    kind: str  # faq_entry | faq_phrasing | faq_edit | faq_unphrase | faq_retire | course_edit
    target: str  # the FAQ entry's or the course's id
    by: str
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EditResult:
    """The saved revision, or the refused fields (field → the file loader's message), never both."""

    revision: Revision | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.revision is not None


@dataclass(frozen=True, slots=True)
class FaqView:
    id: str
    question: str
    answer: str
    alternatives: tuple[str, ...]
    course_id: str | None
    origin: Origin  # the file, or the creator's latest revision (who, when)
    file: str | None = None  # the file the entry comes from (edited or not); None: the creator added it
    live_answer: str | None = None
    live_topic: str | None = None

    @property
    def phrasings(self) -> tuple[str, ...]:
        return (self.question, *self.alternatives)


@dataclass(frozen=True, slots=True)
class CourseView:
    id: str
    title: str
    price: float
    url: str
    description: str
    origin: Origin


@dataclass
class ImportReport:
    added: int = 0
    edited: int = 0  # entries that changed (one or more revisions each)
    retired: int = 0
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)  # one line each: file:line: faq entry 'x': field 'y': why


def refused(**errors: str) -> EditResult:
    return EditResult(errors=errors)


class KnowledgeBase:
    """The files' knowledge (as loaded at `open`) and the store's revisions of it, read afresh for every call:
    another process (a second console, the CLI) may have written since."""

    def __init__(self, courses: dict[str, Course], faq: dict[str, FaqEntry], store: Any | None, *, faq_file: str | None = None,
                 danmaku: tuple[int, int] | None = None) -> None:
        self._courses = courses
        self._faq = faq
        self.store = store
        self.faq_file = faq_file
        self.danmaku = danmaku  # ([live] danmaku_max_chars, danmaku_parts): what a live_answer must fit; None: unchecked

    @classmethod
    def open(cls, settings: Any, store: Any) -> KnowledgeBase:
        catalog = load_catalog(settings.catalog.courses, settings.catalog.faq)
        return cls(catalog.courses, catalog.faq, store, faq_file=Path(settings.catalog.faq).name,
                   danmaku=(settings.live.danmaku_max_chars, settings.live.danmaku_parts))

    # -- reading --------------------------------------------------------------------------------------------
    def current(self) -> Effective:
        changes = [change_of(c.kind, c.payload, c.id, c.by, c.at) for c in self._revisions()]
        return effective(self._courses, self._faq, [c for c in changes if c is not None])

    def faq(self, search: str | None = None) -> list[FaqView]:
        """The effective FAQ entries in file order, then the creator's; `search` matches any of id, question,
        answer, phrasings and course (case, width and traditional/simplified folded as comments are)."""
        known = self.current()
        views = [self._view(entry, known.origins[entry.id]) for entry in known.faq.values()]
        if not search:
            return views
        wanted = normalize(search).plain
        return [v for v in views if any(wanted in normalize(t).plain for t in (v.id, v.answer, v.course_id or "", *v.phrasings))]

    def entry(self, faq_id: str) -> FaqView | None:
        known = self.current()
        entry = known.faq.get(faq_id)
        return self._view(entry, known.origins[faq_id]) if entry else None

    def courses(self, search: str | None = None) -> list[CourseView]:
        known = self.current()
        views = [CourseView(c.id, c.title, c.price, c.url, c.description, known.course_origins[c.id]) for c in known.courses.values()]
        if not search:
            return views
        wanted = normalize(search).plain
        return [v for v in views if any(wanted in normalize(t).plain for t in (v.id, v.title, v.description, v.url))]

    def history(self, target: str) -> list[Revision]:
        """Every revision of the FAQ entry or course `target`, newest first."""
        rows = [c for c in self._revisions() if (c.payload.get("course_id") if c.kind == "course_edit" else c.payload.get("faq_id")) == target]
        return [_revision(c) for c in reversed(rows)]

    # -- editing ----------------------------------------------------------------------------------------------
    def add_faq(self, by: str, *, question: Any, answer: Any, course_id: Any = None, faq_id: Any = None,
                alternatives: Iterable[Any] = (), live_answer: Any = None, live_topic: Any = None) -> EditResult:
        """A new entry; without `faq_id` its id is `creator-<revision id>`, like an answer saved as FAQ."""
        known = self.current()
        row = {"id": _text(faq_id) if faq_id not in (None, "") else "creator-0", "question": _text(question), "answer": _text(answer),
               "course_id": _text(course_id) if course_id is not None else None, "alternatives": [_text(a) for a in alternatives],
               "live_answer": _text(live_answer) if live_answer is not None else None,
               "live_topic": _text(live_topic) if live_topic is not None else None}
        errors = {**_too_long(row), **faq_errors(row, known.courses), **self._live_errors(row)}
        if faq_id not in (None, "") and "id" not in errors and row["id"] in known.faq:
            errors["id"] = f"field 'id': faq entry '{row['id']}' already exists"
        if errors:
            return EditResult(errors=errors)
        entry = FaqEntry.model_validate(row)
        alternatives = [a for a in dict.fromkeys(entry.alternatives) if a and a != entry.question]
        saved = self.store.add_faq_entry(entry.question, entry.answer, by, course_id=entry.course_id,
                                         faq_id=entry.id if faq_id not in (None, "") else None, alternatives=alternatives,
                                         live={"live_answer": entry.live_answer or "", "live_topic": entry.live_topic or ""})
        return EditResult(_revision(saved))

    def edit_faq(self, faq_id: str, by: str, **fields: Any) -> EditResult:
        """Change an entry's question, answer, course, live answer and/or live topic (`course_id`, `live_answer`,
        `live_topic` None or "": none — a general entry, the answer itself in a live room, no topic)."""
        known = self.current()
        entry = known.faq.get(faq_id)
        if entry is None:
            return refused(id=_no_entry(faq_id))

        def errors(row: dict[str, Any]) -> dict[str, str]:
            live_changed = ((row.get("live_answer") or "").strip() or None) != entry.live_answer
            return {**_too_long(row), **faq_errors(row, known.courses), **(self._live_errors(row) if live_changed else {})}

        # None clears a field (no course, no live answer); anything else is text.
        cleaned = {name: (_text(value) if value is not None else None) for name, value in fields.items()}
        return self._edit("faq_edit", by, entry, cleaned, FAQ_FIELDS, errors, key=("faq_id", faq_id),
                          label=f"faq entry '{faq_id}'", text=lambda edited: edited.question)

    def add_phrasing(self, faq_id: str, phrasing: Any, by: str) -> EditResult:
        """Another way viewers ask the entry's question: it matches from the next comment on."""
        known = self.current()
        entry = known.faq.get(faq_id)
        if entry is None:
            return refused(id=_no_entry(faq_id))
        text = _text(phrasing).strip()
        errors = _too_long({"phrasing": text}) or _phrasing_errors(entry, [*entry.alternatives, text])
        if not errors and text in (entry.question, *entry.alternatives):
            errors = {"phrasing": f"field 'phrasing': already a phrasing of faq entry '{faq_id}', got {text!r}"}
        if errors:
            return EditResult(errors=errors)
        saved = self.store.record_correction("faq_phrasing", by, text=text, payload={"faq_id": faq_id, "phrasing": text})
        return EditResult(_revision(saved))

    def remove_phrasing(self, faq_id: str, phrasing: Any, by: str) -> EditResult:
        """The phrasing stops matching from the next comment on (the entry's question is edited, not removed)."""
        entry = self.current().faq.get(faq_id)
        if entry is None:
            return refused(id=_no_entry(faq_id))
        text = _text(phrasing).strip()
        if text == entry.question:
            return refused(phrasing=f"field 'phrasing': is the question of faq entry '{faq_id}'; edit the question instead")
        if text not in entry.alternatives:
            return refused(phrasing=f"field 'phrasing': not a phrasing of faq entry '{faq_id}', got {text!r}")
        saved = self.store.record_correction("faq_unphrase", by, text=text, payload={"faq_id": faq_id, "phrasing": text})
        return EditResult(_revision(saved))

    def retire_faq(self, faq_id: str, by: str) -> EditResult:
        """The entry no longer answers; its content is kept in the revision (history shows it)."""
        entry = self.current().faq.get(faq_id)
        if entry is None:
            return refused(id=_no_entry(faq_id))
        saved = self.store.record_correction("faq_retire", by, text=entry.question,
                                             payload={"faq_id": faq_id, "before": _entry_fields(entry)})
        return EditResult(_revision(saved))

    def edit_course(self, course_id: str, by: str, **fields: Any) -> EditResult:
        """Change a course's price, link and/or description (why only these: bot/learning/revisions.py)."""
        course = self.current().courses.get(course_id)
        if course is None:
            return refused(id=f"field 'id': no course '{course_id}' in the catalog")
        cleaned = {name: (_text(value) if isinstance(value, str) else value) for name, value in fields.items()}  # a price stays a number
        return self._edit("course_edit", by, course, cleaned, COURSE_FIELDS, lambda row: {**_too_long(row), **field_errors(Course, row)},
                          key=("course_id", course_id), label=f"course '{course_id}'", text=lambda _: course.title)

    def _edit(self, kind: str, by: str, current: M, fields: dict[str, Any], editable: Sequence[str],
              errors: Callable[[dict[str, Any]], dict[str, str]], *, key: tuple[str, str], label: str,
              text: Callable[[M], str]) -> EditResult:
        """One revision of an entry or a course: the fields that really change, before and after, or the errors by
        field in the file loaders' words."""
        not_editable = sorted(set(fields) - set(editable))
        if not_editable:
            return refused(**{name: f"field '{name}': not editable here (editable: {', '.join(editable)})" for name in not_editable})
        row = {**current.model_dump(), **fields}
        problems = errors(row)
        if problems:
            return EditResult(errors=problems)
        edited = type(current).model_validate(row)
        before = {name: getattr(current, name) for name in fields if getattr(current, name) != getattr(edited, name)}
        if not before:
            return refused(entry=f"{label}: nothing to change")
        after = {name: getattr(edited, name) for name in before}
        saved = self.store.record_correction(kind, by, text=text(edited), payload={key[0]: key[1], "before": before, "after": after})
        return EditResult(_revision(saved))

    # -- files ------------------------------------------------------------------------------------------------
    def export_faq(self, path: Path) -> int:
        """Write the effective FAQ as a YAML file `load_faq` (and `import_faq`) accept; the entries written."""
        rows = [_entry_fields(entry, extras=True) for entry in self.current().faq.values()]
        _write_yaml(path, "faq", rows, "FAQ: the files' entries with the creator's revisions (coursebot faq export)")
        return len(rows)

    def export_courses(self, path: Path) -> int:
        rows = [course.model_dump() for course in self.current().courses.values()]
        _write_yaml(path, "courses", rows, "Courses: catalog.yaml with the creator's revisions (coursebot faq export)")
        return len(rows)

    def import_faq(self, path: Path, by: str, *, prune: bool = False) -> ImportReport:
        """Load a FAQ file (.yaml/.json/.csv, the loader's formats) as revisions: new ids are added, changed
        entries edited (question/answer/course as one edit, phrasings added and removed one by one), and with
        `prune` entries the file does not have are retired. A bad row is refused with file, line and field; the
        rest load. A file that cannot be read at all raises InputError."""
        known = self.current()
        report = ImportReport()
        seen: dict[str, int] = {}
        rows = list(validated_rows(path, "faq", FaqEntry, "faq entry"))
        if not rows:
            raise InputError(f"{path}: no faq entry entries found; the faq list is empty")
        for line, entry, error in rows:
            label = f"{path}:{line}" if line else str(path)
            if error is None and entry.id in seen:
                error = f"{label}: faq entry id '{entry.id}' duplicates line {seen[entry.id]}"
            if error is None:
                problem = unknown_course(entry.course_id, known.courses) or next(iter(_too_long(entry.model_dump()).values()), None)
                error = f"{label}: faq entry '{entry.id}': {problem}" if problem else None
            if error is not None:
                report.refused.append(error)
                continue
            seen[entry.id] = line
            self._import_entry(entry, known.faq.get(entry.id), by, report, label)
        if prune:
            for faq_id in [i for i in known.faq if i not in seen]:
                self.retire_faq(faq_id, by)
                report.retired += 1
        return report

    def _import_entry(self, entry: FaqEntry, current: FaqEntry | None, by: str, report: ImportReport, label: str) -> None:
        if current is None:
            result = self.add_faq(by, question=entry.question, answer=entry.answer, course_id=entry.course_id, faq_id=entry.id,
                                  alternatives=entry.alternatives, live_answer=entry.live_answer, live_topic=entry.live_topic)
            if result.ok:
                report.added += 1
            else:  # e.g. a live_answer longer than the room's danmaku: the loader's shape, file:line first
                report.refused.append(f"{label}: faq entry '{entry.id}': {next(iter(result.errors.values()))}")
            return
        changed = {name: getattr(entry, name) for name in FAQ_FIELDS if getattr(entry, name) != getattr(current, name)}
        results = [self.edit_faq(entry.id, by, **changed)] if changed else []
        wanted = [a for a in dict.fromkeys(entry.alternatives) if a and a != entry.question]
        results += [self.remove_phrasing(entry.id, a, by) for a in current.alternatives if a not in wanted]
        results += [self.add_phrasing(entry.id, a, by) for a in wanted if a not in current.alternatives]
        report.refused += [f"{label}: faq entry '{entry.id}': {message}" for r in results for message in r.errors.values()]
        if any(r.ok for r in results):
            report.edited += 1
        else:
            report.unchanged += 1

    def _live_errors(self, row: dict[str, Any]) -> dict[str, str]:
        """A live answer must fit the room's danmaku as the live policy will split it (bot/live/fit.py): one that
        does not is never said, so it is refused here rather than discovered during a live."""
        text = (row.get("live_answer") or "").strip()
        if not text or self.danmaku is None:
            return {}
        limit, parts = self.danmaku
        if fit_danmaku(text, limit, parts) is None:
            room = f"{parts} danmaku of {limit} characters" if parts > 1 else f"one danmaku of {limit} characters"
            return {"live_answer": f"field 'live_answer': must fit {room} ([live] danmaku_max_chars), got {len(text)} characters"}
        return {}

    def _view(self, entry: FaqEntry, origin: Origin) -> FaqView:
        return FaqView(entry.id, entry.question, entry.answer, tuple(entry.alternatives), entry.course_id, origin,
                       (self.faq_file or "file") if entry.id in self._faq else None, entry.live_answer, entry.live_topic)

    def _revisions(self) -> list[Correction]:
        return self.store.corrections(KNOWLEDGE_KINDS) if self.store is not None else []  # no database: no edits yet


def _text(value: Any) -> str:
    """A form's or a file's value as the text the store keeps (no control characters): validated as stored."""
    return storable_text(value)


def _too_long(row: dict[str, Any]) -> dict[str, str]:
    texts = {name: value for name, value in row.items() if isinstance(value, str)}
    texts.update({f"{name}": v for name, values in row.items() if isinstance(values, list) for v in values if isinstance(v, str)})
    return {name: f"field '{name}': at most {MAX_CHARS} characters, got {len(value)}" for name, value in texts.items() if len(value) > MAX_CHARS}


def _phrasing_errors(entry: FaqEntry, alternatives: list[str]) -> dict[str, str]:
    """A phrasing validated as the loader validates an entry's alternatives (an empty one is refused here:
    the loader drops empty cells of a list, but a phrasing typed into a form is one value)."""
    if not alternatives[-1]:
        return {"phrasing": "field 'phrasing': string should have at least 1 character, got ''"}
    errors = field_errors(FaqEntry, {**entry.model_dump(), "alternatives": alternatives})
    return {"phrasing": errors["alternatives"]} if "alternatives" in errors else {}


def _no_entry(faq_id: str) -> str:
    return f"field 'id': no faq entry '{faq_id}' (coursebot faq list shows them)"


def _entry_fields(entry: FaqEntry, *, extras: bool = False) -> dict[str, Any]:
    """An entry in the file loaders' shape (id, question, alternatives, answer, course_id, then any extra keys)."""
    row = {"id": entry.id, "question": entry.question, "alternatives": list(entry.alternatives), "answer": entry.answer,
           "course_id": entry.course_id}
    row.update({name: getattr(entry, name) for name in ("live_answer", "live_topic") if getattr(entry, name)})
    if extras:
        row.update({k: v for k, v in entry.model_dump().items() if k not in row})
    return row


def _revision(c: Correction) -> Revision:
    p = c.payload
    if c.kind == "faq_entry":
        before, after = {}, {k: p[k] for k in ("question", "answer", "course_id", "alternatives", "live_answer", "live_topic") if k in p}
    elif c.kind == "faq_phrasing":
        before, after = {}, {"phrasing": p.get("phrasing")}
    elif c.kind == "faq_unphrase":
        before, after = {"phrasing": p.get("phrasing")}, {}
    elif c.kind == "faq_retire":
        before, after = dict(p.get("before") or {}), {}
    else:
        before, after = dict(p.get("before") or {}), dict(p.get("after") or {})
    target = p.get("course_id") if c.kind == "course_edit" else p.get("faq_id")
    return Revision(c.id, c.kind, str(target), c.by, c.at, before, after)


def _write_yaml(path: Path, key: str, rows: list[dict[str, Any]], title: str) -> None:
    text = yaml.safe_dump({key: rows}, allow_unicode=True, sort_keys=False, width=10_000)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"# {title}\n{text}", encoding="utf-8")
    tmp.replace(path)
