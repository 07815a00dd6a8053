"""Database fixtures for adapter tests that keep state in the store: `db_url` runs a test on SQLite and on a
fresh PostgreSQL database (skipped without a server, a failure under CI). Import them into a conftest."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

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
