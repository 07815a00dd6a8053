"""The Douyin webhook endpoint (aiohttp): verify, dedupe, hand over, acknowledge — well inside the 5 s limit.

Order per delivery: size limit (413) → signature on the raw bytes (401, nothing parsed or stored) → JSON
(400) → `verify_webhook` challenge echo → duplicate `Msg-Id` (200, dropped) → `accept(event)` → 200. Signed
content that cannot become an event is quarantined (kept as it came) and acknowledged: a retry would not fix it.
`accept` is the durable hand-over: the runner's `accept` stores the event before we answer, so nothing
acknowledged is lost; if it fails we answer 503 and the platform retries. Analysis happens later, elsewhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from bot.adapters.douyin.mapping import MalformedEvent, to_event
from bot.adapters.douyin.signature import verify
from bot.events import Event, Quarantined

log = logging.getLogger("coursebot.douyin")

Accept = Callable[[Event], Awaitable[None]]
Quarantine = Callable[[Quarantined], Awaitable[None]]


class QueueInbox:
    """An in-process hand-over (tests, tools): events wait in an asyncio queue for `DouyinSource.events()`."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    async def accept(self, event: Event) -> None:
        self.queue.put_nowait(event)


class DouyinWebhook:
    def __init__(self, *, client_secret: str, accept: Accept, path: str = "/douyin/webhook",
                 max_body_bytes: int = 1_048_576, dedupe_size: int = 100_000,
                 on_event: Callable[[Event], None] | None = None, quarantine: Quarantine | None = None) -> None:
        if not client_secret:
            raise ValueError("the Douyin webhook needs douyin.client_secret (env COURSEBOT_DOUYIN__CLIENT_SECRET)")
        self._secret = client_secret
        self._accept = accept
        self.path = path
        self._max_body = max_body_bytes
        self._dedupe_size = dedupe_size
        self._seen: OrderedDict[str, None] = OrderedDict()  # Msg-Ids accepted (the platform retries up to 3 times)
        self._in_flight: set[str] = set()
        self._on_event = on_event
        self._quarantine = quarantine  # where signed deliveries that cannot become an event are kept
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"DouyinWebhook(path={self.path!r})"  # never the secret

    def register(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.handle)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body + 1)
        self.register(app)
        return app

    async def _read(self, request: web.Request) -> bytes | None:
        """The raw body, or None when it is larger than allowed (stops reading as soon as it is)."""
        if request.content_length is not None and request.content_length > self._max_body:
            return None
        chunks, size = [], 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _reject(self, status: int, reason: str) -> web.Response:
        self.counts[f"rejected_{status}"] += 1
        log.warning("douyin webhook: %d %s", status, reason)
        return web.json_response({"error": reason}, status=status)

    async def handle(self, request: web.Request) -> web.Response:
        body = await self._read(request)
        if body is None:
            return self._reject(413, f"body over {self._max_body} bytes")
        if not verify(self._secret, body, request.headers.get("X-Douyin-Signature")):
            return self._reject(401, "missing or wrong X-Douyin-Signature")
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._reject(400, "body is not JSON")
        if not isinstance(payload, dict):
            return self._reject(400, "body is not a JSON object")
        if payload.get("event") == "verify_webhook":
            challenge = payload.get("content", {}).get("challenge") if isinstance(payload.get("content"), dict) else None
            self.counts["challenges"] += 1
            return web.json_response({"challenge": challenge})
        msg_id = request.headers.get("Msg-Id") or hashlib.sha1(body).hexdigest()
        if msg_id in self._seen or msg_id in self._in_flight:
            self.counts["duplicates"] += 1
            return web.json_response({"ok": True, "duplicate": True})
        self._in_flight.add(msg_id)
        try:
            return await self._deliver(payload, msg_id, body)
        finally:
            self._in_flight.discard(msg_id)

    async def _deliver(self, payload: dict, msg_id: str, body: bytes) -> web.Response:
        origin = f"douyin Msg-Id {msg_id}"
        try:
            event = to_event(payload)
        except MalformedEvent as exc:  # signed by the platform, so a retry would not fix it: keep it and acknowledge
            if self._quarantine is not None:
                try:
                    await self._quarantine(Quarantined(origin, str(exc), body))
                except Exception as failure:  # noqa: BLE001 — not kept yet: not acknowledged, Douyin retries
                    log.error("douyin webhook: could not quarantine Msg-Id %s (%s); answered 503", msg_id, failure)
                    return web.json_response({"error": "try again"}, status=503)
            self.counts["malformed"] += 1
            log.warning("douyin webhook: %s (Msg-Id %s acknowledged, %s)", exc, msg_id,
                        "quarantined" if self._quarantine is not None else "dropped")
            return self._done(msg_id)
        if event is None:
            self.counts["unknown"] += 1
            log.info("douyin webhook: event %r not used; acknowledged", str(payload.get("event"))[:64])
            return self._done(msg_id)
        event = replace(event, origin=origin)  # named in the quarantine if the database refuses it
        try:
            await self._accept(event)
        except Exception as exc:  # noqa: BLE001 — any failure to keep it means: not acknowledged, platform retries
            self.counts["accept_failed"] += 1
            log.error("douyin webhook: could not keep Msg-Id %s (%s); answered 503 so Douyin retries", msg_id, exc)
            return web.json_response({"error": "try again"}, status=503)
        if self._on_event is not None:
            self._on_event(event)
        self.counts["accepted"] += 1
        return self._done(msg_id)

    def _done(self, msg_id: str) -> web.Response:
        self._seen[msg_id] = None
        if len(self._seen) > self._dedupe_size:
            self._seen.popitem(last=False)
        return web.json_response({"ok": True})
