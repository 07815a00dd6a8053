"""Fixtures for the live-room tests: a fake Bilibili live on a random local port, and an API client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from fake_server import BILI_JCT, CREATOR, SESSDATA, FakeLive

from bot.adapters.bilibili_live import LiveApi


# The server must live on the test's own event loop (async fixtures default to the session loop here).
@pytest_asyncio.fixture(loop_scope="function")
async def live() -> AsyncIterator[FakeLive]:
    server = FakeLive()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_api(live: FakeLive) -> Callable[..., LiveApi]:
    def make(**overrides: object) -> LiveApi:
        options: dict[str, object] = {"live_api_base": live.base_url, "api_base": live.base_url, "sessdata": SESSDATA,
                                      "bili_jct": BILI_JCT, "uid": CREATOR}
        return LiveApi(**{**options, **overrides})

    return make
