"""Reading a live room through Bilibili's official live open platform (直播开放平台, "互动玩法").

The creator registers as a developer (access_key_id / access_key_secret), creates a project (`app_id`) and,
as the host, gives the bot their 身份码 (identity code). `POST v2/app/start {code, app_id}` (HMAC-SHA256
signed headers) returns the session (`game_id`), the WebSocket links and the auth body, and the host's room;
the project must call `v2/app/heartbeat {game_id}` every 20 s while it reads, and `v2/app/end` when it stops.
The WebSocket is the same binary protocol as the web route; commands are `LIVE_OPEN_PLATFORM_*`, each with
Bilibili's own `msg_id`, so no idempotency key has to be derived. It cannot send danmaku: answers still go
through the web send endpoint with cookies. docs/bilibili-live.md says when to prefer it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

import httpx

from bot.adapters.bilibili.errors import BilibiliError, TransportError
from bot.adapters.bilibili_live import protocol
from bot.adapters.bilibili_live.commands import PLATFORM, MalformedCommand, RoomState, command_name
from bot.adapters.bilibili_live.source import Endpoint, LiveSource
from bot.events import Event

log = logging.getLogger("coursebot.bilibili_live")


def signed_headers(body: bytes, access_key_id: str, access_key_secret: str, *, nonce: str | None = None,
                   timestamp: int | None = None) -> dict[str, str]:
    """The open platform's request signature: the six `x-bili-*` headers, sorted, as `name:value` lines, HMAC-SHA256
    with the secret → `Authorization`."""
    signed = {
        "x-bili-accesskeyid": access_key_id,
        "x-bili-content-md5": hashlib.md5(body).hexdigest(),
        "x-bili-signature-method": "HMAC-SHA256",
        "x-bili-signature-nonce": nonce or uuid.uuid4().hex,
        "x-bili-signature-version": "1.0",
        "x-bili-timestamp": str(timestamp if timestamp is not None else int(time.time())),
    }
    text = "\n".join(f"{k}:{v}" for k, v in sorted(signed.items()))
    signature = hmac.new(access_key_secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return {**signed, "Authorization": signature, "Content-Type": "application/json", "Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class OpenSession:
    game_id: str
    auth_body: str
    links: tuple[str, ...]
    room_id: int
    host_name: str = ""


class OpenLiveApi:
    """`async with OpenLiveApi(...) as api:` — app/start, app/heartbeat, app/end. Secrets never logged."""

    def __init__(self, *, access_key_id: str, access_key_secret: str, app_id: int, code: str,
                 api_base: str = "https://live-open.biliapi.com", timeout: float = 15.0) -> None:
        self.api_base = api_base.rstrip("/")
        self.app_id = app_id
        self._key_id, self._secret, self._code = access_key_id, access_key_secret, code
        self._timeout = httpx.Timeout(timeout)
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> OpenLiveApi:
        """From `[bilibili_live.open_platform]` (secrets unwrapped here and nowhere else)."""
        options: dict[str, Any] = {"access_key_id": settings.access_key_id,
                                   "access_key_secret": settings.access_key_secret.get_secret_value(),
                                   "app_id": settings.app_id, "code": settings.code.get_secret_value(),
                                   "api_base": settings.api_base}
        return cls(**{**options, **overrides})

    def __repr__(self) -> str:
        return f"OpenLiveApi(api_base={self.api_base!r}, app_id={self.app_id})"

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        if self._http is None:
            raise RuntimeError("use `async with OpenLiveApi(...) as api`")
        body = json.dumps(payload, separators=(",", ":")).encode()
        try:
            response = await self._http.post(f"{self.api_base}{path}", content=body,
                                              headers=signed_headers(body, self._key_id, self._secret))
        except httpx.HTTPError as exc:
            raise TransportError(-1, f"{type(exc).__name__}: {exc}", endpoint=path) from None
        if response.status_code >= 500:
            raise TransportError(response.status_code, f"HTTP {response.status_code}", endpoint=path)
        try:
            envelope = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise TransportError(response.status_code, "response is not JSON", endpoint=path) from None
        code = int(envelope.get("code") or 0) if isinstance(envelope, dict) else -1
        if code != 0:
            raise BilibiliError(code, str(envelope.get("message") or ""), endpoint=path)
        return envelope.get("data") or {}

    async def start(self) -> OpenSession:
        data = await self._post("/v2/app/start", {"code": self._code, "app_id": self.app_id})
        game, ws, anchor = data.get("game_info") or {}, data.get("websocket_info") or {}, data.get("anchor_info") or {}
        return OpenSession(game_id=str(game.get("game_id") or ""), auth_body=str(ws.get("auth_body") or ""),
                           links=tuple(str(link) for link in ws.get("wss_link") or ()),
                           room_id=int(anchor.get("room_id") or 0), host_name=str(anchor.get("uname") or ""))

    async def heartbeat(self, game_id: str) -> None:
        await self._post("/v2/app/heartbeat", {"game_id": game_id})

    async def end(self, game_id: str) -> None:
        await self._post("/v2/app/end", {"app_id": self.app_id, "game_id": game_id})


def _open_event(state: RoomState, command: dict[str, Any], received: datetime) -> Event | None:
    name, data = command_name(command), command["data"]
    stamp = int(data.get("timestamp") or 0)
    created = datetime.fromtimestamp(stamp, UTC) if stamp > 0 else received
    viewer = str(data.get("open_id") or "") or None  # open_id: stable per viewer and project; uid is 0 on the open platform
    base: dict[str, Any] = {"room_id": state.room_id, "uid": int(data.get("uid") or 0), "open_id": viewer}
    common = {"platform": PLATFORM, "thread": state.thread, "author_id": viewer,
              "author_name": str(data.get("uname") or "") or None, "created_at": created}
    if name == "LIVE_OPEN_PLATFORM_DM":
        return Event(event_id=f"dm:{data['msg_id']}", text=str(data["msg"]), kind="danmaku", **common,
                     raw={**base, "sent_ms": stamp * 1000, "received": received.isoformat()})
    if name == "LIVE_OPEN_PLATFORM_SUPER_CHAT":
        return Event(event_id=f"sc:{data['message_id']}", text=str(data["message"]), kind="super_chat", **common,
                     raw={**base, "price": float(data["rmb"]), "super_chat_id": int(data["message_id"])})
    if name == "LIVE_OPEN_PLATFORM_SEND_GIFT":
        num, price = int(data["gift_num"]), int(data.get("price") or 0)
        return Event(event_id=f"gift:{data['msg_id']}", text=f"{data['gift_name']} x{num}", kind="gift", **common,
                     raw={**base, "gift_name": str(data["gift_name"]), "num": num,
                          "coin_type": "gold" if data.get("paid") else "silver", "total_coin": price * num,
                          "combo": False})
    if name in ("LIVE_OPEN_PLATFORM_LIKE", "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER"):
        action = "like" if name.endswith("LIKE") else "entry"
        key = data.get("msg_id") or f"{state.room_id}:{viewer}:{stamp}"
        return Event(event_id=f"{action}:{key}", text=action, kind="engagement", **common, raw={**base, "action": action})
    if name == "LIVE_OPEN_PLATFORM_LIVE_START":
        state.live_since = stamp or int(received.timestamp())
        state.title = str(data.get("title") or state.title)
        return Event(platform=PLATFORM, event_id=f"live_start:{state.room_id}:{state.live_since}", text="",
                     kind="live_start", thread=state.thread, created_at=datetime.fromtimestamp(state.live_since, UTC),
                     raw={"room_id": state.room_id, "live_time": state.live_since})
    if name == "LIVE_OPEN_PLATFORM_LIVE_END":
        if not state.live_since:
            return None
        event = Event(platform=PLATFORM, event_id=f"live_end:{state.room_id}:{state.live_since}", text="",
                      kind="live_end", thread=state.thread, created_at=created,
                      raw={"room_id": state.room_id, "live_time": state.live_since, "ended": stamp})
        state.live_since = 0
        return event
    return None


OPEN_HANDLED = frozenset({"LIVE_OPEN_PLATFORM_DM", "LIVE_OPEN_PLATFORM_SUPER_CHAT", "LIVE_OPEN_PLATFORM_SEND_GIFT",
                          "LIVE_OPEN_PLATFORM_LIKE", "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER",
                          "LIVE_OPEN_PLATFORM_LIVE_START", "LIVE_OPEN_PLATFORM_LIVE_END"})


def open_to_event(state: RoomState, command: dict[str, Any], *, received: datetime) -> Event | None:
    try:
        return _open_event(state, command, received)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedCommand(f"{command_name(command)}: {type(exc).__name__}: {exc}") from None


class OpenLiveSource(LiveSource):
    """The host's room through the open platform: one session per 身份码, kept alive with the project heartbeat.

    Whether the room is live when the bot connects is read from the web room info (`LiveApi.room_init`,
    unsigned and cookie-free); later starts and ends come as LIVE_OPEN_PLATFORM_LIVE_START / _END."""

    handled = OPEN_HANDLED
    to_event = staticmethod(open_to_event)

    def __init__(self, open_api: OpenLiveApi, web_api: Any, *, app_heartbeat: float = 20.0, **options: Any) -> None:
        super().__init__(web_api, [0], **options)  # one room: the host's, known after app/start
        self._open = open_api
        self._app_heartbeat = app_heartbeat
        self.session: OpenSession | None = None

    async def _endpoint(self, room: int, queue: asyncio.Queue[Event], attempt: int) -> Endpoint:
        if self.session is not None:  # a reconnect: the old session may have lapsed; end it, start afresh
            await self._end()
        self.session = session = await self._open.start()
        if not session.links:
            raise BilibiliError(-1, "app/start returned no WebSocket links", endpoint="/v2/app/start")
        state = self.states.get(room)
        if state is None:
            init = await self._api.room_init(session.room_id)
            title = ""
            try:
                title = await self._api.room_title(init.room_id)
            except BilibiliError as exc:
                log.info("bilibili-live: no title for room %s: %s", init.room_id, exc)
            state = self.states[room] = RoomState(init.room_id, title, init.live_time if init.live else 0)
        return Endpoint(state, session.links[attempt % len(session.links)],
                        protocol.encode(protocol.AUTH, session.auth_body), keepalive=self._keep_session)

    async def _keep_session(self) -> None:
        while self.session is not None:
            await asyncio.sleep(self._app_heartbeat)
            try:
                await self._open.heartbeat(self.session.game_id)
                self.stats["app_heartbeats"] += 1
            except BilibiliError as exc:  # the session lapses; the next reconnect starts a new one
                log.warning("bilibili-live: open platform heartbeat failed: %s", exc)

    async def _end(self) -> None:
        if self.session is None:
            return
        try:
            await self._open.end(self.session.game_id)
        except BilibiliError as exc:
            log.info("bilibili-live: open platform app/end: %s", exc)
        self.session = None

    async def events(self):  # type: ignore[no-untyped-def, override]
        try:
            async for event in super().events():
                yield event
        finally:
            await asyncio.shield(self._end())
