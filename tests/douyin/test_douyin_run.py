"""`coursebot run --platform douyin` end to end: signed webhook → stored before the 200 → pipeline → outbox → open API."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import sqlalchemy as sa
from douyin_harness import SECRET
from fake_douyin import ACCESS_TOKEN, CLIENT_KEY, OPEN_ID, FakeDouyin

from bot.adapters.douyin import sign
from bot.adapters.serve import check_settings, serve_adapters
from bot.store import Store
from retrieval.errors import InputError

VIDEO = "7301856234917706024"  # mapped to course jianying-101 in config/samples/threads.yaml


def _comment(comment_id: str, text: str) -> bytes:
    return json.dumps({"event": "item_comment_reply", "client_key": CLIENT_KEY, "from_user_id": "viewer-1",
                       "to_user_id": OPEN_ID, "content": {
                           "comment_id": comment_id, "comment_user_id": "viewer-1", "content": text,
                           "create_time": 1700000000, "reply_to_comment_id": "", "reply_to_item_id": VIDEO}},
                      ensure_ascii=False).encode()


def _im(event: str, content: dict) -> bytes:
    return json.dumps({"event": event, "client_key": CLIENT_KEY, "from_user_id": "viewer-2", "to_user_id": OPEN_ID,
                       "content": json.dumps(content, ensure_ascii=False)}, ensure_ascii=False).encode()


def _stored(store: Store, event_id: str) -> int:
    with store.engine.connect() as db:
        return db.execute(sa.text("select count(*) from events where platform = 'douyin' and event_id = :e"),
                          {"e": event_id}).scalar()


@pytest.mark.model
async def test_a_webhook_comment_is_stored_before_the_ack_and_answered_once(fake_douyin: FakeDouyin, analyzer,
                                                                           settings_factory) -> None:
    settings = settings_factory(douyin={
        "enabled": True, "api_base": fake_douyin.base_url, "client_key": CLIENT_KEY, "client_secret": SECRET,
        "access_token": ACCESS_TOKEN, "open_id": OPEN_ID, "webhook_port": 0}, outbox={"poll_interval": 0.1})
    urls: dict[str, str] = {}
    stop = asyncio.Event()
    task = asyncio.create_task(serve_adapters(settings, ["douyin"], analyzer=analyzer, stop=stop, ready=urls.update))
    store = Store.open(settings)
    try:
        async with asyncio.timeout(120):
            while "douyin" not in urls:
                await asyncio.sleep(0.05)
            body = _comment("c-1", "剪映这个课收费吗？多少钱")
            async with httpx.AsyncClient(base_url=urls["douyin"]) as http:
                headers = {"X-Douyin-Signature": sign(SECRET, body), "Msg-Id": "msg-1"}
                first = await http.post(settings.douyin.webhook_path, content=body, headers=headers)
                assert first.status_code == 200 and _stored(store, "c-1") == 1  # durable before the acknowledgement
                retry = await http.post(settings.douyin.webhook_path, content=body, headers=headers)
                redelivered = await http.post(settings.douyin.webhook_path, content=body,
                                              headers={**headers, "Msg-Id": "msg-1-other-id"})
            while not any(c["path"] == "/item/comment/reply/" for c in fake_douyin.calls):
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # room for a wrong second reply to show up
    finally:
        stop.set()
        await task
    replies = [c for c in fake_douyin.calls if c["path"] == "/item/comment/reply/"]
    assert (retry.status_code, redelivered.status_code) == (200, 200)
    assert len(replies) == 1 and replies[0]["body"]["item_id"] == VIDEO and replies[0]["body"]["comment_id"] == "c-1"
    assert replies[0]["token"] == ACCESS_TOKEN and _stored(store, "c-1") == 1
    store.close()


@pytest.mark.model
async def test_a_dm_opened_from_a_video_is_attributed_and_answered_in_its_conversation(
        fake_douyin: FakeDouyin, analyzer, settings_factory) -> None:
    settings = settings_factory(douyin={
        "enabled": True, "api_base": fake_douyin.base_url, "client_key": CLIENT_KEY, "client_secret": SECRET,
        "access_token": ACCESS_TOKEN, "open_id": OPEN_ID, "webhook_port": 0}, outbox={"poll_interval": 0.1})
    urls: dict[str, str] = {}
    stop = asyncio.Event()
    task = asyncio.create_task(serve_adapters(settings, ["douyin"], analyzer=analyzer, stop=stop, ready=urls.update))
    users = [{"open_id": "viewer-2", "nick_name": "小红"}]
    deliveries = [
        _im("im_enter_direct_msg", {"server_message_id": "e-1", "conversation_short_id": "conv-7", "objectId": VIDEO,
                                    "scene_type": 5, "create_time": 1700000000, "user_infos": users}),
        _im("im_receive_msg", {"server_message_id": "dm-1", "conversation_short_id": "conv-7", "message_type": "text",
                               "text": "剪映的课多少钱？", "create_time": 1700000001000, "user_infos": users}),
    ]
    try:
        async with asyncio.timeout(120):
            while "douyin" not in urls:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=urls["douyin"]) as http:
                for n, body in enumerate(deliveries):
                    response = await http.post(settings.douyin.webhook_path, content=body,
                                               headers={"X-Douyin-Signature": sign(SECRET, body), "Msg-Id": f"im-{n}"})
                    assert response.status_code == 200
            while not any(c["path"] == "/im/send/msg/" for c in fake_douyin.calls):
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
    [dm] = [c["body"] for c in fake_douyin.calls if c["path"] == "/im/send/msg/"]
    assert (dm["to_user_id"], dm["conversation_id"], dm["msg_id"], dm["scene"]) == ("viewer-2", "conv-7", "dm-1", "im_replay_msg")
    store = Store.open(settings)
    try:
        with store.engine.connect() as db:
            attribution = db.execute(sa.text("select attribution from viewers where platform = 'douyin'")).scalar()
        attribution = json.loads(attribution) if isinstance(attribution, str) else attribution  # SQLite: JSON text
        assert attribution["video"] == VIDEO
    finally:
        store.close()


def test_running_douyin_without_the_client_secret_is_a_one_line_error(settings_factory) -> None:
    settings = settings_factory(douyin={"enabled": True, "access_token": "x"})
    with pytest.raises(InputError, match="douyin.client_secret is not set"):
        check_settings(settings, ["douyin"])
