"""The answer thresholds recalibrated from the creator's reviewed replies toward `[matching] target_precision`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retrieval.search import AbstainThreshold, Recalibration, recalibrate_threshold

# How much feedback may move the thresholds either way (docs/learning.md "Thresholds from feedback"). Until
# then reviewed answers can only tighten them.
MIN_REVIEWED = 100  # reviewed FAQ replies
MIN_NEAR = 30  # of which within NEAR of the shipped `min_dense`
NEAR = 0.05
MIN_WRONG = 5  # wrong replies at or above the cut before it tightens
FLOOR = 0.70  # `min_dense` never goes below this, whatever the feedback
CEILING = 0.95  # nor above this: wrong replies at higher cosines say the entry's answer is wrong, not the match


def recalibrated(shipped: AbstainThreshold, feedback: Sequence[tuple[float, float, bool]],
                 target_precision: float) -> tuple[AbstainThreshold, Recalibration]:
    """The thresholds the reviewed replies call for, and how they were chosen.

    A reply let through by strong BM25 (`min_dense_with_terms`) is counted at its cosine plus the shipped gap
    between the two cuts, so both cuts move together and keep that gap."""
    gap = shipped.min_dense - shipped.min_dense_with_terms
    scores = [(dense if dense >= shipped.min_dense or bm25 < shipped.min_bm25 else dense + gap, right) for dense, bm25, right in feedback]
    result = recalibrate_threshold(shipped.min_dense, scores, target_precision=target_precision, min_reviewed=MIN_REVIEWED,
                                   min_near=MIN_NEAR, near=NEAR, min_wrong=MIN_WRONG, floor=FLOOR, ceiling=CEILING)
    if result.cut == shipped.min_dense:
        return shipped, result
    return replace(shipped, min_dense=result.cut, min_dense_with_terms=max(result.cut - gap, 0.0)), result
