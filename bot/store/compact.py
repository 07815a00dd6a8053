"""Rewrite coursebot's tables so the bytes of deleted or blanked rows (e.g. after `forget`) leave the data files.

Neither database overwrites a row when it is deleted or updated: PostgreSQL keeps the old tuple in the
table's file (a plain VACUUM only marks the space reusable), SQLite keeps the old page content on its free
list and in the WAL. VACUUM FULL (PostgreSQL) and VACUUM (SQLite) write every table anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.store.models import TABLES


@dataclass(frozen=True, slots=True)
class Compacted:
    bytes_before: int
    bytes_after: int


def compact(engine: Engine) -> Compacted:
    """VACUUM FULL coursebot's tables on PostgreSQL (each is locked while it is rewritten), VACUUM on SQLite
    (the whole file; the WAL is truncated after it)."""
    if engine.dialect.name == "sqlite":
        return _sqlite(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # VACUUM refuses a transaction
        existing = set(sa.inspect(conn).get_table_names())  # a database not yet at the newest revision lacks some
        names = [table.__tablename__ for table in TABLES if table.__tablename__ in existing]
        before = _postgres_size(conn, names)
        conn.exec_driver_sql("VACUUM (FULL, ANALYZE) " + ", ".join(f'"{name}"' for name in names))
        return Compacted(before, _postgres_size(conn, names))


def _postgres_size(conn: sa.Connection, names: list[str]) -> int:
    sizes = conn.execute(sa.text("SELECT coalesce(sum(pg_total_relation_size(to_regclass(n))), 0) FROM unnest(CAST(:names AS text[])) AS n"),
                         {"names": names})
    return int(sizes.scalar_one())


def _sqlite(engine: Engine) -> Compacted:
    database = engine.url.database
    files = [Path(database), Path(f"{database}-wal")] if database and database != ":memory:" else []

    def size() -> int:
        return sum(f.stat().st_size for f in files if f.exists())

    before = size()
    raw = engine.raw_connection()  # the driver connection: autocommit (see engine.py), so VACUUM may run
    try:
        raw.driver_connection.execute("VACUUM")  # type: ignore[union-attr]
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    finally:
        raw.close()
    return Compacted(before, size())
