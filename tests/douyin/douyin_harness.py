"""The Douyin webhook under test, served on a random local port, with a real httpx client that delivers like Douyin."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from bot.adapters.douyin import DouyinWebhook, QueueInbox, sign
from bot.adapters.douyin.source import serve_webhook

SECRET = "dy-client-secret-7f3a"
PATH = "/douyin/webhook"


class Webhook:
    """The webhook under test, its inbox, and a real HTTP client that delivers like Douyin does."""

    def __init__(self, webhook: DouyinWebhook, inbox: QueueInbox, http: httpx.AsyncClient) -> None:
        self.webhook, self.inbox, self.http = webhook, inbox, http

    async def deliver(self, payload: Any = None, *, body: bytes | None = None, msg_id: str | None = "m-1",
                      signature: str | None = "auto", **headers: str) -> httpx.Response:
        raw = body if body is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        sent = {**headers}
        if signature == "auto":
            sent["X-Douyin-Signature"] = sign(SECRET, raw)
        elif signature is not None:
            sent["X-Douyin-Signature"] = signature
        if msg_id is not None:
            sent["Msg-Id"] = msg_id
        return await self.http.post(PATH, content=raw, headers={"Content-Type": "application/json", **sent})

    def queued(self) -> list[Any]:
        events = []
        while not self.inbox.queue.empty():
            events.append(self.inbox.queue.get_nowait())
        return events


@asynccontextmanager
async def running_webhook(accept: Callable[[Any], Awaitable[None]] | None = None, **options: Any) -> AsyncIterator[Webhook]:
    inbox = QueueInbox()
    webhook = DouyinWebhook(client_secret=SECRET, accept=accept or inbox.accept, path=PATH, **options)
    async with serve_webhook(webhook, "127.0.0.1", 0) as base_url:
        timeout = httpx.Timeout(30.0, pool=None)  # a burst queues for a connection; only a stuck server should fail
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=httpx.Limits(max_connections=50)) as http:
            yield Webhook(webhook, inbox, http)
