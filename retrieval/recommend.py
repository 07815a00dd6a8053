"""Course recommendations: the comment, its thread, the viewer's history and what similar viewers took, blended
into one ranking that says why each course is there. Pure: arrays over the catalog's courses in, ranked course
positions and reason codes out (docs/recommendations.md gives the weights and the cold-start rule).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import sparse

Budget = Literal["free", "cheap"]
# Catalogs up to this many courses keep the item-to-item table dense as well (≤ 4 MiB of float32): a viewer's rows are
# then a NumPy take, where slicing the sparse table cost ~0.2 ms of each personalised request.
DENSE_COURSES = 1024
LEVELS = ("beginner", "intermediate", "advanced")
# Reason codes, worded for viewers by the bot (bot/recommend.py).
ReasonCode = Literal["question", "thread", "level", "budget", "history", "clicked", "collaborative", "named"]

_BEGINNER = re.compile(r"零基础|小白|新手|入门|没基础|没有基础|从零|刚开始|完全不会|没学过|基础差")
_ADVANCED = re.compile(r"进阶|提高|提升|深入|高级|高阶|有基础|有点基础|学完了|学过了|下一步|更难|精通")
_FREE = re.compile(r"免费|不要钱|不花钱|白嫖|0元|零元")
_CHEAP = re.compile(r"便宜|实惠|性价比|预算|学生党|没钱|穷|划算|低价|价格低|不贵")
_OTHER = re.compile(r"别的|其他|其它|另外|还有.{0,4}(课|推荐)|换一")
# A course the viewer says they are done with or asks for something besides: "学完X", "买过X", "X学完了",
# "X学得差不多了", "雅思出分了", "四级过了", "除了ppt还有…", "普通话之外…".
_DONE_BEFORE = re.compile(r"(学完|学过|买过|报过|上过|看完|听完|刷完|结课|考完|考过|除了|除开)了?(这个|那个)?\s*$")
_DONE_AFTER = re.compile(r"^\s*(已经|都|也|基本|差不多|终于|总算|刚刚?)?"
                         r"(学完|学过|学得差不多|学的差不多|看完|听完|刷完|过完|会了|结课|考完|考过|出分|买过|报过|上过|"
                         r"过了|搞完|搞定|弄完|练完|之外|以外)")
_TO_DO_BEFORE = re.compile(r"把\s*$")  # "想先把六级过了": passing it is the goal


def wanted_level(text: str) -> int | None:
    """The level a request asks for, as a position in LEVELS: 零基础/小白 → beginner, 进阶/有基础 → intermediate+."""
    if _BEGINNER.search(text):
        return 0
    if _ADVANCED.search(text):
        return 1
    return None


def wanted_budget(text: str) -> Budget | None:
    if _FREE.search(text):
        return "free"
    if _CHEAP.search(text):
        return "cheap"
    return None


def wants_other(text: str) -> bool:
    """"还有别的课推荐吗": something other than the course of the video it is written under."""
    return bool(_OTHER.search(text))


def done_with(text: str, start: int, end: int) -> bool:
    """Whether the course named at text[start:end] is one the viewer says they finished ("学完pandas了 下一步学啥")
    or asks for something besides ("除了ppt还有…"): in a request that is where they come from, not what they ask for."""
    before = text[max(0, start - 6):start]
    if _TO_DO_BEFORE.search(before):
        return False
    return bool(_DONE_BEFORE.search(before) or _DONE_AFTER.search(text[end:end + 8]))


@dataclass(frozen=True, slots=True)
class CourseFacts:
    """The catalog as arrays, one position per course."""

    ids: tuple[str, ...]
    levels: np.ndarray  # position in LEVELS
    prices: np.ndarray
    median_price: float = field(init=False)  # what 便宜 is measured against, once rather than per request

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.levels) == len(self.prices)):
            raise ValueError("course ids, levels and prices must have one entry per course")
        object.__setattr__(self, "median_price", float(np.median(self.prices)) if len(self.prices) else 0.0)


@dataclass(frozen=True, slots=True)
class RecommendationWeights:
    """What each signal adds to a course's score. Cosines enter as (cosine − best cosine) / cosine_scale, so a
    course `cosine_scale` below the best loses 1 point: m3e-small cosines between a comment and the catalog's
    courses lie within ~0.1 of each other, and a generic request ("还有别的课推荐吗") leaves them flat, which lets
    the thread and the history decide."""

    cosine_scale: float = 0.1
    comment: float = 1.0
    comment_generic: float = 0.3  # …for a request that names no topic: its cosines are mostly noise
    thread: float = 0.6
    related: float = 0.6  # courses sharing (rare) tags with the thread's own course
    thread_specific: float = 0.5  # the thread signals' share when the comment names its own topic
    thread_course: float = 2.0  # taken from the thread's own course…
    thread_course_other: float = 2.0  # …or this when the comment asks for another one (别的/其他)
    level_match: float = 0.3
    level_mismatch: float = 0.6  # 零基础 asking, an advanced course offered (or 进阶 asking, a beginner one)
    free: float = 1.5
    cheap: float = 0.6  # times how much cheaper than the catalog's median
    history: float = 0.5
    clicked: float = 0.3
    collaborative: float = 0.6
    named: float = 10.0  # a course the comment names comes first
    reason_margin: float = 0.3  # a cosine signal within this many points of the best is worth saying


@dataclass(frozen=True, slots=True)
class RecommendationQuery:
    """What the comment and its thread say, over the catalog's courses (arrays of cosines, one per course)."""

    comment: np.ndarray
    thread: np.ndarray | None = None  # the thread's title and description
    thread_course: int | None = None
    named: int | None = None  # a course the comment names: recommended even if bought or just shown
    level: int | None = None
    budget: Budget | None = None
    other: bool = False  # "别的/其他": not the thread's own course
    specific: bool = True  # the comment names a topic (a course fits it); False: "有什么课推荐吗"
    related: np.ndarray | None = None  # each course's tag affinity to the thread's course, 0..1
    done: frozenset[int] = frozenset()  # courses the comment says the viewer finished ("学完X"): never recommended


