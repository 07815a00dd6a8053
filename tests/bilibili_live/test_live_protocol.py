"""Pure parts of the live client: WBI signing, the binary framing, and commands → Events."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import brotli
import pytest
from fake_server import FakeLive

from bot.adapters.bilibili_live import protocol, wbi
from bot.adapters.bilibili_live.api import classify_send, parse_live_time
from bot.adapters.bilibili_live.commands import HANDLED, MalformedCommand, RoomState, danmaku_key, to_event

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_wbi_signature_matches_the_published_example() -> None:
    # bilibili-API-collect docs/misc/sign/wbi.md: these keys, {foo: 114, bar: 514, zab: 1919810}, wts 1702204169
    key = wbi.mixin_key("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45")
    assert key == "ea1db124af3c7062474693fa704f4ff8"
    signed = wbi.signed_params({"foo": "114", "bar": "514", "zab": 1919810}, key, wts=1702204169)
    assert "&".join(f"{k}={v}" for k, v in signed.items()) == (
        "bar=514&foo=114&wts=1702204169&zab=1919810&w_rid=8f6f2b5b3d485fe1886cec6a0be8c5d4")


def test_wbi_drops_reserved_characters_and_encodes_spaces_as_percent_20() -> None:
    key = wbi.mixin_key("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45")
    import hashlib
    signed = wbi.signed_params({"q": "中文 a!'()*"}, key, wts=1)
    assert signed["q"] == "中文 a"
    assert signed["w_rid"] == hashlib.md5(("q=%E4%B8%AD%E6%96%87%20a&wts=1" + key).encode()).hexdigest()


def test_wbi_keys_come_from_the_nav_image_file_names() -> None:
    data = {"wbi_img": {"img_url": "https://i0.hdslb.com/bfs/wbi/7cd084941338484aae1ad9425b84077c.png",
                        "sub_url": "https://i0.hdslb.com/bfs/wbi/4932caff0ff746eab6f01bf08b70ac45.png"}}
    assert wbi.keys_from_nav(data) == ("7cd084941338484aae1ad9425b84077c", "4932caff0ff746eab6f01bf08b70ac45")
    with pytest.raises(ValueError, match="32-character"):
        wbi.keys_from_nav({"wbi_img": {"img_url": "x.png", "sub_url": "y.png"}})


@pytest.mark.parametrize("version", [protocol.ZLIB, protocol.BROTLI])
def test_a_compressed_frame_carries_several_packets(version: int) -> None:
    inner = b"".join(protocol.encode(protocol.MESSAGE, {"cmd": "X", "n": n}, version=0) for n in range(3))
    frame = protocol.compress(inner, version) + protocol.encode(protocol.HEARTBEAT_REPLY, (77).to_bytes(4, "big"))
    packets = protocol.decode(frame)
    assert [p.json()["n"] for p in packets[:3]] == [0, 1, 2]
    assert packets[3].op == protocol.HEARTBEAT_REPLY and packets[3].popularity() == 77
    header = protocol.HEADER.unpack_from(frame)
    assert header[1:4] == (16, version, protocol.MESSAGE)
    body = frame[16:header[0]]
    assert (zlib.decompress(body) if version == protocol.ZLIB else brotli.decompress(body)) == inner


@pytest.mark.parametrize("frame, problem", [
    (protocol.encode(protocol.MESSAGE, b"{}", version=0)[:-1], "do not fit"),
    (protocol.HEADER.pack(20, 16, protocol.BROTLI, protocol.MESSAGE, 0) + b"nope", "does not decompress"),
    (b"\x00\x00\x00", "shorter than a header"),
    (protocol.HEADER.pack(8, 16, 0, 5, 0), "do not fit"),
])
def test_malformed_frames_raise_a_protocol_error_naming_the_problem(frame: bytes, problem: str) -> None:
    with pytest.raises(protocol.ProtocolError, match=problem):
        protocol.decode(frame)


def test_a_danmaku_becomes_an_event_of_the_live_session_thread() -> None:
    state = RoomState(5050, "Python 直播课", live_since=1_765_000_000)
    command = FakeLive().danmaku(5050, "老师多少钱", uid=9001, uname="小王", sent_ms=1_765_000_123_456)
    event = to_event(state, command, received=NOW)
    assert event is not None
    assert (event.platform, event.kind, event.text, event.author_id, event.author_name) == (
        "bilibili-live", "danmaku", "老师多少钱", "9001", "小王")
    assert event.thread is not None and event.thread.id == "live:5050:1765000000" and event.thread.title == "Python 直播课"
    assert event.raw["room_id"] == 5050 and event.raw["uid"] == 9001
    assert event.created_at == datetime.fromtimestamp(1_765_000_123.456, UTC)


def test_danmaku_key_prefers_the_platform_id_and_otherwise_is_stable_per_delivery() -> None:
    fake = FakeLive()
    with_id = fake.danmaku(1, "hi", id_str="abc123")
    assert danmaku_key(1, with_id["info"]) == "dm:abc123"
    plain = fake.danmaku(1, "多少钱", uid=7, sent_ms=1000)
    plain["info"][0][15] = {"mode": 0, "extra": "{}"}
    key = danmaku_key(1, plain["info"])
    assert key.startswith("dm:1:7:1000:") and key == danmaku_key(1, plain["info"])  # the same delivery twice: one key
    again = fake.danmaku(1, "多少钱", uid=7, sent_ms=1000)  # same viewer, text and ms, another rnd: another danmaku
    again["info"][0][15] = {"mode": 0, "extra": "{}"}
    assert danmaku_key(1, again["info"]) != key
    masked = fake.danmaku(1, "多少钱", uid=0, sent_ms=1000)  # anonymous connection: uid 0, the CRC32 stays
    masked["info"][0][15] = {}
    event = to_event(RoomState(1), masked, received=NOW)
    assert event is not None and event.author_id == f"crc:{0:08x}" and ":crc" in event.event_id


def test_super_chat_gift_and_entries_carry_the_agreed_raw_fields() -> None:
    state = RoomState(9, "t", 100)
    sc = to_event(state, FakeLive.super_chat(77, "老师能讲讲就业吗", uid=5, price=50), received=NOW)
    assert sc is not None and (sc.kind, sc.event_id, sc.raw["price"], sc.raw["super_chat_id"], sc.raw["uid"]) == (
        "super_chat", "sc:77", 50.0, 77, 5)
    gift = to_event(state, FakeLive.gift("tid-1", num=3, coin_type="gold", total_coin=3000), received=NOW)
    assert gift is not None and gift.kind == "gift" and {k: gift.raw[k] for k in ("gift_name", "num", "coin_type", "total_coin")} == {
        "gift_name": "辣条", "num": 3, "coin_type": "gold", "total_coin": 3000}
    follow = to_event(state, FakeLive.interact(8, 2), received=NOW)
    assert follow is not None and (follow.kind, follow.raw["action"]) == ("engagement", "follow")


def test_live_and_preparing_open_and_close_the_session_thread() -> None:
    state = RoomState(9, "t")
    assert to_event(state, {"cmd": "PREPARING"}, received=NOW) is None  # not live: nothing ends
    start = to_event(state, {"cmd": "LIVE", "live_time": 1_765_000_000}, received=NOW)
    assert start is not None and start.kind == "live_start" and start.thread is not None
    assert start.thread.id == "live:9:1765000000"
    assert to_event(state, {"cmd": "LIVE", "roomid": 9}, received=NOW) is None  # announced twice
    end = to_event(state, {"cmd": "PREPARING"}, received=NOW)
    assert end is not None and end.kind == "live_end" and end.thread is not None and end.thread.id == "live:9:1765000000"
    assert state.thread.id == "live:9:0"


def test_a_known_command_with_a_wrong_shape_is_malformed() -> None:
    assert "DANMU_MSG" in HANDLED
    with pytest.raises(MalformedCommand, match="DANMU_MSG"):
        to_event(RoomState(1), {"cmd": "DANMU_MSG", "info": [[0], "x"]}, received=NOW)


@pytest.mark.parametrize("code, message, outcome", [
    (0, "", "sent"), (0, "f", "banned_words"), (0, "k", "banned_words"), (10030, "您发送弹幕的频率过快", "too_fast"),
    (10031, "您发送弹幕的频率过快", "too_fast"), (10031, "您发送的弹幕重复了", "duplicate"), (1003212, "超出限制长度", "too_long"),
    (-101, "账号未登录", "not_logged_in"), (-111, "csrf 校验失败", "not_logged_in"), (-412, "", "risk_control"),
    (-352, "", "risk_control"), (1003, "您已被禁言", "muted"), (-400, "bad", "other"),
])
def test_send_codes_are_classified(code: int, message: str, outcome: str) -> None:
    assert classify_send(code, message) == outcome


def test_live_time_is_read_from_unix_seconds_or_beijing_time() -> None:
    assert parse_live_time(1_765_000_000) == 1_765_000_000
    assert parse_live_time("2026-12-06 18:00:00") == int(datetime(2026, 12, 6, 10, 0, tzinfo=UTC).timestamp())
    assert parse_live_time("0000-00-00 00:00:00") == 0


def test_a_renamed_room_titles_the_following_events() -> None:
    state = RoomState(9, "旧标题", 100)
    assert to_event(state, {"cmd": "ROOM_CHANGE", "data": {"title": "Python 第二讲", "area_name": "学习"}}, received=NOW) is None
    event = to_event(state, FakeLive().danmaku(9, "好"), received=NOW)
    assert event is not None and event.thread is not None and event.thread.title == "Python 第二讲"
