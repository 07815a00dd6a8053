"""The daily summary on Telegram: `/summary [date]` on demand, and the scheduled delivery by DM.

Both use the summary code (bot/summary): the text rendering, and the PNG chart when one was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.types import BufferedInputFile

from bot.adapters.telegram.console import SummaryMaker

_TEXT_LIMIT = 4096  # Telegram's maximum message length


def summary_maker(settings: Any, engine: Any) -> SummaryMaker | None:
    """`/summary [date]` → the rendered text of that local day (default: yesterday); None without bot.summary."""
    try:
        from bot.metrics.window import zone
        from bot.summary import SummaryOptions, build_daily_summary
        from bot.summary.render import render
    except ImportError:
        return None
    tz = zone(settings.summary.timezone or settings.policy.timezone)
    options = SummaryOptions.from_settings(settings)

    async def make(day: date | None) -> str:
        day = day or (datetime.now(tz) - timedelta(days=1)).date()
        summary = await build_daily_summary(engine, day, tz, options=options)
        return fit(render(summary, "text"))

    return make


def fit(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


class TelegramSummaryDelivery:
    """A `bot.summary.delivery.SummaryDelivery`: the summary as a DM (text, then the chart) to the
    recipient's `telegram_chat_id`, or to every configured admin when it has none."""

    name = "telegram"

    def __init__(self, bot: Bot, admin_ids: Sequence[int]) -> None:
        self.bot = bot
        self.admin_ids = list(admin_ids)

    async def deliver(self, recipient: Any, summary: Any, chart: Any) -> None:
        from bot.summary.render import render

        chats = [recipient.telegram_chat_id] if recipient.telegram_chat_id else self.admin_ids
        if not chats:
            raise RuntimeError("no Telegram chat for the summary: set telegram_chat_id for the recipient or [telegram] admin_ids")
        text = fit(render(summary, "text"))
        for chat_id in chats:
            await self.bot.send_message(chat_id, text)
            if chart is not None:
                photo = BufferedInputFile(chart.png, filename=f"summary-{summary.day.isoformat()}.png")
                await self.bot.send_photo(chat_id, photo)
