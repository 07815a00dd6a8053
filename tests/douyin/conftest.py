"""Fixtures for the Douyin adapter tests: the webhook served on a random local port, a fake open API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from db_fixtures import db_url, postgres_admin, postgres_url  # noqa: F401 - fixtures
from douyin_harness import Webhook, running_webhook
from fake_douyin import FakeDouyin

from bot.privacy import Pseudonymizer
from bot.store import Store

STORE_KEY = b"d" * 32


# Servers must live on the test's own event loop (async fixtures default to the session loop here).
@pytest_asyncio.fixture(loop_scope="function")
async def hook() -> AsyncIterator[Webhook]:
    async with running_webhook(max_body_bytes=64 * 1024) as webhook:
        yield webhook


@pytest_asyncio.fixture(loop_scope="function")
async def fake_douyin() -> AsyncIterator[FakeDouyin]:
    server = FakeDouyin()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:  # noqa: F811 - the imported fixture, requested
    """A migrated store on SQLite and on PostgreSQL (where proactive-DM counts live)."""
    opened = Store.from_url(db_url, Pseudonymizer(STORE_KEY))
    yield opened
    opened.close()
