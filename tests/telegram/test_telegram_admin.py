"""Creator commands: answered for configured admins, ignored (and logged pseudonymously) for everyone else."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from conftest import ADMIN_ID, VIEWER_ID, EventFeed, RecordingConsole

from bot.adapters.telegram import TelegramBot

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def telegram(make_settings):
    console = RecordingConsole()
    async with TelegramBot(make_settings(chat_interval=0), console=console) as bot:
        feed = EventFeed(bot.source.events())
        yield bot, feed, console
        await feed.close()


def answers_to(api, chat_id):
    return [s["text"] for s in api.sent if s["chat_id"] == chat_id]


async def test_admin_commands_in_a_dm_are_run_and_answered(telegram, world, api):
    _, _, console = telegram
    admin = world.user(ADMIN_ID, "老师")
    for text in ("/pause", "/resume", "/handoffs", "/summary 2025-03-01", "/reply 12 周末有直播答疑", "/takeover -100123:45",
                 "/release 45", "/summary"):
        world.dm(admin, text)

    await api.wait_for(lambda a: len(answers_to(a, ADMIN_ID)) == 8)

    by = f"telegram:{ADMIN_ID}"
    group = world.group["id"]
    assert console.calls == [("pause", by), ("resume", by), ("handoffs",), ("summary", date(2025, 3, 1)),
                             ("reply", 12, "周末有直播答疑", by), ("takeover", "-100123:45", by), ("release", f"{group}:45", by),
                             ("summary", None)]
    assert answers_to(api, ADMIN_ID)[0] == "paused"


async def test_takeover_inside_a_posts_comments_takes_that_post(telegram, world, api):
    _, _, console = telegram
    post = world.channel_post("第 11 课")
    world.comment(world.user(ADMIN_ID, "老师"), post, "/takeover")

    await api.wait_for(lambda a: console.calls)

    assert console.calls == [("takeover", f"{world.group['id']}:{post['message_id']}", f"telegram:{ADMIN_ID}")]


async def test_malformed_admin_commands_get_usage_not_actions(telegram, world, api):
    _, _, console = telegram
    admin = world.user(ADMIN_ID, "老师")
    world.dm(admin, "/reply abc")
    world.dm(admin, "/takeover")
    world.dm(admin, "/summary someday")

    await api.wait_for(lambda a: len(answers_to(a, ADMIN_ID)) == 3)

    assert console.calls == []
    assert [t.split("：")[0] for t in answers_to(api, ADMIN_ID)] == ["用法"] * 3


async def test_admin_commands_from_anyone_else_are_ignored_and_logged_without_their_id(telegram, world, api, caplog):
    _, feed, console = telegram
    caplog.set_level(logging.INFO, logger="coursebot.telegram.admin")
    viewer = world.user(VIEWER_ID, "小明")
    post = world.channel_post("第 12 课")
    world.dm(viewer, "/pause")
    world.comment(viewer, post, "/takeover")
    world.as_anonymous_admin(post, "/resume")  # an anonymous admin cannot be identified
    world.dm(viewer, "我想问一下课程")  # processed after the commands: proves they were handled

    event = await feed.next()

    assert event.text == "我想问一下课程"
    assert console.calls == []
    assert api.sent == []
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == 3 and all("tg-" in line for line in ignored)
    assert str(VIEWER_ID) not in caplog.text
