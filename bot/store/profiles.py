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
        """One statement of indexed reads, built once: the profile row, then per course the viewer's clicks and
        purchases (count and latest) and the courses replied about to them in this thread lately. At most a row per
        course and kind, however active the viewer: a thousand clicks on one course are one row."""
        parameters = {"viewer_id": viewer_id, "platform": platform, "thread_id": thread_id or "",
                      "since": now - timedelta(days=shown_within_days)}
        with self.errors("reading a viewer's history"), self.history_engine.connect() as connection:  # type: ignore[attr-defined]
            rows = connection.execute(_history_statement(), parameters).all()
        stored = next((r for r in rows if r[0] == "p"), None)
        return StoredSignals(
            profile=np.frombuffer(stored[4], dtype=np.float32) if stored else None,
            profile_weight=stored[5] if stored else 0.0,
            profile_at=stored[2] if stored else None,
            topics=dict(stored[6] or {}) if stored else {},
            clicks=tuple((course, when, n) for kind, course, when, n, *_ in rows if kind == "c"),
            purchases=tuple((course, when, n) for kind, course, when, n, *_ in rows if kind == "b"),
            shown=tuple(course for kind, course, *_ in rows if kind == "s"),
        )

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
    """`viewer_signals`' query with bound parameters: built and compiled once, not on every request."""
    viewer = sa.bindparam("viewer_id", type_=sa.Integer)
    none_bytes, none_float, none_json = sa.cast(sa.null(), sa.LargeBinary), sa.cast(sa.null(), sa.Float), sa.cast(sa.null(), sa.JSON)
    profile = select(sa.literal("p").label("kind"), sa.cast(sa.null(), sa.String).label("course_id"),  # type: ignore[call-overload]
                     ViewerProfile.updated_at.label("at"), sa.literal(0).label("n"), ViewerProfile.vector,
                     ViewerProfile.weight, ViewerProfile.topics).where(ViewerProfile.viewer_id == viewer)
    clicks = (select(sa.literal("c"), TrackedLink.course_id, sa.func.max(LinkClick.clicked_at, type_=UTCDateTime), sa.func.count(),
                     none_bytes, none_float, none_json)
              .join(TrackedLink, TrackedLink.id == LinkClick.link_id)
              .where(LinkClick.viewer_id == viewer, LinkClick.automated == sa.false(), TrackedLink.course_id.is_not(None))  # type: ignore[union-attr]
              .group_by(TrackedLink.course_id))
    bought = (select(sa.literal("b"), Conversion.course_id, sa.func.max(Conversion.occurred_at, type_=UTCDateTime),
                     sa.func.count(), none_bytes, none_float, none_json)
              .where(Conversion.viewer_id == viewer, Conversion.course_id.is_not(None))  # type: ignore[union-attr]
              .group_by(Conversion.course_id))
    shown = (select(sa.literal("s"), DecisionRecord.course_id, sa.func.max(DecisionRecord.decided_at, type_=UTCDateTime),
                    sa.func.count(), none_bytes, none_float, none_json)
             .where(DecisionRecord.viewer_id == viewer, DecisionRecord.platform == sa.bindparam("platform"),
                    DecisionRecord.thread_id == sa.bindparam("thread_id"), DecisionRecord.counts_as_reply == sa.true(),
                    DecisionRecord.course_id.is_not(None),  # type: ignore[union-attr]
                    DecisionRecord.decided_at >= sa.bindparam("since", type_=UTCDateTime))
             .group_by(DecisionRecord.course_id))
    return sa.union_all(profile, clicks, bought, shown)
