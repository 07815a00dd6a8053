"""How updates reach the dispatcher: long polling (default) or a webhook with a checked secret token.

Both process one update at a time and confirm it to Telegram only after its handler returned (polling:
the next getUpdates offset; webhook: the HTTP answer), which is what makes a crash lose nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.config import TelegramSettings
from retrieval.errors import InputError

log = logging.getLogger("coursebot.telegram")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def poll(bot: Bot, dispatcher: Dispatcher, settings: TelegramSettings) -> None:
    # getUpdates is refused while a webhook is set; keep pending updates, they are viewers' comments.
    await bot.delete_webhook(drop_pending_updates=False)
    polling = asyncio.ensure_future(dispatcher.start_polling(
        bot,
        polling_timeout=settings.polling_timeout,
        handle_as_tasks=False,  # confirm an update only after its handler finished
        handle_signals=False,  # the CLI owns signals
        close_bot_session=False,  # the sink keeps sending through the same session
        allowed_updates=dispatcher.resolve_used_update_types(),
    ))
    try:
        await asyncio.shield(polling)
    except asyncio.CancelledError:
        await _stop(dispatcher, polling)
        raise


async def _stop(dispatcher: Dispatcher, polling: asyncio.Future[None]) -> None:
    """Cancelling start_polling would leave its inner polling task running: ask it to stop instead."""
    if not polling.done():
        try:
            await dispatcher.stop_polling()
        except RuntimeError:  # not started yet
            polling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await polling


def webhook_app(bot: Bot, dispatcher: Dispatcher, *, path: str, secret: str) -> web.Application:
    """The aiohttp application Telegram posts updates to; a wrong or missing secret token gets 401."""
    if not secret:
        raise InputError("telegram.webhook_secret: required in webhook mode (COURSEBOT_TELEGRAM__WEBHOOK_SECRET or the secrets file)")
    if not _SECRET_TOKEN.fullmatch(secret):
        # Telegram's setWebhook accepts nothing else; say so at startup, not at the first update.
        raise InputError("telegram.webhook_secret: must be 1-256 characters of A-Z a-z 0-9 _ -")
    app = web.Application()
    # handle_in_background=False: answer Telegram only once the update is handled, so a crash means a redelivery.
    handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token=secret)
    # Not handler.register(): that also closes the bot's session on shutdown, which the sink still uses.
    app.router.add_post(path, handler.handle)
    return app


async def serve_webhook(bot: Bot, dispatcher: Dispatcher, settings: TelegramSettings) -> None:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not settings.webhook_url:
        raise InputError("telegram.webhook_url: required in webhook mode (the public https URL Telegram posts to)")
    app = webhook_app(bot, dispatcher, path=settings.webhook_path, secret=secret)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        await bot.set_webhook(settings.webhook_url, secret_token=secret, drop_pending_updates=False,
                              allowed_updates=dispatcher.resolve_used_update_types())
        log.info("webhook listening on %s:%s%s", settings.webhook_host, settings.webhook_port, settings.webhook_path)
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()
