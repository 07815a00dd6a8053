"""Fixtures for the Bilibili adapter tests: a fake Bilibili on a random local port, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from fake_bilibili import BILI_JCT, CREATOR, SESSDATA, FakeBilibili

from bot.adapters.bilibili import BilibiliClient


# The server must live on the test's own event loop (async fixtures default to the session loop here).
@pytest_asyncio.fixture(loop_scope="function")
async def fake() -> AsyncIterator[FakeBilibili]:
    server = FakeBilibili()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make_client(fake: FakeBilibili) -> Callable[..., BilibiliClient]:
    def make(**overrides: object) -> BilibiliClient:
        options: dict[str, object] = {"api_base": fake.base_url, "vc_base": fake.base_url, "sessdata": SESSDATA,
                                      "bili_jct": BILI_JCT, "uid": CREATOR}
        return BilibiliClient(**{**options, **overrides})

    return make


class Recorder:
    """Stands in for asyncio.sleep / the creator alert: records what it was asked, returns at once."""

    def __init__(self) -> None:
        self.calls: list[object] = []

    async def __call__(self, value: object) -> None:
        self.calls.append(value)


@pytest.fixture
def recorder() -> Callable[[], Recorder]:
    return Recorder
