"""Recommendations on the bot's side: the catalog, the analysed request and (when [recommend] personalise is on) the
viewer's stored history turned into the arrays the pure scoring core ranks (retrieval/recommend.py), and its reason
codes into short zh-CN reasons. docs/recommendations.md describes the signals and their weights."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from bot.config import RecommendSettings
from retrieval.recommend import (
    LEVELS,
    CourseFacts,
    ItemSimilarity,
    Ranked,
    Reason,
    RecommendationQuery,
    RecommendationWeights,
    ViewerHistory,
    recommend,
    tag_affinity,
    wanted_budget,
    wanted_level,
    wants_other,
)
from retrieval.search import Candidates, HybridSearcher
from retrieval.text import normalize

PURCHASE_WEIGHT = 2.0  # a purchase says more about a viewer's interests than a click
_LN2 = float(np.log(2))
_LEVEL_REASONS = {0: "适合零基础", 1: "适合有基础的同学进阶"}
_BUDGET_REASONS = {"free": "免费", "cheap": "价格实惠"}
_REASONS = {
    "named": "你问到的这门课",
    "question": "和你的问题相符",
    "thread": "和这个视频的内容相关",
    "history": "和你之前关心的内容相关",
    "clicked": "你之前看过这门课",
}


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One recommended course, with its score and why (short zh-CN reasons, for replies and the console)."""

    course_id: str
    score: float
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"course_id": self.course_id, "score": self.score, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class StoredSignals:
    """A viewer's rows as the store keeps them (bot/store/profiles.py)."""

    profile: np.ndarray | None = None  # decayed sum of comment embeddings as of profile_at
    profile_weight: float = 0.0
    profile_at: datetime | None = None
    topics: dict[str, float] = field(default_factory=dict)
    clicks: tuple[tuple[str, datetime, int], ...] = ()  # (course id, last clicked at, clicks)
    purchases: tuple[tuple[str, datetime, int], ...] = ()  # (course id, last bought at, purchases)
    shown: tuple[str, ...] = ()  # courses replied about to this viewer in this thread lately


def decay(half_life_days: float, since: datetime | None, now: datetime) -> float:
    """The share of its weight something recorded at `since` keeps at `now` (all of it if `since` is later: replays)."""
    if since is None:
        return 1.0
    days = (now - since).total_seconds() / 86400
    return 1.0 if days <= 0 else 0.5 ** (days / half_life_days)


