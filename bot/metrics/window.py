"""A creator's day: local midnight to local midnight in their time zone, as UTC instants.

Metrics are always asked for "a day" the creator means — 2024-03-10 in New York is 23 hours long, in
Shanghai always 24 — so every query and every per-hour bucket goes through `DayWindow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.local_days import parse_day, zone  # noqa: F401  (parse_day re-exported: the CLI reads both from bot.local_days)

DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class DayWindow:
    day: date
    tz: ZoneInfo

    @classmethod
    def of(cls, day: date, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> DayWindow:
        return cls(day, zone(tz) if isinstance(tz, str) else tz)

    @classmethod
    def containing(cls, instant: datetime, tz: ZoneInfo | str = DEFAULT_TIMEZONE) -> DayWindow:
        tzinfo = zone(tz) if isinstance(tz, str) else tz
        return cls(instant.astimezone(tzinfo).date(), tzinfo)

    @property
    def start(self) -> datetime:
        """Local midnight as an aware UTC datetime (inclusive)."""
        return datetime.combine(self.day, time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The next local midnight as an aware UTC datetime (exclusive)."""
        return datetime.combine(self.day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)

    @property
    def hours(self) -> float:
        """Length of the day in hours: 23 or 25 on a daylight-saving switch day."""
        return (self.end - self.start).total_seconds() / 3600

    def previous(self) -> DayWindow:
        return DayWindow(self.day - timedelta(days=1), self.tz)

    def contains(self, instant: datetime) -> bool:
        return self.start <= as_utc(instant) < self.end

    def local_hour(self, instant: datetime) -> int:
        """Wall-clock hour (0–23) in the creator's zone; the repeated hour of a fall-back day shares a bucket."""
        return as_utc(instant).astimezone(self.tz).hour

    @property
    def label(self) -> str:
        return f"{self.day.isoformat()} ({self.tz.key})"


def as_utc(instant: datetime) -> datetime:
    """Stored timestamps are UTC; SQLite hands them back naive."""
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)
