"""Viewer messages in, Events out: real aiogram long-polling a fake Bot API over HTTP."""

from __future__ import annotations

import pytest
from telegram_helpers import ADMIN_ID, VIEWER_ID, EventFeed

from bot.adapters.telegram import TelegramBot

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def telegram(make_settings):
    async with TelegramBot(make_settings()) as bot:
        feed = EventFeed(bot.source.events())
        yield bot, feed
        await feed.close()


async def test_comment_under_a_channel_post_is_an_event_in_that_posts_thread(telegram, world):
    _, feed = telegram
    post = world.channel_post("Python 零基础入门第 3 课：列表与字典\n本节课讲列表推导式")
    viewer = world.user(VIEWER_ID, "小明")
    comment = world.comment(viewer, post, "这个课多少钱？")
    answer = world.reply(world.user(VIEWER_ID + 1, "小红"), comment, "我也想知道价格")

    first, second = await feed.next(), await feed.next()

    group = world.group["id"]
    assert first.platform == "telegram" and first.kind == "comment"
    assert first.event_id == f"{group}:{comment['message_id']}"
    assert first.text == "这个课多少钱？" and first.author_id == str(VIEWER_ID) and first.author_name == "小明"
    assert first.thread.id == f"{group}:{post['message_id']}"
    assert first.thread.title == "Python 零基础入门第 3 课：列表与字典"
    assert first.thread.description == "本节课讲列表推导式"
    assert first.parent_id is None
    assert second.kind == "reply" and second.event_id == f"{group}:{answer['message_id']}"
    assert second.thread.id == first.thread.id and second.thread.title == first.thread.title
    assert second.parent_id == first.event_id
    assert str(VIEWER_ID) not in str(first.raw)  # raw keeps message coordinates, not user ids


async def test_forwards_service_messages_bots_creator_and_chatter_are_not_events(telegram, world, api):
    _, feed = telegram
    post = world.channel_post("第 4 课：函数")  # the automatic forward itself
    world.member_joined(world.user(VIEWER_ID + 5, "新人"))  # service message
    world.comment(world.user(4242, "OtherBot", is_bot=True), post, "广告机器人")
    world.comment(world.user(ADMIN_ID, "老师"), post, "欢迎大家提问")  # the creator as admin
    world.as_channel(post, "以频道身份回复")  # the creator as the channel
    world.as_anonymous_admin(post, "匿名管理员")
    world.comment(api.bot_user, post, "机器人自己的回复")
    world.group_chatter(world.user(VIEWER_ID, "小明"), "大家好")  # not under any post
    world.comment(world.user(VIEWER_ID, "小明"), post, "/start")  # a command in the comments
    world.comment(world.user(VIEWER_ID, "小明"), post, None, photo=[{"file_id": "x", "file_unique_id": "u", "width": 90, "height": 90}])  # no text
    sentinel = world.comment(world.user(VIEWER_ID, "小明"), post, "函数怎么定义？")

    event = await feed.next()

    assert event.event_id == f"{world.group['id']}:{sentinel['message_id']}"
    assert feed.queue.empty()


async def test_edited_comment_is_not_a_second_event(telegram, world):
    _, feed = telegram
    post = world.channel_post("第 5 课：类")
    comment = world.comment(world.user(VIEWER_ID, "小明"), post, "类是什么")
    first = await feed.next()
    world.edit(comment, "类和对象是什么")
    later = world.comment(world.user(VIEWER_ID, "小明"), post, "继承呢")

    second = await feed.next()

    assert first.event_id.endswith(f":{comment['message_id']}")
    assert second.event_id.endswith(f":{later['message_id']}")


async def test_comments_from_another_group_are_ignored(telegram, world, api):
    _, feed = telegram
    other = {"id": -1009999, "type": "supergroup", "title": "别的群"}
    api.chats[other["id"]] = other
    root = world._message(other, world.user(777000, "Telegram"), "别的频道的帖子", is_automatic_forward=True)
    api.push(world._message(other, world.user(VIEWER_ID), "别的群的评论", reply_to_message=root, message_thread_id=root["message_id"]))
    post = world.channel_post("第 6 课")
    mine = world.comment(world.user(VIEWER_ID), post, "我们群的评论")

    event = await feed.next()

    assert event.event_id == f"{world.group['id']}:{mine['message_id']}"


async def test_start_with_deep_link_payload_is_an_attributed_dm(telegram, world):
    bot, feed = telegram
    viewer = world.user(VIEWER_ID, "小明")
    world.start(viewer, "post12_comment-7")
    world.start(world.user(VIEWER_ID + 1), "bad payload!")  # not a valid payload: a start without attribution
    world.dm(viewer, "请问有优惠吗")

    start, bad, dm = await feed.next(), await feed.next(), await feed.next()

    assert start.kind == "dm" and start.raw["start"] is True and start.raw["start_payload"] == "post12_comment-7"
    assert start.author_id == str(VIEWER_ID) and start.text == ""
    assert bad.raw["start"] is True and "start_payload" not in bad.raw
    assert dm.kind == "dm" and dm.text == "请问有优惠吗" and "start" not in dm.raw
    assert await bot.contacts.can_message(str(VIEWER_ID))


async def test_a_dms_event_id_carries_the_viewers_pseudonym_not_their_user_id_and_is_stable(telegram, world, api):
    bot, feed = telegram
    message = world.dm(world.user(VIEWER_ID, "小明"), "请问有优惠吗")
    api.push(message)  # Telegram delivers it again

    first, again = await feed.next(), await feed.next()

    assert str(VIEWER_ID) not in first.event_id  # a private chat's id is the user id
    assert first.event_id == again.event_id == f"{bot.pseudonymise(str(VIEWER_ID))}:{message['message_id']}"


async def test_update_is_delivered_again_after_a_crash_before_the_pipeline_finished(make_settings, world):
    post = world.channel_post("第 7 课：异常处理")
    comment = world.comment(world.user(VIEWER_ID), post, "try 和 except 怎么用")

    async with TelegramBot(make_settings()) as first_run:
        events = first_run.source.events()
        taken = await anext(events)
        await events.aclose()  # the process dies while the pipeline holds the event

    async with TelegramBot(make_settings()) as second_run:
        feed = EventFeed(second_run.source.events())
        again = await feed.next()
        await feed.close()

    assert taken.event_id == again.event_id == f"{world.group['id']}:{comment['message_id']}"


async def test_update_is_confirmed_once_the_pipeline_took_the_next_one(make_settings, world, api):
    post = world.channel_post("第 8 课")
    world.comment(world.user(VIEWER_ID), post, "第一条")
    world.comment(world.user(VIEWER_ID), post, "第二条")

    async with TelegramBot(make_settings()) as bot:
        feed = EventFeed(bot.source.events())
        await feed.next()
        await feed.next()
        await api.wait_for(lambda a: a.unconfirmed == 0)
        await feed.close()

    assert api.unconfirmed == 0
