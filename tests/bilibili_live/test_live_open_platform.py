"""Reading through the official live open platform against the fake: signed app/start, the session's
heartbeat and end, the shared WebSocket protocol, LIVE_OPEN_PLATFORM_* commands with Bilibili's own ids."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fake_server import ACCESS_KEY_ID, ACCESS_KEY_SECRET, APP_ID, CODE, FakeLive

from bot.adapters.bilibili_live import LiveApi
from bot.adapters.bilibili_live.open_platform import OpenLiveApi, OpenLiveSource, signed_headers
from bot.events import Event

ROOM = 6_060_606


@contextlib.asynccontextmanager
async def reading(live: FakeLive, secret: str = ACCESS_KEY_SECRET) -> AsyncIterator[tuple[OpenLiveSource, list[Event]]]:
    async with OpenLiveApi(access_key_id=ACCESS_KEY_ID, access_key_secret=secret, app_id=APP_ID, code=CODE,
                           api_base=live.base_url) as open_api, \
            LiveApi(live_api_base=live.base_url, api_base=live.base_url) as web_api:
        source = OpenLiveSource(open_api, web_api, app_heartbeat=0.05, heartbeat=0.05, backoff_min=0.01, backoff_max=0.05)
        events: list[Event] = []

        async def pump() -> None:
            async for event in source.events():
                events.append(event)

        task = asyncio.create_task(pump())
        try:
            yield source, events
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _until(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_the_signature_is_an_hmac_of_the_sorted_x_bili_headers() -> None:
    import hashlib
    import hmac

    headers = signed_headers(b'{"a":1}', "id", "secret", nonce="n", timestamp=1)
    assert headers["x-bili-content-md5"] == hashlib.md5(b'{"a":1}').hexdigest()
    text = ("x-bili-accesskeyid:id\nx-bili-content-md5:" + hashlib.md5(b'{"a":1}').hexdigest() +
            "\nx-bili-signature-method:HMAC-SHA256\nx-bili-signature-nonce:n\nx-bili-signature-version:1.0\nx-bili-timestamp:1")
    assert headers["Authorization"] == hmac.new(b"secret", text.encode(), hashlib.sha256).hexdigest()


async def test_the_hosts_room_is_read_with_bilibilis_own_message_ids(live: FakeLive) -> None:
    live.add_room(ROOM, title="开放平台直播间", live_time=1_765_000_000)
    live.open_room = ROOM
    async with reading(live) as (source, events):
        await _until(lambda: live.connected.is_set())
        dm = live.open_danmaku(ROOM, "老师多少钱", msg_id="m-1")
        await live.push(ROOM, [dm, dm, {"cmd": "LIVE_OPEN_PLATFORM_LIVE_END", "data": {"room_id": ROOM, "timestamp": 1_765_003_600}}])
        await _until(lambda: len(events) == 2)
        await _until(lambda: any(path == "/v2/app/heartbeat" for path, _ in live.app_calls))
    await _until(lambda: any(path == "/v2/app/end" for path, _ in live.app_calls))
    danmaku, end = events
    assert (danmaku.event_id, danmaku.kind, danmaku.text, danmaku.author_id) == ("dm:m-1", "danmaku", "老师多少钱", "viewer-open-1")
    assert danmaku.thread is not None and (danmaku.thread.id, danmaku.thread.title) == (f"live:{ROOM}:1765000000", "开放平台直播间")
    assert danmaku.raw["room_id"] == ROOM and end.kind == "live_end" and source.stats["duplicates"] == 1
    assert live.app_calls[0] == ("/v2/app/start", {"code": CODE, "app_id": APP_ID})
    assert live.auths[0]["key"] == "fake-open-token"


async def test_a_wrong_secret_is_refused_and_nothing_connects(live: FakeLive) -> None:
    live.add_room(ROOM)
    live.open_room = ROOM
    async with reading(live, secret="not-the-secret") as (source, _):
        await _until(lambda: source.stats["connect_failed"] >= 2)
    assert not live.auths and not live.app_calls
