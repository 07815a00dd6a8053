"""Webhook mode (secret token checked before anything is processed) and the bot token kept out of logs."""

from __future__ import annotations

import logging

import pytest
from fake_bot_api import TOKEN
from telegram_helpers import VIEWER_ID, EventFeed, free_port

from bot.adapters.telegram import TelegramBot, bot_token
from bot.adapters.telegram.receive import webhook_app
from bot.events import OutgoingMessage, SendError
from retrieval.errors import InputError

pytestmark = pytest.mark.asyncio(loop_scope="session")
SECRET = "webhook-Secret_42"


@pytest.fixture
def webhook_settings(make_settings):
    port = free_port()
    return make_settings(mode="webhook", webhook_port=port, webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
                         webhook_secret=SECRET)


async def test_webhook_with_a_wrong_or_missing_secret_is_refused_and_not_processed(webhook_settings, world, api):
    post = world.channel_post("第 9 课：装饰器", push=False)
    forged = world.comment(world.user(VIEWER_ID), post, "伪造的评论", push=False)
    unsigned = world.comment(world.user(VIEWER_ID), post, "没有签名的评论", push=False)
    genuine = world.comment(world.user(VIEWER_ID), post, "装饰器怎么写", push=False)

    async with TelegramBot(webhook_settings) as bot:
        feed = EventFeed(bot.source.events())
        await api.wait_for(lambda a: a.webhook is not None)
        assert api.webhook == {"url": webhook_settings.webhook_url, "secret_token": SECRET}

        wrong = await api.deliver_webhook(api.wrap(forged), secret="not-the-secret")
        missing = await api.deliver_webhook(api.wrap(unsigned), secret=None)
        right = await api.deliver_webhook(api.wrap(genuine))
        event = await feed.next()
        await feed.close()

    assert (wrong, missing, right) == (401, 401, 200)
    assert event.event_id == f"{world.group['id']}:{genuine['message_id']}"
    assert feed.queue.empty()
    assert api.calls_to("getUpdates") == []


async def test_webhook_mode_refuses_to_start_without_a_valid_secret(make_settings):
    with pytest.raises(InputError, match="webhook_secret: required"):
        webhook_app(None, None, path="/telegram/webhook", secret="")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="1-256 characters") as caught:
        webhook_app(None, None, path="/telegram/webhook", secret="has spaces and 密码")  # type: ignore[arg-type]
    assert "密码" not in str(caught.value)


async def test_missing_or_malformed_token_is_a_one_line_error_that_does_not_echo_it(make_settings):
    with pytest.raises(InputError, match="COURSEBOT_TELEGRAM__TOKEN"):
        bot_token(make_settings(token=None))
    with pytest.raises(InputError, match="not a bot token") as caught:
        bot_token(make_settings(token="abc:secret-looking-value"))
    assert "secret-looking-value" not in str(caught.value)


async def test_the_token_never_appears_in_logs(make_settings, world, api, caplog):
    caplog.set_level(logging.DEBUG)
    post = world.channel_post("第 10 课")
    world.comment(world.user(VIEWER_ID), post, "请问怎么报名")
    api.fail("getUpdates", status=500, description="Internal Server Error")  # aiogram logs failed polls
    api.fail("sendMessage", status=429, retry_after=3)

    async with TelegramBot(make_settings()) as bot:
        feed = EventFeed(bot.source.events())
        event = await feed.next()
        with pytest.raises(SendError):
            await bot.sink.send(OutgoingMessage(outbox_id=1, platform="telegram", kind="reply_public", text="x", reply_to=event.event_id))
        logging.getLogger("coursebot.test").error("a careless log line with %s inside", TOKEN)
        await feed.close()

    assert caplog.records, "nothing was logged: the check below would prove nothing"
    assert any("Failed to fetch updates" in r.getMessage() for r in caplog.records)
    assert "[redacted]" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
