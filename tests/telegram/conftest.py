"""Fixtures for the Telegram adapter: a fake Bot API on a random local port, a scripted channel + discussion
group, settings pointing aiogram at the fake. Shared constants and the event consumer are in telegram_helpers.py
(import them from there, never `from conftest import`: which conftest that names depends on the folders run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fake_bot_api import TOKEN, FakeBotAPI
from telegram_helpers import ADMIN_ID
from telegram_world import TelegramWorld

from bot.config import TelegramSettings


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


@pytest.fixture(autouse=True)
async def no_polling_left_behind() -> AsyncIterator[None]:
    """A bot that stopped must not keep long-polling in the background (it would steal later tests' updates)."""
    yield
    await asyncio.sleep(0)
    leaked = [t for t in asyncio.all_tasks() if not t.done() and "polling" in repr(t.get_coro())]
    assert not leaked, f"polling still running after the test: {leaked}"
