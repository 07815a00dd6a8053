"""A small Bilibili live on 127.0.0.1 for tests and the intake benchmark: the WBI nav keys, finger/spi,
room_init / get_info, a WBI-checked getDanmuInfo, the danmaku WebSocket (`/sub`) and `msg/send`.

The WebSocket speaks the real framing: it waits for the auth packet (op 7) and checks its token and room,
answers heartbeats (op 2) with popularity (op 3), and pushes commands as op-5 packets, plain, zlib (protover 2)
or brotli (protover 3), several per frame. Tests can make auth fail, drop every connection mid-stream, send
raw bytes (a malformed packet), stream danmaku at a set rate, and queue send-endpoint answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.adapters.bilibili_live import protocol, wbi

SESSDATA = "sess-live-0123456789"
BILI_JCT = "jct-live-9876543210"
CREATOR = "42"
BUVID3 = "FAKE-BUVID3-0000infoc"
IMG_KEY = "7cd084941338484aae1ad9425b84077c"
SUB_KEY = "4932caff0ff746eab6f01bf08b70ac45"
TOKEN = "fake-danmu-token"
# the official open platform's side (app/start …): project credentials and the host's identity code
ACCESS_KEY_ID = "fake-access-key-id"
ACCESS_KEY_SECRET = "fake-access-key-secret"
APP_ID = 1_700_000_001
CODE = "FAKE身份码"
OPEN_TOKEN = "fake-open-token"


@dataclass
class Room:
    room_id: int
    short_id: int = 0
    title: str = "直播间"
    live_time: int = 0  # unix seconds; 0 = not live
    popularity: int = 1234


@dataclass
class Connection:
    ws: web.WebSocketResponse
    room_id: int
    auth: dict[str, Any] = field(default_factory=dict)
    heartbeats: int = 0


class FakeLive:
    def __init__(self) -> None:
        self.rooms: dict[int, Room] = {}
        self.connections: list[Connection] = []
        self.auths: list[dict[str, Any]] = []
        self.sent: list[dict[str, str]] = []  # msg/send forms accepted
        self.send_calls: list[dict[str, str]] = []
        self.calls: list[str] = []
        self.danmu_queries: list[dict[str, str]] = []
        self.fail_auth = 0  # refuse the next N auth packets with code -101
        self.img_key, self.sub_key = IMG_KEY, SUB_KEY  # rotate them to make a client's cached mixin key stale
        self.bad_signatures = 0
        self.open_room: int | None = None  # the room app/start answers with (the host of CODE)
        self.app_calls: list[tuple[str, dict[str, Any]]] = []  # (path, body) of signed open-platform calls
        self.silent = False  # stop answering heartbeats (a half-open connection, seen from the client)
        self._send_answers: list[dict[str, Any]] = []
        self._statuses: dict[str, list[int]] = defaultdict(list)
        self._ms = itertools.count(int(time.time() * 1000))
        self._ids = itertools.count(1)
        self.connected = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.base_url = ""
        self.port = 0

    # -- arranging -----------------------------------------------------------------------------------------
    def add_room(self, room_id: int, *, short_id: int = 0, title: str = "直播间", live_time: int = 0) -> Room:
        self.rooms[room_id] = Room(room_id, short_id, title, live_time)
        return self.rooms[room_id]

    def answer_send(self, code: int, message: str = "", times: int = 1) -> None:
        """The next `times` msg/send calls get this envelope (after the cookie check)."""
        self._send_answers.extend({"code": code, "message": message, "msg": message} for _ in range(times))

    def fail_http(self, path: str, status: int, times: int = 1) -> None:
        self._statuses[path].extend([status] * times)

    def danmaku(self, room_id: int, text: str, *, uid: int = 9001, uname: str = "观众", id_str: str | None = None,
                sent_ms: int | None = None) -> dict[str, Any]:
        """A DANMU_MSG command as Bilibili sends it (the fields the client reads, in their places)."""
        extra = json.dumps({"id_str": id_str} if id_str else {"content": text})
        head = [0, 1, 25, 16777215, sent_ms if sent_ms is not None else next(self._ms), 1700000000 + next(self._ids), 0,
                f"{uid:08x}", 0, 0, 0, "", 0, "{}", "{}", {"mode": 0, "extra": extra}]
        return {"cmd": "DANMU_MSG", "info": [head, text, [uid, uname, 0, 0, 0, 10000, 1, ""], [], [0, 0, 0, ">50000"],
                                             ["", ""], 0, 0, None, {"ts": 1700000000, "ct": "AB"}, 0, 0, None, None, 0, 7]}

    @staticmethod
    def super_chat(sc_id: int, text: str, *, uid: int = 9100, price: float = 30) -> dict[str, Any]:
        return {"cmd": "SUPER_CHAT_MESSAGE", "data": {"id": sc_id, "uid": uid, "price": price, "message": text,
                                                      "start_time": 1700000100, "user_info": {"uname": "付费观众"}}}

    @staticmethod
    def gift(tid: str, *, uid: int = 9200, name: str = "辣条", num: int = 3, coin_type: str = "silver",
             total_coin: int = 300) -> dict[str, Any]:
        return {"cmd": "SEND_GIFT", "data": {"uid": uid, "uname": "送礼", "giftName": name, "num": num,
                                             "coin_type": coin_type, "total_coin": total_coin, "tid": tid,
                                             "timestamp": 1700000200}}

    @staticmethod
    def interact(uid: int, msg_type: int, *, trigger_time: int = 1700000300_000_000_000) -> dict[str, Any]:
        return {"cmd": "INTERACT_WORD", "data": {"uid": uid, "uname": "路人", "msg_type": msg_type,
                                                 "trigger_time": trigger_time, "timestamp": 1700000300}}

    # -- pushing -------------------------------------------------------------------------------------------
    def frame(self, commands: list[dict[str, Any]], *, version: int = protocol.BROTLI) -> bytes:
        """Commands as one frame: several op-5 packets, compressed into one packet for versions 2 and 3."""
        packets = b"".join(protocol.encode(protocol.MESSAGE, c, version=protocol.PLAIN_JSON) for c in commands)
        return packets if version == protocol.PLAIN_JSON else protocol.compress(packets, version)

    async def push(self, room_id: int, commands: list[dict[str, Any]], *, version: int = protocol.BROTLI,
                   per_frame: int = 10) -> None:
        for start in range(0, len(commands), per_frame):
            await self.push_raw(room_id, self.frame(commands[start:start + per_frame], version=version))

    async def push_raw(self, room_id: int, frame: bytes) -> None:
        for conn in list(self.connections):
            if conn.room_id == room_id and not conn.ws.closed:
                await conn.ws.send_bytes(frame)

    async def stream(self, room_id: int, count: int, *, rate: float = 500.0, per_frame: int = 10,
                     texts: list[str] | None = None) -> None:
        """`count` danmaku at `rate` per second, `per_frame` per brotli frame, paced against the wall clock; each
        carries the wall-clock ms it was sent at as its own time (`info[0][4]`), so a reader can measure lag."""
        texts = texts or [f"老师这个课多少钱{n}" for n in range(50)]
        started = time.monotonic()
        sent = 0
        while sent < count:
            now_ms = int(time.time() * 1000)
            batch = [self.danmaku(room_id, texts[(sent + i) % len(texts)], uid=10_000 + (sent + i) % 997, sent_ms=now_ms)
                     for i in range(min(per_frame, count - sent))]
            await self.push(room_id, batch, per_frame=per_frame)
            sent += len(batch)
            ahead = started + sent / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)

    async def drop_all(self) -> None:
        """Every connection closed by the server mid-stream."""
        for conn in list(self.connections):
            await conn.ws.close()
        self.connections.clear()
        self.connected.clear()

    # -- server --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/x/web-interface/nav", self._nav)
        app.router.add_get("/x/frontend/finger/spi", self._spi)
        app.router.add_get("/room/v1/Room/room_init", self._room_init)
        app.router.add_get("/room/v1/Room/get_info", self._get_info)
        app.router.add_get("/xlive/web-room/v1/index/getDanmuInfo", self._danmu_info)
        app.router.add_post("/msg/send", self._send)
        app.router.add_get("/sub", self._ws)
        for path in ("/v2/app/start", "/v2/app/heartbeat", "/v2/app/end"):
            app.router.add_post(path, self._open_app)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def _status(self, request: web.Request) -> web.Response | None:
        self.calls.append(request.path)
        if self._statuses[request.path]:
            return web.Response(status=self._statuses[request.path].pop(0), text="fail")
        return None

    @staticmethod
    def _ok(data: Any) -> web.Response:
        return web.json_response({"code": 0, "message": "0", "ttl": 1, "data": data})

    async def _nav(self, request: web.Request) -> web.Response:
        if failed := self._status(request):
            return failed
        images = {"img_url": f"https://i0.hdslb.com/bfs/wbi/{self.img_key}.png",
                  "sub_url": f"https://i0.hdslb.com/bfs/wbi/{self.sub_key}.png"}
        logged_in = request.cookies.get("SESSDATA") == SESSDATA
        return web.json_response({"code": 0 if logged_in else -101, "message": "0" if logged_in else "账号未登录",
                                  "data": {"isLogin": logged_in, "wbi_img": images}})

    async def _spi(self, request: web.Request) -> web.Response:
        return self._status(request) or self._ok({"b_3": BUVID3, "b_4": "b4"})

    def _room(self, value: str | None) -> Room | None:
        if not value or not value.isdigit():
            return None
        wanted = int(value)
        return next((r for r in self.rooms.values() if wanted in (r.room_id, r.short_id)), None)

    async def _room_init(self, request: web.Request) -> web.Response:
        if failed := self._status(request):
            return failed
        room = self._room(request.query.get("id"))
        if room is None:
            return web.json_response({"code": 60004, "message": "直播间不存在", "data": {}})
        return self._ok({"room_id": room.room_id, "short_id": room.short_id, "uid": 7, "live_status": 1 if room.live_time else 0,
                         "live_time": room.live_time})

    async def _get_info(self, request: web.Request) -> web.Response:
        if failed := self._status(request):
            return failed
        room = self._room(request.query.get("room_id"))
        if room is None:
            return web.json_response({"code": 1, "message": "未找到该房间", "data": {}})
        return self._ok({"room_id": room.room_id, "title": room.title, "live_status": 1 if room.live_time else 0})

    async def _danmu_info(self, request: web.Request) -> web.Response:
        if failed := self._status(request):
            return failed
        query = dict(request.query)
        self.danmu_queries.append(dict(query))
        given = query.pop("w_rid", "")
        expected = wbi.signed_params({k: v for k, v in query.items() if k != "wts"},
                                     wbi.mixin_key(self.img_key, self.sub_key), wts=int(query.get("wts") or 0))["w_rid"]
        if given != expected or request.cookies.get("buvid3") != BUVID3:
            self.bad_signatures += 1
            return web.json_response({"code": -352, "message": "-352", "data": {"v_voucher": "voucher_fake"}})
        room = self._room(query.get("id"))
        if room is None or room.room_id != int(query["id"]):
            return web.json_response({"code": 1, "message": "room id must be the real one", "data": {}})
        host = {"host": "127.0.0.1", "port": self.port, "wss_port": 1, "ws_port": self.port}
        return self._ok({"group": "live", "token": TOKEN, "host_list": [host]})

    async def _send(self, request: web.Request) -> web.Response:
        if failed := self._status(request):
            return failed
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.send_calls.append(form)
        if request.cookies.get("SESSDATA") != SESSDATA:
            return web.json_response({"code": -101, "message": "账号未登录", "msg": "账号未登录"})
        if form.get("csrf") != BILI_JCT or request.cookies.get("bili_jct") != BILI_JCT:
            return web.json_response({"code": -111, "message": "csrf 校验失败", "msg": "csrf 校验失败"})
        if self._send_answers:
            answer = self._send_answers.pop(0)
            if answer["code"] != 0 or answer["message"]:
                return web.json_response({**answer, "data": {}})
        self.sent.append(form)
        id_str = hashlib.md5(f"{form['roomid']}{form['msg']}{len(self.sent)}".encode()).hexdigest()
        return web.json_response({"code": 0, "message": "", "msg": "", "data": {
            "mode_info": {"mode": 0, "extra": json.dumps({"content": form["msg"], "id_str": id_str})}}})

    async def _open_app(self, request: web.Request) -> web.Response:
        body = await request.read()
        # checked here from the documented rule, not with the client's own function
        lines = "\n".join(f"{name}:{request.headers.get(name, '')}" for name in sorted(
            ("x-bili-accesskeyid", "x-bili-content-md5", "x-bili-signature-method", "x-bili-signature-nonce",
             "x-bili-signature-version", "x-bili-timestamp")))
        expected = hmac.new(ACCESS_KEY_SECRET.encode(), lines.encode(), hashlib.sha256).hexdigest()
        if request.headers.get("Authorization") != expected or request.headers.get("x-bili-accesskeyid") != ACCESS_KEY_ID \
                or request.headers.get("x-bili-content-md5") != hashlib.md5(body).hexdigest():
            return web.json_response({"code": 4003, "message": "签名错误", "data": {}})
        payload = json.loads(body)
        self.app_calls.append((request.path, payload))
        if request.path != "/v2/app/start":
            return self._ok({})
        if payload.get("code") != CODE or payload.get("app_id") != APP_ID or self.open_room is None:
            return web.json_response({"code": 7007, "message": "身份码错误", "data": {}})
        auth_body = json.dumps({"roomid": self.open_room, "protover": 2, "uid": 0, "key": OPEN_TOKEN, "group": "open"})
        return self._ok({"game_info": {"game_id": f"game-{len(self.app_calls)}"},
                         "websocket_info": {"auth_body": auth_body, "wss_link": [f"ws://127.0.0.1:{self.port}/sub"]},
                         "anchor_info": {"room_id": self.open_room, "uname": "主播", "open_id": "host-open-id"}})

    @staticmethod
    def open_danmaku(room_id: int, text: str, *, msg_id: str, open_id: str = "viewer-open-1", timestamp: int = 1_765_000_100) -> dict[str, Any]:
        return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": {"room_id": room_id, "uid": 0, "open_id": open_id, "uname": "观众",
                                                         "msg": text, "msg_id": msg_id, "timestamp": timestamp,
                                                         "fans_medal_level": 0, "dm_type": 0}}

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn: Connection | None = None
        async for message in ws:
            if message.type != WSMsgType.BINARY:
                continue
            for packet in protocol.decode(message.data):
                if packet.op == protocol.AUTH:
                    auth = packet.json()
                    self.auths.append(auth)
                    if self.fail_auth > 0 or auth.get("key") not in (TOKEN, OPEN_TOKEN) or auth.get("roomid") not in self.rooms:
                        self.fail_auth = max(0, self.fail_auth - 1)
                        await ws.send_bytes(protocol.encode(protocol.AUTH_REPLY, {"code": -101}))
                        await ws.close()
                        break
                    conn = Connection(ws, int(auth["roomid"]), auth)
                    self.connections.append(conn)
                    await ws.send_bytes(protocol.encode(protocol.AUTH_REPLY, {"code": 0}))
                    self.connected.set()
                elif packet.op == protocol.HEARTBEAT and conn is not None and not self.silent:
                    conn.heartbeats += 1
                    popularity = self.rooms[conn.room_id].popularity.to_bytes(4, "big")
                    await ws.send_bytes(protocol.encode(protocol.HEARTBEAT_REPLY, popularity))
        if conn in self.connections:
            self.connections.remove(conn)
        return ws
