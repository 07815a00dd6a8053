"""Replies out: real aiogram sending to a fake Bot API that can answer 429 and 403."""

from __future__ import annotations

import pytest
from telegram_helpers import VIEWER_ID, free_port

from bot.adapters.telegram import SendThrottle, TelegramBot, deep_link, start_payload
from bot.events import OutgoingMessage, SendError

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def telegram(make_settings):
    async with TelegramBot(make_settings(chat_interval=0)) as bot:
        yield bot


def public_reply(comment_ref: str, text: str = "这门课 199 元，链接见置顶", outbox_id: int = 1) -> OutgoingMessage:
    return OutgoingMessage(outbox_id=outbox_id, platform="telegram", kind="reply_public", text=text, reply_to=comment_ref)


def dm(recipient: int, text: str = "课程详情：https://example.com/py", outbox_id: int = 2) -> OutgoingMessage:
    return OutgoingMessage(outbox_id=outbox_id, platform="telegram", kind="reply_dm", text=text, recipient_id=str(recipient))


async def test_public_reply_answers_the_comment_inside_its_thread(telegram, world, api):
    post = world.channel_post("第 3 课：列表")
    comment = world.comment(world.user(VIEWER_ID), post, "多少钱", push=False)
    group = world.group["id"]

    message_id = await telegram.sink.send(public_reply(f"{group}:{comment['message_id']}"))

    [sent] = api.sent
    assert sent["chat_id"] == group and sent["text"] == "这门课 199 元，链接见置顶"
    assert sent["reply_parameters"]["message_id"] == comment["message_id"]
    assert message_id.startswith(f"{group}:")
    reply = api.messages[(group, int(message_id.split(":")[1]))]
    assert reply["message_thread_id"] == post["message_id"]  # it lands under the same post


async def test_reply_to_a_deleted_comment_is_a_permanent_error(telegram, world, api):
    world.channel_post("第 3 课")

    with pytest.raises(SendError) as caught:
        await telegram.sink.send(public_reply(f"{world.group['id']}:999"))

    assert caught.value.transient is False and "replied not found" in caught.value.reason
    assert api.sent == []


async def test_flood_control_429_is_transient_with_the_exact_retry_after(telegram, world, api):
    post = world.channel_post("第 3 课")
    comment = world.comment(world.user(VIEWER_ID), post, "多少钱", push=False)
    api.fail("sendMessage", status=429, retry_after=17)

    with pytest.raises(SendError) as caught:
        await telegram.sink.send(public_reply(f"{world.group['id']}:{comment['message_id']}"))

    assert caught.value.transient is True and caught.value.retry_after == 17.0 and caught.value.code == 429
    assert len(api.calls_to("sendMessage")) == 1 and api.sent == []  # aiogram did not retry behind our back


async def test_dm_to_a_viewer_who_blocked_the_bot_marks_them_unreachable(telegram, world, api):
    viewer = world.user(VIEWER_ID)
    world.start(viewer, push=False)
    await telegram.contacts.opened(str(VIEWER_ID))
    api.block(VIEWER_ID)

    with pytest.raises(SendError) as caught:
        await telegram.sink.send(dm(VIEWER_ID))
    with pytest.raises(SendError) as again:
        await telegram.sink.send(dm(VIEWER_ID, outbox_id=3))

    assert caught.value.transient is False and caught.value.recipient_unreachable and caught.value.code == 403
    assert "blocked by the user" in caught.value.reason
    assert again.value.recipient_unreachable
    assert len(api.calls_to("sendMessage")) == 1  # the second DM was not even tried
    assert not await telegram.contacts.can_message(str(VIEWER_ID))


async def test_dm_is_never_attempted_to_a_viewer_who_has_not_started_the_bot(telegram, api):
    with pytest.raises(SendError) as caught:
        await telegram.sink.send(dm(VIEWER_ID + 9))

    assert caught.value.recipient_unreachable and caught.value.transient is False
    assert api.calls_to("sendMessage") == []


async def test_telegram_refusing_to_initiate_a_conversation_is_unreachable(telegram, world, api):
    # Our contacts believe the DM is open, Telegram disagrees (e.g. the chat was deleted on their side).
    await telegram.contacts.opened(str(VIEWER_ID + 3))

    with pytest.raises(SendError) as caught:
        await telegram.sink.send(dm(VIEWER_ID + 3))

    assert caught.value.recipient_unreachable and "can't initiate conversation" in caught.value.reason


async def test_dm_to_a_viewer_who_started_the_bot_is_sent(telegram, world, api):
    viewer = world.user(VIEWER_ID)
    world.start(viewer, "post3", push=False)
    await telegram.contacts.opened(str(VIEWER_ID))

    message_id = await telegram.sink.send(dm(VIEWER_ID))

    assert [s["chat_id"] for s in api.sent] == [VIEWER_ID]
    assert message_id.startswith(f"{VIEWER_ID}:")


