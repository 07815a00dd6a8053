"""Polling cursors kept in the store (platform_cursors): a restart with a new Store on the same database resumes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fake_bilibili import FakeBilibili

from bot.adapters.bilibili import BilibiliClient, BilibiliSource
from bot.adapters.bilibili.bvid import aid_to_bvid
from bot.adapters.bilibili.cursors import StoreCursors
from bot.events import Event
from bot.privacy import Pseudonymizer
from bot.store import Store

AID = 170001


async def _round(client: BilibiliClient, cursors: StoreCursors) -> list[Event]:
    source = BilibiliSource(client, cursors, videos=[aid_to_bvid(AID)], backfill=True)
    return [event async for event in source.poll_once()]


async def test_cursors_in_the_store_survive_a_restart(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                      tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'coursebot.db'}"
    key = b"k" * 32
    fake.add_video(AID, "Python")
    before = [fake.comment(AID, f"旧{i}") for i in range(21)]
    async with make_client() as client:
        first = await _round(client, StoreCursors(Store.from_url(url, Pseudonymizer(key))))
    after = [fake.comment(AID, f"新{i}") for i in range(3)]
    async with make_client() as client:
        second = await _round(client, StoreCursors(Store.from_url(url, Pseudonymizer(key))))
    assert [e.event_id for e in first] == [str(r) for r in before]
    assert [e.event_id for e in second] == [str(r) for r in after]
    assert Store.from_url(url, Pseudonymizer(key)).get_cursor("bilibili", f"video:{AID}") is not None
