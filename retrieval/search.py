"""Hybrid search: BM25 over jieba terms + dense FAISS search, fused into one ranking.

A document (a course or an FAQ entry) is indexed once per phrasing, so "能退款吗" and "七天无理由吗" both
point at the refund entry; hits are grouped back to documents, keeping the best phrasing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import bm25s
import numpy as np

from retrieval.index import VectorIndex, faiss_id

Kind = Literal["course", "faq"]
Fusion = Literal["convex", "rrf"]
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very first ranks
# Convex fusion compares the best BM25 score with the one at this rank: when the tenth-best entry matches the
# comment's words almost as well as the best, the words do not single an entry out (README "How matching works").
LEXICAL_REFERENCE_RANK = 10


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    kind: Kind
    title: str
    phrasings: tuple[str, ...]  # every text this document should be found by
    course_id: str | None = None  # the course an FAQ entry is about, or the course itself

    def items(self) -> list[tuple[str, str]]:
        """`(vector item id, text)` pairs for the vector index."""
        return [(f"{self.id}#{i}", text) for i, text in enumerate(self.phrasings)]


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    kind: Kind
    course_id: str | None
    dense: float  # best cosine over the document's phrasings (0 if not among dense candidates)
    bm25: float  # BM25 score over jieba terms (0 if no term matched)
    fused: float  # the two scores fused (`HybridSearcher.fusion`): what the hits are ranked by
    matched: str = ""  # the phrasing the dense match came from


@dataclass
class LexicalIndex:
    """BM25 over each document's terms (all phrasings joined)."""

    doc_ids: list[str]
    _bm25: bm25s.BM25 = field(repr=False, default=None)  # type: ignore[assignment]

    @classmethod
    def build(cls, doc_ids: Sequence[str], doc_terms: Sequence[Sequence[str]]) -> LexicalIndex:
        bm25 = bm25s.BM25()
        bm25.index([list(terms) or ["\0"] for terms in doc_terms], show_progress=False)
        return cls(list(doc_ids), bm25)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        if not terms or not self.doc_ids:
            return np.zeros(len(self.doc_ids), dtype=np.float32)
        return self._bm25.get_scores(list(terms))


@dataclass(frozen=True, slots=True)
class Candidates:
    """One query's candidates, looked up once and ranked as often as needed: a comment is ranked against
    every document, its FAQ scope, the courses and a course's own entries, from one dense and one BM25 lookup.
    Documents are positions in `HybridSearcher.document_list`."""

    dense_docs: np.ndarray  # each document once, best cosine first
    dense_scores: np.ndarray  # its best cosine
    dense_items: np.ndarray  # the vector item (phrasing) that cosine came from
    lexical_docs: np.ndarray  # documents with a positive BM25 score, best first
    lexical_scores: np.ndarray


_KINDS: dict[str, int] = {"course": 0, "faq": 1}


