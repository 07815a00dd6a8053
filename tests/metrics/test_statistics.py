"""The statistics the summary states: percentiles and the A/B two-proportion z-test."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.stats import norm

from bot.metrics.business import ab_tests, variant_stats
from bot.metrics.rows import Activity, LinkClick, TrackedLink
from bot.metrics.stats import percentile, two_proportion_z_test


def test_percentile_matches_numpy_linear_interpolation() -> None:
    values = [30.0, 600.0, 90.0, 12.0, 7.5]
    for q in (0, 10, 50, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 50) is None


def test_z_test_on_hand_computed_example() -> None:
    # A: 20/100, B: 35/100 → pooled 0.275, SE = √(0.275·0.725·0.02) = 0.063147, z = 0.15 / SE = 2.3754
    test = two_proportion_z_test(20, 100, 35, 100)
    assert test.z == pytest.approx(2.3754, abs=1e-4)
    assert test.p_value == pytest.approx(2 * norm.sf(2.3754), abs=1e-4)
    assert test.p_value == pytest.approx(0.01753, abs=1e-4)
    assert test.significant()
    assert not two_proportion_z_test(20, 100, 24, 100).significant()


def test_z_test_is_undefined_without_trials_or_variance() -> None:
    assert two_proportion_z_test(0, 0, 3, 10).p_value is None
    assert two_proportion_z_test(0, 10, 0, 10).z is None  # nobody clicked either: nothing to compare
    assert two_proportion_z_test(10, 10, 5, 5).z is None


def test_ab_comparison_uses_the_busiest_variant_as_control() -> None:
    at = datetime(2024, 6, 1, tzinfo=UTC)
    links = [TrackedLink(f"a{i}", at, "ask_price", "price-a") for i in range(100)]
    links += [TrackedLink(f"b{i}", at, "ask_price", "price-b") for i in range(80)]
    clicks = [LinkClick(f"a{i}", at) for i in range(20)] + [LinkClick(f"b{i}", at) for i in range(28)]
    clicks.append(LinkClick("b0", at))  # a repeat click counts once for CTR
    stats = variant_stats(Activity(links=links, link_clicks=clicks))
    assert [(s.variant, s.links_sent, s.links_clicked, s.clicks) for s in stats] == [("price-a", 100, 20, 20), ("price-b", 80, 28, 29)]
    [comparison] = ab_tests(stats)
    assert (comparison.control, comparison.variant) == ("price-a", "price-b")
    pooled = 48 / 180
    z = (28 / 80 - 20 / 100) / math.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 80))
    assert comparison.test.z == pytest.approx(z)
    assert comparison.test.p_value == pytest.approx(2 * norm.sf(z))
