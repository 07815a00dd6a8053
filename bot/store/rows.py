"""Small SQL helpers shared by the store mixins: portable insert-or-ignore, text that every backend accepts."""

from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.storable import storable_text

MAX_TEXT = 20_000  # characters kept of one comment (the analyzer reads far less)
MAX_RAW_STRING = 4_000


def insert_ignore(session: Session, dialect: str, model: type, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """INSERT … ON CONFLICT (keys) DO NOTHING: concurrent workers may insert the same row; the first wins."""
    insert_rows(session, dialect, model, rows, ignore_conflicts_on=keys)


def insert_rows(session: Session, dialect: str, model: type, rows: Sequence[dict[str, Any]], *,
                ignore_conflicts_on: Sequence[str] | None = None) -> None:
    """INSERT rows (all with the same keys; an `id` of None is left to the database) in one statement.

    On PostgreSQL the rows go as one JSON document, `INSERT … SELECT … FROM json_populate_recordset(…)`: one
    fixed statement (prepared once per connection) that reads the batch as a row source, where an
    executemany runs one INSERT per row on the server and formats every row's parameters in Python
    (benchmarks/pipeline.py: about a fifth less database CPU per event). Elsewhere an executemany."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    names = tuple(name for name, value in rows[0].items() if not (name == "id" and value is None))
    values = [{name: row[name] for name in names} for row in rows]
    if dialect == "postgresql" and (document := _json_rows(values)) is not None:
        statement = _recordset_insert(table, names, tuple(ignore_conflicts_on or ()), ignore_conflicts_on is not None)
        session.connection().execute(statement, {"rows": document})
        return
    module = postgresql if dialect == "postgresql" else sqlite
    statement = sa.insert(table) if ignore_conflicts_on is None else \
        module.insert(table).on_conflict_do_nothing(index_elements=list(ignore_conflicts_on))
    session.connection().execute(statement, values)


@functools.lru_cache(maxsize=64)
def _recordset_insert(table: sa.Table, names: tuple[str, ...], keys: tuple[str, ...], ignore: bool) -> sa.Executable:
    source = _recordset(table, names)
    statement = postgresql.insert(table).from_select(list(names), sa.select(*(source.c[name] for name in names)))
    return statement.on_conflict_do_nothing(index_elements=list(keys)) if ignore else statement


def update_rows(connection: sa.Connection, dialect: str, model: type, rows: Sequence[dict[str, Any]], **same: Any) -> None:
    """UPDATE each row `id` with its own values (every row with the same keys) and the values in `same`.

    On PostgreSQL one `UPDATE … FROM json_populate_recordset(…)`, as `insert_rows`; elsewhere an executemany."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    names = tuple(name for name in rows[0] if name != "id")
    fixed = {f"s_{name}": value for name, value in same.items()}
    if dialect == "postgresql" and (document := _json_rows(rows)) is not None:
        connection.execute(_recordset_update(table, names, tuple(same)), {"rows": document, **fixed})
        return
    statement = sa.update(table).where(table.c.id == sa.bindparam("r_id")).values(
        {name: sa.bindparam(f"r_{name}") for name in names} | {name: sa.bindparam(f"s_{name}") for name in same})
    connection.execute(statement, [{f"r_{name}": value for name, value in row.items()} | fixed for row in rows])


@functools.lru_cache(maxsize=64)
def _recordset_update(table: sa.Table, names: tuple[str, ...], same: tuple[str, ...]) -> sa.Executable:
    source = _recordset(table, ("id", *names))
    values = {name: source.c[name] for name in names} | {name: sa.bindparam(f"s_{name}", type_=table.c[name].type) for name in same}
    return sa.update(table).where(table.c.id == source.c.id).values(values)


def _recordset(table: sa.Table, names: Sequence[str]) -> Any:
    """The rows of the JSON array parameter `rows` as a table with `table`'s column types."""
    record = sa.literal_column(f"NULL::{postgresql.dialect().identifier_preparer.format_table(table)}")
    return sa.func.json_populate_recordset(record, sa.cast(sa.bindparam("rows", type_=sa.Text()), postgresql.JSON)).table_valued(*names)


def _json_rows(rows: Sequence[dict[str, Any]]) -> str | None:
    """The rows as a JSON array for `_recordset`, or None when a value is NaN or infinity (not JSON): the caller's
    executemany stores those."""
    try:
        return json.dumps(rows, default=_json_value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return None


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # as UTCDateTime refuses them
            raise TypeError(f"naive datetime {value!r}: coursebot stores timezone-aware UTC only")
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def clean_text(text: str | None, limit: int = MAX_TEXT) -> str:
    """Storable text (bot/storable.py: no NUL or other control characters, no lone surrogates), cut at `limit`.
    Events arrive clean already; this covers what else reaches a row (raw payloads, reasons)."""
    if not text:
        return ""
    return storable_text(text)[:limit]


def clean_json(value: Any) -> Any:
    """A JSON-safe copy: storable strings and keys, long strings cut, non-JSON values (NaN too) as their text."""
    if isinstance(value, dict):
        return {clean_text(str(k), 200): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if isinstance(value, str):
        return clean_text(value, MAX_RAW_STRING)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinity are not JSON (PostgreSQL refuses them): kept as their text
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return clean_text(str(value), MAX_RAW_STRING)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def chunks(items: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def pairs_in(platform_col: sa.ColumnElement, id_col: sa.ColumnElement, pairs: set[tuple[str, str]]) -> sa.ColumnElement[bool]:
    """Rows whose (platform, id) is one of `pairs`: per platform, `platform = p AND id IN (…)`. A row-value IN
    becomes one OR branch per pair on PostgreSQL (planning 256 threads took 49 ms, executing 12), and plain
    `platform IN … AND id IN …` made it walk every event of the platform; one branch per platform plans in
    under a millisecond and reads only the (platform, id) index entries asked for."""
    ids: dict[str, list[str]] = defaultdict(list)
    for platform, item_id in sorted(pairs):
        ids[platform].append(item_id)
    return sa.or_(*(sa.and_(platform_col == platform, id_col.in_(items)) for platform, items in ids.items()))
