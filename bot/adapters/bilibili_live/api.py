"""`async with LiveApi(...) as api:` — the HTTP side of live rooms: WBI keys, buvid3, room info, danmaku
server + token, and the danmaku send endpoint. Hosts are arguments (config keys), so tests use a local fake.

Risk control (-352/-412, HTTP 412) trips the account's `AccountPause` (bot/adapters/bilibili/risk.py), the
same pause the comment adapter keeps in the store: Bilibili judges the account, not the endpoint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Self

import httpx

from bot.adapters.bilibili.errors import AccountPaused, BilibiliError, RiskControl, TransportError, envelope_body, envelope_data
from bot.adapters.bilibili.pacing import Backoff
from bot.adapters.bilibili.risk import AccountPause
from bot.adapters.bilibili_live import wbi
from bot.adapters.bilibili_live.commands import platform_id

log = logging.getLogger("coursebot.bilibili_live")

BEIJING = timezone(timedelta(hours=8))
WBI_KEYS_TTL = 6 * 3600.0  # the keys change about daily; refetched well before


@dataclass(frozen=True, slots=True)
class RoomInit:
    room_id: int  # the real (long) id: the one the WebSocket and the send endpoint want
    short_id: int
    uid: int  # the host
    live: bool
    live_time: int  # unix seconds of the current session's start, 0 when not live


@dataclass(frozen=True, slots=True)
class DanmuServer:
    host: str
    port: int
    wss_port: int
    ws_port: int


@dataclass(frozen=True, slots=True)
class DanmuInfo:
    token: str
    servers: tuple[DanmuServer, ...]


SendOutcome = Literal["sent", "too_fast", "duplicate", "banned_words", "too_long", "muted", "not_logged_in",
                      "risk_control", "paused", "transport", "other"]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What `msg/send` answered, classified. `message_id` is the danmaku's `id_str` when Bilibili returns it."""

    outcome: SendOutcome
    code: int = 0
    message: str = ""
    message_id: str = ""
    pause: float | None = None  # risk control / paused: seconds the account now waits
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


def classify_send(code: int, message: str) -> SendOutcome:
    """The send endpoint's answers as collected publicly (bilibili-API-collect docs/live/danmaku.md and clients):
    code 0 with message "f" or "k" means the text hit a global / room banned-word list (not shown);
    10030 / 10031 too fast, 10031 also "duplicate" when the message says 重复; 1003212 too long; -101 / -111 login;
    -352 / -412 risk control; a message saying 禁言 means the account is muted in that room."""
    if code == 0:
        return "banned_words" if message in ("f", "k") else "sent"
    if code in (-352, -412):
        return "risk_control"
    if code in (-101, -111):
        return "not_logged_in"
    if "重复" in message:
        return "duplicate"
    if code in (10030, 10031) or "频率" in message or "过快" in message:
        return "too_fast"
    if code == 1003212 or "超出限制长度" in message:
        return "too_long"
    if "禁言" in message:
        return "muted"
    return "other"


