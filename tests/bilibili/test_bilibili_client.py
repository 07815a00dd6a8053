"""Video ids and the client's envelope handling."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiohttp import web
from fake_bilibili import FakeBilibili

from bot.adapters.bilibili import (
    BilibiliClient,
    NotLoggedIn,
    RiskControl,
    TransportError,
)
from bot.adapters.bilibili.bvid import aid_to_bvid, bvid_to_aid, parse_video


@pytest.mark.parametrize(("aid", "bvid"), [(170001, "BV17x411w7KC"), (2, "BV1xx411c7mD"), (113625742184800, aid_to_bvid(113625742184800))])
def test_bv_ids_and_aids_convert_both_ways(aid: int, bvid: str) -> None:
    assert aid_to_bvid(aid) == bvid and bvid_to_aid(bvid) == aid


@pytest.mark.parametrize("ref", ["BV17x411w7KC", "av170001", "170001", "https://www.bilibili.com/video/BV17x411w7KC/?p=2"])
def test_configured_videos_may_be_bv_ids_av_numbers_or_urls(ref: str) -> None:
    assert parse_video(ref) == 170001


@pytest.mark.parametrize("ref", ["", "BV", "av0", "hello"])
def test_a_bad_video_reference_names_itself(ref: str) -> None:
    with pytest.raises(ValueError, match="not a Bilibili video"):
        parse_video(ref)


async def test_envelope_codes_become_typed_errors(fake: FakeBilibili, make_client: Callable[..., BilibiliClient]) -> None:
    fake.add_video(170001, "Python")
    fake.fail("/x/v2/reply", -352)
    async with make_client() as client:
        with pytest.raises(RiskControl) as risk:
            await client.comments(170001)
    async with make_client(sessdata=None) as client:
        with pytest.raises(NotLoggedIn) as login:
            await client.comments(170001)
    assert (risk.value.code, login.value.code) == (-352, -101)
    assert "/x/v2/reply" in str(risk.value)


async def test_a_body_that_is_not_an_envelope_is_a_transport_error(unused_tcp_port: int) -> None:
    app = web.Application()
    app.router.add_get("/x/v2/reply", lambda request: web.Response(text="<html>gateway</html>"))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        async with BilibiliClient(api_base=f"http://127.0.0.1:{unused_tcp_port}") as client:
            with pytest.raises(TransportError, match="not JSON"):
                await client.comments(1)
    finally:
        await runner.cleanup()


async def test_the_client_must_be_entered() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await BilibiliClient().comments(1)
