"""Runner.run: the next batch is accepted and analysed while the previous one is decided and stored."""

from __future__ import annotations

import asyncio
from collections import Counter

import sqlalchemy as sa
from sqlmodel import select

from bot.adapters.recording import RecordingSink
from bot.events import Event
from bot.outbox import ANY_PLATFORM
from bot.store import Store
from bot.store.models import DecisionRecord, EventRecord

INVOICE = "可以开发票吗"
REFUND = "能退款吗"


class ListSource:
    platform = "bilibili"

    def __init__(self, events: list[Event]) -> None:
        self._events = events

    async def events(self):  # type: ignore[no-untyped-def]
        for event in self._events:
            yield event


async def test_batches_are_decided_in_arrival_order_each_seeing_the_replies_before_it(store: Store, make_runner, comment) -> None:
    events = [comment(INVOICE if i % 2 else REFUND, author=f"v{i}") for i in range(7)]
    redelivered = [*events[:3], events[0], *events[3:]]  # the platform sends the first comment again, a batch later
    sink = RecordingSink()
    runner = make_runner(store, {ANY_PLATFORM: sink}, outbox={"poll_interval": 0.05},
                         policy={"rate_limits": {"per_thread_per_hour": 3, "per_viewer_per_day": 100, "per_platform_per_day": 100}})
    decided = []
    await runner.run([ListSource(redelivered)], batch_size=2, max_wait=0.05, until_exhausted=True,
                     on_outcomes=lambda outcomes: decided.extend(outcomes))
    assert await runner.outbox.drain(10)  # type: ignore[union-attr]

    assert [o.accepted.event.event_id for o in decided] == [e.event_id for e in events]  # each once, in order
    # One thread, three replies an hour: only holds if each batch was decided after the one before was stored.
    assert [o.decision.action for o in decided] == ["reply_public"] * 3 + ["ignore"] * 4
    assert [r["event_id"] for r in sink.records] == [e.event_id for e in events[:3]]
    with store.session(write=False) as session:
        assert session.exec(select(sa.func.count()).select_from(DecisionRecord)).one() == 7
        assert Counter(session.exec(select(EventRecord.status))) == {"decided": 7}


class ConversationSource:
    """A live source: each comment comes only after the bot has decided the one before (a viewer waiting for
    an answer). A runner that held a batch back until the next one arrived would never get the second."""

    platform = "bilibili"

    def __init__(self, events: list[Event]) -> None:
        self._events = events
        self.answered = asyncio.Event()

    async def events(self):  # type: ignore[no-untyped-def]
        for event in self._events:
            self.answered.clear()
            yield event
            await self.answered.wait()


async def test_a_lone_comment_is_decided_without_waiting_for_the_next(store: Store, make_runner, comment) -> None:
    events = [comment(INVOICE, author="v1"), comment(REFUND, author="v2")]
    source = ConversationSource(events)
    runner = make_runner(store, {ANY_PLATFORM: RecordingSink()}, outbox={"poll_interval": 0.05})
    decided = []

    def answered(outcomes) -> None:  # type: ignore[no-untyped-def]
        decided.extend(outcomes)
        source.answered.set()

    # Batches of one, and a long wait for a next one that only comes once this one is answered.
    await asyncio.wait_for(runner.run([source], batch_size=1, max_wait=30, until_exhausted=True, on_outcomes=answered), 20)
    assert [o.accepted.event.event_id for o in decided] == [e.event_id for e in events]
