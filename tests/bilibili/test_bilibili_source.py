"""Polling Bilibili comments into Events against a fake Bilibili over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fake_bilibili import CREATOR, FakeBilibili

from bot.adapters.bilibili import BilibiliClient, BilibiliSource
from bot.adapters.bilibili.bvid import aid_to_bvid
from bot.adapters.bilibili.cursors import FileCursorStore
from bot.adapters.bilibili.pacing import Backoff
from bot.adapters.bilibili.risk import AccountPause
from bot.events import Event

AID = 170001
OTHER_AID = 2


async def _take(events: AsyncIterator[Event], count: int) -> list[Event]:
    taken: list[Event] = []
    async with asyncio.timeout(20):
        async for event in events:
            taken.append(event)
            if len(taken) == count:
                break
    return taken


async def _round(client: BilibiliClient, cursors: FileCursorStore, **options: object) -> list[Event]:
    source = BilibiliSource(client, cursors, **{"videos": [aid_to_bvid(AID)], "backfill": True, **options})
    return [event async for event in source.poll_once()]


@pytest.fixture
def cursors(tmp_path: Path) -> FileCursorStore:
    return FileCursorStore(tmp_path / "cursors.json")


async def test_new_comments_across_pages_become_events_oldest_first(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                                   cursors: FileCursorStore) -> None:
    fake.add_video(AID, "Python 零基础入门", "第1课")
    rpids = [fake.comment(AID, f"第{i}条：这个课多少钱？") for i in range(45)]
    async with make_client() as client:
        events = await _round(client, cursors)
    assert [e.event_id for e in events] == [str(r) for r in rpids]
    assert sum(1 for call in fake.calls if call == "/x/v2/reply") == 3  # 20 + 20 + 5
    first = events[0]
    assert (first.platform, first.kind, first.text, first.author_id) == ("bilibili", "comment", "第0条：这个课多少钱？", "9001")
    assert first.thread is not None and (first.thread.id, first.thread.title) == ("BV17x411w7KC", "Python 零基础入门")
    assert first.raw["reply"] == {"oid": AID, "type": 1, "root": rpids[0], "parent": rpids[0]}


async def test_sub_replies_carry_root_and_parent(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                 cursors: FileCursorStore) -> None:
    fake.add_video(AID, "Python")
    root = fake.comment(AID, "有没有作业？")
    child = fake.comment(AID, "我也想知道", root=root, parent=root)
    async with make_client() as client:
        events = await _round(client, cursors)
    reply = next(e for e in events if e.event_id == str(child))
    assert (reply.kind, reply.parent_id) == ("reply", str(root))
    assert reply.raw["reply"] == {"oid": AID, "type": 1, "root": root, "parent": child}


async def test_restart_resumes_from_the_persisted_cursor_without_misses_or_repeats(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], tmp_path: Path) -> None:
    fake.add_video(AID, "Python")
    before = [fake.comment(AID, f"旧评论{i}") for i in range(25)]
    async with make_client() as client:
        first = await _round(client, FileCursorStore(tmp_path / "cursors.json"))
    after = [fake.comment(AID, f"新评论{i}") for i in range(23)]
    async with make_client() as client:  # a new process: new client, new source, same cursor file
        second = await _round(client, FileCursorStore(tmp_path / "cursors.json"))
        third = await _round(client, FileCursorStore(tmp_path / "cursors.json"))
    assert [e.event_id for e in first] == [str(r) for r in before]
    assert [e.event_id for e in second] == [str(r) for r in after]
    assert third == []


async def test_stopping_mid_round_loses_nothing_and_repeats_at_most_the_event_in_hand(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], tmp_path: Path) -> None:
    fake.add_video(AID, "Python")
    rpids = [str(fake.comment(AID, f"评论{i}")) for i in range(30)]
    async with make_client() as client:
        source = BilibiliSource(client, FileCursorStore(tmp_path / "c.json"), videos=[AID], backfill=True)
        taken = await _take(source.poll_once(), 10)
    async with make_client() as client:
        rest = await _round(client, FileCursorStore(tmp_path / "c.json"))
    seen = [e.event_id for e in taken + rest]
    assert sorted(set(seen), key=int) == rpids  # nothing missed
    assert len(seen) - len(set(seen)) <= 1  # only the event taken when the consumer stopped may come again


async def test_without_backfill_a_new_video_is_watched_from_now(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                               cursors: FileCursorStore) -> None:
    fake.add_video(AID, "Python")
    for i in range(5):
        fake.comment(AID, f"历史评论{i}")
    async with make_client() as client:
        assert await _round(client, cursors, backfill=False) == []
        fresh = fake.comment(AID, "新来的问题")
        assert [e.event_id for e in await _round(client, cursors, backfill=False)] == [str(fresh)]


async def test_replies_to_the_creator_come_from_the_feed_across_pages_and_resume(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], tmp_path: Path) -> None:
    fake.add_video(AID, "Python")
    mine = fake.comment(AID, "课程链接在简介", mid=CREATOR)
    first_batch = [fake.reply_to_creator(AID, f"谢谢{i}", root=mine, parent=mine)[0] for i in range(25)]
    async with make_client() as client:
        source = BilibiliSource(client, FileCursorStore(tmp_path / "c.json"), videos=[], backfill=True)
        events = [e async for e in source.poll_once()]
    assert [e.event_id for e in events] == [str(r) for r in first_batch]
    assert events[0].kind == "reply" and events[0].thread.id == aid_to_bvid(AID)
    assert events[0].raw["reply"] == {"oid": AID, "type": 1, "root": mine, "parent": first_batch[0]}
    later = fake.reply_to_creator(AID, "还有优惠吗", root=mine, parent=mine)[0]
    async with make_client() as client:
        source = BilibiliSource(client, FileCursorStore(tmp_path / "c.json"), videos=[], backfill=True)
        assert [e.event_id async for e in source.poll_once()] == [str(later)]


async def test_a_reply_seen_under_the_video_and_in_the_feed_is_one_event(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], cursors: FileCursorStore) -> None:
    fake.add_video(AID, "Python")
    mine = fake.comment(AID, "欢迎提问", mid=CREATOR)
    rpid, _ = fake.reply_to_creator(AID, "怎么报名？", root=mine, parent=mine)
    async with make_client() as client:
        events = await _round(client, cursors)
    assert [e.event_id for e in events] == [str(rpid)]  # the creator's own comment is not an event either


async def test_a_video_that_fails_does_not_stop_the_others(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                           cursors: FileCursorStore) -> None:
    fake.add_video(OTHER_AID, "Java")
    rpid = fake.comment(OTHER_AID, "Java 课什么时候开？")
    async with make_client() as client:  # AID does not exist on the fake: -404
        events = await _round(client, cursors, videos=[AID, OTHER_AID])
    assert [e.event_id for e in events] == [str(rpid)]


async def test_not_logged_in_stops_polling_and_alerts_the_creator_once(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], cursors: FileCursorStore, recorder) -> None:
    fake.add_video(AID, "Python")
    fake.comment(AID, "在吗")
    alert, sleep = recorder(), recorder()
    async with make_client(sessdata="expired") as client:
        source = BilibiliSource(client, cursors, videos=[AID], backfill=True, alert=alert, sleep=sleep)
        async with asyncio.timeout(10):
            events = [e async for e in source.events()]  # ends by itself
    assert events == [] and source.stopped is not None and "-101" in source.stopped
    assert len(alert.calls) == 1 and "logged out" in str(alert.calls[0])


@pytest.mark.parametrize("failure", [[-412], [-352], [-412, -352, -412], "http412"])
async def test_risk_control_backs_off_for_minutes_exponentially_then_recovers(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], cursors: FileCursorStore, clock,
        failure: list[int] | str) -> None:
    fake.add_video(AID, "Python")
    rpid = fake.comment(AID, "多少钱")
    if failure == "http412":
        fake.fail_http("/x/v2/reply", 412)
        failures = 1
    else:
        fake.fail("/x/v2/reply", *failure)
        failures = len(failure)
    async with make_client(risk=AccountPause(Backoff(300.0, 3600.0, jitter=0.2), clock=clock)) as client:
        source = BilibiliSource(client, cursors, videos=[AID], backfill=True, sleep=clock.sleep)
        events = await _take(source.events(), 1)
    assert [e.event_id for e in events] == [str(rpid)]
    delays = clock.slept
    assert len(delays) == failures
    for attempt, delay in enumerate(delays):
        assert 300.0 * 2 ** attempt * 0.8 <= delay <= 300.0 * 2 ** attempt * 1.2


@pytest.mark.parametrize("code", [-509, -799])
async def test_too_frequent_waits_before_the_next_round(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                        cursors: FileCursorStore, recorder, code: int) -> None:
    fake.add_video(AID, "Python")
    rpid = fake.comment(AID, "多少钱")
    fake.fail("/x/v2/reply", code)
    sleep = recorder()
    async with make_client() as client:
        source = BilibiliSource(client, cursors, videos=[AID], backfill=True, sleep=sleep, backoff=Backoff(60.0, 600.0))
        events = await _take(source.events(), 1)
    assert [e.event_id for e in events] == [str(rpid)]
    assert len(sleep.calls) == 1 and float(sleep.calls[0]) >= 60.0 * 0.75


async def test_polling_rounds_pause_for_the_poll_interval(fake: FakeBilibili, make_client: Callable[..., BilibiliClient],
                                                          cursors: FileCursorStore, recorder) -> None:
    fake.add_video(AID, "Python")
    fake.comment(AID, "第一条")
    sleep = recorder()
    async with make_client() as client:
        source = BilibiliSource(client, cursors, videos=[AID], backfill=True, sleep=sleep, poll_interval=120.0)
        events = source.events()
        await _take(events, 1)
        fake.comment(AID, "第二条")
        second = await _take(events, 1)
    assert second[0].text == "第二条" and sleep.calls == [120.0]