@dataclass(frozen=True, slots=True)
class ViewerHistory:
    """What the viewer did before, over the catalog's courses."""

    profile: np.ndarray | None = None  # cosine of the viewer's interest profile (decayed comment embeddings) to each course
    topics: np.ndarray | None = None  # overlap of the viewer's decayed topics with each course's terms, 0..1
    interactions: Mapping[int, float] = field(default_factory=dict)  # course → decayed weight of clicks and purchases
    clicked: frozenset[int] = frozenset()
    bought: frozenset[int] = frozenset()
    shown: frozenset[int] = frozenset()  # recommended or linked to this viewer in this thread already

    @property
    def empty(self) -> bool:
        return self.profile is None and self.topics is None and not self.interactions and not self.bought and not self.shown


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    course: int | None = None  # collaborative: the course the similar viewers took


@dataclass(frozen=True, slots=True)
class Ranked:
    course: int
    score: float
    reasons: tuple[Reason, ...]


class ItemSimilarity:
    """Item-to-item similarity from co-occurrence: viewers who clicked or bought both courses, as the cosine of the two
    courses' viewer columns (count(i, j) / √(count(i) · count(j))). Pairs fewer than `min_support` viewers share are
    dropped: two people are an anecdote. A sparse viewers × courses matrix X gives XᵀX; memory is the distinct
    (viewer, course) pairs (≤ the events) while building and courses² at most afterwards."""

    def __init__(self, similarity: sparse.csr_matrix, supporting_viewers: int) -> None:
        self.similarity = similarity
        self.supporting_viewers = supporting_viewers  # viewers with two or more courses: the evidence there is
        self._dense = similarity.toarray() if similarity.shape[0] <= DENSE_COURSES and similarity.nnz else None

    @classmethod
    def empty(cls, n_courses: int) -> ItemSimilarity:
        return cls(sparse.csr_matrix((n_courses, n_courses), dtype=np.float32), 0)

    @classmethod
    def from_pairs(cls, viewers: np.ndarray, courses: np.ndarray, n_courses: int, *, min_support: int = 3,
                   weights: np.ndarray | None = None) -> ItemSimilarity:
        """`viewers[i]` interacted with `courses[i]` (with `weights[i]`, 1 by default; repeats are summed and
        capped at 1: a viewer who clicked a link five times is one viewer of that course)."""
        if len(viewers) == 0:
            return cls.empty(n_courses)
        _, rows = np.unique(np.asarray(viewers), return_inverse=True)
        data = np.ones(len(rows), dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        x = sparse.csr_matrix((data, (rows, np.asarray(courses))), shape=(int(rows.max()) + 1, n_courses), dtype=np.float32)
        x.data = np.minimum(x.data, 1.0)
        x.eliminate_zeros()
        # Norms over every viewer of a course (a popular course is similar to everything only in proportion).
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        x = x[np.diff(x.indptr) >= 2]  # a viewer of one course alone co-occurs with nothing
        binary = (x > 0).astype(np.float32)
        co = (x.T @ x).tocsr().multiply((binary.T @ binary) >= min_support).tocsr()
        co.setdiag(0)
        co.eliminate_zeros()
        inverse = sparse.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0))
        similarity = (inverse @ co @ inverse).astype(np.float32).tocsr()
        return cls(similarity, int(x.shape[0]))

    def scores(self, seeds: Mapping[int, float]) -> tuple[np.ndarray, np.ndarray]:
        """(score per course, the seed course that contributed most to it or -1) for a viewer's weighted courses."""
        n = self.similarity.shape[0]
        if not seeds or self.similarity.nnz == 0:
            return np.zeros(n, dtype=np.float32), np.full(n, -1)
        positions = np.fromiter(seeds.keys(), dtype=np.int64)
        weights = np.fromiter(seeds.values(), dtype=np.float32)
        rows = self._dense[positions] if self._dense is not None else self.similarity[positions].toarray()
        rows = rows * weights[:, None]  # seeds × courses
        best = np.where(rows.max(axis=0) > 0, positions[rows.argmax(axis=0)], -1)
        return rows.sum(axis=0), best


