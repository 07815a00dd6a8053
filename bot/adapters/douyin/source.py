"""`DouyinSource`: serves the webhook on host:port and yields the Events it accepts (a `Source`).

Used where the runner consumes sources; with the runner's durable `accept`, serve `DouyinWebhook` directly
(`serve_webhook`) so every delivery is stored before it is acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from bot.adapters.douyin.webhook import Accept, DouyinWebhook, Quarantine, QueueInbox
from bot.events import Event

log = logging.getLogger("coursebot.douyin")


def webhook_from_settings(settings: Any, accept: Accept, *, quarantine: Quarantine | None = None) -> DouyinWebhook:
    # A viewer's DM resets their proactive-DM count by being stored (bot/store/proactive.py): no hook needed here.
    secret = settings.client_secret.get_secret_value() if settings.client_secret is not None else ""
    return DouyinWebhook(client_secret=secret, accept=accept, path=settings.webhook_path,
                         max_body_bytes=settings.max_body_bytes, dedupe_size=settings.dedupe_size, quarantine=quarantine)


@asynccontextmanager
async def serve_webhook(webhook: DouyinWebhook, host: str, port: int) -> AsyncIterator[str]:
    """Run the webhook server while inside the block; yields its base URL (port 0 picks a free one)."""
    runner = web.AppRunner(webhook.app(), access_log=None)  # access logs would carry viewer-facing URLs
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    log.info("douyin webhook listening on http://%s:%s%s", bound[0], bound[1], webhook.path)
    try:
        yield f"http://{bound[0]}:{bound[1]}"
    finally:
        await runner.cleanup()


class DouyinSource:
    platform = "douyin"

    def __init__(self, settings: Any, *, host: str | None = None, port: int | None = None) -> None:
        self.inbox = QueueInbox()
        self.webhook = webhook_from_settings(settings, self.inbox.accept)
        self._host = host or settings.webhook_host
        self._port = settings.webhook_port if port is None else port
        self.base_url: str | None = None

    async def events(self) -> AsyncIterator[Event]:
        async with serve_webhook(self.webhook, self._host, self._port) as base_url:
            self.base_url = base_url
            while True:
                yield await self.inbox.queue.get()