class HybridSearcher:
    """Pure given its inputs: a query vector and query terms in, ranked hits out."""

    def __init__(
        self, documents: Sequence[Document], vectors: VectorIndex, lexical: LexicalIndex, *,
        fusion: Fusion = "convex", rrf_k: int = RRF_K, depth: int = 50, strong_bm25: float = 0.0,
    ) -> None:
        """`fusion`: "convex" averages the min-max normalised dense and BM25 scores (Bruch et al. 2023, "An
        analysis of fusion functions for hybrid retrieval"); "rrf" sums reciprocal ranks. RRF gives a
        document that shares only a question word (吗, 多少) with the comment the same weight as a strong
        lexical match at that rank; on our labelled comments convex fusion ranks the right FAQ entry first
        more often (README "Quality").

        `strong_bm25`: convex fusion divides BM25 scores by the best one, but never by less than this. A
        comment whose best lexical match is two common words (学, 课, 视频) would otherwise hand that weak
        match the full lexical half and outvote a clearly better dense match; the bot passes its abstain
        threshold's `min_bm25`, the score it already counts as a real lexical match. The BM25 half is further
        scaled by `lexical_informativeness`: how far the best lexical match stands above the others."""
        self.documents = {d.id: d for d in documents}
        self.document_list = list(self.documents.values())
        self.vectors = vectors
        self.lexical = lexical
        self.fusion = fusion
        self.rrf_k = rrf_k
        self.strong_bm25 = strong_bm25
        self.depth = depth  # documents per ranking that reciprocal-rank fusion sees (convex fusion sees every candidate)
        # Candidates are looked up 8× deeper, so a ranking restricted to a few courses or to the FAQ still
        # finds its documents among them.
        self.lookup_depth = depth * 8
        position = {doc.id: i for i, doc in enumerate(self.document_list)}
        courses: dict[str | None, int] = {None: 0}
        for doc in self.document_list:
            courses.setdefault(doc.course_id, len(courses))
        self._course_codes = courses
        self._doc_kinds = np.array([_KINDS[doc.kind] for doc in self.document_list], dtype=np.int8)
        self._doc_courses = np.array([courses[doc.course_id] for doc in self.document_list], dtype=np.int64)
        # Vector items by FAISS number, sorted for a vectorised lookup of a whole batch's results.
        items = sorted((faiss_id(item_id), position[doc.id], text) for doc in self.document_list for item_id, text in doc.items())
        self._numbers = np.array([number for number, _, _ in items], dtype=np.int64)
        self._item_docs = np.array([doc for _, doc, _ in items], dtype=np.int64)
        self._item_texts = [text for _, _, text in items]
        self._lexical_docs = np.array([position[doc_id] for doc_id in lexical.doc_ids], dtype=np.int64)

    def candidates(self, vectors: np.ndarray, terms: Sequence[Sequence[str]]) -> list[Candidates]:
        """Dense and BM25 candidates for a batch of queries (one FAISS call for the whole batch)."""
        scores, numbers = self.vectors.search_numbers(vectors, self.lookup_depth)
        at = np.searchsorted(self._numbers, numbers).clip(max=max(self._numbers.size - 1, 0))
        # Items the documents do not list (none, when the index was synced with them) are skipped.
        known = self._numbers[at] == numbers if self._numbers.size else np.zeros(numbers.shape, dtype=bool)
        found = []
        for row_scores, row_at, row_known, query_terms in zip(scores, at, known, terms):
            valid = np.flatnonzero(row_known)
            # FAISS returns best first, so a document's first item is its best phrasing.
            _, first = np.unique(self._item_docs[row_at[valid]], return_index=True)
            best = valid[np.sort(first)]
            lexical = self.lexical.scores(query_terms)
            top = top_positive(lexical, self.lookup_depth)
            found.append(Candidates(self._item_docs[row_at[best]], row_scores[best], row_at[best],
                                    self._lexical_docs[top], lexical[top]))
        return found

    def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        *,
        k: int = 5,
        kinds: Collection[Kind] | None = None,
        course_ids: Collection[str | None] | None = None,
        mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
        fusion: Fusion | None = None,
    ) -> list[Hit]:
        """Top-k documents for one query, optionally restricted to some kinds or some courses."""
        return self.rank(self.candidates(vector[None, :], [terms])[0], k=k, kinds=kinds, course_ids=course_ids, mode=mode, fusion=fusion)

    def rank(
        self,
        candidates: Candidates,
        *,
        k: int = 5,
        kinds: Collection[Kind] | None = None,
        course_ids: Collection[str | None] | None = None,
        mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
        fusion: Fusion | None = None,
    ) -> list[Hit]:
        """Top-k of a query's candidates, optionally restricted to some kinds or some courses; `fusion`
        overrides the searcher's own (benchmarks compare the two)."""
        keep = self._allowed(candidates.dense_docs, kinds, course_ids) if mode != "bm25" else np.zeros(len(candidates.dense_docs), dtype=bool)
        dense, dense_scores, dense_items = candidates.dense_docs[keep], candidates.dense_scores[keep], candidates.dense_items[keep]
        keep = self._allowed(candidates.lexical_docs, kinds, course_ids) if mode != "dense" else np.zeros(len(candidates.lexical_docs), dtype=bool)
        lexical, lexical_scores = candidates.lexical_docs[keep], candidates.lexical_scores[keep]
        if (fusion or self.fusion) == "rrf":  # the first `depth` documents of each ranking
            ranked = np.concatenate([dense[: self.depth], lexical[: self.depth]])
            weights = np.concatenate([1.0 / (self.rrf_k + np.arange(1, len(r) + 1)) for r in (dense[: self.depth], lexical[: self.depth])])
        else:  # every candidate, so a strong lexical match also gets its dense share
            ranked = np.concatenate([dense, lexical])
            # Lexical scores are positive and best first: the best maps to 1 (if strong), no match to 0.
            best_lexical = max(float(lexical_scores[0]) if len(lexical_scores) else 1.0, self.strong_bm25)
            lexical_share = lexical_informativeness(lexical_scores) / (2 * best_lexical)
            weights = np.concatenate([_min_max(dense_scores) / 2, lexical_scores * lexical_share])
        docs, inverse = np.unique(ranked, return_inverse=True)
        fused = np.bincount(inverse, weights, minlength=len(docs))
        # Every allowed candidate keeps its scores for the hits, ranked or not.
        by_dense = dict(zip(dense.tolist(), zip(dense_scores.tolist(), dense_items.tolist())))
        by_lexical = dict(zip(lexical.tolist(), lexical_scores.tolist()))
        tie_break = np.array([by_dense.get(d, (0.0, -1))[0] for d in docs.tolist()])
        hits = []
        for i in np.lexsort((-tie_break, -fused))[:k].tolist():
            doc = self.document_list[int(docs[i])]
            cosine, item = by_dense.get(int(docs[i]), (0.0, -1))
            hits.append(Hit(
                id=doc.id, kind=doc.kind, course_id=doc.course_id, dense=round(cosine, 4),
                bm25=round(by_lexical.get(int(docs[i]), 0.0), 4), fused=round(float(fused[i]), 5),
                matched=self._item_texts[item] if item >= 0 else "",
            ))
        return hits

    def _allowed(self, docs: np.ndarray, kinds: Collection[Kind] | None, course_ids: Collection[str | None] | None) -> np.ndarray:
        """Which of `docs` the restriction lets through (lookup tables indexed by kind and course code)."""
        keep = np.ones(len(docs), dtype=bool)
        if kinds is not None:
            keep &= _lookup(len(_KINDS), [_KINDS[kind] for kind in kinds if kind in _KINDS])[self._doc_kinds[docs]]
        if course_ids is not None:
            codes = [self._course_codes[c] for c in course_ids if c in self._course_codes]
            keep &= _lookup(len(self._course_codes), codes)[self._doc_courses[docs]]
        return keep