def parse_live_time(value: Any) -> int:
    """`live_time` is unix seconds in room_init and "YYYY-MM-DD HH:MM:SS" (Beijing time) in get_info."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return max(0, int(value))
    if isinstance(value, str) and value and not value.startswith("0000"):
        try:
            return int(datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).timestamp())
        except ValueError:
            return 0
    return 0


class LiveApi:
    def __init__(self, *, live_api_base: str = "https://api.live.bilibili.com", api_base: str = "https://api.bilibili.com",
                 sessdata: str | None = None, bili_jct: str | None = None, buvid3: str | None = None,
                 uid: str | None = None, timeout: float = 15.0, user_agent: str = "Mozilla/5.0",
                 risk: AccountPause | None = None, clock: Any = time.time) -> None:
        self.live_api_base = live_api_base.rstrip("/")
        self.api_base = api_base.rstrip("/")
        self.uid = uid
        self.buvid3 = buvid3
        self._csrf = bili_jct or ""
        self._cookies = {k: v for k, v in (("SESSDATA", sessdata), ("bili_jct", bili_jct), ("DedeUserID", uid)) if v}
        self._headers = {"User-Agent": user_agent, "Referer": "https://live.bilibili.com/",
                         "Origin": "https://live.bilibili.com"}
        self._timeout = httpx.Timeout(timeout)
        self.risk = risk or AccountPause(Backoff(300.0, 3600.0))
        self._clock = clock
        self._wbi: tuple[str, float] | None = None  # mixin key, fetched at
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, live: Any, bilibili: Any, **overrides: Any) -> LiveApi:
        """From the `[bilibili_live]` section and the `[bilibili]` secrets (unwrapped here and nowhere else)."""
        secret = lambda value: value.get_secret_value() if value is not None else None
        options: dict[str, Any] = {
            "live_api_base": live.live_api_base, "api_base": live.api_base, "sessdata": secret(bilibili.sessdata),
            "bili_jct": secret(bilibili.bili_jct), "buvid3": secret(bilibili.buvid3), "uid": bilibili.uid,
            "timeout": bilibili.timeout, "user_agent": bilibili.user_agent,
        }
        return cls(**{**options, **overrides})

    @property
    def logged_in(self) -> bool:
        return "SESSDATA" in self._cookies

    def __repr__(self) -> str:  # cookies stay out of reprs and tracebacks
        return f"LiveApi(live_api_base={self.live_api_base!r}, uid={self.uid!r}, logged_in={self.logged_in})"

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(cookies=self._cookies, headers=self._headers, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _get(self, url: str, params: dict[str, Any] | None = None, *, envelope: bool = True,
                   trip: bool = True) -> Any:
        return await self._call("GET", url, params=params, envelope=envelope, trip=trip)

    async def _call(self, method: str, url: str, *, params: dict[str, Any] | None = None,
                    data: dict[str, Any] | None = None, envelope: bool = True, trip: bool = True) -> Any:
        """One request; `trip=False`: a risk answer is raised without pausing the account (the caller retries once)."""
        if self._http is None:
            raise RuntimeError("use `async with LiveApi(...) as api`")
        endpoint = httpx.URL(url).path
        if (left := await self.risk.remaining()) > 0:
            raise AccountPaused(left, endpoint=endpoint)
        try:
            response = await self._http.request(method, url, params=params, data=data)
        except httpx.HTTPError as exc:
            raise TransportError(-1, f"{type(exc).__name__}: {exc}", endpoint=endpoint) from None
        try:
            body = envelope_body(response, endpoint=endpoint)
            return envelope_data(body, endpoint=endpoint) if envelope else body
        except RiskControl as exc:
            if trip:
                exc.pause = await self.risk.trip()
            raise

    # -- reading ------------------------------------------------------------------------------------------
    async def ensure_buvid3(self) -> str:
        """The buvid3 cookie getDanmuInfo and the WebSocket auth want; fetched from `x/frontend/finger/spi` once."""
        if not self.buvid3:
            data = await self._get(f"{self.api_base}/x/frontend/finger/spi") or {}
            self.buvid3 = str(data.get("b_3") or "")
        if self._http is not None and self.buvid3:
            self._http.cookies.set("buvid3", self.buvid3)
        return self.buvid3

    async def mixin_key(self) -> str:
        if self._wbi is None or self._clock() - self._wbi[1] > WBI_KEYS_TTL:
            body = await self._get(f"{self.api_base}/x/web-interface/nav", envelope=False)  # -101 when anonymous: fine
            self._wbi = (wbi.mixin_key(*wbi.keys_from_nav(body.get("data") or {})), self._clock())
        return self._wbi[0]

    async def room_init(self, room: int) -> RoomInit:
        """Short id → real id, and whether the room is live (since when)."""
        data = await self._get(f"{self.live_api_base}/room/v1/Room/room_init", {"id": room}) or {}
        live = int(data.get("live_status") or 0) == 1
        if not str(data.get("room_id") or "").isdigit():
            raise BilibiliError(-1, f"room_init for {room} has no room_id", endpoint="/room/v1/Room/room_init")
        return RoomInit(room_id=int(data["room_id"]), short_id=int(data.get("short_id") or 0),
                        uid=int(data.get("uid") or 0), live=live,
                        live_time=parse_live_time(data.get("live_time")) if live else 0)

    async def room_title(self, room_id: int) -> str:
        data = await self._get(f"{self.live_api_base}/room/v1/Room/get_info", {"room_id": room_id}) or {}
        return str(data.get("title") or "")

    async def danmu_info(self, room_id: int) -> DanmuInfo:
        """Token and servers for the WebSocket (WBI-signed). A bad signature is answered like risk control (-352):
        the first such answer refetches the keys (they rotate) and retries; only a second one pauses the account."""
        await self.ensure_buvid3()
        for attempt in (1, 2):
            key = await self.mixin_key()
            params = wbi.signed_params({"id": room_id, "type": 0, "web_location": "444.8"}, key, wts=int(self._clock()))
            try:
                data = await self._get(f"{self.live_api_base}/xlive/web-room/v1/index/getDanmuInfo", params,
                                       trip=attempt == 2) or {}
            except BilibiliError as exc:
                if attempt == 2 or isinstance(exc, TransportError):
                    raise
                log.info("bilibili-live: getDanmuInfo refused (%s); refetching the WBI keys once", exc.code)
                self._wbi = None
                continue
            servers = tuple(DanmuServer(str(h["host"]), int(h.get("port") or 0), int(h.get("wss_port") or 0),
                                        int(h.get("ws_port") or 0)) for h in data.get("host_list") or () if h.get("host"))
            return DanmuInfo(token=str(data.get("token") or ""), servers=servers)
        raise AssertionError("unreachable")

    # -- sending ------------------------------------------------------------------------------------------
    async def send_danmaku(self, room_id: int, text: str, *, color: int = 0xFFFFFF, fontsize: int = 25,
                           mode: int = 1) -> SendResult:
        """One danmaku with the creator's cookies, form fields as the web client sends them; never raises for a
        platform refusal: the outcome says what happened."""
        form = {"bubble": 0, "msg": text, "color": color, "mode": mode, "room_type": 0, "jumpfrom": 0,
                "fontsize": fontsize, "rnd": int(self._clock()), "roomid": room_id, "csrf": self._csrf,
                "csrf_token": self._csrf}
        try:
            body = await self._call("POST", f"{self.live_api_base}/msg/send", data=form, envelope=False)
        except AccountPaused as exc:
            return SendResult("paused", exc.code, str(exc), pause=exc.pause)
        except RiskControl as exc:
            return SendResult("risk_control", exc.code, exc.message, pause=exc.pause)
        except TransportError as exc:
            return SendResult("transport", exc.code, exc.message)
        code, message = int(body.get("code") or 0), str(body.get("message") or body.get("msg") or "")
        outcome = classify_send(code, message)
        if outcome == "risk_control":
            return SendResult(outcome, code, message, pause=await self.risk.trip(), raw=body)
        message_id = ""
        if outcome == "sent":
            mode_info = ((body.get("data") or {}).get("mode_info") or {})
            message_id = platform_id(mode_info) or ""
        return SendResult(outcome, code, message, message_id=message_id, raw=body)

