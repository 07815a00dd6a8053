"""Fixtures for the Douyin adapter tests: the webhook served on a random local port, a fake open API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from douyin_harness import Webhook, running_webhook
from fake_douyin import FakeDouyin


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
