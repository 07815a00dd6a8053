"""Risk control (-352/-412) pauses the whole account: every send and read waits, the pause doubles while Bilibili
keeps refusing (a success in between does not reset it), starts over after a quiet period, and survives a restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fake_bilibili import FakeBilibili

from bot.adapters.bilibili import BilibiliClient, BilibiliSink, BilibiliSource
from bot.adapters.bilibili.bvid import aid_to_bvid
from bot.adapters.bilibili.cursors import StoreCursors
from bot.adapters.bilibili.errors import AccountPaused
from bot.adapters.bilibili.pacing import Backoff, Pacer
from bot.adapters.bilibili.risk import AccountPause
from bot.config import OutboxSettings
from bot.events import OutgoingMessage, SendError
from bot.outbox import OutboxWorker
from bot.privacy import Pseudonymizer
from bot.store import Store
from bot.store.queue import NewMessage

AID = 170001
REPLY_ADD = "/x/v2/reply/add"
COMMENTS = "/x/v2/reply"
KEY = b"k" * 32


def _reply(outbox_id: int, text: str = "这门课 99 元") -> OutgoingMessage:
    return OutgoingMessage(outbox_id=outbox_id, platform="bilibili", kind="reply_public", text=text,
                           thread_id=aid_to_bvid(AID))


def _pause(clock, state=None, *, quiet: float = 7200.0) -> AccountPause:
    return AccountPause(Backoff(300.0, 3600.0, jitter=0.1), quiet_period=quiet, state=state, clock=clock)


async def _refused(sink: BilibiliSink, outbox_id: int) -> SendError:
    with pytest.raises(SendError) as info:
        await sink.send(_reply(outbox_id))
    return info.value


async def test_a_412_pauses_every_send_and_read_of_the_account_not_just_that_message(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], clock) -> None:
    fake.add_video(AID, "Python")
    fake.fail(REPLY_ADD, -412)
    async with make_client(risk=_pause(clock)) as client:
        sink = BilibiliSink(client, pacer=Pacer(0, 0))
        first = await _refused(sink, 1)
        clock.now += 10
        queued = [await _refused(sink, n) for n in (2, 3)]
        with pytest.raises(AccountPaused):
            await client.comments(AID)  # reads stop too
        clock.now += first.retry_after  # type: ignore[operator]
        assert await sink.send(_reply(2))
    assert first.transient and first.attempted and 270 <= first.retry_after <= 330  # type: ignore[operator]
    assert all(e.transient and not e.attempted and e.retry_after == pytest.approx(first.retry_after - 10) for e in queued)
    assert fake.calls.count(REPLY_ADD) == 2 and COMMENTS not in fake.calls  # nothing reached Bilibili meanwhile


async def test_repeated_risk_errors_double_the_pause_even_with_successes_between(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], clock) -> None:
    fake.add_video(AID, "Python")
    async with make_client(risk=_pause(clock)) as client:
        sink = BilibiliSink(client, pacer=Pacer(0, 0))
        pauses = []
        for n in range(5):
            fake.fail(REPLY_ADD, -352 if n % 2 else -412)
            pauses.append((await _refused(sink, n)).retry_after)
            clock.now += pauses[-1]  # type: ignore[operator]
            assert await sink.send(_reply(100 + n))  # Bilibili lets one through: the doubling goes on
    for n, pause in enumerate(pauses):
        assert min(3600.0, 300.0 * 2 ** n) * 0.9 <= pause <= min(3600.0, 300.0 * 2 ** n) * 1.1  # type: ignore[operator]


async def test_the_doubling_starts_over_only_after_a_quiet_period(fake: FakeBilibili,
                                                                  make_client: Callable[..., BilibiliClient], clock) -> None:
    fake.add_video(AID, "Python")
    async with make_client(risk=_pause(clock, quiet=7200.0)) as client:
        sink = BilibiliSink(client, pacer=Pacer(0, 0))
        pauses = []
        for quiet_after in (3600, 7200, 0):  # seconds without risk control after this pause ends
            fake.fail(REPLY_ADD, -412)
            pauses.append((await _refused(sink, 1)).retry_after)
            clock.now += pauses[-1] + quiet_after  # type: ignore[operator]
    assert 270 <= pauses[0] <= 330  # type: ignore[operator]
    assert 540 <= pauses[1] <= 660  # type: ignore[operator]  # 1 h of quiet is not enough: doubled
    assert 270 <= pauses[2] <= 330  # type: ignore[operator]  # 2 h of quiet: back to the first rung


async def test_the_source_waits_out_the_accounts_pause_and_so_does_the_sink(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], clock, tmp_path) -> None:
    fake.add_video(AID, "Python")
    rpid = fake.comment(AID, "多少钱")
    fake.fail(COMMENTS, -412)
    store = Store.from_url(f"sqlite:///{tmp_path / 'coursebot.db'}", Pseudonymizer(KEY))
    async with make_client(risk=_pause(clock)) as client:
        source = BilibiliSource(client, StoreCursors(store), videos=[AID], backfill=True, sleep=clock.sleep,
                                fetch_titles=False)
        events = source.events()
        refused_from = clock.now
        assert (await anext(events)).event_id == str(rpid)
        await events.aclose()
    [pause] = clock.slept
    assert 270 <= pause <= 330 and clock.now == pytest.approx(refused_from + pause)
    assert fake.calls.count(COMMENTS) == 2  # the refused read, then one after the pause: no reads in between


async def test_the_pause_survives_a_restart_and_is_shared_by_workers(fake: FakeBilibili,
                                                                    make_client: Callable[..., BilibiliClient], clock,
                                                                    db_url: str) -> None:
    fake.add_video(AID, "Python")
    fake.fail(REPLY_ADD, -412)
    async with make_client(risk=_pause(clock, StoreCursors(Store.from_url(db_url, Pseudonymizer(KEY))))) as client:
        first = await _refused(BilibiliSink(client, pacer=Pacer(0, 0)), 1)
    clock.now += 60
    restarted = Store.from_url(db_url, Pseudonymizer(KEY))  # a new process (or another worker) on the same database
    async with make_client(risk=_pause(clock, StoreCursors(restarted))) as client:
        sink = BilibiliSink(client, pacer=Pacer(0, 0))
        held = await _refused(sink, 2)
        clock.now += held.retry_after  # type: ignore[operator]
        fake.fail(REPLY_ADD, -412)
        again = await _refused(sink, 3)
    assert not held.attempted and held.retry_after == pytest.approx(first.retry_after - 60)  # type: ignore[operator]
    assert 540 <= again.retry_after <= 660  # type: ignore[operator]  # the streak was kept too
    assert fake.calls.count(REPLY_ADD) == 2


async def test_messages_held_by_the_pause_keep_their_attempts_in_the_outbox(
        fake: FakeBilibili, make_client: Callable[..., BilibiliClient], clock, tmp_path) -> None:
    fake.add_video(AID, "Python")
    store = Store.from_url(f"sqlite:///{tmp_path / 'coursebot.db'}", Pseudonymizer(KEY))
    ids = [store.enqueue(NewMessage(f"k{n}", "bilibili", "reply_public", f"回复 {n}", thread_id=aid_to_bvid(AID)))
           for n in range(3)]
    fake.fail(REPLY_ADD, *[-412] * 6)
    now = datetime.now(UTC)
    async with make_client(risk=_pause(clock)) as client:
        worker = OutboxWorker(store, {"bilibili": BilibiliSink(client, pacer=Pacer(0, 0))},
                              OutboxSettings(max_attempts=2), clock=lambda: now)
        await worker.run_once()
    rows = [store.outbox_message(i) for i in ids]
    assert [r.attempts for r in rows] == [1, 0, 0]  # only the message that met the 412 used an attempt
    assert all(r.state in ("failed", "pending") for r in rows)
    assert fake.calls.count(REPLY_ADD) == 1
