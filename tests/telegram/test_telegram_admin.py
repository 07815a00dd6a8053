"""Creator commands over Telegram, done on a real SQLite store: answered for configured admins only;
everyone else is ignored and logged by pseudonym."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from telegram_helpers import ADMIN_ID, VIEWER_ID, EventFeed

from bot.adapters.telegram import TelegramBot
from bot.adapters.telegram.console import StoreConsole
from bot.adapters.telegram.summary import summary_maker
from bot.privacy import Pseudonymizer
from bot.store.store import Store

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def store(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'coursebot.db'}", Pseudonymizer(b"k" * 32))
    yield store
    store.close()


@pytest.fixture
async def telegram(make_settings, settings_factory, store):
    settings = settings_factory()
    console = StoreConsole(store, summary=summary_maker(settings, store.engine), zone=ZoneInfo(settings.policy.timezone))  # as service.py
    async with TelegramBot(make_settings(chat_interval=0), console=console) as bot:
        feed = EventFeed(bot.source.events())
        yield bot, feed
        await feed.close()


def answers_to(api, chat_id):
    return [s["text"] for s in api.sent if s["chat_id"] == chat_id]


async def run_commands(world, api, *texts):
    admin = world.user(ADMIN_ID, "老师")
    before = len(answers_to(api, ADMIN_ID))
    for text in texts:
        world.dm(admin, text)
    await api.wait_for(lambda a: len(answers_to(a, ADMIN_ID)) == before + len(texts))
    return answers_to(api, ADMIN_ID)[before:]


async def test_pause_and_resume_flip_the_kill_switch(telegram, world, api, store):
    [paused] = await run_commands(world, api, "/pause")
    assert await asyncio.to_thread(store.is_paused) and paused.startswith("已暂停")

    [resumed] = await run_commands(world, api, "/resume")
    assert not await asyncio.to_thread(store.is_paused) and resumed.startswith("已恢复")


async def test_takeover_and_release_a_post_by_id_or_from_inside_its_comments(telegram, world, api, store):
    group = world.group["id"]
    await run_commands(world, api, "/takeover 45")
    assert [t.thread_id for t in await asyncio.to_thread(store.taken_over_threads)] == [f"{group}:45"]
    taken = await asyncio.to_thread(store.taken_over_threads)
    assert taken[0].human_owner == f"telegram:{ADMIN_ID}"

    [released, again] = await run_commands(world, api, f"/release {group}:45", f"/release {group}:45")
    assert await asyncio.to_thread(store.taken_over_threads) == []
    assert released.startswith("已交还") and "没有被接管" in again

    post = world.channel_post("第 11 课")
    world.comment(world.user(ADMIN_ID, "老师"), post, "/takeover")
    await api.wait_for(lambda a: answers_to(a, group))
    assert [t.thread_id for t in await asyncio.to_thread(store.taken_over_threads)] == [f"{group}:{post['message_id']}"]


async def test_takeover_and_release_a_viewer_by_handoff_id_or_pseudonym(telegram, world, api, store):
    from bot.events import Event

    [accepted] = await asyncio.to_thread(store.record_events, [Event("bilibili", "b1", "退钱", author_id="fan", author_name="小红")])
    handoff_id = await asyncio.to_thread(store.open_handoff, accepted.event_pk, "complaint")
    pseudonym = accepted.pseudonym
    [taken, bad] = await run_commands(world, api, f"/takeover {handoff_id} viewer", "/takeover abc viewer")
    assert f"已接管观众 {pseudonym}" in taken and "/takeover <转人工编号> viewer" in bad
    viewers = await asyncio.to_thread(store.taken_over_viewers)
    assert [(v.pseudonym, v.by) for v in viewers] == [(pseudonym, f"telegram:{ADMIN_ID}")]
    assert await asyncio.to_thread(store.taken_over_threads) == []  # a viewer, not the post "<id>"

    [released, again, unknown] = await run_commands(world, api, f"/release {pseudonym}", f"/release {handoff_id} 观众",
                                                    "/release v_0000")
    assert released.startswith("已交还该观众") and "没有被接管" in again and "no viewer 'v_0000'" in unknown
    assert await asyncio.to_thread(store.taken_over_viewers) == []


async def test_handoffs_and_reply_to_an_unknown_handoff(telegram, world, api):
    listing, missing = await run_commands(world, api, "/handoffs", "/reply 12 周末有直播答疑")

    assert "没有待处理" in listing
    assert "找不到转人工 #12" in missing


async def test_resend_queues_a_reply_held_after_a_crash(telegram, world, api, store):
    from bot.decision import Decision, Outcome
    from bot.events import Event
    from bot.outbox import IN_DOUBT

    [accepted] = await asyncio.to_thread(store.record_events, [Event("telegram", "-100:7", "多少钱", author_id="42")])
    await asyncio.to_thread(store.save_outcomes, [Outcome(accepted, None, Decision("reply_public", "price", text="199 元"))])
    handoff_id = await asyncio.to_thread(store.hold_message, 1, IN_DOUBT)

    listing, resent, again, usage = await run_commands(world, api, "/handoffs", f"/resend {handoff_id}", f"/resend {handoff_id}", "/resend x")

    assert "may not have gone out" in listing and "/resend" in listing
    assert resent.startswith(f"已重发转人工 #{handoff_id}") and (await asyncio.to_thread(store.outbox_message, 1)).state == "pending"
    assert "无法重发" in again and usage.startswith("用法：/resend")


async def test_relabel_wrong_and_right_store_the_creators_correction_through_the_same_store_calls_as_the_cli(telegram, world, api, store):
    from bot.decision import Decision, Outcome
    from bot.events import Event
    from bot.store.models import UnderstandingRecord

    misread, answered = await asyncio.to_thread(store.record_events, [
        Event("telegram", "m1", "这老师讲得太烂了吧", author_id="1"), Event("telegram", "m2", "学完能找到工作吗", author_id="2")])
    await asyncio.to_thread(store.save_outcomes, [Outcome(misread, None, Decision("ignore", "praise")),
                                                  Outcome(answered, None, Decision("reply_public", "faq", text="有证书"))])
    with store.session() as session:  # what the analysis stored for the answered comment
        session.add(UnderstandingRecord(event_pk=answered.event_pk, intent="question_other", answer_kind="faq", answer_id="faq-certificate"))

    relabelled, wrong, refused, usage, right, not_replied = await run_commands(
        world, api, f"/relabel {misread.event_pk} complaint", f"/wrong {answered.event_pk}", f"/wrong {misread.event_pk}", "/relabel 5",
        f"/right {answered.event_pk}", f"/right {misread.event_pk}")

    assert relabelled.startswith(f"已将评论 #{misread.event_pk} 标为 complaint") and "faq:faq-certificate" in wrong
    assert "sent no reply" in refused and usage.startswith("用法")
    assert right.startswith(f"已记下：评论 #{answered.event_pk} 的回复是对的") and "sent no reply" in not_replied
    corrections = await asyncio.to_thread(store.corrections)
    assert [(c.kind, c.event_pk, c.by) for c in corrections] == [
        ("relabel", misread.event_pk, f"telegram:{ADMIN_ID}"), ("wrong_reply", answered.event_pk, f"telegram:{ADMIN_ID}"),
        ("right_reply", answered.event_pk, f"telegram:{ADMIN_ID}")]


async def test_recent_lists_comment_ids_and_savefaq_turns_an_answered_handoff_into_a_faq_entry(telegram, world, api, store):
    from bot.decision import Decision, Outcome
    from bot.events import Event

    [question] = await asyncio.to_thread(store.record_events, [Event("telegram", "q1", "课程里的代码能商用吗", author_id="1")])
    await asyncio.to_thread(store.save_outcomes, [Outcome(question, None, Decision("handoff", "no answer", intent="question_other"))])
    [handoff] = await asyncio.to_thread(store.list_handoffs)

    recent, unanswered, replied, saved = await run_commands(
        world, api, "/recent", f"/savefaq {handoff.id}", f"/reply {handoff.id} 可以商用，注明出处即可", f"/savefaq {handoff.id}")

    assert f"#{question.event_pk} 课程里的代码能商用吗 → question_other · handoff" in recent
    assert "has no answer yet" in unanswered and replied.startswith("已回复")
    assert saved.startswith("已存为新的常见问题 creator-")
    kinds = [c.kind for c in await asyncio.to_thread(store.corrections)]
    assert kinds == ["answer", "faq_entry"]


async def test_summary_answers_with_the_daily_summary_of_the_asked_day(telegram, world, api):
    asked, default = await run_commands(world, api, "/summary 2025-03-01", "/summary")

    yesterday = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)).date()
    assert asked.startswith(f"coursebot 每日总结 · {date(2025, 3, 1).isoformat()}")
    assert default.startswith(f"coursebot 每日总结 · {yesterday.isoformat()}")


async def test_malformed_admin_commands_get_usage_not_actions(telegram, world, api, store):
    answers = await run_commands(world, api, "/reply abc", "/takeover", "/summary someday")

    assert [t.split("：")[0] for t in answers] == ["用法"] * 3
    assert await asyncio.to_thread(store.taken_over_threads) == []


async def test_admin_commands_from_anyone_else_are_ignored_and_logged_without_their_id(telegram, world, api, store, caplog):
    _, feed = telegram
    caplog.set_level(logging.INFO, logger="coursebot.telegram.admin")
    viewer = world.user(VIEWER_ID, "小明")
    post = world.channel_post("第 12 课")
    world.dm(viewer, "/pause")
    world.comment(viewer, post, "/takeover")
    world.as_anonymous_admin(post, "/resume")  # an anonymous admin cannot be identified
    world.dm(viewer, "我想问一下课程")  # handled after the commands: proves they were processed

    event = await feed.next()

    assert event.text == "我想问一下课程"
    assert not await asyncio.to_thread(store.is_paused)
    assert await asyncio.to_thread(store.taken_over_threads) == []
    assert api.sent == []
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == 3 and all("tg-" in line for line in ignored)
    assert str(VIEWER_ID) not in caplog.text


async def test_scheduled_summary_is_delivered_by_dm_with_its_chart(make_settings, settings_factory, store, world, api):
    from bot.adapters.telegram.summary import TelegramSummaryDelivery
    from bot.summary import build_daily_summary
    from bot.summary.chart import render_chart
    from bot.summary.delivery import Recipient

    world.dm(world.user(ADMIN_ID, "老师"), "hi", push=False)  # the creator has started the bot
    summary = await build_daily_summary(store.engine, date(2025, 3, 1), "Asia/Shanghai")
    chart = await asyncio.to_thread(render_chart, summary)
    recipient = Recipient.all_from_settings(settings_factory())[0]  # no telegram_chat_id: goes to the admins
    async with TelegramBot(make_settings(chat_interval=0)) as bot:
        await TelegramSummaryDelivery(bot.bot, [ADMIN_ID]).deliver(recipient, summary, chart)

    [text] = answers_to(api, ADMIN_ID)
    [photo] = [c.params for c in api.calls_to("sendPhoto")]
    assert text.startswith("coursebot 每日总结 · 2025-03-01")
    assert photo["chat_id"] == ADMIN_ID and photo["photo"]["filename"] == "summary-2025-03-01.png"
    assert photo["photo"]["bytes"] == chart.png


async def test_a_number_no_row_can_have_gets_the_usage_not_a_crash(telegram, world, api, store):
    huge = "9" * 30  # past any database's integer key: used to raise OverflowError in the handler, and nobody answered
    answers = await run_commands(world, api, f"/resend {huge}", f"/wrong {huge}", "/right ²", f"/savefaq {huge}",
                                 f"/relabel {huge} spam", f"/reply {huge} 好的", "/reply 0 好的")
    assert [a.split("：")[0] for a in answers] == ["用法"] * 7


async def test_relabel_takes_a_sentiment_with_or_without_an_intent(telegram, world, api, store):
    from bot.events import Event

    [misread] = await asyncio.to_thread(store.record_events, [Event("telegram", "s1", "看完更糊涂了", author_id="1")])
    pk = misread.event_pk
    only, both, bad, garbled = await run_commands(
        world, api, f"/relabel {pk} sentiment=negative", f"/relabel {pk} praise 情绪=neutral", f"/relabel {pk} complaint sentiment=angry",
        f"/relabel {pk} complaint spam")

    assert only.startswith(f"已将评论 #{pk} 标为 情绪 negative") and both.startswith(f"已将评论 #{pk} 标为 praise 情绪 neutral")
    assert "unknown sentiment 'angry'" in bad and garbled.startswith("用法")
    corrections = await asyncio.to_thread(store.corrections)
    assert [(c.kind, c.payload) for c in corrections] == [
        ("sentiment_label", {"sentiment": "negative"}), ("relabel", {"intent": "praise"}), ("sentiment_label", {"sentiment": "neutral"})]


async def test_history_lists_the_lessons_with_ids_and_undo_takes_one_back_through_the_same_action_as_the_cli(telegram, world, api, store):
    from bot.events import Event

    [misread] = await asyncio.to_thread(store.record_events, [Event("telegram", "u1", "这老师讲得太烂了吧", author_id="1")])
    pk = misread.event_pk
    [relabelled] = await run_commands(world, api, f"/relabel {pk} complaint")
    [label] = await asyncio.to_thread(store.corrections)
    assert relabelled.endswith(f"（撤销：/undo {label.id}）")  # the id to take it back, where the lesson was given

    undone, again, unknown, usage, listing, only_undos, bad_kind = await run_commands(
        world, api, f"/undo {label.id}", f"/undo {label.id}", "/undo 99", "/undo x", "/history", "/history undo", "/history angry")

    assert undone.startswith(f"已撤销纠正 #{label.id}（relabel）")
    assert f"was already undone by #{label.id + 1}" in again and "correction #99 not found" in unknown and usage.startswith("用法：/undo")
    when = label.at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")  # [policy] timezone of the test config
    assert listing.splitlines()[1:] == [
        f"#{label.id + 1} {when} undo · 评论 #{pk} 这老师讲得太烂了吧 → undid #{label.id} (relabel)",
        f"#{label.id} {when} relabel · 评论 #{pk} 这老师讲得太烂了吧 → intent complaint · 已撤销（#{label.id + 1}）"]
    assert len(only_undos.splitlines()) == 2 and "unknown correction kind 'angry'" in bad_kind
    corrections = await asyncio.to_thread(store.corrections)
    assert [(c.kind, c.by) for c in corrections] == [("relabel", f"telegram:{ADMIN_ID}"), ("undo", f"telegram:{ADMIN_ID}")]
    [audit] = [a for a in await asyncio.to_thread(store.audit_log) if a.action == "learn.undo"]
    assert (audit.by, audit.target) == (f"telegram:{ADMIN_ID}", f"correction:{label.id}")
