"""Daily metrics on a seeded database (SQLite and PostgreSQL), against values worked out by hand:
the scenario and its expected numbers are described in `metrics_seed.seed_shanghai_day`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from metrics_seed import DAY, SHANGHAI, local, seed_shanghai_day
from sqlalchemy.engine import Engine

from bot.summary.build import build_daily_summary, daily_summary


@pytest.fixture
def shanghai_day(engine: Engine) -> Engine:
    seed_shanghai_day(engine)
    return engine


def test_volume_counts_comments_dms_and_new_viewers_inside_the_local_day(shanghai_day: Engine) -> None:
    summary = daily_summary(shanghai_day, DAY, SHANGHAI)
    volume = summary.volume
    assert (volume.comments, volume.dms, volume.total) == (6, 1, 7)
    assert (volume.unique_viewers, volume.new_viewers, volume.returning_viewers) == (6, 5, 1)
    expected_hours = {0: 1, 8: 1, 9: 1, 10: 1, 12: 1, 15: 1, 23: 1}
    assert {h: n for h, n in enumerate(volume.by_hour) if n} == expected_hours
    assert summary.hours == 24
    assert summary.start_utc == datetime(2024, 5, 31, 16, tzinfo=UTC)


def test_bot_performance_rates_and_response_percentiles(shanghai_day: Engine) -> None:
    perf = daily_summary(shanghai_day, DAY, SHANGHAI).performance
    assert (perf.reply_worthy, perf.replied, perf.replied_by_bot, perf.replied_by_human) == (5, 3, 2, 1)
    assert perf.reply_rate == pytest.approx(0.6)
    assert perf.first_response_p50_s == pytest.approx(90)
    assert perf.first_response_p90_s == pytest.approx(498)  # 90 + (600 − 90) × 0.8
    assert perf.abstain_rate == pytest.approx(0.4)
    assert (perf.handed_off, perf.handoffs_open) == (2, 1)
    assert perf.containment == pytest.approx(0.4)
    assert (perf.sent, perf.dead, perf.failed) == (2, 1, 0)
    assert perf.failure_reasons == {"403": 1}


def test_an_event_answered_publicly_and_by_dm_counts_once_with_its_earliest_sent_message(engine: Engine) -> None:
    seed = seed_shanghai_day(engine)
    seed.viewer("G", local(DAY, 18))
    _, decision = seed.event(local(DAY, 18), "G", text="有优惠吗", intent="ask_price", topics=("优惠",), action="reply_public",
                             template="ask_price", variant="price-a")
    seed.outbox(decision, "sent", local(DAY, 18), local(DAY, 18, 2), kind="reply_dm")  # the DM went out after 120 s
    seed.outbox(decision, "sent", local(DAY, 18), local(DAY, 18, 0, 20))  # the public reply after 20 s
    summary = daily_summary(engine, DAY, SHANGHAI)
    assert summary.volume.total == 8 and summary.volume.by_hour[18] == 1
    perf = summary.performance
    assert (perf.reply_worthy, perf.replied_by_bot, perf.sent) == (6, 3, 4)
    assert perf.first_response_p50_s == pytest.approx(60)  # median of 30, 90 and this event's 20 (not 120)
    assert summary.mood.intents["ask_price"] == 2


def test_audience_mix_trend_and_keywords(shanghai_day: Engine) -> None:
    summary = daily_summary(shanghai_day, DAY, SHANGHAI)
    mood = summary.mood
    assert mood.intents == {"question_other": 2, "ask_price": 1, "spam": 1, "ask_link": 1, "praise": 1, "complaint": 1}
    assert mood.sentiments == {"positive": 2, "neutral": 4, "negative": 1}
    assert mood.net_sentiment == pytest.approx(1 / 7)
    assert mood.previous_net_sentiment == pytest.approx(-1.0)
    assert mood.trend == pytest.approx(8 / 7)
    assert mood.net_by_hour[0] == 1 and mood.net_by_hour[23] == -1 and mood.net_by_hour[8] == 0 and mood.net_by_hour[3] is None
    assert summary.keywords[0] == ("发票", 2)
    assert sorted(summary.keywords[1:]) == [("价格", 1), ("退款", 1), ("链接", 1)]


def test_unanswered_questions_grouped_by_keyword_without_a_model(shanghai_day: Engine) -> None:
    summary = daily_summary(shanghai_day, DAY, SHANGHAI)
    assert summary.question_grouping == "keywords"
    [cluster] = summary.questions
    assert (cluster.keyword, cluster.viewers, cluster.questions) == ("发票", 2, 2)
    assert {cluster.representative, *cluster.examples} == {"可以开发票吗", "能开发票吗？"}


def test_business_links_ctr_dm_conversion_and_attribution(shanghai_day: Engine) -> None:
    biz = daily_summary(shanghai_day, DAY, SHANGHAI).business
    assert (biz.links_sent, biz.links_clicked, biz.clicks_today) == (2, 1, 1)  # L3's reply was never delivered
    assert biz.ctr == pytest.approx(0.5)
    per_variant = {(v.template_id, v.variant): (v.links_sent, v.links_clicked, v.clicks) for v in biz.variants}
    assert per_variant == {("ask_link", "link-a"): (1, 0, 0), ("ask_price", "price-a"): (1, 1, 2)}
    assert biz.ab_tests == []  # one variant per template: nothing to compare
    assert (biz.commenters, biz.commenters_who_dmed) == (6, 1)
    assert (biz.conversions, biz.conversions_attributed) == (2, 1)
    assert (biz.revenue, biz.revenue_attributed) == (298.0, 199.0)


def test_engagement_frequency_depth_and_top_viewer(shanghai_day: Engine) -> None:
    summary = daily_summary(shanghai_day, DAY, SHANGHAI)
    eng = summary.engagement
    assert (eng.interactions, eng.conversation, eng.propagation) == (10, 1, 3)  # 7 events + 1 click + 2 orders
    assert eng.frequency == pytest.approx(10 / 24)
    assert eng.depth == pytest.approx(0.4)
    assert eng.score == pytest.approx(10 / 24 + 0.4)
    top = summary.engaged_viewers[0]
    assert top.viewer == "p-A" and (top.interactions, top.dms, top.clicks, top.conversions) == (4, 1, 1, 1)
    assert top.score == pytest.approx(4 / 24 + 3 / 4, abs=1e-4)


def test_platform_filter_keeps_only_that_platform(shanghai_day: Engine) -> None:
    assert daily_summary(shanghai_day, DAY, SHANGHAI, platforms=["telegram"]).volume.total == 0
    assert daily_summary(shanghai_day, DAY, SHANGHAI, platforms=["bilibili"]).volume.total == 7


def test_a_day_without_activity_has_zero_counts_and_no_rates(shanghai_day: Engine) -> None:
    summary = daily_summary(shanghai_day, date(2024, 6, 10), SHANGHAI)
    assert summary.is_empty
    assert summary.volume.total == 0 and summary.volume.by_hour == (0,) * 24
    perf = summary.performance
    assert perf.reply_rate is None and perf.first_response_p50_s is None and perf.containment is None
    assert summary.mood.net_sentiment is None and summary.mood.trend is None
    assert summary.business.ctr is None and summary.engagement.depth is None
    assert summary.engagement.frequency == 0 and summary.questions == [] and summary.keywords == []


def test_the_same_instants_fall_on_other_days_in_another_zone(shanghai_day: Engine) -> None:
    # 00:10 Shanghai on June 1 is 12:10 on May 31 in New York; 23:59:59 Shanghai is 11:59:59 on June 1.
    new_york = ZoneInfo("America/New_York")
    may31 = daily_summary(shanghai_day, date(2024, 5, 31), new_york)
    june1 = daily_summary(shanghai_day, DAY, new_york)
    assert may31.volume.total + june1.volume.total == 9  # all nine text events, split across the two days
    assert june1.volume.by_hour[11] == 1 and may31.volume.by_hour[12] == 1


async def test_async_entry_point_gives_the_same_summary(shanghai_day: Engine) -> None:
    now = datetime(2024, 6, 2, tzinfo=UTC)
    built = await build_daily_summary(shanghai_day, DAY, "Asia/Shanghai", now=now)
    assert built.to_dict() == daily_summary(shanghai_day, DAY, SHANGHAI, now=now).to_dict()
