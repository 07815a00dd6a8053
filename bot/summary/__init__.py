"""The creator's daily summary: build it (`build_daily_summary`), render it (text / markdown / JSON / PNG
chart) and deliver it on schedule. See docs/summary.md."""

from bot.summary.build import (
    SummaryOptions,
    build_daily_summary,
    daily_summary,
    summarize,
)
from bot.summary.model import DailySummary

__all__ = ["DailySummary", "SummaryOptions", "build_daily_summary", "daily_summary", "summarize"]
