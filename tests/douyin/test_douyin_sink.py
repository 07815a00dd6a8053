"""Sending to a fake Douyin open API over real HTTP: request shape, token refresh, limits and error codes."""

from __future__ import annotations

import asyncio
import json
import logging
import stat
from datetime import datetime
from pathlib import Path

import pytest
from fake_douyin import ACCESS_TOKEN, CLIENT_KEY, OPEN_ID, REFRESH_TOKEN, FakeDouyin

from bot.adapters.douyin import DouyinClient, DouyinSink, ProactiveDmLimits
from bot.adapters.douyin.sink import BEIJING
from bot.adapters.douyin.tokens import AccessTokens
from bot.events import Event, OutgoingMessage, SendError
from bot.privacy import Pseudonymizer
from bot.store import Store

STORE_KEY = b"d" * 32  # as the `store` fixture's


def _client(fake: FakeDouyin, *, refresh: bool = True, path: Path | None = None) -> DouyinClient:
    tokens = AccessTokens(ACCESS_TOKEN, REFRESH_TOKEN if refresh else None, client_key=CLIENT_KEY, path=path)
    return DouyinClient(api_base=fake.base_url, tokens=tokens, open_id=OPEN_ID)


def _reply(text: str = "99 元，链接在主页", outbox_id: int = 1) -> OutgoingMessage:
    return OutgoingMessage(outbox_id=outbox_id, platform="douyin", kind="reply_public", text=text, thread_id="@video-1",
                           reply_to="c-100", extra={"reply": {"item_id": "@video-1", "comment_id": "c-100"}})


def _dm(recipient: str = "viewer-1", *, answering: bool = False, text: str = "课程详情见这里") -> OutgoingMessage:
    extra = {"reply": {"conversation_id": "conv-9", "msg_id": "msg-8", "scene": "im_replay_msg"}} if answering else {}
    return OutgoingMessage(outbox_id=2, platform="douyin", kind="reply_dm", text=text, recipient_id=recipient, extra=extra)


async def test_comment_reply_sends_item_comment_and_content_with_the_token(fake_douyin: FakeDouyin) -> None:
    async with _client(fake_douyin) as client:
        sent = await DouyinSink(client).send(_reply())
    call = fake_douyin.calls[-1]
    assert (call["path"], call["open_id"], call["token"]) == ("/item/comment/reply/", OPEN_ID, ACCESS_TOKEN)
    assert call["body"] == {"item_id": "@video-1", "comment_id": "c-100", "content": "99 元，链接在主页"}
    assert sent.startswith("7")


async def test_answering_a_dm_quotes_its_conversation_and_is_not_limited(fake_douyin: FakeDouyin, store: Store) -> None:
    async with _client(fake_douyin) as client:
        sink = DouyinSink(client, limits=ProactiveDmLimits(store, per_day=1, per_viewer=1))
        for _ in range(3):
            assert await sink.send(_dm(answering=True))
    body = fake_douyin.calls[-1]["body"]
    assert body == {"to_user_id": "viewer-1", "content": {"msg_type": 1, "text": {"text": "课程详情见这里"}},
                    "conversation_id": "conv-9", "msg_id": "msg-8", "scene": "im_replay_msg"}


async def test_proactive_dms_wait_for_tomorrow_after_the_daily_limit(fake_douyin: FakeDouyin, store: Store) -> None:
    async with _client(fake_douyin) as client:
        sink = DouyinSink(client, limits=ProactiveDmLimits(store, per_day=1, per_viewer=3))
        await sink.send(_dm("viewer-1"))
        with pytest.raises(SendError) as info:
            await sink.send(_dm("viewer-1"))
        await sink.send(_dm("viewer-2"))  # another viewer has their own allowance
    now = datetime.now(BEIJING)
    until_midnight = 86400 - (now.hour * 3600 + now.minute * 60 + now.second)
    assert info.value.transient and info.value.code == "proactive_dm_daily"
    assert abs(info.value.retry_after - until_midnight) < 5
    assert [c["body"]["to_user_id"] for c in fake_douyin.calls] == ["viewer-1", "viewer-2"]


async def test_proactive_dms_stop_after_three_unanswered_until_the_viewer_writes(fake_douyin: FakeDouyin, store: Store) -> None:
    async with _client(fake_douyin) as client:
        sink = DouyinSink(client, limits=ProactiveDmLimits(store, per_day=10, per_viewer=3))
        for _ in range(3):
            await sink.send(_dm())
        with pytest.raises(SendError) as info:
            await sink.send(_dm())
        store.record_event(Event(platform="douyin", event_id="dm-1", text="好的", kind="dm", author_id="viewer-1"))
        await sink.send(_dm())  # the viewer wrote back (a stored DM event): the count starts again
    assert (info.value.transient, info.value.recipient_unreachable) == (False, True)
    assert len(fake_douyin.calls) == 4


