"""The summary's viewer and response-time numbers come from when comments were written, so an import or a
backfill of old comments reads as it happened (SQLite and PostgreSQL, through the real store intake)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.decision import Decision, Outcome
from bot.metrics.window import DayWindow
from bot.store import Store
from bot.store.models import utcnow
from bot.summary.build import daily_summary
from bot.summary.render import render_text

ZONES = ("Asia/Shanghai", "Europe/London", "America/New_York")


def summary_of(store: Store, instant: datetime, tz: str = "Asia/Shanghai"):
    window = DayWindow.containing(instant, tz)
    return daily_summary(store.engine, window.day, tz)


def one_day_each(zones: tuple[str, ...], *spans: tuple[datetime, ...]) -> str:
    """A zone in which each span's instants fall on one local day: the tests use the real clock, and a span across
    midnight would count on two days (the three zones' midnights lie hours apart, so one always fits)."""
    return next(z for z in zones if all(len({DayWindow.containing(t, z) for t in span}) == 1 for span in spans))


def test_imported_comments_make_their_viewers_new_on_the_day_they_wrote_not_the_day_of_the_import(store: Store, comment) -> None:
    now = utcnow()
    then = now - timedelta(days=3)
    tz = one_day_each(ZONES, (then, then + timedelta(minutes=9)), (now - timedelta(minutes=1), now))
    store.record_events([comment("老师讲得真好", author="old", at=then), comment("请问多少钱", author="fresh", at=then + timedelta(minutes=5)),
                         comment("第二课什么时候更新", author="late", at=now - timedelta(minutes=1))])
    store.record_events([comment("我三天前也来过", author="late", at=then + timedelta(minutes=9))])  # a backfill brings an older one
    store.record_events([comment("又来了", author="old", at=now)])

    back_then = summary_of(store, then, tz).volume
    assert (back_then.unique_viewers, back_then.new_viewers, back_then.returning_viewers) == (3, 3, 0)
    today = summary_of(store, now, tz).volume
    assert (today.new_viewers, today.returning_viewers) == (0, 2)  # 'old' and 'late' both wrote three days ago


def test_first_response_leaves_out_comments_received_long_after_they_were_written_and_counts_them(store: Store, comment) -> None:
    now = utcnow()
    live_at, backlog_at = now - timedelta(minutes=2), now - timedelta(hours=2)
    tz = one_day_each(ZONES, (backlog_at, live_at, now + timedelta(minutes=1)))  # the replies are counted on their day too
    events = store.record_events([comment("可以开发票吗", author="a", at=live_at), comment("能退款吗", author="b", at=backlog_at)])
    store.save_outcomes([Outcome(a, None, Decision("reply_public", "faq", text=f"好的{i}"))
                         for i, a in enumerate(events)])
    for claim in store.claim_due(now + timedelta(minutes=1)):
        store.mark_sent(claim.message.outbox_id, "m", now + timedelta(minutes=1))

    summary = summary_of(store, live_at, tz)
    perf = summary.performance
    assert perf.replied == 2 and perf.late == 1
    assert perf.first_response_p50_s == pytest.approx(180, abs=30)  # written 2 min ago, answered 1 min after receipt
    assert "另有 1 条是写下很久后才收到的" in render_text(summary)
