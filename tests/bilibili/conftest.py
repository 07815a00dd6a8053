"""Fixtures for the Bilibili adapter tests: a fake Bilibili on a random local port, and clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from db_fixtures import db_url, postgres_admin, postgres_url  # noqa: F401 - fixtures
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


class FakeClock:
    """Wall-clock seconds that only move when a test sleeps on them (or moves them by hand)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
