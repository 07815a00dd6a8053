"""The Douyin webhook over real HTTP: signatures, challenge, dedupe, burst, malformed and oversized bodies."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import httpx
import pytest
from douyin_harness import SECRET, Webhook, running_webhook

from bot.adapters.douyin import DouyinSource, sign
from bot.config import DouyinSettings

COMMENT = {
    "event": "item_comment_reply", "client_key": "awtestclientkey", "from_user_id": "viewer-open-id",
    "to_user_id": "creator-open-id",
    "content": {"comment_id": "7300000000000000001", "comment_user_id": "viewer-open-id", "content": "这个课多少钱？",
                "digg_count": 0, "reply_comment_total": 0, "create_time": 1700000000, "reply_to_comment_id": "",
                "reply_to_item_id": "@9VwKzuuES8gmaXS7ZohrTM", "at_user_id": ""},
}


def _comment(n: int) -> dict:
    return {**COMMENT, "content": {**COMMENT["content"], "comment_id": str(7300000000000000000 + n), "content": f"第{n}条评论"}}


async def test_verify_webhook_challenge_is_echoed(hook: Webhook) -> None:
    response = await hook.deliver({"event": "verify_webhook", "client_key": "awtestclientkey", "from_user_id": "",
                                   "to_user_id": "", "content": {"challenge": 12345}})
    assert response.status_code == 200 and response.json() == {"challenge": 12345}
    assert hook.queued() == []


async def test_a_signed_comment_is_acknowledged_and_becomes_an_event(hook: Webhook) -> None:
    response = await hook.deliver(COMMENT)
    assert response.status_code == 200
    [event] = hook.queued()
    assert (event.platform, event.event_id, event.kind, event.text) == ("douyin", "7300000000000000001", "comment", "这个课多少钱？")
    assert event.thread.id == "@9VwKzuuES8gmaXS7ZohrTM" and event.author_id == "viewer-open-id" and event.parent_id is None
    assert event.created_at.timestamp() == 1700000000
    assert event.raw["reply"] == {"item_id": "@9VwKzuuES8gmaXS7ZohrTM", "comment_id": "7300000000000000001"}


async def test_an_uppercase_hex_signature_is_accepted(hook: Webhook) -> None:
    body = json.dumps(COMMENT).encode()
    response = await hook.deliver(body=body, signature=sign(SECRET, body).upper())
    assert response.status_code == 200 and len(hook.queued()) == 1


@pytest.mark.parametrize("signature", [None, "", "0" * 40, sign("another-secret", json.dumps(COMMENT).encode())])
async def test_a_missing_or_wrong_signature_is_401_and_nothing_is_kept(hook: Webhook, signature: str | None) -> None:
    response = await hook.deliver(body=json.dumps(COMMENT).encode(), signature=signature)
    assert response.status_code == 401 and hook.queued() == []


async def test_the_signature_covers_the_raw_bytes_not_the_parsed_json(hook: Webhook) -> None:
    signed = json.dumps(COMMENT).encode()
    reformatted = json.dumps(COMMENT, indent=2).encode()  # same JSON value, other bytes
    response = await hook.deliver(body=reformatted, signature=sign(SECRET, signed))
    assert response.status_code == 401 and hook.queued() == []


async def test_a_duplicate_delivery_is_processed_once(hook: Webhook) -> None:
    responses = [await hook.deliver(COMMENT, msg_id="retry-me") for _ in range(4)]  # Douyin retries up to 3 times
    assert [r.status_code for r in responses] == [200] * 4
    assert len(hook.queued()) == 1 and hook.webhook.counts["duplicates"] == 3


async def test_concurrent_duplicates_are_processed_once(hook: Webhook) -> None:
    responses = await asyncio.gather(*(hook.deliver(COMMENT, msg_id="same") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len(hook.queued()) == 1


async def test_a_burst_of_1000_deliveries_loses_nothing(hook: Webhook) -> None:
    deliveries = [(f"msg-{n}", _comment(n)) for n in range(1000)]
    retries = deliveries[::10]  # a tenth delivered twice, interleaved
    in_flight = asyncio.Semaphore(25)  # Douyin's pushes overlap; 25 at once keeps httpx's pool out of the measurement

    async def deliver(msg_id: str, payload: dict):
        async with in_flight:
            return await hook.deliver(payload, msg_id=msg_id)

    responses = await asyncio.gather(*(deliver(m, p) for m, p in deliveries + retries))
    assert [r.status_code for r in responses] == [200] * 1100
    events = hook.queued()
    assert sorted(e.event_id for e in events) == sorted(p["content"]["comment_id"] for _, p in deliveries)
    assert hook.webhook.counts["accepted"] == 1000


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00", b"[1, 2, 3]", b'"just a string"'])
async def test_malformed_json_is_400_and_nothing_is_kept(hook: Webhook, body: bytes) -> None:
    response = await hook.deliver(body=body)
    assert response.status_code == 400 and hook.queued() == []


async def test_an_oversized_body_is_413(hook: Webhook) -> None:
    big = {**COMMENT, "content": {**COMMENT["content"], "content": "长" * 40_000}}  # > 64 KiB of UTF-8
    response = await hook.deliver(big)
    assert response.status_code == 413 and hook.queued() == []


async def test_an_oversized_chunked_body_without_length_is_413(hook: Webhook) -> None:
    body = json.dumps({**COMMENT, "padding": "x" * 100_000}).encode()

    async def chunks():
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    response = await hook.http.post("/douyin/webhook", content=chunks(),
                                    headers={"X-Douyin-Signature": sign(SECRET, body), "Msg-Id": "chunked"})
    assert response.status_code == 413 and hook.queued() == []


async def test_unknown_events_are_acknowledged_and_the_webhook_keeps_working(hook: Webhook) -> None:
    unknown = await hook.deliver({"event": "new_video_digg", "content": {"item_id": "x"}}, msg_id="u1")
    broken = await hook.deliver({"event": "im_receive_msg", "from_user_id": "v", "content": "{broken"}, msg_id="u2")
    after = await hook.deliver(COMMENT, msg_id="u3")
    assert [r.status_code for r in (unknown, broken, after)] == [200, 200, 200]
    assert [e.event_id for e in hook.queued()] == ["7300000000000000001"]


async def test_a_delivery_that_cannot_be_kept_is_not_acknowledged_and_its_retry_is_accepted() -> None:
    kept = []
    attempts = 0

    async def store_down_once(event) -> None:  # the durable hand-over fails once (e.g. the database is locked)
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database is locked")
        kept.append(event)

    async with running_webhook(accept=store_down_once) as hook:
        first = await hook.deliver(COMMENT, msg_id="m-503")
        retry = await hook.deliver(COMMENT, msg_id="m-503")
    assert (first.status_code, retry.status_code) == (503, 200)
    assert [e.event_id for e in kept] == ["7300000000000000001"]


async def test_the_client_secret_never_reaches_the_logs(hook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await hook.deliver(COMMENT, signature="bad")
        await hook.deliver(body=b"{oops")
        await hook.deliver({"event": "whatever"})
        logging.getLogger("coursebot.test").info("%r", hook.webhook)
    assert caplog.records and SECRET not in caplog.text


async def test_douyin_source_serves_the_configured_path_and_yields_events() -> None:
    settings = DouyinSettings(client_secret=SECRET, webhook_path="/hooks/dy", webhook_port=0)
    source = DouyinSource(settings)
    events = source.events()
    first = asyncio.ensure_future(anext(events))
    async with asyncio.timeout(10):
        while source.base_url is None:
            await asyncio.sleep(0.01)
        dm = {"event": "im_receive_msg", "from_user_id": "viewer-open-id",
              "content": json.dumps({"server_message_id": "s1", "conversation_short_id": "c1", "text": "在吗"})}
        body = json.dumps(dm).encode()
        async with httpx.AsyncClient(base_url=source.base_url) as http:
            response = await http.post("/hooks/dy", content=body, headers={"X-Douyin-Signature": sign(SECRET, body)})
        event = await first
    await events.aclose()
    assert response.status_code == 200 and (event.kind, event.text) == ("dm", "在吗")


@pytest.mark.parametrize("create_time", [float("inf"), -float("inf"), 1e300, float("nan"), "soon", 2.6e11, [1], {"t": 1}])
async def test_a_signed_comment_with_an_impossible_create_time_is_kept_with_the_time_it_arrived(hook: Webhook, create_time) -> None:
    before = datetime.now(UTC)
    response = await hook.deliver({**COMMENT, "content": {**COMMENT["content"], "create_time": create_time}})
    assert response.status_code == 200
    [event] = hook.queued()
    assert event.event_id == "7300000000000000001" and event.created_at >= before


async def test_a_dm_whose_user_infos_is_not_a_list_is_kept_without_a_name(hook: Webhook) -> None:
    content = {"server_message_id": "dm-1", "conversation_short_id": "c1", "text": "多少钱", "user_infos": 5}
    response = await hook.deliver({"event": "im_receive_msg", "from_user_id": "v", "content": json.dumps(content)})
    assert response.status_code == 200
    [event] = hook.queued()
    assert event.author_name is None and event.text == "多少钱"