def lexical_informativeness(scores: np.ndarray) -> float:
    """How well BM25 singles out its best match, in [0, 1]: 1 − (score at `LEXICAL_REFERENCE_RANK`) / (best).

    In a bank of near-duplicate questions (花呗/借呗 …) dozens of entries share the comment's words about
    equally, and BM25's order among them is noise that, at full weight, outvoted the dense ranking (real
    paraphrases: fused top-1 below dense alone, benchmarks/faq_bank.py). With fewer matches than that rank,
    as in a creator's FAQ of a few dozen entries, BM25 keeps its full half. `scores`: positive, best first."""
    if len(scores) == 0 or scores[0] <= 0:
        return 0.0
    if len(scores) < LEXICAL_REFERENCE_RANK:
        return 1.0
    return float(1.0 - scores[LEXICAL_REFERENCE_RANK - 1] / scores[0])


def _min_max(scores: np.ndarray) -> np.ndarray:
    """Scores mapped onto [0, 1] by the lowest and highest of them (all 1 when they are equal)."""
    if len(scores) == 0:
        return np.ones(0)
    low, high = scores.min(), scores.max()
    return (scores - low) / (high - low) if high > low else np.ones(len(scores))


def _lookup(size: int, allowed: list[int]) -> np.ndarray:
    table = np.zeros(size, dtype=bool)
    table[allowed] = True
    return table


