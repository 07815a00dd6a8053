"""Daily metrics on a seeded database (SQLite and PostgreSQL), against values worked out by hand.

The Shanghai day 2024-06-01 runs from 2024-05-31T16:00Z to 2024-06-01T16:00Z. Seeded (local times):

  e1 00:10 A comment ask_price  +  reply_public, sent after 30 s, link L1 (ask_price/price-a) clicked twice
  e2 08:00 B comment question   0  handoff, resolved by a human after 600 s           "可以开发票吗" [发票]
  e3 09:00 C comment question   0  handoff, still open                               "能开发票吗？" [发票]
  e7 10:00 F comment spam       0  ignore
  e4 12:00 A dm      ask_link   0  reply_dm, sent after 90 s, link L2 (ask_link/link-a) never clicked
  e5 15:00 D comment praise     +  ignore
  e6 23:59:59 E comment complaint − reply_public, dead ("403: forbidden"), link L3 never shown
  outside: 2024-06-02 00:00:00 A (next day), 2024-05-31 23:59:59 B negative (previous day)
  conversions: 13:00 199 via L1 (viewer A), 14:00 99 without a link
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from metrics_seed import Seeder
from sqlalchemy.engine import Engine

from bot.summary.build import build_daily_summary, daily_summary

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2024, 6, 1)


def local(day: date, hour: int, minute: int = 0, second: int = 0, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def seed_shanghai_day(engine: Engine) -> None:
    seed = Seeder(engine)
    s = timedelta(seconds=1)
    seed.viewer("A", local(DAY, 0, 10))
    seed.viewer("B", local(date(2024, 5, 20), 12))
    for name, hour in (("C", 9), ("D", 15), ("E", 23), ("F", 10)):
        seed.viewer(name, local(DAY, hour))
    _, d1 = seed.event(local(DAY, 0, 10), "A", text="这课多少钱", intent="ask_price", sentiment="positive", topics=("价格",),
                        action="reply_public", template="ask_price", variant="price-a")
    seed.outbox(d1, "sent", local(DAY, 0, 10), local(DAY, 0, 10) + 30 * s)
    seed.link("L1", d1, local(DAY, 0, 10), template="ask_price", variant="price-a", viewer="A")
    seed.click("L1", local(DAY, 0, 20), viewer="A")
    seed.click("L1", local(date(2024, 6, 2), 1), viewer="A")
    e2, _ = seed.event(local(DAY, 8), "B", text="可以开发票吗", intent="question_other", topics=("发票",), action="handoff")
    seed.handoff(e2, local(DAY, 8), local(DAY, 8) + 600 * s)
    e3, _ = seed.event(local(DAY, 9), "C", text="能开发票吗？", intent="question_other", topics=("发票",), action="handoff")
    seed.handoff(e3, local(DAY, 9))
    seed.event(local(DAY, 10), "F", text="加vx领资料", intent="spam", action="ignore")
    _, d4 = seed.event(local(DAY, 12), "A", kind="dm", text="链接发我", intent="ask_link", topics=("链接",), action="reply_dm",
                        template="ask_link", variant="link-a")
    seed.outbox(d4, "sent", local(DAY, 12), local(DAY, 12) + 90 * s, kind="reply_dm")
    seed.link("L2", d4, local(DAY, 12), template="ask_link", variant="link-a", viewer="A")
    seed.event(local(DAY, 15), "D", text="讲得太好了", intent="praise", sentiment="positive", action="ignore")
    _, d6 = seed.event(local(DAY, 23, 59, 59), "E", text="退款怎么还没到", intent="complaint", sentiment="negative", topics=("退款",),
                        action="reply_public", template="complaint", variant="c-a")
    seed.outbox(d6, "dead", local(DAY, 23, 59, 59), error="403: forbidden")
    seed.link("L3", d6, local(DAY, 23, 59, 59), template="complaint", variant="c-a", viewer="E")
    seed.event(local(date(2024, 6, 2), 0), "A", text="明天见", intent="chitchat", action="ignore")
    seed.event(local(date(2024, 5, 31), 23, 59, 59), "B", text="太差了", intent="complaint", sentiment="negative", action="handoff")
    seed.conversion("o1", local(DAY, 13), 199.0, link_id="L1", viewer="A")
    seed.conversion("o2", local(DAY, 14), 99.0)


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
