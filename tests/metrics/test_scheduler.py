"""The daily summary goes out once per day at the creator's local time — across restarts, downtime,
several workers and daylight-saving nights."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from metrics_seed import DAY, SHANGHAI, seed_shanghai_day
from sqlalchemy.engine import Engine

from bot.summary.chart import Chart
from bot.summary.delivery import FileDelivery, Recipient, SummaryDelivery
from bot.summary.model import DailySummary
from bot.summary.schedule import SummaryScheduler, latest_due_day, send_instant


class RecordingDelivery:
    """A real delivery that keeps what it was given (stands in for the Telegram DM in these tests)."""

    def __init__(self, name: str = "recording", fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.received: list[tuple[str, date, bool]] = []

    async def deliver(self, recipient: Recipient, summary: DailySummary, chart: Chart | None) -> None:
        if self.fail:
            raise ConnectionError("telegram unreachable")
        self.received.append((recipient.name, summary.day, chart is not None))


def shanghai(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


CREATOR = Recipient("creator", SHANGHAI, time(9, 0))


def scheduler(engine: Engine, deliveries: list[SummaryDelivery], *, catch_up_days: int = 1, chart: bool = False,
              recipients: list[Recipient] | None = None) -> SummaryScheduler:
    return SummaryScheduler(engine, recipients or [CREATOR], deliveries, catch_up_days=catch_up_days, chart=chart)


async def started(engine: Engine, deliveries: list[SummaryDelivery], now: datetime, **kwargs) -> SummaryScheduler:
    instance = scheduler(engine, deliveries, **kwargs)
    instance.clock = lambda: now
    await instance.start()
    return instance


def test_summary_of_a_day_is_due_at_send_time_on_the_next_local_day() -> None:
    assert send_instant(CREATOR, DAY) == datetime(2024, 6, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    assert latest_due_day(CREATOR, shanghai(date(2024, 6, 2), 8, 59)) == date(2024, 5, 31)
    assert latest_due_day(CREATOR, shanghai(date(2024, 6, 2), 9, 0)) == DAY


async def test_sends_exactly_once_per_day_across_a_restart(engine: Engine) -> None:
    recording = RecordingDelivery()
    first = await started(engine, [recording], shanghai(date(2024, 6, 2), 8, 0))
    assert await first.run_due(shanghai(date(2024, 6, 2), 8, 59)) == []
    [sent] = await first.run_due(shanghai(date(2024, 6, 2), 9, 0))
    assert (sent.day, sent.delivered) == (DAY, ("recording",))
    assert await first.run_due(shanghai(date(2024, 6, 2), 9, 30)) == []

    restarted = await started(engine, [recording], shanghai(date(2024, 6, 2), 9, 40))  # new process, same database
    assert await restarted.run_due(shanghai(date(2024, 6, 2), 9, 40)) == []
    assert await restarted.run_due(shanghai(date(2024, 6, 3), 9, 1)) != []
    assert await restarted.run_due(shanghai(date(2024, 6, 3), 23, 0)) == []
    assert recording.received == [("creator", DAY, False), ("creator", date(2024, 6, 2), False)]


async def test_missed_summary_is_sent_once_on_start_after_downtime(sqlite_db: Engine) -> None:
    recording = RecordingDelivery()
    before = await started(sqlite_db, [recording], shanghai(date(2024, 6, 2), 8, 0))
    await before.run_due(shanghai(date(2024, 6, 2), 9, 5))
    # down from June 2 09:05 until June 5 10:00: summaries of June 2, 3 and 4 were missed
    after = await started(sqlite_db, [recording], shanghai(date(2024, 6, 5), 10, 0))
    assert [s.day for s in await after.run_due(shanghai(date(2024, 6, 5), 10, 0))] == [date(2024, 6, 4)]
    again = await started(sqlite_db, [recording], shanghai(date(2024, 6, 5), 10, 1))
    assert await again.run_due(shanghai(date(2024, 6, 5), 10, 1)) == []
    assert [day for _, day, _ in recording.received] == [DAY, date(2024, 6, 4)]


async def test_catch_up_sends_every_missed_day_in_the_window_oldest_first(sqlite_db: Engine) -> None:
    recording = RecordingDelivery()
    before = await started(sqlite_db, [recording], shanghai(date(2024, 6, 2), 8, 0), catch_up_days=3)
    await before.run_due(shanghai(date(2024, 6, 2), 9, 5))
    after = await started(sqlite_db, [recording], shanghai(date(2024, 6, 7), 10, 0), catch_up_days=3)
    sent = await after.run_due(shanghai(date(2024, 6, 7), 10, 0))
    assert [s.day for s in sent] == [date(2024, 6, 4), date(2024, 6, 5), date(2024, 6, 6)]


async def test_first_start_does_not_send_the_past(sqlite_db: Engine) -> None:
    recording = RecordingDelivery()
    first = await started(sqlite_db, [recording], shanghai(date(2024, 6, 2), 10, 0))
    assert await first.run_due(shanghai(date(2024, 6, 2), 10, 0)) == []
    assert [s.day for s in await first.run_due(shanghai(date(2024, 6, 3), 9, 0))] == [date(2024, 6, 2)]


async def test_two_workers_on_one_database_send_the_day_once(engine: Engine) -> None:
    recording = RecordingDelivery()
    now = shanghai(date(2024, 6, 2), 8, 0)
    workers = [await started(engine, [recording], now) for _ in range(2)]
    due = shanghai(date(2024, 6, 2), 9, 0)
    results = await asyncio.gather(*(w.run_due(due) for w in workers))
    assert sum(len(r) for r in results) == 1
    assert recording.received == [("creator", DAY, False)]


async def test_send_time_follows_the_recipients_zone_on_a_dst_night(sqlite_db: Engine) -> None:
    new_york = Recipient("ny", ZoneInfo("America/New_York"), time(2, 30))  # 02:30 does not exist on 2024-03-10
    recording = RecordingDelivery()
    instance = await started(sqlite_db, [recording], datetime(2024, 3, 9, 12, tzinfo=UTC), recipients=[new_york])
    assert await instance.run_due(datetime(2024, 3, 10, 7, 29, tzinfo=UTC)) == []
    [sent] = await instance.run_due(datetime(2024, 3, 10, 7, 30, tzinfo=UTC))  # 03:30 EDT, the first instant after 02:29 EST
    assert sent.day == date(2024, 3, 9)
    assert await instance.run_due(datetime(2024, 3, 10, 23, tzinfo=UTC)) == []


async def test_failed_delivery_is_reported_and_not_retried_while_others_succeed(sqlite_db: Engine) -> None:
    broken, working = RecordingDelivery("telegram", fail=True), RecordingDelivery("file")
    instance = await started(sqlite_db, [broken, working], shanghai(date(2024, 6, 2), 8, 0))
    [sent] = await instance.run_due(shanghai(date(2024, 6, 2), 9, 0))
    assert (sent.delivered, sent.failed) == (("file",), ("telegram",))
    assert await instance.run_due(shanghai(date(2024, 6, 2), 9, 10)) == []


async def test_file_delivery_writes_text_markdown_json_and_chart(sqlite_db: Engine, tmp_path: Path) -> None:
    seed_shanghai_day(sqlite_db)
    files = FileDelivery(tmp_path / "summaries")
    instance = scheduler(sqlite_db, [files], chart=True)
    instance.clock = lambda: shanghai(date(2024, 6, 2), 8, 0)
    await instance.start()
    await instance.run_due(shanghai(date(2024, 6, 2), 9, 0))
    paths = files.paths("creator", "2024-06-01")
    assert "评论 6 · 私信 1" in paths["txt"].read_text(encoding="utf-8")
    assert paths["md"].read_text(encoding="utf-8").startswith("# coursebot 每日总结 · 2024-06-01")
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["volume"]["total"] == 7
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_recipients_from_settings_fall_back_to_policy_time_zone(settings_factory) -> None:
    settings = settings_factory(summary={"send_at": "08:30", "recipients": [{"name": "ny", "timezone": "America/New_York"}, {"name": "cn"}]})
    ny, cn = Recipient.all_from_settings(settings)
    assert (ny.tz.key, ny.send_at, cn.tz.key, cn.send_at) == ("America/New_York", time(8, 30), settings.policy.timezone, time(8, 30))