async def test_proactive_dm_counts_survive_a_restart(fake_douyin: FakeDouyin, db_url: str) -> None:
    async with _client(fake_douyin) as client:
        await DouyinSink(client, limits=ProactiveDmLimits(Store.from_url(db_url, Pseudonymizer(STORE_KEY)))).send(_dm())
    restarted = Store.from_url(db_url, Pseudonymizer(STORE_KEY))
    async with _client(fake_douyin) as client:
        with pytest.raises(SendError) as info:
            await DouyinSink(client, limits=ProactiveDmLimits(restarted)).send(_dm())
    assert info.value.code == "proactive_dm_daily" and len(fake_douyin.calls) == 1


async def test_workers_racing_for_one_viewer_send_one_proactive_dm_a_day(fake_douyin: FakeDouyin, db_url: str) -> None:
    workers = [Store.from_url(db_url, Pseudonymizer(STORE_KEY)) for _ in range(4)]  # one engine each, like processes
    async with _client(fake_douyin) as client:
        sinks = [DouyinSink(client, limits=ProactiveDmLimits(store, per_day=1, per_viewer=3)) for store in workers]
        results = await asyncio.gather(*(sink.send(_dm()) for sink in sinks * 2), return_exceptions=True)
    assert sum(isinstance(r, str) for r in results) == 1 and len(fake_douyin.calls) == 1
    assert {r.code for r in results if isinstance(r, SendError)} == {"proactive_dm_daily"}


async def test_a_proactive_dm_douyin_refuses_does_not_use_up_the_allowance(fake_douyin: FakeDouyin, store: Store) -> None:
    fake_douyin.fail("/im/send/msg/", 28003070)
    async with _client(fake_douyin) as client:
        sink = DouyinSink(client, limits=ProactiveDmLimits(store, per_day=1, per_viewer=3))
        with pytest.raises(SendError):
            await sink.send(_dm())
        assert await sink.send(_dm())


@pytest.mark.parametrize("where", ["data", "extra", "sub"])
async def test_rate_limit_28003070_is_retried_after_the_configured_pause(fake_douyin: FakeDouyin, where: str) -> None:
    fake_douyin.fail("/item/comment/reply/", 28003070, where)
    async with _client(fake_douyin) as client:
        with pytest.raises(SendError) as info:
            await DouyinSink(client, rate_limit_retry=45.0).send(_reply())
    assert (info.value.transient, info.value.retry_after, info.value.code) == (True, 45.0, 28003070)


async def test_an_expired_token_is_refreshed_once_and_the_send_repeated(fake_douyin: FakeDouyin, tmp_path: Path) -> None:
    fake_douyin.expire_token()
    saved = tmp_path / "douyin-token.json"
    async with _client(fake_douyin, path=saved) as client:
        sink = DouyinSink(client)
        results = await asyncio.gather(*(sink.send(_reply(outbox_id=n)) for n in range(5)))
    assert all(results)
    assert fake_douyin.refreshes == [{"client_key": CLIENT_KEY, "grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}]
    assert fake_douyin.calls[-1]["token"] == fake_douyin.access_token
    assert json.loads(saved.read_text())["refresh_token"] == fake_douyin.refresh_token  # rotated token kept
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    restarted = AccessTokens(ACCESS_TOKEN, REFRESH_TOKEN, client_key=CLIENT_KEY, path=saved)
    assert restarted.access_token == fake_douyin.access_token


async def test_an_expired_token_without_refresh_waits_and_alerts_once(fake_douyin: FakeDouyin) -> None:
    fake_douyin.expire_token()
    alerts: list[str] = []

    async def alert(text: str) -> None:
        alerts.append(text)

    async with _client(fake_douyin, refresh=False) as client:
        sink = DouyinSink(client, alert=alert, token_retry=600.0)
        errors = []
        for _ in range(2):
            with pytest.raises(SendError) as info:
                await sink.send(_reply())
            errors.append(info.value)
    assert all(e.transient and e.retry_after == 600.0 and e.code == 2190008 for e in errors)
    assert len(alerts) == 1 and fake_douyin.refreshes == []


async def test_other_codes_are_permanent_and_server_errors_transient(fake_douyin: FakeDouyin) -> None:
    fake_douyin.fail("/item/comment/reply/", 28001016)  # e.g. the comment no longer exists
    async with _client(fake_douyin) as client:
        sink = DouyinSink(client)
        with pytest.raises(SendError) as permanent:
            await sink.send(_reply())
        fake_douyin.fail_http("/item/comment/reply/", 502)
        with pytest.raises(SendError) as transient:
            await sink.send(_reply())
    assert (permanent.value.transient, permanent.value.code) == (False, 28001016)
    assert (transient.value.transient, transient.value.code) == (True, 502)


async def test_tokens_never_reach_the_logs(fake_douyin: FakeDouyin, caplog: pytest.LogCaptureFixture) -> None:
    fake_douyin.expire_token()
    with caplog.at_level(logging.DEBUG):
        async with _client(fake_douyin) as client:
            logging.getLogger("coursebot.test").info("%r", client)
            await DouyinSink(client).send(_reply())
    assert caplog.records
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, fake_douyin.access_token, fake_douyin.refresh_token):
        assert secret not in caplog.text
