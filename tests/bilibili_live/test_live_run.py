"""`coursebot run -p bilibili-live` wiring: fake live → LiveSource → runner → store; outbox → LiveSink → msg/send."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from fake_server import BILI_JCT, CREATOR, SESSDATA, FakeLive

from bot.adapters.serve import check_settings, serve
from bot.store import Store
from bot.store.queue import NewMessage
from retrieval.errors import InputError

ROOM = 5_050_505


def _settings(settings_factory, live: FakeLive, **extra: object):
    section = {"enabled": True, "rooms": [ROOM], "live_api_base": live.base_url, "api_base": live.base_url,
               "heartbeat": 0.2, "reconnect_backoff_min": 0.01, "reconnect_backoff_max": 0.1, **extra}
    return settings_factory(bilibili={"sessdata": SESSDATA, "bili_jct": BILI_JCT, "uid": CREATOR}, bilibili_live=section,
                            outbox={"poll_interval": 0.1})


async def _until(predicate, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.mark.model
async def test_run_reads_the_room_into_the_store_and_sends_queued_danmaku(live: FakeLive, analyzer, settings_factory) -> None:
    live.add_room(ROOM, title="Python 直播答疑", live_time=1_765_000_000)
    settings = _settings(settings_factory, live)
    store = Store.open(settings)
    try:
        store.enqueue(NewMessage("live-test-1", "bilibili-live", "reply_public", "价格见简介",
                                 thread_id=f"live:{ROOM}:1765000000"))
    finally:
        store.close()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, ["bilibili-live"], stop=stop, analyzer=analyzer))
    try:
        await _until(lambda: live.connected.is_set() and live.sent)
        broken = live.danmaku(ROOM, "坏")
        broken["info"][2] = None
        await live.push(ROOM, [live.danmaku(ROOM, "老师这个课多少钱", uid=9001), broken, live.super_chat(5, "付费提问")])
        store = Store.open(settings)
        try:
            def stored() -> int:
                with store.engine.connect() as db:
                    return db.execute(sa.text("select count(*) from events where platform = 'bilibili-live'")).scalar()
            await _until(lambda: stored() == 2 and store.quarantine_count() == 1)
        finally:
            store.close()
    finally:
        stop.set()
        await task
    assert [(s["roomid"], s["msg"]) for s in live.sent] == [(str(ROOM), "价格见简介")]
    store = Store.open(settings)
    try:
        with store.engine.connect() as db:
            rows = db.execute(sa.text("select kind, text, thread_id from events where platform = 'bilibili-live' "
                                      "order by id")).all()
            state = db.execute(sa.text("select state from outbox where platform = 'bilibili-live'")).scalar()
        assert [tuple(r) for r in rows] == [("danmaku", "老师这个课多少钱", f"live:{ROOM}:1765000000"),
                                             ("super_chat", "付费提问", f"live:{ROOM}:1765000000")]
        assert state == "sent" and store.quarantined()[0].origin == f"bilibili-live room {ROOM} op 5"
    finally:
        store.close()


def test_running_live_rooms_needs_rooms_and_cookies_unless_read_only(settings_factory) -> None:
    with pytest.raises(InputError, match="bilibili_live.rooms is empty"):
        check_settings(settings_factory(bilibili_live={"enabled": True}), ["bilibili-live"])
    with pytest.raises(InputError, match="bilibili.sessdata is not set: danmaku are sent with the creator's cookies"):
        check_settings(settings_factory(bilibili_live={"rooms": [1]}), ["bilibili-live"])
    check_settings(settings_factory(bilibili_live={"rooms": [1], "read_only": True}), ["bilibili-live"])
    open_platform = {"access_key_id": "k", "access_key_secret": "s", "app_id": 1, "code": "身份码"}
    check_settings(settings_factory(bilibili_live={"open_platform": open_platform, "read_only": True}), ["bilibili-live"])


def test_an_enabled_live_section_is_run_without_a_platform_flag(settings_factory) -> None:
    from bot.commands.platforms import _enabled

    assert _enabled(settings_factory(bilibili_live={"enabled": True, "rooms": [1]})) == ["bilibili-live"]
