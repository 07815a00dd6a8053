"""The creator's courses and FAQ, loaded from YAML, JSON or CSV with errors that name file, line and field.

Creators edit catalogs in spreadsheets, so CSV is a first-class format: list fields (tags, aliases,
alternatives) are separated by `|` or `;` in one cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retrieval.errors import InputError
from retrieval.search import Document

_SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_LIST_SPLIT = re.compile(r"\s*[|;；]\s*")


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in _LIST_SPLIT.split(value.strip()) if part]
    return value


def _blank_is_none(value: Any) -> Any:
    return None if value in ("", "null", "None") else value


class Course(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(pattern=_SLUG)
    title: str = Field(min_length=1)
    description: str = ""
    tags: list[str] = []
    level: Literal["beginner", "intermediate", "advanced"] = "beginner"
    price: float = Field(ge=0)
    url: str = Field(pattern=r"^https?://\S+$")
    aliases: list[str] = []

    _lists = field_validator("tags", "aliases", mode="before")(_as_list)

    @property
    def is_free(self) -> bool:
        return self.price == 0

    def price_text(self) -> str:
        return "免费" if self.is_free else f"{self.price:g}"

    def document(self) -> Document:
        phrasings = [self.title, f"{self.title}：{self.description}" if self.description else self.title]
        phrasings += [alias for alias in self.aliases if alias]
        if self.tags:
            phrasings.append(" ".join(self.tags))
        return Document(
            id=f"course:{self.id}", kind="course", title=self.title,
            phrasings=tuple(dict.fromkeys(phrasings)), course_id=self.id,
        )


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(pattern=_SLUG)
    question: str = Field(min_length=1)
    alternatives: list[str] = []
    answer: str = Field(min_length=1)
    course_id: str | None = None
    live_answer: str | None = None  # short form for a live room's danmaku (20 characters for ordinary accounts)
    live_topic: str | None = None  # what the question is about, for "问<topic>的同学：" when answering many at once

    _lists = field_validator("alternatives", mode="before")(_as_list)

    _optional = field_validator("course_id", "live_answer", "live_topic", mode="before")(_blank_is_none)

    def document(self) -> Document:
        phrasings = tuple(dict.fromkeys([self.question, *self.alternatives]))
        return Document(id=f"faq:{self.id}", kind="faq", title=self.question, phrasings=phrasings, course_id=self.course_id)


@dataclass(frozen=True)
class Catalog:
    courses: dict[str, Course]
    faq: dict[str, FaqEntry]

    def documents(self) -> list[Document]:
        return [c.document() for c in self.courses.values()] + [f.document() for f in self.faq.values()]

    def course_terms(self) -> list[str]:
        """Course titles, aliases and tags: words jieba must keep whole."""
        words = set()
        for course in self.courses.values():
            words.update([course.title, *course.aliases, *course.tags])
        return sorted(w for w in words if 1 < len(w) <= 20)


# -- loading ------------------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """A user file as text, or one line saying why not."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a file") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}:{line}: not UTF-8 (invalid byte at offset {exc.start}); save it as UTF-8") from None


