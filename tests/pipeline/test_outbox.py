"""The outbox after a crash or a pause, on SQLite and PostgreSQL: only the send in flight is in doubt, and it is
held on the creator's queue (never lost, never sent twice); a reply long past due is held, not flushed late."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from pipeline_helpers import T0, Clock
from sqlmodel import select

from bot.config import OutboxSettings
from bot.decision import Decision, Outcome
from bot.events import OutgoingMessage, SendError
from bot.outbox import ANY_PLATFORM, OutboxWorker
from bot.store import NotFound, Store
from bot.store.models import OutboxMessage
from bot.store.queue import NewMessage

LEASE = 30


class BlindSink:
    """A platform that cannot tell whether a message reached it (no `find_sent`: Telegram, Douyin). Sending the
    text `hang_on` never returns: the process dies with that request in flight."""

    def __init__(self, hang_on: str | None = None, fail_with: list[SendError] | None = None) -> None:
        self.hang_on, self.fail_with = hang_on, list(fail_with or [])
        self.requests: list[str] = []  # every request that reached the platform, in order

    async def send(self, message: OutgoingMessage) -> str:
        self.requests.append(message.text)
        if message.text == self.hang_on:
            await asyncio.Event().wait()
        if self.fail_with:
            raise self.fail_with.pop(0)
        return f"p-{message.outbox_id}"


def queue_replies(store: Store, comment, texts: list[str], **decision) -> list[int]:
    for n, text in enumerate(texts):
        accepted = store.record_event(comment(f"问题{n}", author=f"viewer-{n}"))
        store.save_outcomes([Outcome(accepted, None, Decision("reply_public", "t", text=text, decided_at=T0, **decision))])
    with store.session(write=False) as session:
        return list(session.exec(select(OutboxMessage.id).order_by(OutboxMessage.id)))


def states(store: Store) -> dict[str, str]:
    with store.session(write=False) as session:
        return {m.text: m.state for m in session.exec(select(OutboxMessage))}


def queued_at(store: Store, text: str, created: datetime, *, due: datetime | None = None) -> None:
    """Move a queued message back in time: queued at `created`, due at `due` (default: at once)."""
    with store.session() as session:
        message = session.exec(select(OutboxMessage).where(OutboxMessage.text == text)).one()
        message.created_at, message.next_attempt_at = created, due or created
        session.add(message)


async def killed_while_sending(store: Store, clock: Clock, texts: list[str], hang_on: str) -> BlindSink:
    """A worker claims all `texts` and dies while the request for `hang_on` is in flight (like a kill -9: nothing
    after the request runs)."""
    sink = BlindSink(hang_on=hang_on)
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(lease=LEASE), clock=clock)
    task = asyncio.create_task(worker.run_once())
    while hang_on not in sink.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    return sink


async def test_after_a_crash_only_the_send_in_flight_is_in_doubt_and_the_untried_rest_go_out(store: Store, comment) -> None:
    texts = [f"回复{n}" for n in range(5)]
    queue_replies(store, comment, texts)
    clock = Clock()
    crashed = await killed_while_sending(store, clock, texts, hang_on="回复1")
    assert crashed.requests == ["回复0", "回复1"]

    clock.now += timedelta(seconds=LEASE + 1)  # the restarted bot, after the lease
    restarted = BlindSink()
    await OutboxWorker(store, {ANY_PLATFORM: restarted}, OutboxSettings(lease=LEASE), clock=clock).drain(5)

    assert restarted.requests == ["回复2", "回复3", "回复4"]  # never tried before the crash: sent normally
    assert states(store) == {"回复0": "sent", "回复1": "held", "回复2": "sent", "回复3": "sent", "回复4": "sent"}
    with store.session(write=False) as session:
        attempts = {m.text: m.attempts for m in session.exec(select(OutboxMessage))}
    assert attempts == dict.fromkeys(texts, 1)  # the dead claim counted no attempt for what it never tried


async def test_a_send_in_doubt_is_held_on_the_creators_queue_with_its_text_and_logged(store: Store, comment, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bot.outbox")
    queue_replies(store, comment, ["这门课 299 元，链接已私信～", "其他回复"])
    clock = Clock()
    await killed_while_sending(store, clock, ["这门课 299 元，链接已私信～"], hang_on="这门课 299 元，链接已私信～")
    clock.now += timedelta(seconds=LEASE + 1)
    restarted = BlindSink()
    await OutboxWorker(store, {ANY_PLATFORM: restarted}, OutboxSettings(lease=LEASE), clock=clock).drain(5)

    [handoff] = store.list_handoffs()
    assert handoff.text == "问题0"  # the viewer's comment it answers
    assert handoff.reason.startswith("this reply may not have gone out") and "这门课 299 元，链接已私信～" in handoff.reason
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    pseudonym = store.pseudonym("bilibili", "viewer-0")
    assert "may not have gone out" in warning.getMessage() and pseudonym in warning.getMessage()
    assert "viewer-0" not in warning.getMessage().replace(pseudonym, "")  # the raw platform id never
    assert restarted.requests == ["其他回复"]


async def test_resending_a_held_reply_is_one_command_and_sends_it_once(store: Store, comment) -> None:
    queue_replies(store, comment, ["回复0"])
    clock = Clock()
    await killed_while_sending(store, clock, ["回复0"], hang_on="回复0")
    clock.now += timedelta(seconds=LEASE + 1)
    worker_sink = BlindSink()
    worker = OutboxWorker(store, {ANY_PLATFORM: worker_sink}, OutboxSettings(lease=LEASE), clock=clock)
    await worker.drain(5)
    [handoff] = store.list_handoffs()

    view, count = store.resend_held(handoff.id, by="老师")
    assert (view.state, view.resolved_by, count) == ("resolved", "老师", 1)
    await worker.drain(5)
    assert worker_sink.requests == ["回复0"] and states(store) == {"回复0": "sent"}
    assert store.list_handoffs() == []
    try:
        store.resend_held(handoff.id, by="老师")
    except NotFound as exc:
        assert "holds no reply to resend" in str(exc)
    else:
        raise AssertionError("a second resend must be refused")


async def test_after_a_long_pause_late_replies_are_held_and_timely_ones_go_out(store: Store, comment) -> None:
    clock = Clock()
    queue_replies(store, comment, ["迟到的回复", "新的回复", "静默时段后的回复"])
    queued_at(store, "迟到的回复", clock.now - timedelta(hours=5))  # queued before the bot was down five hours
    queued_at(store, "静默时段后的回复", clock.now - timedelta(hours=10), due=clock.now - timedelta(minutes=10))  # quiet hours just ended
    sink = BlindSink()
    await OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(max_age=4 * 3600), clock=clock).drain(5)

    assert sink.requests == ["静默时段后的回复", "新的回复"]
    assert states(store)["迟到的回复"] == "held"
    [handoff] = store.list_handoffs()
    assert handoff.reason.startswith("this reply was not sent: 5 h 00 min after it was due") and "迟到的回复" in handoff.reason


async def test_a_long_retry_after_is_not_counted_as_late_and_max_age_0_sends_anything(store: Store, comment) -> None:
    clock = Clock()
    queue_replies(store, comment, ["私信"])
    sink = BlindSink(fail_with=[SendError("DM limit", transient=True, retry_after=6 * 3600)])
    worker = OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(max_age=4 * 3600), clock=clock)
    await worker.run_once()
    clock.now += timedelta(hours=6)  # due again at the platform's retry time: not late
    await worker.run_once()
    assert states(store) == {"私信": "sent"}

    queue_replies(store, comment, ["很久以后"])
    queued_at(store, "很久以后", clock.now - timedelta(days=3))
    await OutboxWorker(store, {ANY_PLATFORM: sink}, OutboxSettings(max_age=0), clock=clock).run_once()
    assert states(store) == {"私信": "sent", "很久以后": "sent"}


async def test_a_send_in_doubt_that_answers_no_comment_is_held_and_logged(store: Store, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="bot.outbox")
    store.enqueue(NewMessage(idempotency_key="telegram:welcome:1", platform="telegram", kind="reply_dm", text="欢迎～",
                             recipient_id="42", extra={"viewer": "v_welcome"}))  # a welcome DM: no comment behind it
    clock = Clock()
    await killed_while_sending(store, clock, ["欢迎～"], hang_on="欢迎～")
    clock.now += timedelta(seconds=LEASE + 1)
    await OutboxWorker(store, {ANY_PLATFORM: BlindSink()}, OutboxSettings(lease=LEASE), clock=clock).drain(5)

    assert states(store) == {"欢迎～": "held"} and store.list_handoffs() == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "v_welcome" in warning and "no handoff" in warning and "42" not in warning


async def test_resending_a_held_reply_on_a_comment_handed_to_a_human_keeps_it_on_the_queue(store: Store, comment) -> None:
    accepted = store.record_event(comment("我要投诉", author="angry"))
    store.save_outcomes([Outcome(accepted, None, Decision("handoff", "complaint goes to a human", text="老师稍后回复你", decided_at=T0))])
    clock = Clock()
    await killed_while_sending(store, clock, ["老师稍后回复你"], hang_on="老师稍后回复你")
    clock.now += timedelta(seconds=LEASE + 1)
    await OutboxWorker(store, {ANY_PLATFORM: BlindSink()}, OutboxSettings(lease=LEASE), clock=clock).drain(5)
    [handoff] = store.list_handoffs()
    assert handoff.reason.startswith("this reply may not have gone out") and handoff.reason.endswith(" | complaint goes to a human")

    view, count = store.resend_held(handoff.id, by="老师")
    assert (view.state, view.reason, count) == ("open", "complaint goes to a human", 1)  # the complaint still needs the human
    assert states(store) == {"老师稍后回复你": "pending"}
