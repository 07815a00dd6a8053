"""Events in, decisions out: accept events idempotently, load the facts for a batch, save what was decided.

`record_events` is the moment an event counts as accepted: once it returns, a crash can no longer lose
it (`undecided_events` finds it again). `save_outcomes` writes a batch's understandings, decisions,
outbox rows, handoffs, links and A/B assignments in one transaction, so a decision and the messages it
sends are stored together or not at all.
"""

from __future__ import annotations

import functools
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.decision import Accepted, Decision, Facts, Outcome
from bot.events import Event, Thread
from bot.live import is_live
from bot.live.store import LiveLedger, live_parts, pace_live_messages
from bot.store.admin import Switches
from bot.store.models import (
    AbAssignment,
    DecisionRecord,
    EventRecord,
    Handoff,
    OutboxMessage,
    ThreadRecord,
    TrackedLink,
    UnderstandingRecord,
    Viewer,
    utcnow,
)
from bot.store.proactive import proactive_dms_by_viewer
from bot.store.rows import (
    aware,
    chunks,
    clean_json,
    clean_text,
    insert_ignore,
    insert_rows,
    pairs_in,
    update_rows,
)

if TYPE_CHECKING:
    from bot.privacy import Pseudonymizer

MAX_INTERESTS = 20
_RECENT_TEXTS = 3


class Ledger:
    """The facts for one batch, loaded once and kept current in memory as the batch is decided."""

    def __init__(self, now: datetime, paused: bool, switches: Switches | None = None) -> None:
        self.now = now
        self.paused = paused
        self.switches = switches or Switches(paused=paused)
        self.decided: set[int] = set()
        self.taken_over: set[tuple[str, str]] = set()
        self.viewers_taken_over: set[int] = set()
        self.thread_replies: Counter[tuple[str, str]] = Counter()
        self.viewer_replies: Counter[int] = Counter()
        self.platform_replies: Counter[str] = Counter()
        self.recent_texts: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.variants: dict[int, dict[str, str]] = defaultdict(dict)
        self.proactive: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # viewer → [today, unanswered]
        self.live = LiveLedger()  # live rooms: answers given and the next danmaku slot (bot/live/store.py)

    def facts(self, accepted: Accepted, now: datetime | None = None) -> Facts:
        event = accepted.event
        thread = (event.platform, event.thread.id) if event.thread else None
        proactive = self.proactive.get(accepted.viewer_id or -1, (0, 0))
        return Facts(
            now=now or self.now,
            paused=self.paused,
            dry_run=self.switches.dry_run,
            platform_off=event.platform in self.switches.platforms_off,
            quiet_hours=self.switches.quiet_hours,
            duplicate=accepted.decided or accepted.event_pk in self.decided,
            taken_over=thread in self.taken_over,
            viewer_taken_over=accepted.viewer_id in self.viewers_taken_over,
            dm_reachable=accepted.dm_reachable,
            replies_in_thread_last_hour=self.thread_replies[thread] if thread else 0,
            replies_to_viewer_last_day=self.viewer_replies[accepted.viewer_id] if accepted.viewer_id else 0,
            replies_on_platform_last_day=self.platform_replies[event.platform],
            recent_thread_texts=tuple(self.recent_texts.get(thread, ())) if thread else (),
            variants=dict(self.variants.get(accepted.viewer_id or -1, {})),
            proactive_dms_today=proactive[0], proactive_dms_unanswered=proactive[1],
            live=self.live.facts(thread) if thread and is_live(event.platform) else None,
        )

    def note(self, accepted: Accepted, decision: Decision) -> None:
        """Count a decision made in this batch, so the next event in the batch sees it."""
        event = accepted.event
        self.decided.add(accepted.event_pk)
        thread = (event.platform, event.thread.id) if event.thread else None
        if decision.counts_as_reply:
            self.platform_replies[event.platform] += 1
            if thread:
                self.thread_replies[thread] += 1
            if accepted.viewer_id:
                self.viewer_replies[accepted.viewer_id] += 1
        if thread and decision.text and not decision.dry_run:
            self.recent_texts[thread][:0] = [decision.text]
            del self.recent_texts[thread][_RECENT_TEXTS:]
        if accepted.viewer_id and decision.counts_as_reply and event.kind != "dm" and (decision.dm_text or decision.action == "reply_dm"):
            self.proactive[accepted.viewer_id][0] += 1  # a DM the viewer did not ask for: the next decision sees it
            self.proactive[accepted.viewer_id][1] += 1
        if decision.assignment and accepted.viewer_id:
            experiment, variant = decision.assignment
            self.variants[accepted.viewer_id].setdefault(experiment, variant)
        if thread and is_live(event.platform) and decision.replies:
            self.live.note(thread, decision)


