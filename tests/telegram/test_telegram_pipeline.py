"""The whole bot on Telegram: real aiogram ↔ fake Bot API, the real model, store (SQLite), policy and outbox.

`serve()` is what `coursebot run --platform telegram` runs; here it runs as a task next to the fake server.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from telegram_helpers import ADMIN_ID, VIEWER_ID

from bot.adapters.telegram.service import serve
from bot.store.store import Store

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.model]
POST = "Python零基础入门到实战 第3课：列表和字典\n这节课讲列表推导式和字典的常用方法"


@pytest.fixture
def settings(settings_factory, make_settings):
    return settings_factory(telegram=make_settings(), outbox={"poll_interval": 0.1, "backoff_base": 0.5})


@pytest.fixture
async def bot(settings, analyzer, api):
    stop = asyncio.Event()
    task = asyncio.ensure_future(serve(settings, analyzer=analyzer, stop=stop))
    await api.wait_for(lambda a: a.calls_to("getUpdates") or task.done(), timeout=60)
    if task.done():
        task.result()
    store = Store.open(settings)
    yield store
    stop.set()
    await asyncio.wait_for(task, 30)
    store.close()


def replies_to(api, message):
    return [s for s in api.sent if (s.get("reply_parameters") or {}).get("message_id") == message["message_id"]
            and s["chat_id"] == message["chat"]["id"]]


async def test_a_question_gets_exactly_one_reply_in_its_thread_and_chitchat_none(bot, world, api):
    store = bot
    post = world.channel_post(POST)
    viewer = world.user(VIEWER_ID, "小明")
    question = world.comment(viewer, post, "这个课多少钱？")
    chitchat = world.comment(world.user(VIEWER_ID + 1, "小红"), post, "哈哈哈哈 老师好帅")
    api.push(question)  # Telegram delivers the same comment twice
    other_post = world.channel_post("Excel函数课第5章 XLOOKUP与动态数组")
    sentinel = world.comment(world.user(VIEWER_ID + 2), other_post, "课程链接在哪里")

    await api.wait_for(lambda a: replies_to(a, sentinel), timeout=60)
    await api.wait_for(lambda a: set(store.outbox_counts()) == {"sent"})

    [reply] = replies_to(api, question)
    assert "199" in reply["text"]
    assert api.messages[(world.group["id"], reply["_result"]["message_id"])]["message_thread_id"] == post["message_id"]
    assert replies_to(api, chitchat) == []
    assert len(api.sent) == 2
    assert store.outbox_counts() == {"sent": 2}


async def test_flood_control_waits_the_exact_retry_after_and_sends_once(bot, world, api):
    store = bot
    api.fail("sendMessage", status=429, retry_after=2)
    post = world.channel_post(POST)
    question = world.comment(world.user(VIEWER_ID), post, "这个课多少钱？")

    await api.wait_for(lambda a: replies_to(a, question), timeout=60)
    await api.wait_for(lambda a: set(store.outbox_counts()) == {"sent"})

    first, second = api.calls_to("sendMessage")
    assert second.at - first.at >= 2.0  # not before Telegram allowed it
    assert len(replies_to(api, question)) == 1 and len(api.sent) == 1
    assert store.outbox_counts() == {"sent": 1}


async def test_deep_link_start_is_attributed_welcomed_and_a_block_makes_the_viewer_unreachable(bot, world, api):
    store = bot
    post = world.channel_post(POST)
    viewer = world.user(VIEWER_ID, "小明")
    question = world.comment(viewer, post, "这个课多少钱？")
    await api.wait_for(lambda a: replies_to(a, question), timeout=60)
    event = await asyncio.to_thread(_event_raw, store, f"{world.group['id']}:{question['message_id']}")
    payload = event["dm_link"].split("start=")[1]

    world.start(viewer, payload)
    await api.wait_for(lambda a: [s for s in a.sent if s["chat_id"] == VIEWER_ID], timeout=60)
    welcome = next(s for s in api.sent if s["chat_id"] == VIEWER_ID)
    row = await asyncio.to_thread(store.viewer, "telegram", str(VIEWER_ID))
    assert row.attribution["telegram_start"] == payload
    assert row.attribution["thread_id"] == f"{world.group['id']}:{post['message_id']}"
    assert row.attribution["comment_id"] == f"{world.group['id']}:{question['message_id']}"
    assert row.dm_reachable is True
    assert "Python零基础入门到实战" in welcome["text"]

    api.block(VIEWER_ID)
    world.dm(viewer, "Python零基础入门到实战多少钱")
    await api.wait_for(lambda a: len(a.calls_to("sendMessage")) == 3, timeout=60)
    await api.wait_for(lambda a: store.outbox_counts().get("dead") == 1)

    row = await asyncio.to_thread(store.viewer, "telegram", str(VIEWER_ID))
    assert row.dm_reachable is False
    assert len(api.calls_to("sendMessage")) == 3  # the refused DM was not retried


async def test_admin_commands_pause_takeover_and_answer_a_handoff_through_the_store(bot, world, api):
    store = bot
    admin = world.user(ADMIN_ID, "老师")
    post = world.channel_post(POST)

    world.dm(admin, "/pause")
    await api.wait_for(lambda a: [s for s in a.sent if s["chat_id"] == ADMIN_ID])
    assert await asyncio.to_thread(store.is_paused)
    world.dm(world.user(VIEWER_ID), "/pause")  # not an admin: nothing changes
    world.dm(admin, "/resume")
    await api.wait_for(lambda a: len([s for s in a.sent if s["chat_id"] == ADMIN_ID]) == 2)
    assert not await asyncio.to_thread(store.is_paused)

    world.comment(admin, post, "/takeover")
    await api.wait_for(lambda a: len([s for s in a.sent if s["chat_id"] == world.group["id"]]) == 1)
    thread_id = f"{world.group['id']}:{post['message_id']}"
    assert [t.thread_id for t in await asyncio.to_thread(store.taken_over_threads)] == [thread_id]
    world.dm(admin, f"/release {thread_id}")

    complaint = world.comment(world.user(VIEWER_ID, "小明"), post, "课程太差了，我要投诉，退钱！")
    await api.wait_for(lambda a: store.list_handoffs(), timeout=60)
    [handoff] = await asyncio.to_thread(store.list_handoffs)
    world.dm(admin, "/handoffs")
    world.dm(admin, f"/reply {handoff.id} 抱歉久等了，退款已经加急处理")
    await api.wait_for(lambda a: replies_to(a, complaint), timeout=60)

    admin_answers = [s["text"] for s in api.sent if s["chat_id"] == ADMIN_ID]
    assert any(f"#{handoff.id}" in text and "我要投诉" in text for text in admin_answers)
    [human_reply] = replies_to(api, complaint)
    assert human_reply["text"] == "抱歉久等了，退款已经加急处理"
    assert await asyncio.to_thread(store.list_handoffs) == []


def _event_raw(store: Store, event_id: str) -> dict:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        raw = conn.execute(sa.text("select raw from events where event_id = :id"), {"id": event_id}).scalar_one()
    return json.loads(raw) if isinstance(raw, str) else raw


async def test_a_taken_over_viewer_gets_no_welcome_and_no_answer_in_dms_and_is_handed_off(bot, world, api):
    from bot.actions import CreatorActions

    store = bot
    post = world.channel_post(POST)
    viewer = world.user(VIEWER_ID, "小明")
    question = world.comment(viewer, post, "这个课多少钱？")
    await api.wait_for(lambda a: replies_to(a, question), timeout=60)
    await asyncio.to_thread(CreatorActions(store).take_over_viewer, store.pseudonym("telegram", str(VIEWER_ID)), "cli")

    world.start(viewer)
    world.dm(viewer, "Python零基础入门到实战多少钱")
    again = world.comment(viewer, post, "这个课多少钱？")
    sentinel = world.comment(world.user(VIEWER_ID + 2), post, "课程链接在哪里")
    await api.wait_for(lambda a: replies_to(a, sentinel), timeout=60)
    await api.wait_for(lambda a: len(store.list_handoffs()) == 2, timeout=30)  # not the empty /start
    assert [h.text for h in await asyncio.to_thread(store.list_handoffs)] == ["Python零基础入门到实战多少钱", "这个课多少钱？"]
    assert [s for s in api.sent if s["chat_id"] == VIEWER_ID] == []  # no welcome, no DM answer
    assert replies_to(api, again) == []