async def test_unreachable_bot_api_is_a_transient_error(make_settings):
    settings = make_settings(api_base=f"http://127.0.0.1:{free_port()}")
    bot = TelegramBot(settings)  # not entered: getMe would fail too
    try:
        with pytest.raises(SendError) as caught:
            await bot.sink.send(public_reply("-1001:5"))
    finally:
        await bot.bot.session.close()

    assert caught.value.transient is True and caught.value.code == "network"


async def test_replies_into_one_group_reach_telegram_at_least_a_second_apart(make_settings, world, api):
    # Paced from the previous answer, not the previous start: network jitter can no longer bring two requests
    # to Telegram 0.996 s apart (the 429 seen in the field).
    post = world.channel_post("第 3 课")
    comments = [world.comment(world.user(VIEWER_ID + n), post, "多少钱", push=False) for n in range(4)]
    api.enforce_limits(jitter=0.05)
    async with TelegramBot(make_settings()) as telegram:
        for n, comment in enumerate(comments):
            await telegram.sink.send(public_reply(f"{world.group['id']}:{comment['message_id']}", f"第 {n} 条", n + 1))

    arrivals = [c.at for c in api.calls_to("sendMessage")]
    assert api.flood_429s == 0 and len(api.sent) == 4
    assert min(b - a for a, b in zip(arrivals, arrivals[1:])) >= 1.0


async def test_a_200_comment_burst_into_one_group_draws_no_429(make_settings, world, api):
    # Telegram's minute shrunk to a quarter second (and one second to a hundredth) so the burst takes ~3 s, not 10 min.
    post = world.channel_post("第 3 课")
    comments = [world.comment(world.user(VIEWER_ID + n), post, "多少钱", push=False) for n in range(200)]
    api.enforce_limits(chat_interval=0.01, group_per_window=20, window=0.25, jitter=0.005)
    async with TelegramBot(make_settings()) as telegram:
        telegram.sink.throttle = SendThrottle(chat_interval=0.01, group_per_minute=20, group_window=0.25)
        for n, comment in enumerate(comments):
            await telegram.sink.send(public_reply(f"{world.group['id']}:{comment['message_id']}", f"回复 {n}", n + 1))

    assert api.flood_429s == 0 and len(api.sent) == 200


async def test_throttle_counts_a_chats_interval_from_the_answer_not_the_request():
    clock = FakeClock()
    throttle = SendThrottle(chat_interval=1.0, margin=0.1, clock=clock, sleep=clock.sleep)

    async with throttle.slot(-100):
        clock.now += 0.4  # the request took 0.4 s to be answered
    async with throttle.slot(-100) as waited:
        pass

    assert waited == pytest.approx(1.1)  # 1 s after the answer, plus the 10 % margin


async def test_deep_link_helper_builds_a_start_link_with_the_bots_username(telegram):
    assert telegram.deep_link("post3_c12") == "https://t.me/coursebot_test_bot?start=post3_c12"
    assert deep_link("@my_course_bot", "abc-DEF_1") == "https://t.me/my_course_bot?start=abc-DEF_1"
    with pytest.raises(ValueError, match="start payload"):
        deep_link("my_course_bot", "x" * 65)
    with pytest.raises(ValueError, match="start payload"):
        deep_link("my_course_bot", "价格")
    assert start_payload("/start " + "a" * 64) == "a" * 64
    assert start_payload("/start " + "a" * 65) is None
    assert start_payload("/start") is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


async def test_throttle_spaces_messages_per_chat_per_group_and_globally():
    clock = FakeClock()
    throttle = SendThrottle(chat_interval=1.0, group_per_minute=20, global_per_second=3, margin=0, clock=clock,
                            sleep=clock.sleep)

    assert await throttle.wait(-100) == 0
    assert await throttle.wait(-100) == 1.0  # one per second in one chat
    assert await throttle.wait(5) == 0 and await throttle.wait(6) == 0
    assert await throttle.wait(7) == pytest.approx(1.0)  # 3 in the last second overall: wait for the oldest to age out

    clock.now += 100
    group_waits = [await throttle.wait(-200) for _ in range(21)]
    assert sum(group_waits[:20]) == pytest.approx(19.0)  # 20 a minute at one per second…
    assert group_waits[20] == pytest.approx(41.0)  # …then the 21st waits for the first to leave the minute


async def test_throttle_holds_a_chat_after_a_retry_after():
    clock = FakeClock()
    throttle = SendThrottle(chat_interval=0, clock=clock, sleep=clock.sleep)
    throttle.hold(42, 17)

    assert await throttle.wait(42) == 17.0
    assert await throttle.wait(43) == 0
