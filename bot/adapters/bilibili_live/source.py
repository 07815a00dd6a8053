"""Reads live rooms as Events: per room, room info → danmaku server + token → WebSocket → auth → heartbeats →
packets → commands → Events, reconnecting with jittered exponential backoff.

After a reconnect nothing the bot acts on is duplicated: every event id seen is remembered (a bounded LRU) and
a repeat is dropped here, and the store's unique (platform, event id) drops a repeat across restarts. What
cannot be promised: Bilibili does not replay danmaku sent while the bot was disconnected; they are lost to the
bot (the reconnect gap is logged with its length). A live start or end missed during the gap is recovered
from room_init on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.adapters import cancel_and_wait
from bot.adapters.bilibili.errors import BilibiliError, RiskControl
from bot.adapters.bilibili.pacing import Backoff, Sleep
from bot.adapters.bilibili_live import protocol
from bot.adapters.bilibili_live.api import DanmuInfo, LiveApi
from bot.adapters.bilibili_live.commands import (
    HANDLED,
    PLATFORM,
    MalformedCommand,
    RoomState,
    command_name,
    to_event,
)
from bot.events import Event, Quarantined

log = logging.getLogger("coursebot.bilibili_live")

Quarantine = Callable[[Quarantined], Awaitable[None]]
_RECENT = 50_000  # event ids remembered for dedupe: minutes of a busy room


class AuthFailed(Exception):
    """The danmaku server refused the auth packet (stale token, bad buvid / uid pair)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One connection's parameters: the room, the WebSocket URL, the auth packet (op 7), and what must run
    beside the connection while it lasts (the open platform's project heartbeat)."""

    state: RoomState
    url: str
    auth: bytes
    keepalive: Callable[[], Awaitable[None]] | None = None


class LiveSource:
    platform = PLATFORM
    handled: frozenset[str] = HANDLED  # commands mapped by `to_event`; the rest are counted in `unknown`
    to_event = staticmethod(to_event)

    def __init__(self, api: LiveApi, rooms: Sequence[int], *, heartbeat: float = 30.0, backoff_min: float = 1.0,
                 backoff_max: float = 60.0, auth_timeout: float = 10.0, quarantine: Quarantine | None = None,
                 sleep: Sleep = asyncio.sleep, queue_size: int = 10_000, dead_after: float | None = None) -> None:
        self._api = api
        self.rooms = list(dict.fromkeys(rooms))
        self._heartbeat, self._auth_timeout = heartbeat, auth_timeout
        # The server answers every heartbeat: silence this long is a dead (half-open) connection.
        self._dead_after = dead_after or max(heartbeat * 2.5, 5.0)
        self._backoff_min, self._backoff_max = backoff_min, backoff_max
        self._quarantine = quarantine
        self._sleep = sleep
        self._queue_size = queue_size
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.states: dict[int, RoomState] = {}  # configured room → its state (real id, title, session)
        self.stats: Counter[str] = Counter()  # frames, events, duplicates, malformed, reconnects, auth_failed …
        self.unknown: Counter[str] = Counter()  # commands we do not map, by name (not errors)
        self.popularity: dict[int, int] = {}
        self.connected: dict[int, asyncio.Event] = {}

    @classmethod
    def from_settings(cls, live: Any, api: LiveApi, **overrides: Any) -> LiveSource:
        options: dict[str, Any] = {"heartbeat": live.heartbeat, "backoff_min": live.reconnect_backoff_min,
                                   "backoff_max": live.reconnect_backoff_max, "auth_timeout": live.auth_timeout}
        return cls(api, live.rooms, **{**options, **overrides})

    async def events(self) -> AsyncIterator[Event]:
        """Every room at once, until cancelled."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)  # full: readers wait, TCP pushes back
        async with aiohttp.ClientSession(headers={"User-Agent": "Mozilla/5.0", "Origin": "https://live.bilibili.com"}) as http:
            tasks = [asyncio.create_task(self._room(room, http, queue), name=f"live-room-{room}") for room in self.rooms]
            try:
                while True:
                    yield await queue.get()
            finally:
                await cancel_and_wait(tasks)

    # -- one room ------------------------------------------------------------------------------------------
    async def _room(self, room: int, http: aiohttp.ClientSession, queue: asyncio.Queue[Event]) -> None:
        backoff = Backoff(self._backoff_min, self._backoff_max)
        self.connected[room] = asyncio.Event()
        attempt = 0
        lost_at: datetime | None = None
        while True:
            try:
                endpoint = await self._endpoint(room, queue, attempt)
                state = endpoint.state
                async with http.ws_connect(endpoint.url, autoping=True, max_msg_size=0,
                                           receive_timeout=self._dead_after) as ws:
                    await self._authenticate(ws, state, endpoint.auth)
                    backoff.reset()
                    if lost_at is not None:
                        gap = (datetime.now(UTC) - lost_at).total_seconds()
                        log.warning("bilibili-live: room %s reconnected after %.1f s; danmaku sent meanwhile are not "
                                    "replayed by Bilibili", state.room_id, gap)
                        lost_at = None
                    self.connected[room].set()
                    keepalive = asyncio.create_task(endpoint.keepalive()) if endpoint.keepalive else None
                    try:
                        await self._read(ws, state, queue)
                    finally:
                        if keepalive is not None:
                            keepalive.cancel()
                            with contextlib.suppress(asyncio.CancelledError, Exception):
                                await keepalive
                log.info("bilibili-live: room %s: the server closed the connection", state.room_id)
            except asyncio.CancelledError:
                raise
            except RiskControl as exc:  # the whole account waits, reads included
                self.connected[room].clear()
                lost_at = lost_at or datetime.now(UTC)
                delay = exc.pause if exc.pause is not None else backoff.next_delay()
                log.warning("bilibili-live: room %s: %s; reconnecting in %.0f s", room, exc, delay)
                await self._sleep(delay)
                continue
            except (AuthFailed, BilibiliError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                self.stats["auth_failed" if isinstance(exc, AuthFailed) else "connect_failed"] += 1
                log.warning("bilibili-live: room %s: %s: %s", room, type(exc).__name__, exc)
            except Exception:  # a bug or a payload we never imagined must not silently end this room's reading
                self.stats["connect_failed"] += 1
                log.exception("bilibili-live: room %s: unexpected error; reconnecting", room)
            self.connected[room].clear()
            lost_at = lost_at or datetime.now(UTC)
            self.stats["reconnects"] += 1
            attempt += 1
            delay = backoff.next_delay()
            log.info("bilibili-live: room %s: reconnecting in %.1f s", room, delay)
            await self._sleep(delay)

    async def _refresh(self, room: int, queue: asyncio.Queue[Event]) -> RoomState:
        """Real id, title and live state from room info; a start or end missed while away becomes its event."""
        init = await self._api.room_init(room)
        state = self.states.get(room)
        if state is None:
            try:
                title = await self._api.room_title(init.room_id)
            except BilibiliError as exc:
                log.info("bilibili-live: no title for room %s: %s", init.room_id, exc)
                title = ""
            state = self.states[room] = RoomState(init.room_id, title, init.live_time if init.live else 0)
            log.info("bilibili-live: room %s (%s) is %s", init.room_id, title,
                     f"live since {init.live_time}" if init.live else "not live")
            return state
        now = datetime.now(UTC)
        if state.live_since and (not init.live or init.live_time != state.live_since):
            await self._hand_on(to_event(state, {"cmd": "PREPARING"}, received=now), queue)
        if init.live and init.live_time != state.live_since:
            await self._hand_on(to_event(state, {"cmd": "LIVE", "live_time": init.live_time}, received=now), queue)
        return state

    async def _endpoint(self, room: int, queue: asyncio.Queue[Event], attempt: int) -> Endpoint:
        """Where to connect and what to authenticate with: room info, then the signed danmaku server + token."""
        state = await self._refresh(room, queue)
        info = await self._api.danmu_info(state.room_id)
        uid = int(self._api.uid) if self._api.logged_in and self._api.uid and self._api.uid.isdigit() else 0
        auth = protocol.encode(protocol.AUTH, {"uid": uid, "roomid": state.room_id, "protover": protocol.BROTLI,
                                               "platform": "web", "type": 2, "key": info.token,
                                               "buvid": self._api.buvid3 or ""})
        return Endpoint(state, self._url(info, attempt), auth)

    def _url(self, info: DanmuInfo, attempt: int) -> str:
        """A server from the list, the next one after each failure; plain ws:// when the API base is http://."""
        if not info.servers:
            raise ValueError("getDanmuInfo returned no servers")
        server = info.servers[attempt % len(info.servers)]
        secure = not self._api.live_api_base.startswith("http://")
        port = server.wss_port if secure else (server.ws_port or server.port)
        return f"{'wss' if secure else 'ws'}://{server.host}:{port}/sub"

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse, state: RoomState, auth: bytes) -> None:
        await ws.send_bytes(auth)
        async with asyncio.timeout(self._auth_timeout):
            while True:
                message = await ws.receive()
                if message.type != aiohttp.WSMsgType.BINARY:
                    raise AuthFailed(f"room {state.room_id}: connection {message.type.name.lower()} before the auth reply")
                for packet in protocol.decode(message.data):
                    if packet.op == protocol.AUTH_REPLY:
                        code = int((packet.json() or {}).get("code", -1))
                        if code != 0:
                            raise AuthFailed(f"room {state.room_id}: auth refused with code {code}")
                        return

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, state: RoomState, queue: asyncio.Queue[Event]) -> None:
        beats = asyncio.create_task(self._beat(ws))
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    await self._frame(message.data, state, queue)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    raise ConnectionError(f"room {state.room_id}: {ws.exception()}")
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, aiohttp.ClientError):
                await beats

    async def _beat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            await ws.send_bytes(protocol.encode(protocol.HEARTBEAT, b""))
            self.stats["heartbeats"] += 1
            await asyncio.sleep(self._heartbeat)

    async def _frame(self, frame: bytes, state: RoomState, queue: asyncio.Queue[Event]) -> None:
        self.stats["frames"] += 1
        try:
            packets = protocol.decode(frame)
        except protocol.ProtocolError as exc:
            await self._malformed(state, _op_of(frame), str(exc), frame)
            return
        received = datetime.now(UTC)
        for packet in packets:
            if packet.op == protocol.HEARTBEAT_REPLY:
                self.popularity[state.room_id] = packet.popularity()
            elif packet.op == protocol.MESSAGE:
                await self._command(packet, state, queue, received)

    async def _command(self, packet: protocol.Packet, state: RoomState, queue: asyncio.Queue[Event],
                       received: datetime) -> None:
        try:
            command = packet.json()
            if not isinstance(command, dict):
                raise ValueError("the body is not a JSON object")
        except (ValueError, UnicodeDecodeError) as exc:
            await self._malformed(state, packet.op, f"body is not a command: {exc}", packet.body)
            return
        name = command_name(command)
        if name not in self.handled:
            self.unknown[name] += 1
            log.debug("bilibili-live: room %s: command %s ignored", state.room_id, name)
            return
        try:
            event = self.to_event(state, command, received=received)
        except (MalformedCommand, ValueError) as exc:
            await self._malformed(state, packet.op, str(exc), packet.body)
            return
        if event is not None:
            await self._hand_on(event, queue)

    async def _hand_on(self, event: Event | None, queue: asyncio.Queue[Event]) -> None:
        if event is None:
            return
        if event.event_id in self._recent:
            self.stats["duplicates"] += 1
            return
        self._recent[event.event_id] = None
        if len(self._recent) > _RECENT:
            self._recent.popitem(last=False)
        self.stats["events"] += 1
        await queue.put(event)

    async def _malformed(self, state: RoomState, op: int | None, reason: str, raw: bytes) -> None:
        """One line naming the room and op; the bytes kept in quarantine; the connection goes on."""
        self.stats["malformed"] += 1
        log.warning("bilibili-live: room %s: malformed packet (op %s): %s", state.room_id, op, reason)
        if self._quarantine is not None:
            body: bytes | str = raw
            with contextlib.suppress(UnicodeDecodeError):
                body = raw.decode("utf-8")
            await self._quarantine(Quarantined(f"bilibili-live room {state.room_id} op {op}", reason[:300], body))


def _op_of(frame: bytes) -> int | None:
    return protocol.HEADER.unpack_from(frame)[3] if len(frame) >= protocol.HEADER_LEN else None