class RecentTexts:
    """The bot's last few texts per thread, kept as this process writes them, for threads seen lately.

    Reading them back for every batch was about a fifth of a batch's store time on PostgreSQL (a LIMIT query per
    thread, benchmarks/pipeline.py). A thread's texts are read from the database the first time it shows up
    (or after it fell out of the cache) and kept current by `save_outcomes` from then on. Only a reply stored by
    another process, or by a batch saved while this thread was being read, can go unseen; all that can cost is
    one repeated phrasing, never a second reply to an event.
    """

    def __init__(self, max_threads: int = 4096) -> None:
        self._texts: OrderedDict[tuple[str, str], list[str]] = OrderedDict()
        self._max_threads = max_threads

    def get(self, thread: tuple[str, str]) -> list[str] | None:
        texts = self._texts.get(thread)
        if texts is not None:
            self._texts.move_to_end(thread)
        return texts

    def put(self, thread: tuple[str, str], texts: list[str]) -> None:
        self._texts[thread] = texts[:_RECENT_TEXTS]
        self._texts.move_to_end(thread)
        while len(self._texts) > self._max_threads:
            self._texts.popitem(last=False)

    def add(self, thread: tuple[str, str], text: str) -> None:
        """A text just stored; a thread not held here is read in full when it next comes up."""
        texts = self._texts.get(thread)
        if texts is not None:
            texts[:0] = [text]
            del texts[_RECENT_TEXTS:]


