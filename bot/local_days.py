"""A creator's time zone, a day they type (YYYY-MM-DD) and a stored time as they read it, without loading the metrics package.

The CLI checks `--date` and `--tz` before anything heavy loads (jieba, scikit-learn via bot.metrics);
bot.metrics.window re-exports both for the metrics code.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retrieval.errors import InputError


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a one-line error that says what to write instead."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name!r}: use an IANA name such as 'Asia/Shanghai' or 'America/New_York'") from None


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"date {text!r}: expected YYYY-MM-DD, e.g. 2024-06-01") from None


def local_time(at: datetime, where: tzinfo) -> str:
    """A stored (UTC) time as the creator reads it in listings: `YYYY-MM-DD HH:MM` in their zone."""
    return at.astimezone(where).strftime("%Y-%m-%d %H:%M")
