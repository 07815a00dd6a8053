"""Fixtures for the reply pipeline: real databases (SQLite file, PostgreSQL on 127.0.0.1), real model.

PostgreSQL: every test gets its own database `coursebot_test_<random>` on the server named by
`TEST_POSTGRES_URL` (default the local `test` database's server), dropped afterwards, so engineers running
tests at once never collide. No server → skip with the reason, unless `CI` is set (then it fails).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from db_fixtures import db_url, postgres_admin, postgres_url  # noqa: F401 - fixtures
from pipeline_helpers import TEST_KEY, Comments

from bot.analysis import Analyzer
from bot.config import Settings
from bot.events import Sink
from bot.privacy import Pseudonymizer
from bot.runner import Runner, event_clock
from bot.store import Store


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'coursebot.db'}"


@pytest.fixture
def pseudonymizer() -> Pseudonymizer:
    return Pseudonymizer(TEST_KEY)


@pytest.fixture
def store(db_url: str, pseudonymizer: Pseudonymizer) -> Iterator[Store]:  # noqa: F811 - the imported fixture, requested
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
