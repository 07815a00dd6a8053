"""The few statistics the summary states: percentiles, ratios, a two-proportion z-test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def ratio(part: float, whole: float) -> float | None:
    """part / whole, or None when there is nothing to divide (an empty day is "no data", not 0 %)."""
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class ProportionTest:
    """Two-sided two-proportion z-test with pooled variance: is variant B's rate different from A's?"""

    successes_a: int
    trials_a: int
    successes_b: int
    trials_b: int
    z: float | None
    p_value: float | None

    @property
    def rate_a(self) -> float | None:
        return ratio(self.successes_a, self.trials_a)

    @property
    def rate_b(self) -> float | None:
        return ratio(self.successes_b, self.trials_b)

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value is not None and self.p_value < alpha


def two_proportion_z_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> ProportionTest:
    """z = (p_b − p_a) / √(p(1−p)(1/n_a + 1/n_b)), p pooled; p-value = erfc(|z|/√2).

    Undefined (None) when a variant has no trials or the pooled rate is 0 or 1 (no variance).
    """
    if trials_a <= 0 or trials_b <= 0:
        return ProportionTest(successes_a, trials_a, successes_b, trials_b, None, None)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return ProportionTest(successes_a, trials_a, successes_b, trials_b, None, None)
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return ProportionTest(successes_a, trials_a, successes_b, trials_b, z, math.erfc(abs(z) / math.sqrt(2)))