class Recommender:
    def __init__(self, catalog, searcher: HybridSearcher, segmenter, settings: RecommendSettings) -> None:
        self.settings = settings
        self.catalog = catalog
        self.searcher = searcher
        courses = list(catalog.courses.values())
        self.positions = {c.id: i for i, c in enumerate(courses)}
        self.facts = CourseFacts(tuple(c.id for c in courses), np.array([LEVELS.index(c.level) for c in courses]),
                                 np.array([c.price for c in courses], dtype=np.float32))
        s = settings
        self.weights = RecommendationWeights(
            cosine_scale=s.cosine_scale, comment=s.weight_comment, comment_generic=s.weight_comment_generic,
            thread=s.weight_thread if s.use_thread_context else 0.0, related=s.weight_related if s.use_thread_context else 0.0,
            thread_specific=s.weight_thread_specific,
            thread_course=s.thread_course_penalty, thread_course_other=s.thread_course_penalty_other,
            level_match=s.weight_level_match, level_mismatch=s.weight_level_mismatch, free=s.weight_free, cheap=s.weight_cheap,
            history=s.weight_history, clicked=s.weight_clicked, collaborative=s.weight_collaborative)
        # Each course's words (tags, title terms): what a viewer's topics are matched against.
        self._related = tag_affinity([[normalize(t).plain for t in c.tags] for c in courses])
        course_terms = [
            {normalize(w).plain for w in (*c.tags, *segmenter.terms(normalize(c.title).plain)) if normalize(w).plain}
            for c in courses
        ]
        # …as term → which courses carry it (1.0 / 0.0): a profile's topics are summed with one add per topic.
        self._term_courses = {t: np.array([t in terms for terms in course_terms], dtype=np.float64)
                              for t in set().union(*course_terms)}
        self._doc_courses: np.ndarray | None = None
        self._phrasings = self._course_phrasings(courses)

    @property
    def personalised(self) -> bool:
        return self.settings.personalise

    # -- content ---------------------------------------------------------------------------------------------
    def course_cosines(self, found: Candidates) -> np.ndarray:
        """Each course's best phrasing cosine among a query's dense candidates (0 for a course not among them)."""
        doc_courses = self._doc_course_positions()
        cosines = np.zeros(len(self.facts.ids), dtype=np.float32)
        courses = doc_courses[found.dense_docs]
        mine = courses >= 0
        # Candidates are best first: the first cosine seen for a course is its best; assign in reverse so it wins.
        cosines[courses[mine][::-1]] = found.dense_scores[mine][::-1]
        return cosines

    def cosines_to(self, vector: np.ndarray) -> np.ndarray:
        """Each course's best phrasing cosine to a vector (a thread's text, a viewer's profile)."""
        if self._phrasings is None:
            return self.course_cosines(self.searcher.candidates(vector[None, :], [[]])[0])
        matrix, starts = self._phrasings
        return np.maximum.reduceat(matrix @ vector.astype(np.float32), starts)

    def _course_phrasings(self, courses) -> tuple[np.ndarray, np.ndarray] | None:
        """Every course's phrasing vectors from the index, grouped by course (`starts`): a profile is scored against
        the catalog by one small matrix product instead of a search of every FAQ phrasing too."""
        ids, starts = [], []
        for course in courses:
            document = self.searcher.documents.get(f"course:{course.id}")
            if document is None:
                return None
            starts.append(len(ids))
            ids += [item_id for item_id, _ in document.items()]
        try:
            return self.searcher.vectors.vectors_of(ids), np.array(starts, dtype=np.int64)
        except (KeyError, RuntimeError):  # an index without these items: search instead
            return None

    def query(self, text: str, found: Candidates, thread_cosines: np.ndarray | None, named: str | None,
              thread_course: str | None, *, specific: bool = True, done: Iterable[str] = ()) -> RecommendationQuery:
        use_thread = self.settings.use_thread_context
        own = self.positions.get(thread_course or "") if use_thread else None
        return RecommendationQuery(
            comment=self.course_cosines(found),
            thread=thread_cosines if use_thread else None,
            thread_course=own,
            named=self.positions.get(named or ""),
            done=frozenset(self._known(done)),
            level=wanted_level(text), budget=wanted_budget(text), other=wants_other(text), specific=specific,
            related=self._related[own] if own is not None else None,
        )

    def rank(self, query: RecommendationQuery, history: ViewerHistory | None = None,
             similarity: ItemSimilarity | None = None) -> tuple[Recommendation, ...]:
        s = self.settings
        ranked = recommend(query, self.facts, weights=self.weights, history=history,
                           similarity=similarity if s.use_collaborative else None,
                           min_supporting_viewers=s.min_collaborative_viewers, k=s.top_k)
        return tuple(self._worded(r, query) for r in ranked)

    # -- history ---------------------------------------------------------------------------------------------
    def history(self, signals: StoredSignals, now: datetime) -> ViewerHistory | None:
        """The viewer's stored rows over the catalog, decayed to `now`; None when personalisation is off."""
        s = self.settings
        if not s.personalise:
            return None
        half_life = s.history_half_life_days
        profile = topics = None
        if s.use_history and signals.profile is not None and np.any(signals.profile):
            strength = min(1.0, signals.profile_weight * decay(half_life, signals.profile_at, now))
            vector = signals.profile / np.linalg.norm(signals.profile)
            profile = self.cosines_to(vector.astype(np.float32))
            # A faded profile pulls less: its cosines move toward the best one, i.e. toward no preference.
            profile = profile.max() - (profile.max() - profile) * strength
            if signals.topics:
                topics = self._topic_shares(signals.topics) * strength
        interactions: dict[int, float] = {}
        rows = [(self.positions[c], at, count, weight) for kind, weight in ((signals.clicks, 1.0), (signals.purchases, PURCHASE_WEIGHT))
                for c, at, count in kind if c in self.positions]
        # Repeated clicks on one course saturate (log), the last one decays; one log1p call for all the viewer's rows.
        saturated = np.log1p(np.array([count for _, _, count, _ in rows], dtype=np.float64)).tolist()
        for (i, at, _, weight), log_count in zip(rows, saturated):
            interactions[i] = interactions.get(i, 0.0) + weight * log_count / _LN2 * decay(half_life, at, now)
        bought = frozenset(self._known(c for c, *_ in signals.purchases))
        return ViewerHistory(
            profile=profile, topics=topics, interactions=interactions if s.use_collaborative else {},
            clicked=frozenset(self._known(c for c, *_ in signals.clicks)) - bought if s.use_history else frozenset(),
            bought=bought, shown=frozenset(self._known(signals.shown)),
        )

    # -- helpers ---------------------------------------------------------------------------------------------
    def _topic_shares(self, topics: dict[str, float]) -> np.ndarray:
        """Per course, the share of the viewer's topic weight on the course's words (tags, title terms)."""
        total = sum(topics.values()) or 1.0
        shares = np.zeros(len(self.facts.ids), dtype=np.float64)
        for topic, weight in topics.items():
            if (courses := self._term_courses.get(topic)) is not None:
                shares += weight * courses
        return (shares / total).astype(np.float32)

    def _known(self, course_ids: Iterable[str]) -> list[int]:
        return [self.positions[c] for c in course_ids if c in self.positions]

    def _doc_course_positions(self) -> np.ndarray:
        documents = self.searcher.document_list
        if self._doc_courses is None or len(self._doc_courses) != len(documents):  # the creator added FAQ entries
            self._doc_courses = np.array([self.positions.get(d.course_id or "", -1) if d.kind == "course" else -1
                                          for d in documents], dtype=np.int64)
        return self._doc_courses

    def _worded(self, ranked: Ranked, query: RecommendationQuery) -> Recommendation:
        return Recommendation(self.facts.ids[ranked.course], ranked.score,
                              tuple(dict.fromkeys(self._reason_text(r, query) for r in ranked.reasons)))

    def _reason_text(self, reason: Reason, query: RecommendationQuery) -> str:
        if reason.code == "level":
            return _LEVEL_REASONS[0 if query.level == 0 else 1]
        if reason.code == "budget":
            return _BUDGET_REASONS[query.budget or "cheap"]
        if reason.code == "collaborative" and reason.course is not None:
            return f"学了《{self.catalog.courses[self.facts.ids[reason.course]].title}》的同学也选了"
        return _REASONS[reason.code]


