"""Databases for the metrics tests: a fresh SQLite file, and the real PostgreSQL server at 127.0.0.1:5432
(database `test`) in a private schema per test, so engineers and CI jobs sharing the server never collide.

The schema is created by the store's own alembic migrations, exactly as `coursebot db upgrade` does.
PostgreSQL tests skip with the reason only when the server is unreachable and `CI` is unset.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.store.engine import make_engine
from bot.store.migrate import upgrade

POSTGRES_URL = os.environ.get("COURSEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_or_skip() -> None:
    try:
        probe = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with probe.connect():
            pass
        probe.dispose()
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}); CI requires it")


def sqlite_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def postgres_engine() -> tuple[Engine, str]:
    """An engine whose connections live in a fresh schema (dropped by `drop_postgres_schema`)."""
    _postgres_or_skip()
    schema = f"metrics_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    engine = sa.create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True)
    upgrade(engine)
    return engine, schema


def drop_postgres_schema(engine: Engine, schema: str) -> None:
    engine.dispose()
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty coursebot database on each backend."""
    if request.param == "sqlite":
        db = sqlite_engine(tmp_path / "coursebot.db")
        yield db
        db.dispose()
        return
    db, schema = postgres_engine()
    yield db
    drop_postgres_schema(db, schema)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    db = sqlite_engine(tmp_path / "coursebot.db")
    yield db
    db.dispose()
