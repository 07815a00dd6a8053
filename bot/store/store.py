"""The Store: every read and write the bot does, as short transactions on SQLite or PostgreSQL.

Synchronous on purpose (SQLAlchemy sessions); async code calls it with `asyncio.to_thread`. The methods
are grouped by job in mixins: intake (events → decisions), queue (the outbox), admin (switches, handoffs,
takeovers, cursors, jobs, viewers, forget), proactive (DM limits), quarantine (input that could not be kept),
corrections (what the creator taught). docs/pipeline.md lists them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.privacy import Pseudonymizer, pseudonymizer_for
from bot.store.admin import AdminStore
from bot.store.corrections import CorrectionStore
from bot.store.engine import database_url, existing_engine, make_engine, session_scope
from bot.store.intake import IntakeStore, RecentTexts
from bot.store.migrate import head_revision, upgrade
from bot.store.proactive import ProactiveDmStore
from bot.store.profiles import ProfileStore
from bot.store.quarantine import QuarantineStore
from bot.store.queue import QueueStore

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The database cannot be used right now (locked past the busy timeout, server down). Retry later."""


class Store(IntakeStore, QueueStore, AdminStore, ProactiveDmStore, QuarantineStore, CorrectionStore, ProfileStore):
    def __init__(self, engine: Engine, pseudonymizer: Pseudonymizer) -> None:
        self.engine = engine
        self.pseudonymizer = pseudonymizer
        self.dialect = engine.dialect.name
        self._writer = engine.execution_options(coursebot_write=True)  # SQLite: BEGIN IMMEDIATE (see engine.py)
        self.recent_texts = RecentTexts()

    def __repr__(self) -> str:
        return f"Store({sa.engine.make_url(str(self.engine.url)).render_as_string(hide_password=True)})"

    @classmethod
    def open(cls, settings, *, migrate: bool | None = None) -> Store:
        """The configured database ([store] url or <state_dir>/coursebot.db), migrated when auto_migrate is on."""
        url = database_url(settings)
        return cls.from_url(url, pseudonymizer_for(settings), busy_timeout=settings.store.busy_timeout,
                            migrate=settings.store.auto_migrate if migrate is None else migrate)

    @classmethod
    def open_existing(cls, settings) -> Store:
        """`open` for commands that read or amend the database: one that is not there is an InputError naming
        it, not a new empty one (see engine.existing_engine)."""
        url = database_url(settings)
        try:
            engine = existing_engine(url, busy_timeout=settings.store.busy_timeout)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise StoreUnavailable(f"database unavailable while opening it: {first_line(exc)}") from exc
        store = cls(engine, pseudonymizer_for(settings))
        if settings.store.auto_migrate:
            with store.errors("migrating the database"):
                upgrade(engine)
        return store

    @classmethod
    def from_url(cls, url: str, pseudonymizer: Pseudonymizer, *, busy_timeout: float = 10.0, migrate: bool = True) -> Store:
        engine = make_engine(url, busy_timeout=busy_timeout)
        store = cls(engine, pseudonymizer)
        if migrate:
            with store.errors("migrating the database"):
                upgrade(engine)
        return store

    @functools.cached_property
    def history_engine(self) -> Engine:
        """Reads on the hot path of a recommendation (bot/store/profiles.py): on PostgreSQL a small pool of autocommit
        connections without a ping per checkout (a transaction and a ping are three round trips around a one-statement
        read; a dead connection fails that read, which leaves the content-only ranking, and is replaced)."""
        if self.dialect != "postgresql":
            return self.engine
        return sa.create_engine(self.engine.url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=4,
                                connect_args={"connect_timeout": 3})

    def close(self) -> None:
        if "history_engine" in self.__dict__ and self.history_engine is not self.engine:
            self.history_engine.dispose()
        self.engine.dispose()

    def pseudonym(self, platform: str, author_id: str) -> str:
        return self.pseudonymizer.pseudonym(platform, str(author_id))

    # -- transactions --------------------------------------------------------------------------------------
    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        with self.errors("using the database"), session_scope(self.engine, write=write) as session:
            yield session

    def write(self, statement: sa.Executable, parameters: list[dict] | None = None, *, relaxed: bool = False) -> int:
        """One statement (executed once per dict of `parameters` when given) in its own transaction, without an
        ORM session (hot paths: marking messages sent).

        `relaxed`: on PostgreSQL the commit does not wait for the WAL flush (no fsync per message). Only a
        crash of the database server itself can lose such a write, never a crash of the bot.
        """
        with self.writing(relaxed=relaxed) as connection:
            return connection.execute(statement, parameters).rowcount

    @contextmanager
    def writing(self, *, relaxed: bool = False) -> Iterator[sa.Connection]:
        """A connection in a write transaction of its own, committed on success (`relaxed`: as in `write`)."""
        with self.errors("writing to the database"), self._writer.begin() as connection:
            if relaxed and self.dialect == "postgresql":
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield connection

    @contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Database outages become one-line StoreUnavailable errors; bugs (integrity, programming) stay loud."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            raise StoreUnavailable(f"database unavailable while {doing}: {first_line(exc)}") from exc

    def schema_is_current(self) -> bool:
        from bot.store.migrate import current_revision

        return current_revision(self.engine) == head_revision()


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message` of a database error (the driver's own error when there is one)."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return f"{type(original).__name__}: {text[0] if text else ''}".strip()


def sqlite_path(store: Store) -> Path | None:
    url = store.engine.url
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database not in (None, ":memory:") else None
