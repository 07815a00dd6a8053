"""What the recommender reads and keeps about viewers: interest profiles, a viewer's clicks, purchases and the courses
just shown to them, and every viewer's (viewer, course) pairs for the item-to-item table (docs/recommendations.md)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlmodel import select

from bot.recommend import StoredSignals, decay
from bot.store.models import Conversion, DecisionRecord, LinkClick, TrackedLink, UTCDateTime, Viewer, ViewerProfile

MAX_PROFILE_TOPICS = 30
PAIRS_CHUNK = 50_000  # rows fetched at a time while reading every (viewer, course) pair


@dataclass(frozen=True, slots=True)
class SignalsKey:
    """Whose history, for a request in which thread, at what time (the runner's clock: replays read as of then)."""

    viewer_id: int
    platform: str
    thread_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ProfileUpdate:
    """One comment folded into its viewer's profile."""

    viewer_id: int
    vector: np.ndarray
    topics: tuple[str, ...]
    at: datetime


class ProfileStore:
    """Mixin of Store (bot/store/store.py): the recommender's reads and the profile writes."""

    def viewer_signals(self, viewer_id: int, platform: str, thread_id: str | None, now: datetime, *,
                       shown_within_days: float = 7.0) -> StoredSignals:
        """One viewer's history (`viewers_signals` for one request)."""
        key = SignalsKey(viewer_id, platform, thread_id, now)
        return self.viewers_signals([key], shown_within_days=shown_within_days)[key]

    def viewers_signals(self, keys: Sequence[SignalsKey], *, shown_within_days: float = 7.0) -> dict[SignalsKey, StoredSignals]:
        """The history of every viewer of a batch in one statement of indexed reads: each profile row, then per viewer
        and course the clicks and purchases (count and latest) and the courses replied about to them in a thread
        lately. At most a row per viewer, course and kind, however active the viewer: a thousand clicks on one course
        are one row. The runner reads this for a batch's commenters while the batch is analysed (bot/runner.py), so
        the round trip overlaps the model instead of following it."""
        if not keys:
            return {}
        parameters = {"viewer_ids": sorted({k.viewer_id for k in keys}),
                      "since": min(k.at for k in keys) - timedelta(days=shown_within_days)}
        with self.errors("reading viewers' history"), self.history_engine.connect() as connection:  # type: ignore[attr-defined]
            rows = connection.execute(_history_statement(), parameters).all()
        by_viewer: dict[int, list] = {}
        for row in rows:
            by_viewer.setdefault(row[0], []).append(row)
        result = {}
        for key in keys:
            mine = by_viewer.get(key.viewer_id, [])
            stored = next((r for r in mine if r[1] == "p"), None)
            since = key.at - timedelta(days=shown_within_days)
            result[key] = StoredSignals(
                profile=np.frombuffer(stored[5], dtype=np.float32) if stored else None,
                profile_weight=stored[6] if stored else 0.0,
                profile_at=stored[3] if stored else None,
                topics=dict(stored[7] or {}) if stored else {},
                clicks=tuple((r[2], r[3], r[4]) for r in mine if r[1] == "c"),
                purchases=tuple((r[2], r[3], r[4]) for r in mine if r[1] == "b"),
                # the thread's replies since this request's own window: a batch reads from its earliest request's
                shown=tuple(r[2] for r in mine if r[1] == "s" and r[8] == key.platform and r[9] == (key.thread_id or "")
                            and r[3] >= since),
            )
        return result

    def remember_profiles(self, updates: Sequence[ProfileUpdate], half_life_days: float) -> int:
        """Fold comments into their viewers' profiles: what was there decays to the comment's time, the comment adds 1."""
        if not updates:
            return 0
        by_viewer: dict[int, list[ProfileUpdate]] = {}
        for update in updates:
            by_viewer.setdefault(update.viewer_id, []).append(update)
        with self.session() as session:  # type: ignore[attr-defined]
            stored = {p.viewer_id: p for p in session.exec(select(ViewerProfile).where(ViewerProfile.viewer_id.in_(by_viewer)))}  # type: ignore[attr-defined]
            known = set(session.exec(select(Viewer.id).where(Viewer.id.in_(by_viewer))))  # type: ignore[union-attr]
            inserts, changes = [], []
            for viewer_id, items in by_viewer.items():
                if viewer_id not in known:  # forgotten meanwhile
                    continue
                old = stored.get(viewer_id)
                vector = np.frombuffer(old.vector, dtype=np.float32).copy() if old else None
                weight, at = (old.weight, old.updated_at) if old else (0.0, None)
                topics = dict(old.topics) if old else {}
                for item in sorted(items, key=lambda u: u.at):
                    factor = decay(half_life_days, at, item.at)
                    vector = item.vector.astype(np.float32) if vector is None or len(vector) != len(item.vector) \
                        else vector * factor + item.vector.astype(np.float32)
                    weight = weight * factor + 1.0
                    topics = {t: w * factor for t, w in topics.items()}
                    for topic in item.topics:
                        topics[topic] = topics.get(topic, 0.0) + 1.0
                    at = max(at, item.at) if at else item.at
                strongest = dict(sorted(topics.items(), key=lambda kv: -kv[1])[:MAX_PROFILE_TOPICS])
                row = {"viewer_id": viewer_id, "vector": np.asarray(vector, dtype=np.float32).tobytes(), "weight": weight,
                       "topics": {t: round(w, 4) for t, w in strongest.items()}, "updated_at": at}
                (changes if old else inserts).append(row)
            if inserts:  # bytes: not through rows.insert_rows, whose PostgreSQL path sends rows as JSON
                session.execute(sa.insert(ViewerProfile), inserts)
            for row in changes:
                session.execute(sa.update(ViewerProfile).where(ViewerProfile.viewer_id == row["viewer_id"]).values(  # type: ignore[arg-type]
                    vector=row["vector"], weight=row["weight"], topics=row["topics"], updated_at=row["updated_at"]))
        return len(inserts) + len(changes)

    def interaction_pairs(self) -> Iterator[Sequence[tuple[int, str, bool]]]:
        """Every (viewer, course, bought) of clicks and purchases, in chunks (streamed: 1 M events never sit in memory
        as rows, only as the arrays the caller builds)."""
        clicks = (select(LinkClick.viewer_id, TrackedLink.course_id, sa.literal(False).label("bought"))
                  .join(TrackedLink, TrackedLink.id == LinkClick.link_id)
                  .where(LinkClick.viewer_id.is_not(None), LinkClick.automated == sa.false(),  # type: ignore[union-attr]
                         TrackedLink.course_id.is_not(None)).distinct())  # type: ignore[union-attr]
        bought = (select(Conversion.viewer_id, Conversion.course_id, sa.literal(True))
                  .where(Conversion.viewer_id.is_not(None), Conversion.course_id.is_not(None)).distinct())  # type: ignore[union-attr]
        with self.engine.connect() as connection:  # type: ignore[attr-defined]
            result = connection.execution_options(stream_results=True, yield_per=PAIRS_CHUNK).execute(sa.union_all(clicks, bought))
            yield from result.partitions(PAIRS_CHUNK)  # rows of (viewer id, course id, bought)

    def viewer_id_for(self, platform: str, author_id: str) -> int | None:
        """Our row id of a platform user (`coursebot ask --viewer platform:author_id`), or None if never seen."""
        with self.session(write=False) as session:  # type: ignore[attr-defined]
            return session.exec(select(Viewer.id).where(Viewer.platform == platform,
                                                        Viewer.pseudonym == self.pseudonym(platform, author_id))).first()  # type: ignore[attr-defined]


@functools.cache
def _history_statement() -> sa.CompoundSelect:
    """`viewers_signals`' query with bound parameters: built and compiled once, not on every request. Rows:
    (viewer, kind, course, at, n, vector, weight, topics, platform, thread)."""
    viewers = sa.bindparam("viewer_ids", expanding=True, type_=sa.Integer)
    none_bytes, none_float, none_json = sa.cast(sa.null(), sa.LargeBinary), sa.cast(sa.null(), sa.Float), sa.cast(sa.null(), sa.JSON)
    none_text = sa.cast(sa.null(), sa.String)
    profile = select(ViewerProfile.viewer_id, sa.literal("p").label("kind"), none_text.label("course_id"),  # type: ignore[call-overload]
                     ViewerProfile.updated_at.label("at"), sa.literal(0).label("n"), ViewerProfile.vector,
                     ViewerProfile.weight, ViewerProfile.topics, none_text.label("platform"), none_text.label("thread_id")
                     ).where(ViewerProfile.viewer_id.in_(viewers))  # type: ignore[attr-defined]
    clicks = (select(LinkClick.viewer_id, sa.literal("c"), TrackedLink.course_id, sa.func.max(LinkClick.clicked_at, type_=UTCDateTime),
                     sa.func.count(), none_bytes, none_float, none_json, none_text, none_text)
              .join(TrackedLink, TrackedLink.id == LinkClick.link_id)
              .where(LinkClick.viewer_id.in_(viewers), LinkClick.automated == sa.false(), TrackedLink.course_id.is_not(None))  # type: ignore[union-attr]
              .group_by(LinkClick.viewer_id, TrackedLink.course_id))
    bought = (select(Conversion.viewer_id, sa.literal("b"), Conversion.course_id, sa.func.max(Conversion.occurred_at, type_=UTCDateTime),
                     sa.func.count(), none_bytes, none_float, none_json, none_text, none_text)
              .where(Conversion.viewer_id.in_(viewers), Conversion.course_id.is_not(None))  # type: ignore[union-attr]
              .group_by(Conversion.viewer_id, Conversion.course_id))
    shown = (select(DecisionRecord.viewer_id, sa.literal("s"), DecisionRecord.course_id,
                    sa.func.max(DecisionRecord.decided_at, type_=UTCDateTime), sa.func.count(), none_bytes, none_float, none_json,
                    DecisionRecord.platform, DecisionRecord.thread_id)
             .where(DecisionRecord.viewer_id.in_(viewers), DecisionRecord.counts_as_reply == sa.true(),  # type: ignore[union-attr]
                    DecisionRecord.course_id.is_not(None), DecisionRecord.thread_id.is_not(None),  # type: ignore[union-attr]
                    DecisionRecord.decided_at >= sa.bindparam("since", type_=UTCDateTime))
             .group_by(DecisionRecord.viewer_id, DecisionRecord.platform, DecisionRecord.thread_id, DecisionRecord.course_id))
    return sa.union_all(profile, clicks, bought, shown)
