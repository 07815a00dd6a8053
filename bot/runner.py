"""The runner: sources → accept (store) → analyse → decide → store decision + outbox; the worker sends.

Crash safety comes from the order of durable steps: an event is accepted (stored) before anything else
happens to it; its decision and the messages it sends are stored in one transaction; only the outbox
worker sends. A restart first decides accepted-but-undecided events (`recover`), and the store's unique
constraints make redelivered or replayed events no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from bot.analysis import Analysis, Analyzer
from bot.config import LiveSettings, Settings
from bot.decision import Accepted, Outcome
from bot.events import Event, Quarantined, Sink, Source
from bot.group_commit import GroupCommit
from bot.outbox import OutboxWorker
from bot.pipeline import COMMENT_KINDS, Pipeline
from bot.recommend import CollaborativeTable, StoredSignals
from bot.store.models import utcnow
from bot.store.profiles import SignalsKey
from bot.store.store import Store, StoreUnavailable, first_line

log = logging.getLogger(__name__)
T = TypeVar("T")
Clock = Callable[[Event], datetime]
# Recommendation requests of a batch re-ranked on the event loop once their history is read: each is 0.1–0.3 ms of
# NumPy (0.7 ms p99 of CPU on a loaded 2-core machine), while handing them to a worker thread and back took 6.7 ms at p99
# there, waiting for the worker to get a core (benchmarks/recommend_speed.py). More requests than this go to a thread,
# so the loop is never held for more than a few milliseconds.
RERANK_ON_LOOP = 8


def wall_clock(_event: Event) -> datetime:
    return utcnow()


def event_clock(event: Event) -> datetime:
    """Replays of history: decide as if at the moment the comment was written (rate limits, quiet hours)."""
    return event.created_at


class Runner:
    def __init__(self, analyzer: Analyzer, store: Store, pipeline: Pipeline, outbox: OutboxWorker | None = None, *,
                 clock: Clock = wall_clock, store_patience: float = 60.0, live: LiveSettings | None = None) -> None:
        self.analyzer = analyzer
        self.live = live or LiveSettings()  # live rooms: the question board and the post-live summary (bot/live)
        self.store = store
        self.pipeline = pipeline
        self.outbox = outbox
        self.clock = clock
        self.store_patience = store_patience  # seconds of database outage to ride out before giving up
        self.collaborative = CollaborativeTable(analyzer.recommender)  # what viewers of this database took together
        self._rebuilding: asyncio.Task[None] | None = None
        self._accepted: asyncio.Queue[Accepted] = asyncio.Queue()
        # Webhook deliveries arriving together share a transaction (group commit); one that cannot be stored
        # fails only itself, a database outage fails the batch at once (and `accept` rides it out as any call).
        self.intake: GroupCommit[Event, Accepted] = GroupCommit(
            store.record_events, parallel=1 if store.dialect == "sqlite" else 2, whole_batch_errors=(StoreUnavailable,))

    @classmethod
    def open(cls, settings: Settings, sinks: Mapping[str, Sink] | None = None, *, analyzer: Analyzer | None = None,
             store: Store | None = None, clock: Clock = wall_clock) -> Runner:
        """Everything from config: knowledge + analyzer (unless given), store, pipeline, outbox worker."""
        if analyzer is None:
            from bot.knowledge import Knowledge

            analyzer = Analyzer(Knowledge.open(settings))
        store = store or Store.open(settings)
        pipeline = Pipeline.from_settings(settings, analyzer.knowledge.catalog, store.pseudonymizer)
        outbox = OutboxWorker(store, sinks, settings.outbox) if sinks else None
        return cls(analyzer, store, pipeline, outbox, clock=clock, live=settings.live)

    # -- one batch ------------------------------------------------------------------------------------------
    async def process(self, events: Sequence[Event]) -> list[Outcome]:
        """Accept, decide and store a batch; events already decided are skipped. Returns the new outcomes."""
        accepted = await self.record(list(events))
        return await self.decide([a for a in accepted if not a.decided])

    async def accept(self, event: Event) -> Accepted | None:
        """For webhooks: store the event (idempotent) and queue it for `run`; acknowledge the platform after this.

        Returns once the transaction holding the event committed: concurrent calls share one (`intake`). None: the
        database refused this event (its group was stored without it) and it was quarantined instead — kept too,
        so acknowledge as well."""
        try:
            accepted = await self._patiently(lambda: self.intake.submit(event))
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 — a row the database refuses: a constraint, a value, a trigger
            refused = _refused(event, exc)
            log.error("%s: %s; quarantined (see `coursebot quarantine`)", refused.origin, refused.reason)
            await self.quarantine([refused])
            return None
        if not accepted.decided:
            self._accepted.put_nowait(accepted)
        return accepted

    async def record(self, events: list[Event]) -> list[Accepted]:
        """Store events (`record_events`); when the database refuses the batch for something other than an outage,
        store them one by one and quarantine each it still refuses, so one bad event never stops the rest."""
        try:
            return await self._store(self.store.record_events, events)
        except StoreUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 — a row the database refuses: a constraint, a value, a trigger
            if len(events) > 1:
                accepted = []
                for event in events:
                    accepted += await self.record([event])
                return accepted
            refused = _refused(events[0], exc)
            log.error("%s: %s; quarantined (see `coursebot quarantine`)", refused.origin, refused.reason)
            await self.quarantine([refused])
            return []

    async def quarantine(self, items: Sequence[Quarantined]) -> None:
        """Keep input that cannot be read or stored for the creator (`coursebot quarantine`); the caller reports it."""
        await self._store(self.store.quarantine, list(items))

    async def recover(self, limit: int = 500) -> int:
        """Decide events accepted before a crash but never decided; returns how many."""
        total = 0
        while batch := await self._store(self.store.undecided_events, limit):
            total += len(await self.decide(batch))
            if len(batch) < limit:
                break
        return total

    async def decide(self, batch: Sequence[Accepted], analyses: dict[int, Analysis] | None = None) -> list[Outcome]:
        """Decide accepted events (analysing them unless `analyses` by event_pk is given) and store the outcomes."""
        if not batch:
            return []
        if analyses is None:
            analyses = await self._analyze(batch)
        nows = [self.clock(a.event) for a in batch]
        ledger = await self._store(self.store.load_ledger, batch, max(nows))
        outcomes, seen = [], set()
        for accepted, now in zip(batch, nows):
            if accepted.event_pk in seen:
                continue  # the same event twice in one batch: decided once
            seen.add(accepted.event_pk)
            decision = await self.pipeline.decide(analyses.get(accepted.event_pk), accepted, ledger.facts(accepted, now))
            ledger.note(accepted, decision)
            outcomes.append(Outcome(accepted, analyses.get(accepted.event_pk), decision))
        ids = await self._store(self.store.save_outcomes, outcomes)
        saved = [o for o, i in zip(outcomes, ids) if i is not None]
        await self._after_live(saved)
        await self._remember_interests(saved)
        return saved

    async def _after_live(self, outcomes: Sequence[Outcome]) -> None:
        """Live rooms, once a batch is decided: its questions onto the host's board, a finished live summed up.
        Neither can undo the decisions already stored: a failure is logged and the batch goes on."""
        from bot.live import is_live

        if not any(is_live(o.accepted.event.platform) for o in outcomes):
            return
        from bot.live.board import board_questions
        from bot.live.summary import summarize_and_store

        try:
            if questions := board_questions(outcomes):
                await self._store(functools.partial(self.store.record_live_questions, questions,
                                                    similarity=self.live.board_similarity, window=self.live.board_minutes * 60))
            for o in outcomes:
                event = o.accepted.event
                if event.kind == "live_end" and event.thread is not None:
                    summary = await self._store(summarize_and_store, self.store, event.platform, event.thread.id, event.created_at)
                    log.info("live %s ended: %d danmaku, %d questions, %d answered by the bot", event.thread.id, summary.danmaku,
                             summary.questions, summary.questions_answered_by_bot)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("live board / summary update failed for a batch of %d", len(outcomes))

    async def _analyze(self, accepted: Sequence[Accepted]) -> dict[int, Analysis]:
        """Analyses of the batch's comments (other kinds of events have none), by event_pk."""
        batch = [a for a in accepted if a.event.kind in COMMENT_KINDS]
        if not batch:
            return {}
        await self._learn()
        events = [a.event for a in batch]
        history = self._read_history(batch)
        try:
            results = await asyncio.to_thread(self.analyzer.analyze, events)
        except Exception:
            log.exception("analysis of a batch of %d failed; analysing one by one", len(events))
            results = []
            for event in events:
                try:
                    results.extend(await asyncio.to_thread(self.analyzer.analyze, [event]))
                except Exception as exc:  # noqa: BLE001
                    log.error("analysis failed for %s:%s (%s); ignored", event.platform, event.event_id, type(exc).__name__)
                    results.append(None)
        analyses = {a.event_pk: r for a, r in zip(batch, results) if r is not None}
        return await self._personalise(batch, analyses, history)

    def _history_key(self, accepted: Accepted) -> SignalsKey:
        event = accepted.event
        return SignalsKey(accepted.viewer_id, event.platform, event.thread.id if event.thread else None, self.clock(event))

    def _read_history(self, batch: Sequence[Accepted]) -> asyncio.Task[dict[SignalsKey, StoredSignals]] | None:
        """The history of the batch's commenters, read in one statement *while* the batch is analysed: which comments
        ask for a recommendation is known only after the model, and reading then would add a database round trip to
        each of them (benchmarks/recommend_speed.py). Costs one indexed statement per batch with personalisation on."""
        if not self.analyzer.recommender.personalised:
            return None
        keys = list(dict.fromkeys(self._history_key(a) for a in batch if a.viewer_id))
        if not keys:
            return None
        return asyncio.create_task(asyncio.to_thread(
            self.store.viewers_signals, keys, shown_within_days=self.analyzer.recommender.settings.shown_within_days))

    async def _personalise(self, batch: Sequence[Accepted], analyses: dict[int, Analysis],
                           history: asyncio.Task[dict[SignalsKey, StoredSignals]] | None = None) -> dict[int, Analysis]:
        """Recommendation requests ranked again with their viewer's history ([recommend] personalise); the
        item-to-item table is rebuilt first when it is older than [recommend] collaborative_refresh_minutes. A store
        that cannot answer leaves the content-only ranking: a recommendation never waits on history."""
        recommender = self.analyzer.recommender
        wanted = [a for a in batch if a.viewer_id and a.event_pk in analyses and analyses[a.event_pk].match.request is not None]
        read: dict[SignalsKey, StoredSignals] | None = None
        if history is not None:
            try:
                read = await history
            except Exception:  # noqa: BLE001 — read again below for the requests only (logged there if it fails again)
                log.warning("could not read the batch's history ahead of the analysis; reading it for its requests")
        if not recommender.personalised or not wanted:
            return analyses
        settings = recommender.settings

        now = max(self.clock(a.event) for a in wanted)
        if self.collaborative.due(now) and self._rebuilding is None:
            # Live, a rebuild (seconds with a million events) runs beside the requests, which use the previous table
            # meanwhile; the first one, and every one in a replay (event clock), is waited for: replays stay repeatable.
            self._rebuilding = asyncio.create_task(self._rebuild_collaborative(now))
            if self.clock is not wall_clock or self.collaborative.built_at is None:
                await asyncio.shield(self._rebuilding)

        keys = {a.event_pk: self._history_key(a) for a in wanted}

        def personalise(signals: Mapping[SignalsKey, StoredSignals]) -> dict[int, Analysis]:
            return {a.event_pk: self.analyzer.personalise(analyses[a.event_pk], signals[keys[a.event_pk]], keys[a.event_pk].at,
                                                          self.collaborative.similarity) for a in wanted}

        def read_and_personalise() -> dict[int, Analysis]:
            return personalise(self.store.viewers_signals(list(keys.values()), shown_within_days=settings.shown_within_days))

        try:
            if read is not None and len(wanted) <= RERANK_ON_LOOP:
                analyses.update(personalise(read))
            elif read is not None:  # many requests: in a thread, so the loop is never held for long
                analyses.update(await asyncio.to_thread(personalise, read))
            else:  # the read ahead of the analysis failed: again for the requests alone, never on the loop
                analyses.update(await asyncio.to_thread(read_and_personalise))
        except Exception:  # the content-only recommendation stands
            log.exception("could not read viewers' history for %d recommendation request(s); content only", len(wanted))
        return analyses

    async def _rebuild_collaborative(self, now: datetime) -> None:
        try:
            await asyncio.to_thread(self.collaborative.refresh, self.store.interaction_pairs(), now)
        except Exception:  # the previous table stays; retried when next due
            log.exception("could not rebuild the item-to-item table")
            self.collaborative.built_at = now
        finally:
            self._rebuilding = None

    async def _remember_interests(self, outcomes: Sequence[Outcome]) -> None:
        """Fold each viewer's comments into their interest profile (not kept when [recommend] personalise is off)."""
        recommender = self.analyzer.recommender
        if not recommender.personalised:
            return
        from bot.store.profiles import ProfileUpdate

        updates = [ProfileUpdate(o.accepted.viewer_id, o.analysis.vector, o.analysis.understanding.topics, self.clock(o.accepted.event))
                   for o in outcomes if o.analysis is not None and o.analysis.vector is not None and o.accepted.viewer_id
                   and o.analysis.understanding.text and not o.analysis.understanding.is_spam]
        if not updates:
            return
        try:
            await asyncio.to_thread(self.store.remember_profiles, updates, recommender.settings.history_half_life_days)
        except Exception:  # the decisions are stored; a profile update can be missed
            log.exception("could not update %d viewer profile(s)", len(updates))

    async def _learn(self) -> None:
        """Take in what the creator taught since the last batch (bot/learning): a cheap version check unless it changed."""
        from bot.learning.teacher import teacher_for

        try:
            await asyncio.to_thread(teacher_for(self.analyzer).refresh, self.store)
        except Exception:  # the batch goes on with the knowledge already loaded
            log.exception("could not load the creator's corrections; going on with what the bot knew")

    async def _store(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call in a thread; ride out a locked or unreachable database for `store_patience` s."""
        return await self._patiently(lambda: asyncio.to_thread(fn, *args))

    async def _patiently(self, attempt: Callable[[], Awaitable[T]]) -> T:
        deadline, delay = time.monotonic() + self.store_patience, 0.2
        while True:
            try:
                return await attempt()
            except StoreUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("%s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    # -- continuous operation -------------------------------------------------------------------------------
    async def run(self, sources: Sequence[Source], *, batch_size: int = 64, max_wait: float = 0.2,
                  stop: asyncio.Event | None = None, until_exhausted: bool = False,
                  on_outcomes: Callable[[list[Outcome]], Awaitable[None] | None] | None = None) -> None:
        """Consume sources and webhook-accepted events in batches while the outbox worker sends.

        `until_exhausted`: return once every source has ended and its events are decided (replays).
        """
        stop = stop or asyncio.Event()
        incoming: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=batch_size * 4)
        await self.recover()
        sender = asyncio.create_task(self.outbox.run(stop)) if self.outbox else None
        pumps = [asyncio.create_task(_pump(source, incoming)) for source in sources]
        try:
            await self._consume(incoming, len(pumps), batch_size, max_wait, stop, until_exhausted, on_outcomes)
        finally:
            stop.set()
            for task in pumps:
                task.cancel()
            for task in [*pumps, *([sender] if sender else [])]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _consume(self, incoming: asyncio.Queue[Event | None], live: int, batch_size: int, max_wait: float,
                       stop: asyncio.Event, until_exhausted: bool, on_outcomes: Any) -> None:
        """Accept → analyse → decide, one batch ahead: while a batch is decided and stored, the next one (when
        events are waiting) is already accepted and being analysed. Decisions stay in arrival order, each batch
        decided after the one before it is stored.

        The next batch's analysis starts as soon as it is accepted, so it can overlap the end of the previous
        one's: on two cores one batch's Python work (segmentation, ranking) then runs beside the other's model
        threads. That overlap is most of the gain (benchmarks/pipeline.py: whole pipeline 0.77 → ~0.8× the
        retrieval core on PostgreSQL, 0.79 → 0.84× on SQLite; handing batches one at a time to an analysis
        stage gained nothing); it costs ~30 MiB of peak RSS in `coursebot replay`."""
        ahead: tuple[list[Accepted], asyncio.Task[dict[int, Analysis]]] | None = None  # accepted, analysis under way
        try:
            while not stop.is_set():
                if ahead is not None and incoming.empty():  # nothing waiting: don't hold the batch back
                    await self._finish(*ahead, on_outcomes)
                    ahead = None
                if until_exhausted and live == 0 and incoming.empty() and ahead is None and self._accepted.empty():
                    return
                events, live = await _collect(incoming, live, batch_size, max_wait)
                accepted = await self.record(events) if events else []
                while not self._accepted.empty():  # accepted by webhooks
                    accepted.append(self._accepted.get_nowait())
                deciding = {a.event_pk for a in ahead[0]} if ahead else set()  # a redelivery of one of those: skipped
                batch = [a for a in accepted if not a.decided and a.event_pk not in deciding]
                following = None
                if batch:
                    following = (batch, asyncio.create_task(self._analyze(batch)))
                previous, ahead = ahead, following
                if previous is not None:
                    await self._finish(*previous, on_outcomes)
            if ahead is not None:  # stopping: decide what was accepted and analysed
                await self._finish(*ahead, on_outcomes)
                ahead = None
        finally:
            if ahead is not None:  # failed: the accepted events are decided on the next start (recover)
                ahead[1].cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead[1]

    async def _finish(self, batch: list[Accepted], analysis: asyncio.Task[dict[int, Analysis]], on_outcomes: Any) -> None:
        outcomes = await self.decide(batch, await analysis)
        if outcomes and on_outcomes is not None:
            result = on_outcomes(outcomes)
            if asyncio.iscoroutine(result):
                await result


async def _pump(source: Source, incoming: asyncio.Queue[Event | None]) -> None:
    try:
        async for event in source.events():
            await incoming.put(event)
    finally:
        await incoming.put(None)  # this source has ended


async def _collect(incoming: asyncio.Queue[Event | None], live: int, batch_size: int, max_wait: float) -> tuple[list[Event], int]:
    """Up to batch_size events, waiting at most max_wait after the first; None marks an ended source."""
    events: list[Event] = []
    if live == 0 and incoming.empty():
        await asyncio.sleep(max_wait)  # only webhook-accepted events (or nothing): don't spin
        return events, 0
    deadline = time.monotonic() + max_wait
    while len(events) < batch_size and live > 0:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            break
        try:
            item = await asyncio.wait_for(incoming.get(), timeout)
        except TimeoutError:
            break
        if item is None:
            live -= 1
        else:
            events.append(item)
    if live == 0:
        while not incoming.empty() and len(events) < batch_size:
            item = incoming.get_nowait()
            if item is not None:
                events.append(item)
    return events, live


def _refused(event: Event, exc: Exception) -> Quarantined:
    # What arrived, without the time it arrived at: the same event refused again on a restart is kept once.
    record = {"platform": event.platform, "id": event.event_id, "kind": event.kind, "text": event.text,
              "thread_id": event.thread.id if event.thread else None, "parent_id": event.parent_id,
              "author": event.author_id, "author_name": event.author_name, "raw": event.raw}
    return Quarantined(event.origin or f"{event.platform} event {event.event_id}", f"not stored: {first_line(exc)}",
                       json.dumps(record, ensure_ascii=False, default=str))