class IntakeStore:
    dialect: str
    pseudonymizer: Pseudonymizer
    recent_texts: RecentTexts

    # -- accept ----------------------------------------------------------------------------------------------
    def record_event(self, event: Event) -> Accepted:
        return self.record_events([event])[0]

    def record_events(self, events: Sequence[Event]) -> list[Accepted]:
        """Store events not seen before (platform + event id); return every event's row, new or old."""
        if not events:
            return []
        now = utcnow()
        pseudonyms = [self.pseudonymizer.pseudonym(e.platform, str(e.author_id)) if e.author_id else None for e in events]
        with self.session() as session:  # type: ignore[attr-defined]
            viewers = self._upsert_viewers(session, events, pseudonyms, now)
            self._upsert_threads(session, events, now)
            rows = [self._event_row(e, p, viewers, now) for e, p in zip(events, pseudonyms)]
            for part in chunks(rows):
                insert_ignore(session, self.dialect, EventRecord, part, ["platform", "event_id"])
            stored = self._events_by_key(session, {(e.platform, e.event_id) for e in events})
        accepted = []
        for event, pseudonym in zip(events, pseudonyms):
            pk, status = stored[(event.platform, event.event_id)]
            viewer = viewers.get((event.platform, pseudonym)) if pseudonym else None
            accepted.append(Accepted(event, pk, viewer[0] if viewer else None, pseudonym, status == "decided",
                                     viewer[1] if viewer else None))
        return accepted

    def _event_row(self, event: Event, pseudonym: str | None, viewers: dict, now: datetime) -> dict[str, Any]:
        viewer = viewers.get((event.platform, pseudonym)) if pseudonym else None
        raw = self.pseudonymizer.scrub(event.raw, str(event.author_id) if event.author_id else None, pseudonym)
        return {
            # Ids come mapped to their columns by Event itself (bot/storable.py), so they are stored as looked up.
            "platform": event.platform, "event_id": event.event_id, "kind": event.kind,
            "thread_id": event.thread.id if event.thread else None,
            "parent_id": event.parent_id, "viewer_id": viewer[0] if viewer else None,
            "text": clean_text(event.text), "created_at": aware(event.created_at), "received_at": now,
            "status": "received", "raw": clean_json(raw),
        }

    def _events_by_key(self, session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
        found: dict[tuple[str, str], tuple[int, str]] = {}
        for part in chunks(sorted(keys)):
            query = select(EventRecord.platform, EventRecord.event_id, EventRecord.id, EventRecord.status).where(
                pairs_in(EventRecord.platform, EventRecord.event_id, set(part)))
            for platform, event_id, pk, status in session.exec(query):
                found[(platform, event_id)] = (pk, status)
        return found

    def _upsert_viewers(self, session: Session, events: Sequence[Event], pseudonyms: Sequence[str | None], now: datetime) -> dict:
        """(platform, pseudonym) → (viewer id, dm_reachable); new viewers inserted, last_seen/name refreshed.

        `first_seen` is when the viewer first wrote, by the platform's time (never later than now), so an import or a
        backfill of old comments counts its viewers as new on the day they really came, not on the day of the import."""
        latest: dict[tuple[str, str], Event] = {}
        earliest: dict[tuple[str, str], datetime] = {}
        for event, pseudonym in zip(events, pseudonyms):
            if pseudonym:
                key = (event.platform, pseudonym)
                latest[key] = event
                earliest[key] = min(earliest.get(key, now), aware(event.created_at))
        if not latest:
            return {}
        rows = [{"platform": p, "pseudonym": ps, "author_id": clean_text(str(e.author_id), 128),
                 "display_name": clean_text(e.author_name, 200) or None, "first_seen": earliest[(p, ps)], "last_seen": now,
                 "interests": [], "attribution": {}, "dm_reachable": True if e.kind == "dm" else None}
                for (p, ps), e in sorted(latest.items())]  # one lock order: concurrent batches cannot deadlock
        insert_ignore(session, self.dialect, Viewer, rows, ["platform", "pseudonym"])
        found, changes, earlier = {}, [], []
        columns = (Viewer.id, Viewer.platform, Viewer.pseudonym, Viewer.display_name, Viewer.author_id, Viewer.dm_reachable,
                   Viewer.first_seen)
        for part in chunks(sorted(latest)):
            query = select(*columns).where(pairs_in(Viewer.platform, Viewer.pseudonym, set(part)))
            for pk, platform, pseudonym, name, author_id, dm_reachable, first_seen in session.exec(query):
                if earliest[(platform, pseudonym)] < first_seen:  # an older comment of theirs came in late (import, backfill)
                    earlier.append((pk, earliest[(platform, pseudonym)]))
                event = latest[(platform, pseudonym)]
                new_name = clean_text(event.author_name, 200) or name
                # A forgotten viewer writing again gets their id back (needed to reply); writing to the bot
                # in a DM makes them reachable by DM.
                new_author = author_id or clean_text(str(event.author_id), 128)
                new_dm = True if event.kind == "dm" else dm_reachable
                if (new_name, new_author, new_dm) != (name, author_id, dm_reachable):  # others' writes stay untouched
                    changes.append({"id": pk, "display_name": new_name, "author_id": new_author, "dm_reachable": new_dm})
                found[(platform, pseudonym)] = (pk, new_dm)
        for part in chunks([pk for pk, _ in found.values()]):
            session.execute(sa.update(Viewer).where(Viewer.id.in_(part)).values(last_seen=now))  # type: ignore[union-attr]
        update_rows(session.connection(), self.dialect, Viewer, changes)
        for pk, first_seen in earlier:
            session.execute(sa.update(Viewer).where(Viewer.id == pk, Viewer.first_seen > first_seen).values(first_seen=first_seen))  # type: ignore[arg-type]
        return found

    def _upsert_threads(self, session: Session, events: Sequence[Event], now: datetime) -> None:
        threads: dict[tuple[str, str], Thread] = {}
        for event in events:
            if event.thread is not None:
                threads[(event.platform, clean_text(event.thread.id, 200))] = event.thread
        rows = [{"platform": p, "thread_id": t, "title": clean_text(th.title, 500), "description": clean_text(th.description, 2000),
                 "course_id": th.course_id, "taken_over": False, "first_seen": now} for (p, t), th in sorted(threads.items())]
        for part in chunks(rows):
            insert_ignore(session, self.dialect, ThreadRecord, part, ["platform", "thread_id"])

    # -- crash recovery -------------------------------------------------------------------------------------
    def undecided_events(self, limit: int = 500) -> list[Accepted]:
        """Accepted events with no decision yet (the process stopped in between), oldest first."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            query = (
                select(EventRecord, Viewer, ThreadRecord)
                .join(Viewer, Viewer.id == EventRecord.viewer_id, isouter=True)
                .join(ThreadRecord, sa.and_(ThreadRecord.platform == EventRecord.platform,
                                            ThreadRecord.thread_id == EventRecord.thread_id), isouter=True)
                .where(EventRecord.status == "received").order_by(EventRecord.id).limit(limit)
            )
            result = []
            for row, viewer, thread in session.exec(query):
                event = Event(
                    platform=row.platform, event_id=row.event_id, text=row.text, kind=row.kind,  # type: ignore[arg-type]
                    thread=Thread(thread.thread_id, thread.title, thread.description, thread.course_id) if thread else None,
                    parent_id=row.parent_id, author_id=viewer.author_id if viewer else None,
                    author_name=viewer.display_name if viewer else None, created_at=row.created_at, raw=row.raw,
                )
                result.append(Accepted(event, row.id, row.viewer_id, viewer.pseudonym if viewer else None, False,
                                       viewer.dm_reachable if viewer else None))
            return result

    # -- facts -----------------------------------------------------------------------------------------------
    def load_ledger(self, batch: Sequence[Accepted], now: datetime | None = None) -> Ledger:
        now = now or utcnow()
        threads = {(a.event.platform, a.event.thread.id) for a in batch if a.event.thread}
        viewers = {a.viewer_id for a in batch if a.viewer_id}
        platforms = {a.event.platform for a in batch}
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            switches = self._switches(session)  # type: ignore[attr-defined]
            ledger = Ledger(now, switches.paused, switches)
            # Stated as the ix_decisions_replies_* indexes' predicate is, so both databases use them.
            replies = DecisionRecord.counts_as_reply == sa.true()
            if threads:
                ledger.taken_over = {(p, t) for p, t in session.exec(
                    select(ThreadRecord.platform, ThreadRecord.thread_id).where(
                        pairs_in(ThreadRecord.platform, ThreadRecord.thread_id, threads), ThreadRecord.taken_over.is_(True)))}  # type: ignore[attr-defined]
                for p, t, n in session.exec(
                    select(DecisionRecord.platform, DecisionRecord.thread_id, sa.func.count()).where(
                        replies, pairs_in(DecisionRecord.platform, DecisionRecord.thread_id, threads),
                        DecisionRecord.decided_at > now - timedelta(hours=1)).group_by(DecisionRecord.platform, DecisionRecord.thread_id)):
                    ledger.thread_replies[(p, t)] = n
                self._recent_texts(session, ledger, threads)
                ledger.live.load(session, {t for t in threads if is_live(t[0])}, now)
            day = now - timedelta(days=1)
            if viewers:
                ledger.viewers_taken_over = set(session.exec(select(Viewer.id).where(
                    Viewer.id.in_(viewers), Viewer.taken_over_at.is_not(None))))  # type: ignore[union-attr]
                for v, n in session.exec(select(DecisionRecord.viewer_id, sa.func.count()).where(
                        replies, DecisionRecord.viewer_id.in_(viewers), DecisionRecord.decided_at > day)  # type: ignore[union-attr]
                        .group_by(DecisionRecord.viewer_id)):
                    ledger.viewer_replies[v] = n
                for v, experiment, variant in session.exec(select(AbAssignment.viewer_id, AbAssignment.experiment, AbAssignment.variant)
                                                           .where(AbAssignment.viewer_id.in_(viewers))):  # type: ignore[attr-defined]
                    ledger.variants[v][experiment] = variant
                for v, usage in proactive_dms_by_viewer(session, [(a.viewer_id, a.event.platform, a.pseudonym) for a in batch
                                                                  if a.viewer_id and a.pseudonym], now).items():
                    ledger.proactive[v] = [usage.today, usage.unanswered]
            for p, n in session.exec(select(DecisionRecord.platform, sa.func.count()).where(
                    replies, DecisionRecord.platform.in_(platforms), DecisionRecord.decided_at > day)  # type: ignore[attr-defined]
                    .group_by(DecisionRecord.platform)):
                ledger.platform_replies[p] = n
        return ledger

    def _recent_texts(self, session: Session, ledger: Ledger, threads: set[tuple[str, str]]) -> None:
        """The bot's last few messages per thread: from `recent_texts`, or for threads it does not hold, per thread
        a LIMIT query along ix_decisions_thread_time, all of a chunk's threads in one UNION ALL. (A window ranking
        every decision of the batch's threads cost more with every message a thread had ever received.)"""
        missing = set()
        for thread in threads:
            texts = self.recent_texts.get(thread)
            if texts is None:
                missing.add(thread)
            elif texts:
                ledger.recent_texts[thread] = list(texts)  # the ledger's copy changes as the batch is decided
        for part in chunks(sorted(missing), 100):
            latest = [select(DecisionRecord.platform, DecisionRecord.thread_id, DecisionRecord.text, DecisionRecord.decided_at,
                             DecisionRecord.id)
                      .where(DecisionRecord.platform == platform, DecisionRecord.thread_id == thread_id,
                             DecisionRecord.text.is_not(None), DecisionRecord.dry_run.is_(False))  # type: ignore[union-attr,attr-defined]
                      .order_by(DecisionRecord.decided_at.desc(), DecisionRecord.id.desc())  # type: ignore[attr-defined,union-attr]
                      .limit(_RECENT_TEXTS).subquery().select()
                      for platform, thread_id in part]
            found: dict[tuple[str, str], list[str]] = {thread: [] for thread in part}
            for platform, thread_id, text, _, _ in sorted(session.execute(sa.union_all(*latest)).all(),
                                                          key=lambda row: (row[3], row[4]), reverse=True):
                found[(platform, thread_id)].append(text)
            for thread, texts in found.items():
                self.recent_texts.put(thread, texts)
                if texts:
                    ledger.recent_texts[thread] = list(texts)

    # -- decide ----------------------------------------------------------------------------------------------
    def save_outcomes(self, outcomes: Sequence[Outcome]) -> list[int | None]:
        """Store a batch's decisions with their messages; an event another worker decided first gets None."""
        if not outcomes:
            return []
        with self.session() as session:  # type: ignore[attr-defined]
            ids = self._save_batch(session, outcomes)
        for outcome, pk in zip(outcomes, ids):  # committed
            event, decision = outcome.accepted.event, outcome.decision
            if pk is not None and event.thread and decision.text and not decision.dry_run:
                self.recent_texts.add((event.platform, event.thread.id), decision.text)
        return ids

    def _save_batch(self, session: Session, outcomes: Sequence[Outcome]) -> list[int | None]:
        try:
            with session.begin_nested():
                return self._save(session, outcomes)
        except IntegrityError:
            pass  # someone decided one of these events concurrently: save one by one, skipping theirs
        ids: list[int | None] = []
        for outcome in outcomes:
            try:
                with session.begin_nested():
                    ids.extend(self._save(session, [outcome]))
            except IntegrityError:
                ids.append(None)
        return ids

    def _save(self, session: Session, outcomes: Sequence[Outcome]) -> list[int | None]:
        # Core inserts, one statement per table (not ORM flushes): a batch of 256 decisions is a handful of statements.
        now = utcnow()
        decisions = [_decision_row(o, now) for o in outcomes]
        ids = _insert_decisions(session, self.dialect, decisions)
        for row, pk in zip(decisions, ids):
            row.id = pk
        insert_rows(session, self.dialect, UnderstandingRecord, [_understanding_row(o) for o in outcomes if o.analysis is not None])
        messages: list[Any] = []
        links: list[Any] = []
        assignments = []
        for outcome, row in zip(outcomes, decisions):
            messages += _messages(outcome, row, now)
            links += [_row(TrackedLink, id=link.id, url=link.url, course_id=link.course_id, decision_id=row.id,
                                  platform=row.platform, viewer_id=row.viewer_id, template_id=row.template_id,
                                  variant_id=row.variant_id, created_at=now) for link in outcome.decision.links]
            if outcome.decision.assignment and outcome.accepted.viewer_id:
                experiment, variant = outcome.decision.assignment
                assignments.append({"viewer_id": outcome.accepted.viewer_id, "experiment": experiment,
                                    "variant": variant, "assigned_at": now})
        insert_rows(session, self.dialect, Handoff, [_row(Handoff, event_pk=row.event_pk, decision_id=row.id, platform=row.platform, thread_id=row.thread_id,
                                           viewer_id=row.viewer_id, reason=row.reason, created_at=now)
                                   for row in decisions if row.action == "handoff"])
        pace_live_messages(session, self.dialect, messages)
        insert_rows(session, self.dialect, OutboxMessage, messages)
        insert_rows(session, self.dialect, TrackedLink, links)
        insert_ignore(session, self.dialect, AbAssignment, assignments, ["viewer_id", "experiment"])
        for part in chunks([o.accepted.event_pk for o in outcomes]):
            session.execute(sa.update(EventRecord).where(EventRecord.id.in_(part)).values(status="decided"))  # type: ignore[union-attr]
        self._remember_interests(session, outcomes)
        return list(ids)

    def _remember_interests(self, session: Session, outcomes: Sequence[Outcome]) -> None:
        topics: dict[int, list[str]] = defaultdict(list)
        for outcome in outcomes:
            if outcome.analysis is not None and outcome.accepted.viewer_id and outcome.analysis.understanding.topics:
                topics[outcome.accepted.viewer_id] = list(outcome.analysis.understanding.topics) + topics[outcome.accepted.viewer_id]
        if not topics:
            return
        changes = []
        for pk, interests in session.exec(select(Viewer.id, Viewer.interests).where(Viewer.id.in_(topics))):  # type: ignore[union-attr]
            merged = list(dict.fromkeys([*topics[pk], *(interests or [])]))[:MAX_INTERESTS]  # type: ignore[index]
            if merged != interests:
                changes.append({"id": pk, "interests": merged})
        update_rows(session.connection(), self.dialect, Viewer, changes)


class _Values(dict):
    """Column values of one row to insert; attribute access reads like the model (row.id, row.action)."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


@functools.cache
def _static_defaults(model: type) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    fixed, factories = {}, []
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        if field.default_factory is not None:
            factories.append((name, field.default_factory))
        elif field.default is not PydanticUndefined:
            fixed[name] = field.default
    return fixed, tuple(factories)


def _row(model: type, **values: Any) -> _Values:
    """A row of `model` as plain values with the model's defaults: no ORM object, so bulk inserts stay cheap."""
    fixed, factories = _static_defaults(model)
    row = _Values(fixed)
    for name, factory in factories:
        if name not in values:
            row[name] = factory()
    row.update(values)
    return row


def _insert_decisions(session: Session, dialect: str, rows: Sequence[Any]) -> list[int]:
    """INSERT decisions and return their new ids in the rows' order.

    One `insert_rows`, then the ids by event_pk (unique). (INSERT … RETURNING over an executemany becomes one
    multi-row statement that psycopg re-parsed in Python on every batch: thousands of placeholders, too long
    for its statement cache.)
    """
    table = DecisionRecord.__table__  # type: ignore[attr-defined]
    insert_rows(session, dialect, DecisionRecord, rows)
    connection = session.connection()
    ids: dict[int, int] = {}
    for part in chunks([row["event_pk"] for row in rows]):
        ids.update(connection.execute(sa.select(table.c.event_pk, table.c.id).where(table.c.event_pk.in_(part))).tuples().all())
    return [ids[row["event_pk"]] for row in rows]


def _decision_row(outcome: Outcome, now: datetime) -> _Values:
    d, event = outcome.decision, outcome.accepted.event
    return _row(DecisionRecord,
        event_pk=outcome.accepted.event_pk, platform=event.platform,
        thread_id=clean_text(event.thread.id, 200) if event.thread else None, viewer_id=outcome.accepted.viewer_id,
        action=d.action, reason=clean_text(d.reason, 2000), text=d.text, dm_text=d.dm_text, template_id=d.template_id,
        variant_id=d.variant_id, course_id=d.course_id, answer_id=d.answer_id, intent=d.intent, confidence=d.confidence,
        dry_run=d.dry_run, counts_as_reply=d.counts_as_reply, send_after=d.send_after, decided_at=d.decided_at or now,
    )


def _understanding_row(outcome: Outcome) -> _Values:
    assert outcome.analysis is not None
    u, m = outcome.analysis.understanding, outcome.analysis.match
    return _row(UnderstandingRecord,
        event_pk=outcome.accepted.event_pk, intent=u.intent, intent_confidence=u.intent_confidence,
        intent_source=u.intent_source[:32], sentiment=u.sentiment, sentiment_confidence=u.sentiment_confidence,
        topics=list(u.topics), is_spam=u.is_spam, course_id=m.course_id, course_source=m.course_source,
        answer_kind=m.answer_kind, answer_id=m.answer_id, match_confidence=m.confidence, match_reason=m.reason,
        hits=[{"id": h.id, "kind": h.kind, "dense": round(float(h.dense), 4), "bm25": round(float(h.bm25), 3),
               "fused": round(float(h.fused), 5)} for h in m.hits],
        recommendations=[r.as_dict() for r in m.recommendations],
    )


def _messages(outcome: Outcome, row: _Values, now: datetime) -> list[_Values]:
    """The outbox rows a decision sends: none in dry run; a public reply and/or a DM."""
    d, event = outcome.decision, outcome.accepted.event
    if d.dry_run or not d.text:
        return []
    if d.action == "reply_dm" or (d.action == "handoff" and event.kind == "dm"):
        parts = [("dm", d.text)]
    elif d.action == "reply_public" and d.min_gap:
        parts = live_parts(d.text)  # a live answer split into danmaku: one message each, paced
    elif d.action in ("reply_public", "handoff"):
        parts = [("public", d.text)] + ([("dm", d.dm_text)] if d.dm_text else [])
    else:
        return []
    extra = {"viewer": outcome.accepted.pseudonym, "event_id": event.event_id, "event_kind": event.kind, "parent_id": event.parent_id}
    if d.min_gap:
        extra["min_gap"] = d.min_gap  # the queue keeps the thread's messages this far apart (bot/live/store.py)
    if isinstance(event.raw.get("reply"), dict):
        extra["reply"] = clean_json(event.raw["reply"])  # platform routing (e.g. bilibili oid/type/root)
    return [
        _row(
            OutboxMessage, idempotency_key=f"decision:{row.id}:{channel}", decision_id=row.id, platform=event.platform,
            kind="reply_dm" if channel.startswith("dm") else "reply_public", text=text,
            thread_id=clean_text(event.thread.id, 200) if event.thread else None,
            reply_to=clean_text(event.event_id, 200) if channel.startswith("public") or event.kind == "dm" else None,
            recipient_id=clean_text(str(event.author_id), 128) if channel.startswith("dm") and event.author_id else None,
            viewer_id=outcome.accepted.viewer_id, extra=extra, created_at=now,
            # live answers are paced on the decision's clock (the one the live policy planned the slot with)
            next_attempt_at=d.send_after or (d.decided_at if d.min_gap and d.decided_at else now),
        )
        for channel, text in parts
    ]
