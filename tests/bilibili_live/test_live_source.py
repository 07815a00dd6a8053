"""The real live client against the fake server over loopback: room info, WBI, auth, heartbeats, framing,
reconnects, malformed packets and a 500-danmaku-per-second stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from fake_server import BUVID3, CREATOR, TOKEN, FakeLive

from bot.adapters.bilibili_live import LiveApi, LiveSource, protocol
from bot.events import Event, Quarantined

ROOM, SHORT = 5_050_505, 88


class Reading:
    """A LiveSource read in the background into a list."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.events: list[Event] = []
        self.quarantined: list[Quarantined] = []

    async def until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    def texts(self) -> list[str]:
        return [e.text for e in self.events if e.kind == "danmaku"]


@contextlib.asynccontextmanager
async def reading(api: LiveApi, rooms: list[int], **options: object) -> AsyncIterator[Reading]:
    async with api:
        holder: list[Reading] = []

        async def keep(item: Quarantined) -> None:
            holder[0].quarantined.append(item)

        options = {"heartbeat": 0.05, "backoff_min": 0.01, "backoff_max": 0.05, "quarantine": keep, **options}
        result = Reading(LiveSource(api, rooms, **options))  # type: ignore[arg-type]
        holder.append(result)

        async def pump() -> None:
            async for event in result.source.events():
                result.events.append(event)

        task = asyncio.create_task(pump())
        try:
            yield result
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_a_short_room_id_is_resolved_and_the_auth_packet_is_what_the_web_client_sends(live: FakeLive, make_api) -> None:
    live.add_room(ROOM, short_id=SHORT, title="Python 直播答疑", live_time=1_765_000_000)
    async with reading(make_api(), [SHORT]) as r:
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, [live.danmaku(ROOM, "老师好")])
        await r.until(lambda: r.texts() == ["老师好"])
        await r.until(lambda: r.source.popularity.get(ROOM) == 1234)  # heartbeat answered with popularity
    assert live.auths == [{"uid": int(CREATOR), "roomid": ROOM, "protover": 3, "platform": "web", "type": 2,
                           "key": TOKEN, "buvid": BUVID3}]
    assert live.danmu_queries[0]["id"] == str(ROOM) and len(live.danmu_queries[0]["w_rid"]) == 32
    thread = r.events[0].thread
    assert thread is not None and (thread.id, thread.title) == (f"live:{ROOM}:1765000000", "Python 直播答疑")
    assert r.events[0].raw["room_id"] == ROOM


@pytest.mark.parametrize("version", [protocol.PLAIN_JSON, protocol.ZLIB, protocol.BROTLI])
async def test_every_packet_of_a_multi_packet_frame_arrives_in_order(live: FakeLive, make_api, version: int) -> None:
    live.add_room(ROOM)
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, [live.danmaku(ROOM, f"问题{n}") for n in range(25)], version=version, per_frame=10)
        await r.until(lambda: len(r.texts()) == 25)
    assert r.texts() == [f"问题{n}" for n in range(25)]
    assert r.source.stats["frames"] >= 3 and r.events[0].thread is not None and r.events[0].thread.id == f"live:{ROOM}:0"


async def test_a_malformed_packet_is_quarantined_with_one_warning_and_reading_goes_on(live: FakeLive, make_api, caplog) -> None:
    live.add_room(ROOM)
    broken_command = live.danmaku(ROOM, "坏的")
    broken_command["info"][2] = None  # a known command with a wrong shape
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        with caplog.at_level(logging.WARNING, logger="coursebot.bilibili_live"):
            await live.push_raw(ROOM, protocol.HEADER.pack(40, 16, protocol.BROTLI, protocol.MESSAGE, 0) + b"x" * 24)
            await live.push(ROOM, [{"cmd": "SOMETHING_NEW", "data": {}}, broken_command, live.danmaku(ROOM, "之后的")])
            await r.until(lambda: r.texts() == ["之后的"])
    assert [q.origin for q in r.quarantined] == [f"bilibili-live room {ROOM} op 5"] * 2
    assert "does not decompress" in r.quarantined[0].reason and "DANMU_MSG" in r.quarantined[1].reason
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 2 and all(f"room {ROOM}: malformed packet (op 5)" in w and "\n" not in w for w in warnings)
    assert r.source.unknown["SOMETHING_NEW"] == 1 and r.source.stats["reconnects"] == 0


async def test_a_refused_auth_reconnects_with_a_fresh_token(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    live.fail_auth = 2
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, [live.danmaku(ROOM, "终于连上")])
        await r.until(lambda: r.texts() == ["终于连上"])
    assert r.source.stats["auth_failed"] == 2 and len(live.auths) == 3 and len(live.danmu_queries) == 3