def _yaml_rows(path: Path, text: str, key: str) -> Iterator[tuple[int, Any]]:
    """Rows of a YAML list under `key` (or a bare list), each with the line it starts on."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    node = root
    if isinstance(root, yaml.MappingNode):
        node = next((v for k, v in root.value if k.value == key), None)
        if node is None:
            raise InputError(f"{path}:1: expected a top-level '{key}:' list")
    if not isinstance(node, yaml.SequenceNode):
        line = node.start_mark.line + 1 if node is not None else 1
        raise InputError(f"{path}:{line}: '{key}' must be a list of entries")
    loader = yaml.SafeLoader("")
    for item in node.value:
        yield item.start_mark.line + 1, loader.construct_document(item)


def _json_rows(path: Path, text: str, key: str) -> Iterator[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    rows = data.get(key) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InputError(f"{path}:1: expected a list of entries (or {{\"{key}\": [...]}})")
    # JSON keeps no line numbers; find each entry's id in the text to point near it. The search moves
    # forward, so a duplicate id points at its own line, not at the first entry with that id.
    searched_to = 0
    for row in rows:
        line = 0
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            pattern = r'"id"\s*:\s*' + re.escape(json.dumps(row["id"], ensure_ascii=False))
            found = re.compile(pattern).search(text, searched_to)
            if found:
                line = text.count("\n", 0, found.start()) + 1
                searched_to = found.end()
        yield line, row


def _csv_rows(path: Path, text: str, key: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        return
    for row in reader:
        if None in row:
            raise InputError(f"{path}:{reader.line_num}: more cells than the {len(reader.fieldnames)} columns of the header")
        yield reader.line_num, {k.strip(): (v.strip() if v is not None else "") for k, v in row.items() if k}


_READERS = {".yaml": _yaml_rows, ".yml": _yaml_rows, ".json": _json_rows, ".csv": _csv_rows}


def _rows(path: Path, key: str) -> Iterator[tuple[int, Any]]:
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: unknown format '{path.suffix}', expected .yaml, .json or .csv")
    return reader(path, read_text(path), key)


def _describe(error: dict[str, Any]) -> str:
    field = ".".join(str(p) for p in error["loc"]) or "entry"
    given = error.get("input")
    if error["type"] == "missing":
        return f"missing required field '{field}'"
    shown = repr(given) if not isinstance(given, dict) else "an object"
    message = error["msg"][:1].lower() + error["msg"][1:]  # not .lower(): it would turn a pattern's \S into \s
    return f"field '{field}': {message}, got {shown}"


def _field(error: dict[str, Any]) -> str:
    """The top-level field an error is about ("alternatives" for a bad "alternatives.2"): a form shows it there."""
    return str(error["loc"][0]) if error["loc"] else "entry"


# -- one validator per field, shared by the file loaders and the knowledge edits (bot/learning/knowledge_base.py) --


def field_errors(model: type[BaseModel], row: dict[str, Any]) -> dict[str, str]:
    """Every invalid field of `row` (the first problem of each), worded exactly as the file loaders word it."""
    try:
        model.model_validate(row)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            errors.setdefault(_field(error), _describe(error))
        return errors
    return {}


def unknown_course(course_id: str | None, courses: dict[str, Course]) -> str | None:
    """Why an FAQ entry's `course_id` is refused (None: it is fine)."""
    if course_id is not None and course_id not in courses:
        return f"field 'course_id': unknown course '{course_id}'"
    return None


def faq_errors(row: dict[str, Any], courses: dict[str, Course]) -> dict[str, str]:
    """`field_errors` of an FAQ entry plus its course reference: the whole of what `load_faq` checks per entry."""
    errors = field_errors(FaqEntry, row)
    if "course_id" not in errors:
        course = unknown_course(_blank_is_none(row.get("course_id")), courses)
        if course:
            errors["course_id"] = course
    return errors


def validated_rows(path: Path, key: str, model: type[BaseModel], what: str) -> Iterator[tuple[int, Any, str | None]]:
    """(line, entry, None) for each valid row, (line, None, the one-line error) for each invalid one."""
    for line, row in _rows(path, key):
        label = f"{path}:{line}" if line else str(path)
        if not isinstance(row, dict):
            yield line, None, f"{label}: each {what} must be a mapping of fields, got {type(row).__name__}"
            continue
        name = f"{what} '{row.get('id')}'" if row.get("id") else what
        try:
            yield line, model.model_validate(row), None
        except ValidationError as exc:
            yield line, None, f"{label}: {name}: {_describe(exc.errors()[0])}"


def _load_entries(path: Path, key: str, model: type[BaseModel], what: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Validated entries by id, and the line each one starts on."""
    entries: dict[str, Any] = {}
    where: dict[str, int] = {}
    for line, entry, error in validated_rows(path, key, model, what):
        if error is not None:
            raise InputError(error)
        label = f"{path}:{line}" if line else str(path)
        if entry.id in entries:
            raise InputError(f"{label}: {what} id '{entry.id}' duplicates line {where[entry.id]}")
        entries[entry.id] = entry
        where[entry.id] = line
    if not entries:
        raise InputError(f"{path}: no {what} entries found; the {key} list is empty")
    return entries, where


def load_courses(path: Path) -> dict[str, Course]:
    return _load_entries(path, "courses", Course, "course")[0]


def load_faq(path: Path, courses: dict[str, Course] | None = None) -> dict[str, FaqEntry]:
    entries, where = _load_entries(path, "faq", FaqEntry, "faq entry")
    if courses is not None:
        for entry in entries.values():
            problem = unknown_course(entry.course_id, courses)
            if problem:
                raise InputError(f"{path}:{where[entry.id]}: faq entry '{entry.id}': {problem}")
    return entries


def load_catalog(courses_path: Path, faq_path: Path) -> Catalog:
    courses = load_courses(courses_path)
    return Catalog(courses=courses, faq=load_faq(faq_path, courses))
