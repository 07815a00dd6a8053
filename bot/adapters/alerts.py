"""How an adapter tells the creator something needs them (expired cookies, a captcha): an async callback.

The default only logs; `creator_alert(settings)` also DMs the Telegram admins when a bot is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

Alert = Callable[[str], Awaitable[None]]

log = logging.getLogger("coursebot.alerts")


async def log_alert(text: str) -> None:
    log.error("creator action needed: %s", text)


def creator_alert(settings) -> Alert:
    """Logs every alert and, when a Telegram bot token and admin ids are configured, DMs it to the admins.

    Sent directly through the Bot API (not the outbox): an alert says the platform's sending has stopped,
    so it must not wait in the same queue.
    """
    telegram = settings.telegram
    if telegram.token is None or not telegram.admin_ids:
        return log_alert

    async def alert(text: str) -> None:
        await log_alert(text)
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        from bot.adapters.telegram.redaction import redact_in_logs

        redact_in_logs(telegram.token.get_secret_value())  # aiogram/aiohttp errors can carry the request URL
        session = AiohttpSession(api=TelegramAPIServer.from_base(telegram.api_base), timeout=telegram.timeout)
        bot = Bot(token=telegram.token.get_secret_value(), session=session)
        try:
            for admin in telegram.admin_ids:
                try:
                    await bot.send_message(admin, f"⚠️ coursebot: {text}")
                except Exception as exc:  # noqa: BLE001 — the alert is logged already; a DM failure must not stop the bot
                    log.warning("could not DM the alert to a Telegram admin: %s", type(exc).__name__)
        finally:
            await session.close()

    return alert