def top_positive(scores: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the `limit` highest positive scores, best first; equal scores keep document order.

    A partial selection, not a full sort: on a 100k-document catalog `argsort` over every score cost more
    than the whole rest of a hybrid search (benchmarks/speed.py).
    """
    positive = np.flatnonzero(scores > 0)
    if limit <= 0:
        return positive[:0]
    if len(positive) > limit:
        values = scores[positive]
        cut = np.partition(values, len(values) - limit)[len(values) - limit]  # the limit-th highest score
        positive = positive[values >= cut]
    return positive[np.argsort(-scores[positive], kind="stable")][:limit]


@dataclass(frozen=True, slots=True)
class AbstainThreshold:
    """Answer only when the best hit's dense cosine reaches `min_dense`, or BM25 is strong and dense is
    at least `min_dense_with_terms` (exact course terms matched). Calibrated by `calibrate_threshold`."""

    min_dense: float = 0.84
    min_dense_with_terms: float = 0.78
    min_bm25: float = 3.0
    min_margin: float = 0.0  # cosine lead the best hit needs over another answer's hit (`close_rival`)

    def accepts(self, hit: Hit | None) -> bool:
        if hit is None:
            return False
        if hit.dense >= self.min_dense:
            return True
        return hit.bm25 >= self.min_bm25 and hit.dense >= self.min_dense_with_terms

    def agrees(self, hit: Hit) -> bool:
        """Both searches find `hit` on their own: the cosine reaches `min_dense` and BM25 reaches `min_bm25`
        (the stricter test for letting a hit decide which course a comment is about)."""
        return hit.dense >= self.min_dense and hit.bm25 >= self.min_bm25

    def close_rival(self, hits: Sequence[Hit], answers: Mapping[str, str]) -> Hit | None:
        """A hit that would answer on its own with another answer than `hits[0]`, with a cosine within
        `min_margin` of the first's (or above it): two answers too close to tell apart. `answers` maps a
        document id to its answer's identity; documents with the same answer (and a document's own
        phrasings, which are one hit) are no rival. `hits`: one ranking, best first; 0 turns the rule off.

        The margin is on the dense cosine: fused scores of near-duplicate questions lie much closer together
        than their cosines, and on the AFQMC bank a fused margin kept most wrong answers at any width
        (README "Calibration"). A rival the bot would not answer with anyway (below the thresholds) is no
        rival: the bundled and held-out comments lose fewer right answers that way."""
        if not hits or self.min_margin <= 0:
            return None
        answer = answers.get(hits[0].id, hits[0].id)
        rivals = [h for h in hits[1:] if answers.get(h.id, h.id) != answer and self.accepts(h)]
        rival = max(rivals, key=lambda h: h.dense, default=None)
        if rival is None or hits[0].dense - rival.dense >= self.min_margin:
            return None
        return rival


def calibrate_threshold(
    positives: Sequence[float], negatives: Sequence[float], *, min_negative_rejection: float = 0.95
) -> float:
    """Smallest cosine threshold that rejects at least `min_negative_rejection` of the negatives
    (comments that must get no answer), which keeps as many positives as possible."""
    if len(negatives) == 0:
        return float(min(positives, default=0.0))
    ordered = np.sort(np.asarray(negatives, dtype=np.float64))
    cut = int(np.ceil(min_negative_rejection * len(ordered))) - 1
    return float(np.nextafter(ordered[min(max(cut, 0), len(ordered) - 1)], np.inf))


@dataclass(frozen=True, slots=True)
class Recalibration:
    """Where the answer cut now stands and why (`recalibrate_threshold`)."""

    cut: float  # the dense cosine an answer needs, in the units of the shipped `min_dense`
    reviewed: int  # reviewed answers the rule saw
    wrong: int
    near: int  # reviewed answers within `near` of the shipped cut
    source: str  # "shipped" | "tightened" | "recalibrated"


def recalibrate_threshold(
    shipped: float, feedback: Sequence[tuple[float, bool]], *, target_precision: float = 0.97, min_reviewed: int = 100,
    min_near: int = 30, near: float = 0.05, min_wrong: int = 5, floor: float = 0.70, ceiling: float = 0.95, z: float = 1.645,
) -> Recalibration:
    """The lowest cosine cut at which the creator's reviewed answers reach `target_precision`.

    `feedback`: (cosine of the answer sent, the creator said it was right). Until there are `min_reviewed`
    reviewed answers with `min_near` of them within `near` of `shipped`, the cut only ever rises: when at least
    `min_wrong` wrong answers lie at or above it and the Wilson upper bound of their precision is below the
    target (the evidence says the shipped cut is too loose), it rises to the lowest cut where the reviewed
    answers at or above it reach the target. With enough feedback the cut is the lowest one where the Wilson *lower* bound
    reaches the target, so it may move either way, never below `floor`; a handful of items moves nothing.
    Never above `ceiling` either: wrong replies to near-verbatim questions say the entry's answer is wrong, not
    the match (vetoes and the FAQ file deal with that), and must not silence every FAQ answer.
    """
    items = sorted(((float(d), bool(ok)) for d, ok in feedback), key=lambda item: item[0])
    wrong = sum(not ok for _, ok in items)
    close = sum(abs(d - shipped) <= near for d, _ in items)
    enough = len(items) >= min_reviewed and close >= min_near
    if enough:
        cut = _lowest_cut(items, lambda right, n: n > 0 and _wilson(right, n, z)[0] >= target_precision)
        if cut == items[0][0]:
            cut = min(cut, shipped)  # every reviewed answer passes: nothing says where, above the shipped cut, to stop
        cut = min(max(cut, floor), max(ceiling, shipped))
        source = "shipped" if cut == shipped else "recalibrated"
        return Recalibration(cut, len(items), wrong, close, source)
    above = [ok for d, ok in items if d >= shipped]
    too_loose = sum(not ok for ok in above) >= min_wrong and _wilson(sum(above), len(above), z)[1] < target_precision
    if not too_loose:
        return Recalibration(shipped, len(items), wrong, close, "shipped")
    cut = _lowest_cut([i for i in items if i[0] >= shipped], lambda right, n: n == 0 or right / n >= target_precision)
    cut = min(max(cut, shipped), max(ceiling, shipped))
    return Recalibration(cut, len(items), wrong, close, "shipped" if cut == shipped else "tightened")


def _lowest_cut(items: Sequence[tuple[float, bool]], good: Callable[[int, int], bool]) -> float:
    """The lowest cut (one of the items' cosines, or just above the highest) whose items at or above are `good`."""
    right = sum(ok for _, ok in items)
    n = len(items)
    for i, (d, _) in enumerate(items):
        if (i == 0 or items[i - 1][0] < d) and good(right, n):
            return d
        right -= items[i][1]
        n -= 1
    return float(np.nextafter(items[-1][0], np.inf)) if items else 1.0


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (lower, upper); (0, 1) for no observations."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return float((centre - spread) / (1 + z * z / n)), float((centre + spread) / (1 + z * z / n))
