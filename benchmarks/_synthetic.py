"""Synthetic catalogs for index benchmarks: random unit vectors and Zipf-distributed document terms.

Big enough catalogs (100k items) cannot be encoded on a 2-core machine in a benchmark run, so index build
and search are timed on synthetic data and the encode cost is reported from the measured model throughput.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SyntheticVectors:
    """An Encoder over precomputed vectors: item text `"17"` is row 17. Lets `VectorIndex.build` run its real
    path (ids, training, adding) without paying for the model, whose cost is reported separately."""

    name = "synthetic"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors
        self.dimension = vectors.shape[1]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors[[int(t) for t in texts]]


def synthetic_catalog(n: int, dimension: int, rng: np.random.Generator):
    """Random unit vectors, and documents of Zipf-distributed terms (a few terms such as 多少/怎么/课程 occur in
    most documents, most terms are rare), half courses and half FAQ entries."""
    from retrieval.search import Document

    vectors = rng.standard_normal((n, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vocabulary = np.array([f"词{i}" for i in range(20_000)], dtype=object)
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    lengths = rng.integers(8, 40, n)
    drawn = vocabulary[rng.choice(len(vocabulary), int(lengths.sum()), p=weights / weights.sum())]
    terms = np.split(drawn, np.cumsum(lengths)[:-1])
    courses = max(n // 2, 1)
    documents = [
        Document(id=f"course:{i}", kind="course", title=f"课程{i}", phrasings=(str(i),), course_id=f"course:{i}") if i < courses
        else Document(id=f"faq:{i}", kind="faq", title=f"问题{i}", phrasings=(str(i),), course_id=f"course:{i % courses}" if i % 3 else None)
        for i in range(n)
    ]
    return vectors, documents, [list(t) for t in terms], (vocabulary, weights / weights.sum())


def synthetic_queries(vectors: np.ndarray, terms: list[list[str]], zipf, count: int, rng: np.random.Generator):
    """A noisy copy of a stored vector, and two of that document's terms plus two common ones."""
    vocabulary, p = zipf
    queries = []
    for item in rng.integers(0, len(vectors), count):
        vector = vectors[item] + 0.05 * rng.standard_normal(vectors.shape[1]).astype(np.float32)
        own = [str(t) for t in rng.choice(terms[item], size=min(2, len(terms[item])), replace=False)]
        queries.append((vector / np.linalg.norm(vector), own + list(vocabulary[rng.choice(len(vocabulary), 2, p=p)])))
    return queries
