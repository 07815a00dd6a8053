"""Compose (sticky A/B, no repeats, tracked links, template errors) and the outbox (retries, retry_after, dead)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from pipeline_helpers import PY101_THREAD, T0, Clock
from sqlmodel import select

from bot.adapters.recording import RecordingSink
from bot.compose import Templates
from bot.config import OutboxSettings
from bot.decision import Decision, Outcome
from bot.events import SendError, Thread
from bot.outbox import ANY_PLATFORM, OutboxWorker
from bot.store import Store
from bot.store.models import AbAssignment, OutboxMessage, TrackedLink
from retrieval.errors import InputError

INVOICE = "可以开发票吗"
REFUND = "能退款吗"


async def test_a_viewer_keeps_the_same_variant_across_comments_and_restarts(store: Store, make_runner, comment) -> None:
    questions = [INVOICE, REFUND, "课程有效期多久", "怎么下载课件"]
    first = await make_runner(store).process([comment(q, author="fan", thread=None) for q in questions[:2]])
    again = await make_runner(store).process([comment(q, author="fan", thread=None) for q in questions[2:]])  # a new process
    assert {o.decision.variant_id for o in first + again} == {first[0].decision.variant_id}
    with store.session(write=False) as session:
        [assignment] = session.exec(select(AbAssignment)).all()
    assert (assignment.experiment, assignment.variant) == ("faq", first[0].decision.variant_id)


async def test_different_viewers_are_spread_over_the_variants(store: Store, make_runner, comment) -> None:
    outcomes = await make_runner(store).process([comment(INVOICE, author=f"viewer-{i}", thread=None) for i in range(30)])
    spread = Counter(o.decision.variant_id for o in outcomes)
    assert set(spread) == {"faq-a", "faq-b", "faq-c"}, spread


async def test_the_same_text_is_never_sent_twice_in_a_row_in_one_thread(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"rate_limits": {"per_thread_per_hour": 100, "per_viewer_per_day": 100, "per_platform_per_day": 100}})
    # Anonymous viewers: no name, so every FAQ variant renders the same bare answer text.
    batch = [comment(INVOICE, author=f"anon-{i}", name=None) for i in range(4)]
    texts = [o.decision.text for o in await runner.process(batch[:2])] + [o.decision.text for o in await runner.process(batch[2:])]
    assert all(texts) and all(a != b for a, b in pairwise(texts)), texts
    assert len({t.rstrip("～🙂！👍。 ") for t in texts}) == 1  # the same answer, varied only in form


async def test_anonymous_viewers_asking_for_a_course_they_name_get_a_recommendation_not_a_handoff(
    store: Store, make_runner, comment
) -> None:
    # The bundled recommendation variants all needed a name or a {reason}, and a course the viewer names has no
    # reason to say: such requests from viewers without a usable name went to the creator.
    runner = make_runner(store, policy={"rate_limits": {"per_thread_per_hour": 100, "per_viewer_per_day": 100, "per_platform_per_day": 100}})
    outcomes = await runner.process([comment("有没有吉他教程 买了琴吃灰半年了", author=f"anon-{i}", name=None, thread=None) for i in range(8)])
    assert all(o.decision.action in ("reply_public", "reply_dm") for o in outcomes), [o.decision.reason for o in outcomes]
    assert all("吉他" in (o.decision.text or "") + (o.decision.dm_text or "") for o in outcomes)


async def test_course_links_in_replies_are_tracked_and_clicks_count(store: Store, make_runner, comment) -> None:
    [outcome] = await make_runner(store, links={"base_url": "https://go.example.com/l/"}).process(
        [comment("链接发一下", author="77", platform="douyin")])
    d = outcome.decision
    [link] = d.links
    assert f"https://go.example.com/l/{link.id}" in (d.dm_text or d.text or "")
    with store.session(write=False) as session:
        row = session.exec(select(TrackedLink)).one()
    assert (row.id, row.course_id, row.variant_id) == (link.id, "py-101", d.variant_id)
    assert row.url.startswith("https://ke.example.com/c/py-101")
    assert store.record_click(link.id, user_agent="Mozilla/5.0")
    assert not store.record_click("no-such-link")
    assert store.record_conversion("shop", "order-1", link_id=link.id, amount=199)
    assert not store.record_conversion("shop", "order-1", link_id=link.id, amount=199)  # the shop notified twice


async def test_a_viewers_display_name_reaches_a_public_reply_only_cleaned_or_not_at_all(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"rate_limits": {"per_thread_per_hour": 100, "per_viewer_per_day": 100, "per_platform_per_day": 100}})
    ads = await runner.process([comment("这个课多少钱", author=f"ad-{i}", name="加V领免费课 evil.example/x") for i in range(12)])
    tricks = await runner.process([comment("这个课多少钱", author=f"rtl-{i}", name="小\u202e明<b>") for i in range(12)])
    ad_texts = [o.decision.text or "" for o in ads]
    trick_texts = [o.decision.text or "" for o in tricks]
    assert all(ad_texts) and all(trick_texts)
    assert not any("evil" in t or "加V" in t for t in ad_texts), ad_texts  # answered, without the advert
    assert not any("\u202e" in t or "<b>" in t for t in trick_texts), trick_texts
    assert any("小明" in t for t in trick_texts), trick_texts  # what is left of a name is still used


def test_a_key_whose_every_variant_needs_a_name_or_a_reason_is_a_warning_naming_file_and_key(tmp_path: Path, caplog) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text("templates:\n  ask_recommendation:\n    - id: a\n      text: '@{viewer_name} 《{course_title}》'\n"
                    "    - id: b\n      text: '{reason}：《{course_title}》'\n  faq:\n    - id: faq-a\n      text: '{answer}'\n",
                    encoding="utf-8")
    with caplog.at_level("WARNING", logger="bot.compose"):
        Templates.load(path)
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.compose"]
    assert f"{path}: templates.ask_recommendation: every variant uses" in warning
    caplog.clear()
    with caplog.at_level("WARNING", logger="bot.compose"):
        Templates.load(Path(__file__).resolve().parents[2] / "config" / "templates.yaml")  # the bundled ones warn of nothing
    assert not [r for r in caplog.records if r.name == "bot.compose"]


def test_a_template_with_an_unknown_variable_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text("templates:\n  faq:\n    - id: faq-a\n      text: '{answr}'\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"templates.faq: variant 'faq-a': unknown variable \{answr\}"):
        Templates.load(path)


# -- outbox ------------------------------------------------------------------------------------------------
def queued(store: Store, comment, *, text: str = "你好") -> int:
    accepted = store.record_event(comment("问题", author="5"))
    store.save_outcomes([Outcome(accepted, None, Decision("reply_public", "t", text=text, decided_at=T0))])
    with store.session(write=False) as session:
        return session.exec(select(OutboxMessage.id)).one()


def row(store: Store, outbox_id: int) -> OutboxMessage:
    message = store.outbox_message(outbox_id)
    assert message is not None
    return message


async def test_a_transient_failure_is_retried_with_backoff_then_sent(store: Store, comment) -> None:
    clock = Clock()
    sink = RecordingSink(fail_with=[SendError("timeout", transient=True), SendError("timeout", transient=True)])
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(backoff_base=10, max_attempts=5), clock=clock)
    outbox_id = queued(store, comment)
    assert await worker.run_once() == 1
    first = row(store, outbox_id)
    assert first.state == "failed" and first.attempts == 1 and first.last_error == "timeout"
    assert timedelta(seconds=8) <= first.next_attempt_at - clock.start <= timedelta(seconds=12)  # 10 s ± 20 %
    assert await worker.run_once() == 0  # not due yet
    clock.now = first.next_attempt_at
    await worker.run_once()
    second = row(store, outbox_id)
    assert timedelta(seconds=16) <= second.next_attempt_at - clock.now <= timedelta(seconds=24)  # doubled
    clock.now = second.next_attempt_at
    await worker.run_once()
    sent = row(store, outbox_id)
    assert (sent.state, sent.attempts, sent.platform_message_id) == ("sent", 3, f"rec-{outbox_id}")
    assert len(sink.records) == 1


async def test_the_platforms_retry_after_is_honoured_exactly(store: Store, comment) -> None:
    clock = Clock()
    sink = RecordingSink(fail_with=[SendError("Too Many Requests", transient=True, retry_after=37, code=429)])
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(), clock=clock)
    outbox_id = queued(store, comment)
    await worker.run_once()
    failed = row(store, outbox_id)
    assert failed.next_attempt_at == clock.start + timedelta(seconds=37) and failed.last_error == "429: Too Many Requests"
    clock.now = clock.start + timedelta(seconds=36)
    assert await worker.run_once() == 0
    clock.now = clock.start + timedelta(seconds=37)
    assert await worker.run_once() == 1 and row(store, outbox_id).state == "sent"


async def test_a_message_is_dead_after_max_attempts_with_the_reason(store: Store, comment) -> None:
    clock = Clock()
    sink = RecordingSink(fail_with=[SendError("server error", transient=True, code=500) for _ in range(3)])
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(max_attempts=3, backoff_base=1), clock=clock)
    outbox_id = queued(store, comment)
    for _ in range(3):
        await worker.run_once()
        clock.now += timedelta(hours=1)
    dead = row(store, outbox_id)
    assert (dead.state, dead.attempts) == ("dead", 3)
    assert dead.last_error == "gave up after 3 attempts: 500: server error"
    assert await worker.run_once() == 0 and sink.records == []


async def test_a_permanent_error_is_dead_at_once_and_an_unreachable_viewer_is_remembered(store: Store, comment) -> None:
    sink = RecordingSink(fail_with=[SendError("bot can't initiate conversation", transient=False, code=403, recipient_unreachable=True)])
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(), clock=Clock())
    accepted = store.record_event(comment("多少钱", author="tg-5", platform="telegram"))
    store.save_outcomes([Outcome(accepted, None, Decision("reply_dm", "t", text="私信", decided_at=T0))])
    await worker.run_once()
    with store.session(write=False) as session:
        message = session.exec(select(OutboxMessage)).one()
    assert (message.state, message.attempts) == ("dead", 1)
    viewer = store.viewer("telegram", "tg-5")
    assert viewer is not None and viewer.dm_reachable is False


async def test_an_interrupted_send_is_confirmed_with_the_sink_not_resent(store: Store, comment, tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "sent.jsonl"
    outbox_id = queued(store, comment)
    [claim] = store.claim_due(clock.start, lease=30)
    await RecordingSink(path).send(claim.message)  # it reached the platform… and then the process died
    worker = OutboxWorker(store, {ANY_PLATFORM: RecordingSink(path)}, OutboxSettings(), clock=clock)
    assert await worker.run_once() == 0  # still leased
    clock.now = clock.start + timedelta(seconds=31)
    assert await worker.run_once() == 1
    assert row(store, outbox_id).state == "sent"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


async def test_a_slow_platform_hands_back_claims_before_their_lease_runs_out(store: Store, comment) -> None:
    class SlowSink(RecordingSink):
        async def send(self, message) -> str:
            await asyncio.sleep(0.3)  # a paced platform (Bilibili waits 30-90 s between replies)
            return await super().send(message)

    for n in range(4):
        accepted = store.record_event(comment("问题", author=f"s{n}"))
        store.save_outcomes([Outcome(accepted, None, Decision("reply_public", "t", text=f"回复{n}", decided_at=T0))])
    sink = SlowSink()
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(lease=1.0, batch_size=10), clock=Clock())
    handled = await worker.run_once()  # 4 × 0.3 s would outlast the 1 s lease: it stops after half of it
    assert 1 <= handled < 4
    assert store.outbox_counts() == {"sent": handled, "pending": 4 - handled}
    with store.session(write=False) as session:
        assert {m.attempts for m in session.exec(select(OutboxMessage).where(OutboxMessage.state == "pending"))} == {0}
    assert await worker.drain(10)
    assert len(sink.records) == 4 and store.outbox_counts() == {"sent": 4}


async def test_a_sink_that_cannot_confirm_sends_has_each_message_marked_sent_before_the_next_goes_out(store: Store, comment) -> None:
    class BlindSink:
        platform = "bilibili"

        def __init__(self) -> None:
            self.states_seen: list[list[str]] = []  # outbox states at the start of each send

        async def send(self, message) -> str:
            with store.session(write=False) as session:
                self.states_seen.append(sorted(session.exec(select(OutboxMessage.state)).all()))
            return f"id-{message.outbox_id}"

    for n in range(3):
        accepted = store.record_event(comment("问题", author=f"b{n}", platform="bilibili"))
        store.save_outcomes([Outcome(accepted, None, Decision("reply_public", "t", text=f"回复{n}", decided_at=T0))])
    sink = BlindSink()
    assert await OutboxWorker(store, {"bilibili": sink}, OutboxSettings(), clock=Clock()).run_once() == 3
    # A crash after a send but before its mark would leave it dead (it can't be confirmed): so no send waits for a group.
    assert sink.states_seen == [["sending"] * 3, ["sending", "sending", "sent"], ["sending", "sent", "sent"]]
    assert store.outbox_counts() == {"sent": 3}


async def test_the_ledger_holds_each_threads_last_three_bot_texts_newest_first(store: Store, make_runner, comment) -> None:
    runner = make_runner(store, policy={"rate_limits": {"per_thread_per_hour": 100, "per_viewer_per_day": 100, "per_platform_per_day": 100}})
    other = Thread("BV-other", title="Python零基础第1课：安装和环境配置")
    sent: dict[str, list[str]] = {"BV-other": []}
    for i in range(5):  # one batch each: every decision is stored before the next batch's ledger is loaded
        [outcome] = await runner.process([comment(INVOICE, author=f"anon-{i}", name=None, thread=PY101_THREAD if i % 2 else other)])
        sent.setdefault(outcome.accepted.event.thread.id, []).append(outcome.decision.text)
    accepted = store.record_events([comment(INVOICE, author="late", thread=PY101_THREAD), comment(INVOICE, author="late", thread=other)])
    # The store that wrote them keeps them current in memory; a fresh one (a restart) reads them back.
    for ledger in (store.load_ledger(accepted), Store(store.engine, store.pseudonymizer).load_ledger(accepted)):
        for thread_id, texts in sent.items():
            assert ledger.recent_texts[("bilibili", thread_id)] == list(reversed(texts))[:3], thread_id