async def test_a_dropped_connection_reconnects_and_a_replayed_danmaku_is_not_handed_on_twice(live: FakeLive, make_api) -> None:
    live.add_room(ROOM, live_time=1_765_000_000)
    first = [live.danmaku(ROOM, f"第{n}条") for n in range(5)]
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, first[:3])
        await r.until(lambda: len(r.texts()) == 3)
        await live.drop_all()  # mid-stream
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, first)  # a server that re-sends what it had already sent: dropped by the key
        await r.until(lambda: len(r.texts()) == 5)
        await asyncio.sleep(0.1)
    assert r.texts() == [f"第{n}条" for n in range(5)]
    assert r.source.stats["duplicates"] == 3 and r.source.stats["reconnects"] >= 1 and len(live.auths) == 2


async def test_a_session_that_ended_and_restarted_while_disconnected_gets_its_end_and_start(live: FakeLive, make_api) -> None:
    room = live.add_room(ROOM, live_time=1_765_000_000)
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        room.live_time = 1_765_009_999
        await live.drop_all()
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, [live.danmaku(ROOM, "新一场")])
        await r.until(lambda: r.texts() == ["新一场"])
    kinds = [(e.kind, e.thread.id if e.thread else None) for e in r.events]
    assert kinds == [("live_end", f"live:{ROOM}:1765000000"), ("live_start", f"live:{ROOM}:1765009999"),
                     ("danmaku", f"live:{ROOM}:1765009999")]


async def test_live_commands_move_danmaku_to_the_new_session_and_back(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, [live.danmaku(ROOM, "等开播"), {"cmd": "LIVE", "roomid": ROOM, "live_time": 1_765_000_000},
                               {"cmd": "LIVE", "roomid": ROOM}, live.danmaku(ROOM, "开播了"),
                               live.super_chat(3, "付费问题"), {"cmd": "PREPARING", "roomid": str(ROOM)},
                               live.danmaku(ROOM, "下播了")])
        await r.until(lambda: len(r.events) == 6)
    assert [(e.kind, e.thread.id if e.thread else None) for e in r.events] == [
        ("danmaku", f"live:{ROOM}:0"), ("live_start", f"live:{ROOM}:1765000000"),
        ("danmaku", f"live:{ROOM}:1765000000"), ("super_chat", f"live:{ROOM}:1765000000"),
        ("live_end", f"live:{ROOM}:1765000000"), ("danmaku", f"live:{ROOM}:0")]


async def test_500_danmaku_per_second_all_arrive_once(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
        await live.stream(ROOM, 1000, rate=500.0, per_frame=10)
        await r.until(lambda: len(r.events) == 1000)
    assert len({e.event_id for e in r.events}) == 1000 and r.source.stats["malformed"] == 0


async def test_reading_works_anonymously_with_buvid_fetched_and_uid_0(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    async with reading(make_api(sessdata=None, bili_jct=None, uid=None), [ROOM]) as r:
        await r.until(lambda: live.connected.is_set())
    assert live.auths[0]["uid"] == 0 and live.auths[0]["buvid"] == BUVID3
    assert "/x/frontend/finger/spi" in live.calls


async def test_two_rooms_are_read_at_once(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    live.add_room(ROOM + 1)
    async with reading(make_api(), [ROOM, ROOM + 1]) as r:
        await r.until(lambda: len(live.connections) == 2)
        await live.push(ROOM + 1, [live.danmaku(ROOM + 1, "二号房")])
        await live.push(ROOM, [live.danmaku(ROOM, "一号房")])
        await r.until(lambda: len(r.events) == 2)
    assert sorted((e.raw["room_id"], e.text) for e in r.events) == [(ROOM, "一号房"), (ROOM + 1, "二号房")]


async def test_a_server_that_falls_silent_is_left_and_reconnected(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    async with reading(make_api(), [ROOM], heartbeat=0.1, dead_after=0.6) as r:
        await r.until(lambda: live.connected.is_set())
        live.silent = True  # no heartbeat replies, no data: the TCP connection looks open
        await r.until(lambda: len(live.auths) == 2)
        live.silent = False
        await r.until(lambda: r.source.connected[ROOM].is_set())
        await live.push(ROOM, [live.danmaku(ROOM, "又连上了")])
        await r.until(lambda: r.texts() == ["又连上了"])
    assert r.source.stats["connect_failed"] >= 1


async def test_a_room_that_cannot_be_resolved_yet_is_retried_until_it_can(live: FakeLive, make_api) -> None:
    async with reading(make_api(), [ROOM]) as r:
        await r.until(lambda: live.calls.count("/room/v1/Room/room_init") >= 2)  # 60004: no such room (yet)
        live.add_room(ROOM)
        await r.until(lambda: live.connected.is_set())
        await live.push(ROOM, [live.danmaku(ROOM, "来了")])
        await r.until(lambda: r.texts() == ["来了"])
    assert r.source.stats["connect_failed"] >= 2