class CollaborativeTable:
    """The item-to-item table of one database, rebuilt from every viewer's (viewer, course, bought) pairs when it is
    older than [recommend] collaborative_refresh_minutes by the caller's clock (event time in replays)."""

    def __init__(self, recommender: Recommender) -> None:
        self.recommender = recommender
        self.similarity = ItemSimilarity.empty(len(recommender.facts.ids))
        self.built_at: datetime | None = None

    def due(self, now: datetime) -> bool:
        s = self.recommender.settings
        if not (s.personalise and s.use_collaborative):
            return False
        return self.built_at is None or (now - self.built_at).total_seconds() >= s.collaborative_refresh_minutes * 60

    def refresh(self, chunks: Iterable[Sequence[tuple[int, str, bool]]], now: datetime) -> None:
        """Pairs arrive in chunks and are kept as three flat arrays (16 bytes a pair), never as rows."""
        positions = self.recommender.positions
        viewers, courses, weights = [], [], []
        for chunk in chunks:
            if not chunk:
                continue
            v, c, b = zip(*chunk)
            course = np.fromiter((positions.get(x, -1) for x in c), dtype=np.int32, count=len(c))
            known = course >= 0  # a course since removed from the catalog
            viewers.append(np.asarray(v, dtype=np.int64)[known])
            courses.append(course[known])
            weights.append(np.where(np.asarray(b, dtype=bool), PURCHASE_WEIGHT, 1.0).astype(np.float32)[known])
        n = len(self.recommender.facts.ids)
        if viewers:
            self.similarity = ItemSimilarity.from_pairs(np.concatenate(viewers), np.concatenate(courses), n,
                                                        min_support=self.recommender.settings.min_co_viewers,
                                                        weights=np.concatenate(weights))
        else:
            self.similarity = ItemSimilarity.empty(n)
        self.built_at = now