def tag_affinity(tags: list[list[str]]) -> np.ndarray:
    """Course × course affinity from shared tags, each weighted by its rarity (log n/df: "零基础" or "职场", on many
    courses, says little): the share of a course's own tag weight another course shares, 0..1, the diagonal 0. A
    course sharing only "零基础" with the guitar course is barely related to it."""
    n = len(tags)
    vocabulary = sorted({t for course in tags for t in course})
    if n == 0 or not vocabulary:
        return np.zeros((n, n), dtype=np.float32)
    column = {t: j for j, t in enumerate(vocabulary)}
    m = np.zeros((n, len(vocabulary)), dtype=np.float32)
    for i, course in enumerate(tags):
        for t in course:
            m[i, column[t]] = 1.0
    idf = np.log((n + 1) / (m.sum(axis=0) + 1))
    affinity = (m * idf) @ m.T
    own = np.diag(affinity).copy()[:, None]
    np.fill_diagonal(affinity, 0.0)
    return np.divide(affinity, own, out=np.zeros_like(affinity), where=own > 0)


def recommend(query: RecommendationQuery, courses: CourseFacts, *, weights: RecommendationWeights = RecommendationWeights(),
              history: ViewerHistory | None = None, similarity: ItemSimilarity | None = None,
              min_supporting_viewers: int = 20, k: int = 3) -> list[Ranked]:
    """The `k` best courses for a request, best first, each with its reasons.

    Cold start: the collaborative signal counts only when `similarity` rests on at least `min_supporting_viewers`
    viewers with two or more courses, and only for a viewer with clicks or purchases; without a history the ranking is
    the content's alone (comment, thread, level, budget)."""
    w = weights
    n = len(courses.ids)
    if n == 0:
        return []
    parts: dict[ReasonCode, np.ndarray] = {}
    comment = _relative(query.comment, w.cosine_scale)
    score = (w.comment if query.specific else w.comment_generic) * comment
    # The video speaks for a comment that does not say what it wants ("还有类似的吗", "下一步学啥"); one that names
    # its own topic ("想学理财" under a photography video) is heard first.
    share = 1.0 if not query.specific else w.thread_specific
    if query.thread is not None and w.thread:
        thread = _relative(query.thread, w.cosine_scale)
        score = score + share * w.thread * thread
        parts["thread"] = thread
    if query.related is not None and w.related:
        score = score + share * w.related * query.related
        parts["thread"] = np.maximum(parts.get("thread", np.full(n, -np.inf)), (query.related - 1.0) * 0.5)
    if query.thread_course is not None and query.thread_course != query.named:
        score[query.thread_course] -= w.thread_course_other if query.other else w.thread_course
    if query.level is not None:
        fits = (courses.levels == 0) if query.level == 0 else (courses.levels >= 1)
        score = score + np.where(fits, w.level_match, -w.level_mismatch)
        parts["level"] = fits.astype(np.float32)
    if query.budget == "free":
        free = (courses.prices == 0).astype(np.float32)
        score = score + w.free * free
        parts["budget"] = free
    elif query.budget == "cheap":
        median = courses.median_price or 1.0
        cheaper = np.clip((median - courses.prices) / median, -1.0, 1.0)
        score = score + w.cheap * cheaper
        parts["budget"] = (cheaper > 0).astype(np.float32)
    seeds = np.full(n, -1)
    excluded: set[int] = set()
    if history is not None:
        if history.profile is not None and w.history:
            profile = _relative(history.profile, w.cosine_scale)
            if history.topics is not None:
                profile = profile + history.topics
            score = score + w.history * profile
            parts["history"] = profile
        elif history.topics is not None and w.history:
            score = score + w.history * history.topics
            parts["history"] = history.topics - 1.0
        for course in history.clicked:
            score[course] += w.clicked
        if similarity is not None and history.interactions and w.collaborative \
                and similarity.supporting_viewers >= min_supporting_viewers:
            collaborative, seeds = similarity.scores(history.interactions)
            top = float(collaborative.max())
            if top > 0:
                score = score + w.collaborative * collaborative / top
        excluded = set(history.bought) | set(history.shown)
    excluded |= query.done
    if query.named is not None:
        score[query.named] += w.named
        excluded.discard(query.named)
    if excluded:
        score[list(excluded)] = -np.inf
    order = [int(i) for i in np.argsort(-score, kind="stable")[:k] if np.isfinite(score[i])]
    return [Ranked(i, round(float(score[i]), 4), _reasons(i, query, history, parts, comment, seeds, w)) for i in order]


def _relative(cosines: np.ndarray, scale: float) -> np.ndarray:
    cosines = np.asarray(cosines, dtype=np.float32)
    return (cosines - cosines.max()) / scale


def _reasons(i: int, query: RecommendationQuery, history: ViewerHistory | None, parts: dict[ReasonCode, np.ndarray],
             comment: np.ndarray, seeds: np.ndarray, w: RecommendationWeights) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    if i == query.named:
        reasons.append(Reason("named"))
    elif query.specific and comment[i] >= -w.reason_margin:
        reasons.append(Reason("question"))
    if "thread" in parts and parts["thread"][i] >= -w.reason_margin and i != query.thread_course:
        reasons.append(Reason("thread"))
    if "level" in parts and parts["level"][i] > 0:
        reasons.append(Reason("level"))
    if "budget" in parts and parts["budget"][i] > 0:
        reasons.append(Reason("budget"))
    if history is not None:
        if i in history.clicked:
            reasons.append(Reason("clicked"))
        if "history" in parts and parts["history"][i] >= -w.reason_margin:
            reasons.append(Reason("history"))
    if seeds[i] >= 0:
        reasons.append(Reason("collaborative", int(seeds[i])))
    return tuple(reasons)
