"""Database engines: an SQLite file under state_dir by default, any SQLAlchemy URL (PostgreSQL) by config.

The same code runs on both. SQLite gets WAL (readers never block the writer), a busy timeout (a
second process waits instead of failing) and foreign keys; PostgreSQL gets pre-ping so a restarted
server costs one retry, not a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from retrieval.errors import InputError

DEFAULT_DB_NAME = "coursebot.db"
_HOW_TO_CREATE = ("`coursebot db upgrade` creates it, `coursebot run`, `replay` or `import` fill it; "
                  "another database: --state-dir, COURSEBOT_STATE_DIR or [store] url")


def default_url(state_dir: Path) -> str:
    return f"sqlite:///{(Path(state_dir) / DEFAULT_DB_NAME).resolve()}"


def database_url(settings) -> str:
    """`[store] url` from the config (or COURSEBOT_STORE__URL), else the SQLite file in state_dir."""
    url = getattr(getattr(settings, "store", None), "url", None)
    return url or default_url(settings.state_dir)


def make_engine(url: str, *, busy_timeout: float = 10.0, echo: bool = False) -> Engine:
    """An engine for `url`; creates the SQLite file's directory when needed."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, echo=echo, connect_args={"timeout": busy_timeout, "check_same_thread": False},
        )
        _sqlite_pragmas(engine, busy_timeout)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, connect_args={"connect_timeout": max(1, int(busy_timeout))})


def require_sqlite_file(url: str) -> None:
    """The cheap half of `existing_engine`, for commands to check before loading anything heavy."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_file():
            raise InputError(f"no coursebot database at {path}: {_HOW_TO_CREATE}")


def existing_engine(url: str, *, busy_timeout: float = 10.0) -> Engine:
    """An engine for a database that must already be there (commands that read or amend one): a missing
    SQLite file, or a database without coursebot's tables, is a one-line error naming it, never created
    silently (an empty new database would only answer "nothing here" about the wrong place)."""
    from bot.store.migrate import current_revision

    require_sqlite_file(url)
    parsed = sa.engine.make_url(url)
    engine = make_engine(url, busy_timeout=busy_timeout)
    try:
        revision = current_revision(engine)
    except BaseException:
        engine.dispose()
        raise
    if revision is None:
        engine.dispose()
        raise InputError(f"{parsed.render_as_string(hide_password=True)}: no coursebot tables in this database: {_HOW_TO_CREATE}")
    return engine


def _sqlite_pragmas(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every SQLite test
        # pysqlite's own transaction handling would defer BEGIN; let SQLAlchemy emit it (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # IMMEDIATE takes the write lock up front: two workers claiming outbox rows serialise instead of
        # both reading 'pending' and one failing later with "database is locked" mid-transaction.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get("coursebot_write") else "BEGIN")


@contextmanager
def session_scope(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commits on success, rolls back on any exception."""
    bind = engine.execution_options(coursebot_write=True) if write else engine  # read by the SQLite BEGIN hook
    with Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
