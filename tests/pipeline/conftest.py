"""Fixtures for the reply pipeline: real databases (SQLite file, PostgreSQL on 127.0.0.1), real model.

PostgreSQL: every test gets its own database `coursebot_test_<random>` on the server named by
`TEST_POSTGRES_URL` (default the local `test` database's server), dropped afterwards, so engineers running
tests at once never collide. No server → skip with the reason, unless `CI` is set (then it fails).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pipeline_helpers import TEST_KEY, Comments

from bot.analysis import Analyzer
from bot.config import Settings
from bot.events import Sink
from bot.privacy import Pseudonymizer
from bot.runner import Runner, event_clock
from bot.store import Store

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    engine = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        engine.connect().close()
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {engine.url.render_as_string(hide_password=True)}: {str(exc.orig).splitlines()[0]}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run)")
        pytest.skip(f"{reason}; set TEST_POSTGRES_URL or start the server (CI=1 turns this skip into a failure)")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: sa.Engine) -> Iterator[str]:
    """A fresh, empty database on the server; dropped after the test."""
    name = f"coursebot_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    with postgres_admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'coursebot.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'coursebot.db'}"


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


@pytest.fixture
def store(db_url: str, pseudonymizer: Pseudonymizer) -> Iterator[Store]:
    store = Store.from_url(db_url, pseudonymizer, busy_timeout=5)
    yield store
    store.close()


@pytest.fixture
def make_runner(analyzer: Analyzer, settings_factory: Callable[..., Settings]) -> Callable[..., Runner]:
    """`make_runner(store, sinks=None, policy={...}, clock=event_clock, **settings)` → a Runner on the real model."""

    def make(store: Store, sinks: dict[str, Sink] | None = None, *, clock=event_clock, **overrides: Any) -> Runner:
        settings = settings_factory(**overrides)
        return Runner.open(settings, sinks, analyzer=analyzer, store=store, clock=clock)

    return make




@pytest.fixture
def comment() -> Comments:
    return Comments()
