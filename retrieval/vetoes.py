"""Negative examples: an answer the creator marked wrong for a comment is not given to near-identical comments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Cosine (m3e-small) at or above which a comment counts as the one the creator corrected. Punctuation and
# particle variants score >= 0.987; about half of real paraphrase pairs (AFQMC) reach 0.93, and a fifth of
# near-miss pairs do: a veto only hands the comment to the creator, so erring that way is cheap (docs/learning.md).
NEAR_IDENTICAL = 0.93


def answer_key(answer_kind: str | None, answer_id: str | None, course_id: str | None) -> str | None:
    """What a reply answered with, as one key a veto can name: `faq:<entry id>` or `<answer kind>:<course id>`."""
    if answer_kind is None:
        return None
    if answer_kind == "faq":
        return f"faq:{answer_id}"
    return f"{answer_kind}:{course_id or ''}"


@dataclass(frozen=True)
class Vetoes:
    """Comment vectors the creator marked a reply wrong for, and the answer each one vetoes."""

    vectors: np.ndarray  # (n, dimension), L2-normalised like every query vector
    answers: tuple[str, ...]
    threshold: float = NEAR_IDENTICAL

    @classmethod
    def none(cls) -> Vetoes:
        return cls(np.zeros((0, 0), dtype=np.float32), ())

    @classmethod
    def of(cls, vectors: np.ndarray, answers: Sequence[str], threshold: float = NEAR_IDENTICAL) -> Vetoes:
        if len(vectors) != len(answers):
            raise ValueError(f"{len(vectors)} vectors for {len(answers)} vetoed answers")
        return cls(np.ascontiguousarray(vectors, dtype=np.float32), tuple(answers), threshold)

    def __len__(self) -> int:
        return len(self.answers)

    def vetoed(self, queries: np.ndarray) -> list[dict[str, float]]:
        """Per query row: the vetoed answers and the cosine of the nearest wrong-reply example that vetoes each."""
        if not self.answers or len(queries) == 0:
            return [{} for _ in range(len(queries))]
        cosines = np.asarray(queries, dtype=np.float32) @ self.vectors.T
        found: list[dict[str, float]] = []
        for row in cosines:
            close: dict[str, float] = {}
            for at in np.flatnonzero(row >= self.threshold).tolist():
                key = self.answers[at]
                close[key] = max(close.get(key, 0.0), round(float(row[at]), 4))
            found.append(close)
        return found
