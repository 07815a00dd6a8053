"""Fixtures for the Telegram adapter: a fake Bot API on a random local port, a scripted channel + discussion
group, settings pointing aiogram at the fake, and a consumer that collects the events a bot yields."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_bot_api import TOKEN, FakeBotAPI
from telegram_world import TelegramWorld

from bot.config import TelegramSettings
from bot.events import Event

ADMIN_ID = 5550001
VIEWER_ID = 7770001


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
def world(api: FakeBotAPI) -> TelegramWorld:
    return TelegramWorld(api)


@pytest.fixture
def make_settings(api: FakeBotAPI, world: TelegramWorld) -> Callable[..., TelegramSettings]:
    def make(**overrides: Any) -> TelegramSettings:
        values: dict[str, Any] = {
            "enabled": True, "token": TOKEN, "api_base": api.base_url, "admin_ids": [ADMIN_ID],
            "channel_id": world.channel["id"], "discussion_group_id": world.group["id"], "polling_timeout": 1,
        }
        return TelegramSettings(**{**values, **overrides})

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EventFeed:
    """Consumes a source's events in a background task, like the pipeline would, one at a time."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self._events = events
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        async for event in self._events:
            await self.queue.put(event)

    async def next(self, timeout: float = 10.0) -> Event:
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()
            raise AssertionError("the source stopped without an error")
        raise AssertionError(f"no event within {timeout} s")

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture(autouse=True)
async def no_polling_left_behind() -> AsyncIterator[None]:
    """A bot that stopped must not keep long-polling in the background (it would steal later tests' updates)."""
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() if not t.done() and "polling" in repr(t.get_coro())]
    assert not leaked, f"polling still running after the test: {leaked}"
