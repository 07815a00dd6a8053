"""Day boundaries in the creator's zone, including daylight-saving switch days (23 h and 25 h days)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from metrics_seed import Seeder
from sqlalchemy.engine import Engine

from bot.metrics.window import DayWindow, parse_day, zone
from bot.summary.build import daily_summary
from retrieval.errors import InputError

NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_shanghai_day_is_always_24_hours_from_16_utc() -> None:
    window = DayWindow.of(date(2024, 3, 10), "Asia/Shanghai")
    assert (window.start, window.end, window.hours) == (utc(2024, 3, 9, 16), utc(2024, 3, 10, 16), 24)


def test_spring_forward_day_in_new_york_has_23_hours() -> None:
    window = DayWindow.of(date(2024, 3, 10), NEW_YORK)
    assert (window.start, window.end, window.hours) == (utc(2024, 3, 10, 5), utc(2024, 3, 11, 4), 23)


def test_fall_back_day_in_new_york_has_25_hours() -> None:
    window = DayWindow.of(date(2024, 11, 3), NEW_YORK)
    assert (window.start, window.end, window.hours) == (utc(2024, 11, 3, 4), utc(2024, 11, 4, 5), 25)


def test_unknown_zone_and_bad_date_are_one_line_errors() -> None:
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    with pytest.raises(InputError, match="expected YYYY-MM-DD"):
        parse_day("2024/06/01")


def _seed_comments(engine: Engine, instants: list[datetime]) -> None:
    seed = Seeder(engine)
    for index, instant in enumerate(instants):
        seed.viewer(f"v{index}", instant)
        seed.event(instant, f"v{index}", text="多少钱", intent="ask_price", action="ignore")


def test_spring_forward_day_counts_only_its_own_23_hours(engine: Engine) -> None:
    _seed_comments(engine, [
        utc(2024, 3, 10, 4, 59, 59),  # 23:59:59 EST on March 9: previous day
        utc(2024, 3, 10, 5, 0, 0),  # 00:00 EST: first instant of the day
        utc(2024, 3, 10, 6, 30),  # 01:30 EST
        utc(2024, 3, 10, 7, 30),  # 03:30 EDT (02:xx does not exist that night)
        utc(2024, 3, 11, 3, 59, 59),  # 23:59:59 EDT: last instant of the day
        utc(2024, 3, 11, 4, 0, 0),  # 00:00 EDT on March 11: next day
    ])
    summary = daily_summary(engine, date(2024, 3, 10), NEW_YORK)
    assert summary.hours == 23
    assert summary.volume.total == 4
    assert {h: n for h, n in enumerate(summary.volume.by_hour) if n} == {0: 1, 1: 1, 3: 1, 23: 1}
    assert summary.engagement.frequency == pytest.approx(4 / 23)


def test_fall_back_day_puts_both_1_am_hours_in_one_bucket(engine: Engine) -> None:
    _seed_comments(engine, [
        utc(2024, 11, 3, 5, 30),  # 01:30 EDT
        utc(2024, 11, 3, 6, 30),  # 01:30 EST, an hour later on the wall clock's second pass
        utc(2024, 11, 4, 4, 59, 59),  # 23:59:59 EST: still November 3
    ])
    summary = daily_summary(engine, date(2024, 11, 3), NEW_YORK)
    assert summary.hours == 25
    assert summary.volume.by_hour[1] == 2 and summary.volume.by_hour[23] == 1
    assert summary.engagement.frequency == pytest.approx(3 / 25)
    assert daily_summary(engine, date(2024, 11, 4), NEW_YORK).volume.total == 0
