"""When the bot speaks: the real model, the real pipeline, a real database (SQLite; both where storage matters)."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from pipeline_helpers import T0
from sqlmodel import select

from bot.adapters.recording import RecordingSink
from bot.events import Thread
from bot.outbox import ANY_PLATFORM
from bot.store import Store
from bot.store.models import DecisionRecord, OutboxMessage

PRICE = "这门课多少钱"
INVOICE = "可以开发票吗"
REFUND = "能退款吗"


def actions(outcomes) -> list[str]:
    return [o.decision.action for o in outcomes]


def promises_dm(text: str | None) -> bool:
    """The public note that details went by DM (dm_notice: 已私信 / 已经私信 …)."""
    return re.search("已(经)?私信", text or "") is not None


def outbox_rows(store: Store) -> list[OutboxMessage]:
    with store.session(write=False) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_two_faq_answers_too_close_hand_the_question_off_with_both_named(store: Store, make_runner, comment) -> None:
    # "请问有优惠吗" under no course's video: the coupon entry (cosine 0.98) and the student-discount entry
    # (0.93) answer differently. (Under a course's video the course's price answers it.)
    runner = make_runner(store, {ANY_PLATFORM: RecordingSink()})
    [outcome] = await runner.process([comment("请问有优惠吗", thread=None)])
    assert outcome.decision.action == "handoff"
    assert "two answers too close: faq-coupon (0.98) vs faq-student-discount (0.93)" in outcome.decision.reason


async def test_a_confident_faq_answer_is_stored_then_sent_once(store: Store, make_runner, comment) -> None:
    sink = RecordingSink()
    runner = make_runner(store, {ANY_PLATFORM: sink})
    event = comment(INVOICE)
    [outcome] = await runner.process([event])
    assert outcome.decision.action == "reply_public" and "发票" in (outcome.decision.text or "")
    assert [m.state for m in outbox_rows(store)] == ["pending"]  # stored before anything is sent
    assert await runner.outbox.drain(5)
    assert [r["reply_to"] for r in sink.records] == [event.event_id]
    assert await runner.process([event]) == []  # redelivered: nothing new
    assert await runner.outbox.drain(5)
    assert len(sink.records) == 1
    [row] = outbox_rows(store)
    assert row.state == "sent" and row.platform_message_id == sink.records[0]["message_id"]


async def test_the_same_event_twice_in_one_batch_is_decided_once(store: Store, make_runner, comment) -> None:
    event = comment(REFUND)
    outcomes = await make_runner(store).process([event, event])
    assert actions(outcomes) == ["reply_public"]
    assert len(outbox_rows(store)) == 1


async def test_never_replies_to_itself_or_to_the_creator(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"bot_ids": {"bilibili": ["bot-1"]}, "creator_ids": {"bilibili": ["creator-9"]}})
    outcomes = await runner.process([comment(INVOICE, author="bot-1"), comment(INVOICE, author="creator-9"), comment(INVOICE, author="u5")])
    assert [(o.decision.action, o.decision.reason) for o in outcomes[:2]] == [
        ("ignore", "written by the bot itself"), ("ignore", "written by the creator")]
    assert outcomes[2].decision.action == "reply_public"


async def test_a_taken_over_thread_stays_silent_until_released(store: Store, make_runner, comment) -> None:
    runner = make_runner(store)
    store.take_over("bilibili", "BV1xx411c7mD", by="老师")
    [silent] = await runner.process([comment(INVOICE)])
    assert (silent.decision.action, silent.decision.reason) == ("ignore", "a human has taken over this thread")
    other_thread = comment(INVOICE, thread=Thread("BV1Gt4y1m7Qe"))
    assert actions(await runner.process([other_thread])) == ["reply_public"]
    store.release("bilibili", "BV1xx411c7mD")
    assert actions(await runner.process([comment(INVOICE)])) == ["reply_public"]


async def test_spam_is_ignored_and_complaints_go_to_a_human(store: Store, make_runner, comment) -> None:
    spam, complaint = await make_runner(store).process([
        comment("加v：py8899 送全套python视频+电子书 私聊"), comment("垃圾课程 全是废话 退钱！"),
    ])
    assert spam.decision.action == "ignore" and spam.decision.reason.startswith("spam")
    assert complaint.decision.action == "handoff"
    [handoff] = store.list_handoffs()
    assert handoff.text == "垃圾课程 全是废话 退钱！"
    assert outbox_rows(store) == []  # no acknowledgement unless configured


async def test_an_acknowledged_handoff_tells_the_viewer_a_human_will_answer(store: Store, make_runner, comment) -> None:
    [outcome] = await make_runner(store, policy={"acknowledge_handoffs": True}).process([comment("垃圾课程 全是废话 退钱！")])
    assert outcome.decision.action == "handoff" and outcome.decision.text
    assert [(m.kind, m.text) for m in outbox_rows(store)] == [("reply_public", outcome.decision.text)]


async def test_per_thread_rate_limit_counts_a_rolling_hour(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"rate_limits": {"per_thread_per_hour": 2, "per_viewer_per_day": 100, "per_platform_per_day": 100}})
    first = [comment(q, author=f"v{i}", at=T0 + timedelta(minutes=i)) for i, q in enumerate([INVOICE, REFUND, INVOICE])]
    outcomes = await runner.process(first)
    assert actions(outcomes) == ["reply_public", "reply_public", "ignore"]
    assert outcomes[2].decision.reason == "rate limit: 2 replies in this thread in the last hour (limit 2)"
    later = await runner.process([comment(REFUND, author="v9", at=T0 + timedelta(minutes=61))])
    assert actions(later) == ["reply_public"]  # the first reply left the window


async def test_per_viewer_and_per_platform_daily_quotas(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"rate_limits": {"per_thread_per_hour": 100, "per_viewer_per_day": 1, "per_platform_per_day": 2}})
    one, two = await runner.process([comment(INVOICE, author="a"), comment(REFUND, author="a")])
    assert (one.decision.action, two.decision.action) == ("reply_public", "ignore")
    assert "to this viewer in the last 24 h (limit 1)" in two.decision.reason
    three, four = await runner.process([comment(REFUND, author="b"), comment(INVOICE, author="c")])
    assert three.decision.action == "reply_public"
    assert four.decision.action == "ignore" and "on bilibili in the last 24 h (limit 2)" in four.decision.reason
    [telegram] = await runner.process([comment(INVOICE, author="d", platform="telegram")])
    assert telegram.decision.action == "reply_public"  # quotas are per platform


async def test_quiet_hours_defer_replies_to_the_morning_in_the_creators_time_zone(store: Store, make_runner, comment) -> None:
    quiet = {"start": "23:00", "end": "08:00", "mode": "defer"}
    runner = make_runner(store, {ANY_PLATFORM: RecordingSink()}, policy={"quiet_hours": quiet, "timezone": "Asia/Shanghai"})
    night = T0.replace(hour=16, minute=30)  # 00:30 in Shanghai
    [outcome] = await runner.process([comment(INVOICE, at=night)])
    morning = T0.replace(day=T0.day + 1, hour=0, minute=0)  # 08:00 in Shanghai
    assert outcome.decision.action == "reply_public" and outcome.decision.send_after == morning
    assert "quiet hours: sent at 08:00" in outcome.decision.reason
    [row] = outbox_rows(store)
    assert row.next_attempt_at == morning
    assert store.claim_due(night + timedelta(hours=1)) == []
    assert len(store.claim_due(morning)) == 1
    [daytime] = await runner.process([comment(REFUND, at=T0)])
    assert daytime.decision.send_after is None


async def test_quiet_hours_in_skip_mode_stay_silent(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"quiet_hours": {"start": "23:00", "end": "08:00", "mode": "skip"}})
    [outcome] = await runner.process([comment(INVOICE, at=T0.replace(hour=15, minute=30))])  # 23:30 Shanghai
    assert (outcome.decision.action, outcome.decision.reason) == ("ignore", "quiet hours")


async def test_pause_stops_replies_but_not_handoffs_and_resume_restores_them(store: Store, make_runner, comment) -> None:
    runner = make_runner(store)
    store.set_paused(True, by="cli")
    reply, complaint = await runner.process([comment(INVOICE), comment("垃圾课程 全是废话 退钱！")])
    assert (reply.decision.action, reply.decision.reason) == ("ignore", "paused (kill switch)")
    assert complaint.decision.action == "handoff"
    assert outbox_rows(store) == []
    store.set_paused(False)
    assert actions(await runner.process([comment(REFUND)])) == ["reply_public"]


async def test_dry_run_records_decisions_and_sends_nothing(store: Store, make_runner, comment) -> None:
    sink = RecordingSink()
    runner = make_runner(store, {ANY_PLATFORM: sink}, policy={"dry_run": True})
    [outcome] = await runner.process([comment(INVOICE)])
    assert outcome.decision.action == "reply_public" and outcome.decision.dry_run and outcome.decision.text
    assert outbox_rows(store) == []
    assert await runner.outbox.drain(2) and sink.records == []
    with store.session(write=False) as session:
        row = session.exec(select(DecisionRecord)).one()
        assert row.dry_run and not row.counts_as_reply and row.text == outcome.decision.text


async def test_price_question_gets_a_short_public_reply_and_details_by_dm(store: Store, make_runner, comment) -> None:
    [outcome] = await make_runner(store).process([comment(PRICE, author="42", platform="douyin", thread=Thread("BV1xx411c7mD"))])
    d = outcome.decision
    assert d.action == "reply_public" and d.dm_text and "199" in d.dm_text and "199" not in (d.text or "")
    rows = outbox_rows(store)
    assert [(m.kind, m.recipient_id) for m in rows] == [("reply_public", None), ("reply_dm", "42")]


async def test_a_public_reply_promises_a_dm_only_when_the_dm_will_go_out(store: Store, make_runner, comment) -> None:
    # Douyin allows one proactive DM per viewer per day: the second and third price questions of the day (in the same
    # batch, and in a later one while the first DM still waits in the outbox) get the price and link in public.
    runner = make_runner(store)
    douyin = dict(author="42", platform="douyin", thread=Thread("BV1xx411c7mD"))
    first, second = await runner.process([comment(PRICE, **douyin), comment(PRICE, **douyin)])
    [third] = await runner.process([comment(PRICE, **douyin)])
    assert first.decision.dm_text and promises_dm(first.decision.text)
    for later in (second, third):
        d = later.decision
        assert d.action == "reply_public" and d.dm_text is None
        assert "199" in (d.text or "") and not promises_dm(d.text)  # the information itself, no false promise
        assert "no DM: 1 proactive DM(s) to this viewer today (limit 1)" in d.reason
    assert [m.kind for m in outbox_rows(store)] == ["reply_public", "reply_dm", "reply_public", "reply_public"]


async def test_a_dm_already_sent_today_is_counted_from_the_store(store: Store, make_runner, comment) -> None:
    runner = make_runner(store)
    store.reserve_proactive_dm("douyin", "42", per_day=1, per_viewer=3, now=T0 + timedelta(minutes=1))  # sent by the sink
    [later] = await runner.process([comment(PRICE, author="42", platform="douyin", thread=Thread("BV1xx411c7mD"))])
    assert later.decision.dm_text is None and not promises_dm(later.decision.text)


async def test_bilibili_with_dms_disabled_answers_price_questions_in_public(store: Store, make_runner, comment) -> None:
    [off] = await make_runner(store).process([comment(PRICE, author="7")])  # bilibili.dm_enabled defaults to false
    [on] = await make_runner(store, bilibili={"dm_enabled": True}).process([comment(PRICE, author="8")])
    assert off.decision.dm_text is None and "199" in (off.decision.text or "") and not promises_dm(off.decision.text)
    assert "bilibili.dm_enabled is false" in off.decision.reason
    assert on.decision.dm_text and "199" in on.decision.dm_text


async def test_telegram_dms_only_viewers_who_started_the_bot(store: Store, make_runner, comment) -> None:
    runner = make_runner(store)
    [stranger] = await runner.process([comment(PRICE, author="7", platform="telegram")])
    assert stranger.decision.dm_text is None  # a bot cannot start a conversation
    store.set_dm_reachable("telegram", "8", True)
    [known] = await runner.process([comment(PRICE, author="8", platform="telegram")])
    assert known.decision.dm_text
    [dm] = await runner.process([comment("课程有效期多久", author="9", platform="telegram", kind="dm", thread=Thread("9"))])
    assert dm.decision.action == "reply_dm"


async def test_telegram_viewer_who_never_started_the_bot_is_invited_by_deep_link(store: Store, make_runner, comment) -> None:
    link = "https://t.me/kejiang_course_bot?start=c100_5_9"
    runner = make_runner(store)
    [stranger] = await runner.process([comment(PRICE, author="7", platform="telegram", raw={"dm_link": link})])
    assert stranger.decision.action == "reply_public" and stranger.decision.dm_text is None
    assert link in stranger.decision.text and "199" in stranger.decision.text
    store.set_dm_reachable("telegram", "8", True)
    [known] = await runner.process([comment(PRICE, author="8", platform="telegram", raw={"dm_link": link})])
    assert known.decision.dm_text and link not in (known.decision.text or "")  # details went by DM instead


async def test_questions_the_catalog_cannot_answer_go_to_a_human(store: Store, make_runner, comment) -> None:
    [outcome] = await make_runner(store).process([comment("老师你用的是什么牌子的麦克风？")])
    assert outcome.decision.action == "handoff"
    assert outcome.decision.reason.startswith("question the catalog can't answer: no answer above threshold")
    assert len(store.list_handoffs()) == 1


async def test_praise_with_a_question_mark_goes_to_a_human_as_praise_not_as_an_unanswerable_question(
    store: Store, make_runner, comment
) -> None:
    [outcome] = await make_runner(store).process([comment("老师讲得也太好了吧？")])
    assert outcome.decision.action == "handoff"
    assert outcome.decision.reason.startswith("phrased as a question but read as praise (")
    [handoff] = store.list_handoffs()
    assert "can't answer" not in handoff.reason and "not a question" not in handoff.reason


async def test_decisions_survive_in_the_database_with_their_reasons(store: Store, make_runner, comment) -> None:
    await make_runner(store).process([comment(INVOICE), comment("23333333")])
    with store.session(write=False) as session:
        rows = session.exec(select(DecisionRecord.action, DecisionRecord.reason).order_by(DecisionRecord.id)).all()
        assert [a for a, _ in rows] == ["reply_public", "ignore"]
        assert all(reason for _, reason in rows)
        assert session.exec(select(sa.func.count()).select_from(DecisionRecord)).one() == 2
