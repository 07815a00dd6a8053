"""Hybrid search: BM25 over jieba terms + dense FAISS search, fused by reciprocal rank.

A document (a course or an FAQ entry) is indexed once per phrasing, so "能退款吗" and "七天无理由吗" both
point at the refund entry; hits are grouped back to documents, keeping the best phrasing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

import bm25s
import numpy as np

from retrieval.index import VectorIndex

Kind = Literal["course", "faq"]
RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of the very first ranks


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


def document_of(item_id: str) -> str:
    return item_id.rsplit("#", 1)[0]


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    kind: Kind
    course_id: str | None
    dense: float  # best cosine over the document's phrasings (0 if not among dense candidates)
    bm25: float  # BM25 score over jieba terms (0 if no term matched)
    fused: float  # reciprocal-rank fusion of the two rankings
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


class HybridSearcher:
    """Pure given its inputs: a query vector and query terms in, ranked hits out."""

    def __init__(self, documents: Sequence[Document], vectors: VectorIndex, lexical: LexicalIndex, *, rrf_k: int = RRF_K) -> None:
        self.documents = {d.id: d for d in documents}
        self.vectors = vectors
        self.lexical = lexical
        self.rrf_k = rrf_k
        self._position = {doc_id: i for i, doc_id in enumerate(lexical.doc_ids)}
        # Candidate lookups resolved once: a restricted search walks 400 dense and 400 BM25 candidates per query.
        self._by_item = {item_id: (doc, text) for doc in self.documents.values() for item_id, text in doc.items()}
        self._lexical_docs = [self.documents.get(doc_id) for doc_id in lexical.doc_ids]

    def search(
        self,
        vector: np.ndarray,
        terms: Sequence[str],
        *,
        k: int = 5,
        kinds: Collection[Kind] | None = None,
        course_ids: Collection[str | None] | None = None,
        candidates: int = 50,
        mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
    ) -> list[Hit]:
        """Top-k documents, optionally restricted to some kinds or some courses."""

        def allowed(doc: Document) -> bool:
            return (kinds is None or doc.kind in kinds) and (course_ids is None or doc.course_id in course_ids)

        restricted = kinds is not None or course_ids is not None
        dense: dict[str, tuple[float, str]] = {}
        if mode != "bm25":
            # A restricted search looks deeper so the allowed documents are still among the candidates.
            depth = candidates * (8 if restricted else 3)
            for item_id, score in self.vectors.search(vector[None, :], depth)[0]:
                doc, phrasing = self._by_item.get(item_id) or self._item(item_id)
                if doc is None or not allowed(doc):
                    continue
                if doc.id not in dense or score > dense[doc.id][0]:
                    dense[doc.id] = (score, phrasing)
        lexical: dict[str, float] = {}
        if mode != "dense":
            scores = self.lexical.scores(terms)
            top = top_positive(scores, candidates * (8 if restricted else 1))
            for position, score in zip(top.tolist(), scores[top].tolist()):
                doc = self._lexical_docs[position] or self.documents[self.lexical.doc_ids[position]]
                if allowed(doc):
                    lexical[doc.id] = score
        dense_rank = {d: r for r, d in enumerate(sorted(dense, key=lambda d: -dense[d][0])[:candidates], 1)}
        lexical_rank = {d: r for r, d in enumerate(sorted(lexical, key=lambda d: -lexical[d])[:candidates], 1)}
        fused = {
            doc_id: sum(1.0 / (self.rrf_k + ranks[doc_id]) for ranks in (dense_rank, lexical_rank) if doc_id in ranks)
            for doc_id in dense_rank.keys() | lexical_rank.keys()
        }
        ranked = sorted(fused, key=lambda d: (-fused[d], -dense.get(d, (0.0, ""))[0]))[:k]
        return [
            Hit(
                id=doc_id,
                kind=self.documents[doc_id].kind,
                course_id=self.documents[doc_id].course_id,
                dense=round(dense.get(doc_id, (0.0, ""))[0], 4),
                bm25=round(lexical.get(doc_id, 0.0), 4),
                fused=round(fused[doc_id], 5),
                matched=dense.get(doc_id, (0.0, ""))[1],
            )
            for doc_id in ranked
        ]

    def _item(self, item_id: str) -> tuple[Document | None, str]:
        """A vector item the documents do not list (e.g. a phrasing index beyond the document's own)."""
        doc = self.documents.get(document_of(item_id))
        return doc, self._phrasing(doc, item_id) if doc is not None else ""

    @staticmethod
    def _phrasing(doc: Document, item_id: str) -> str:
        try:
            return doc.phrasings[int(item_id.rsplit("#", 1)[1])]
        except (IndexError, ValueError):
            return ""


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
    min_dense_with_terms: float = 0.76
    min_bm25: float = 3.0

    def accepts(self, hit: Hit | None) -> bool:
        if hit is None:
            return False
        if hit.dense >= self.min_dense:
            return True
        return hit.bm25 >= self.min_bm25 and hit.dense >= self.min_dense_with_terms


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
