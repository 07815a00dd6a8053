"""The danmaku send endpoint and the live sink against the fake server: form fields, and each error code."""

from __future__ import annotations

import pytest
from fake_server import BILI_JCT, FakeLive

from bot.adapters.bilibili.pacing import Backoff
from bot.adapters.bilibili.risk import AccountPause
from bot.adapters.bilibili_live import LiveSink
from bot.events import OutgoingMessage, SendError

ROOM = 5_050_505


def message(text: str = "价格在简介第一行", *, outbox_id: int = 1, thread: str = f"live:{ROOM}:1765000000") -> OutgoingMessage:
    return OutgoingMessage(outbox_id=outbox_id, platform="bilibili-live", kind="reply_public", text=text, thread_id=thread)


class Alerts:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def __call__(self, text: str) -> None:
        self.sent.append(text)


async def test_a_danmaku_is_sent_with_the_web_clients_form_and_its_id_returned(live: FakeLive, make_api) -> None:
    async with make_api() as api:
        sent_id = await LiveSink(api).send(message())
    [form] = live.sent
    assert {k: form[k] for k in ("roomid", "msg", "csrf", "csrf_token", "color", "fontsize", "mode")} == {
        "roomid": str(ROOM), "msg": "价格在简介第一行", "csrf": BILI_JCT, "csrf_token": BILI_JCT, "color": "16777215",
        "fontsize": "25", "mode": "1"}
    assert form["rnd"].isdigit() and len(sent_id) == 32


async def test_too_fast_is_retried_shortly(live: FakeLive, make_api) -> None:
    live.answer_send(10030, "您发送弹幕的频率过快")
    async with make_api() as api:
        with pytest.raises(SendError) as refused:
            await LiveSink(api, too_fast_retry=7.0).send(message())
    assert refused.value.transient and refused.value.retry_after == 7.0 and not live.sent


@pytest.mark.parametrize("code, text, reason", [(10031, "您发送的弹幕重复了", "duplicate_text"), (0, "f", "banned_words"),
                                                (0, "k", "banned_words"), (1003212, "超出限制长度", "too_long")])
async def test_a_refusal_that_can_never_succeed_is_final(live: FakeLive, make_api, code: int, text: str, reason: str) -> None:
    live.answer_send(code, text)
    async with make_api() as api:
        with pytest.raises(SendError) as refused:
            await LiveSink(api).send(message())
    assert not refused.value.transient and refused.value.code == reason and not live.sent


async def test_a_lost_login_halts_sending_and_alerts_the_creator_once(live: FakeLive, make_api) -> None:
    alerts = Alerts()
    async with make_api(sessdata="expired") as api:
        sink = LiveSink(api, alert=alerts, login_retry=600.0)
        with pytest.raises(SendError) as first:
            await sink.send(message())
        with pytest.raises(SendError) as second:
            await sink.send(message(outbox_id=2))
    assert first.value.transient and first.value.retry_after == 600.0 and first.value.code == -101
    assert not second.value.attempted and len(live.send_calls) == 1  # halted: the platform is not asked again
    assert len(alerts.sent) == 1 and "logged out" in alerts.sent[0] and "expired" not in alerts.sent[0]


async def test_risk_control_pauses_the_whole_account_and_the_next_send_waits_without_calling(live: FakeLive, make_api) -> None:
    live.answer_send(-412, "请求被拦截")
    pause = AccountPause(Backoff(300.0, 3600.0, jitter=0))
    async with make_api(risk=pause) as api:
        sink = LiveSink(api)
        with pytest.raises(SendError) as refused:
            await sink.send(message())
        with pytest.raises(SendError) as waiting:
            await sink.send(message(outbox_id=2))
    assert refused.value.transient and refused.value.retry_after == 300.0 and refused.value.attempted
    assert waiting.value.transient and not waiting.value.attempted and 0 < (waiting.value.retry_after or 0) <= 300
    assert len(live.send_calls) == 1 and await pause.remaining() > 0


async def test_http_412_is_risk_control_too(live: FakeLive, make_api) -> None:
    live.fail_http("/msg/send", 412)
    async with make_api(risk=AccountPause(Backoff(60.0, 60.0, jitter=0))) as api:
        with pytest.raises(SendError) as refused:
            await LiveSink(api).send(message())
    assert refused.value.transient and refused.value.retry_after == 60.0


async def test_a_text_over_the_danmaku_limit_is_refused_uncut_without_calling(live: FakeLive, make_api) -> None:
    async with make_api() as api:
        with pytest.raises(SendError) as refused:
            await LiveSink(api, max_chars=20).send(message("这一条回答比二十个字的弹幕长度限制还要更长一些"))
    assert not refused.value.transient and refused.value.code == "too_long" and not live.send_calls


async def test_a_message_without_a_live_thread_is_refused(live: FakeLive, make_api) -> None:
    async with make_api() as api:
        with pytest.raises(SendError, match="without a room"):
            await LiveSink(api).send(message(thread="BV1xx411c7mD"))
        assert await LiveSink(api).send(OutgoingMessage(3, "bilibili-live", "reply_public", "好的", extra={"room_id": ROOM}))
    assert [f["roomid"] for f in live.sent] == [str(ROOM)]


async def test_rotated_wbi_keys_are_refetched_once_without_pausing_the_account(live: FakeLive, make_api) -> None:
    live.add_room(ROOM)
    pause = AccountPause(Backoff(300.0, 3600.0, jitter=0))
    async with make_api(risk=pause) as api:
        assert (await api.danmu_info(ROOM)).token
        live.img_key, live.sub_key = live.sub_key, live.img_key  # Bilibili rotated the keys; ours are cached
        info = await api.danmu_info(ROOM)
    assert info.servers and live.bad_signatures == 1 and live.calls.count("/x/web-interface/nav") == 2
    assert await pause.remaining() == 0


async def test_a_signature_refused_twice_is_risk_control(live: FakeLive, make_api) -> None:
    from bot.adapters.bilibili.errors import RiskControl

    live.add_room(ROOM)
    pause = AccountPause(Backoff(300.0, 3600.0, jitter=0))
    async with make_api(risk=pause, buvid3="not-the-device") as api:
        with pytest.raises(RiskControl):
            await api.danmu_info(ROOM)
    assert live.bad_signatures == 2 and await pause.remaining() > 0
