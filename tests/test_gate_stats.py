"""Mann–Whitney U, pinned to hand-computed examples and to a brute-force count of the definition."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline.gating.stats import mann_whitney_u, median, midranks, min_attainable_p, separated, u_statistic


def test_u_and_exact_p_hand_computed() -> None:
    """baseline [2, 3, 5, 7], current [1, 4, 6].

    U(current) counts pairs where current wins: 1 beats none, 4 beats 2 and 3, 6 beats 2, 3, 5,
    so U = 0 + 2 + 3 = 5 (and U(baseline) = 12 − 5 = 7). Under the null, the C(7, 3) = 35
    orderings give U = 0…12 with counts 1 1 2 3 4 4 5 4 4 3 2 1 1 (partitions of U into at most
    3 parts of at most 4). P(U ≤ 5) = (1+1+2+3+4+4)/35 = 15/35, P(U ≥ 5) = 24/35, so the
    two-sided p = 2 · 15/35 = 6/7.
    """
    test = mann_whitney_u([2, 3, 5, 7], [1, 4, 6])
    assert test.u_current == 5
    assert test.u_baseline == 7
    assert test.method == "exact"
    assert test.p_value == pytest.approx(6 / 7, abs=1e-12)


def test_complete_separation_of_three_against_three_cannot_reach_five_percent() -> None:
    # All 3 current samples above all 3 baseline ones: U = 9, the most extreme of C(6,3) = 20
    # orderings on each side, two-sided p = 2/20.
    test = mann_whitney_u([1.0, 1.1, 1.2], [2.0, 2.1, 2.2])
    assert test.u_current == 9
    assert test.p_value == pytest.approx(0.1)
    assert min_attainable_p(3, 3) == pytest.approx(0.1)
    assert min_attainable_p(4, 4) == pytest.approx(2 / 70)  # 4 steps each can reach 5 %
    assert min_attainable_p(5, 5) == pytest.approx(2 / 252)


def test_normal_approximation_with_ties_hand_computed() -> None:
    """baseline [1, 2, 2, 3], current [2, 3, 4, 5]; pooled ranks: 1 → 1; the three 2s share
    ranks 2–4 → 3; the two 3s share 5–6 → 5.5; 4 → 7; 5 → 8.
    R(baseline) = 1 + 3 + 3 + 5.5 = 12.5, U(baseline) = 12.5 − 4·5/2 = 2.5, U(current) = 13.5.
    Mean n1·n2/2 = 8. Tie correction: Σ(t³ − t) = (27 − 3) + (8 − 2) = 30, N = 8, so
    σ² = 16/12 · (9 − 30/56) = 11.2857 and σ = 3.3594. With continuity correction
    z = (|13.5 − 8| − 0.5) / 3.3594 = 1.4884; Φ(1.4884) ≈ 0.93167 (table, interpolated), so the
    two-sided p = 2 · (1 − 0.93167) = 0.1367.
    """
    test = mann_whitney_u([1, 2, 2, 3], [2, 3, 4, 5], method="normal")
    assert midranks([1, 2, 2, 3, 2, 3, 4, 5]) == [1, 3, 3, 5.5, 3, 5.5, 7, 8]
    assert test.u_current == 13.5
    assert test.method == "normal"
    assert test.p_value == pytest.approx(0.1367, abs=2e-4)


def _brute_force_p(baseline: list[float], current: list[float]) -> float:
    """Straight from the definition: U by pairwise comparison, over every way of choosing which
    pooled observations are the 'current' ones."""
    def u(first: list[float], second: list[float]) -> float:
        return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in first for y in second)

    pooled = baseline + current
    observed = u(current, baseline)
    low = high = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(current)):
        picked = [pooled[i] for i in chosen]
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        value = u(picked, rest)
        total += 1
        low += value <= observed + 1e-9
        high += value >= observed - 1e-9
    return min(1.0, 2 * min(low, high) / total)


samples = st.lists(st.integers(min_value=0, max_value=6).map(float), min_size=1, max_size=6)


@settings(max_examples=120, deadline=None)
@given(samples, samples)
def test_exact_p_matches_the_definition(baseline: list[float], current: list[float]) -> None:
    test = mann_whitney_u(baseline, current, method="exact")
    assert test.p_value == pytest.approx(_brute_force_p(baseline, current), abs=1e-12)
    assert test.u_current + test.u_baseline == len(baseline) * len(current)


@settings(max_examples=60, deadline=None)
@given(samples, samples)
def test_p_is_symmetric_in_the_two_samples(baseline: list[float], current: list[float]) -> None:
    assert mann_whitney_u(baseline, current).p_value == pytest.approx(mann_whitney_u(current, baseline).p_value)


def test_normal_approximation_is_close_to_exact_for_larger_samples() -> None:
    baseline = [1.0 + 0.01 * i for i in range(20)]
    current = [1.05 + 0.01 * i for i in range(20)]
    exact = mann_whitney_u(baseline, current, method="exact").p_value
    normal = mann_whitney_u(baseline, current, method="normal").p_value
    assert abs(exact - normal) < 0.01


def test_all_values_tied_gives_no_evidence() -> None:
    assert mann_whitney_u([1.0] * 30, [1.0] * 30).p_value == 1.0


def test_rejects_empty_and_nan() -> None:
    with pytest.raises(ValueError):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError):
        mann_whitney_u([math.nan, 1.0], [1.0])


def test_helpers() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert u_statistic([3.0], [1.0, 2.0]) == 2.0
    assert separated([1.0, 2.0], [3.0, 4.0]) == "higher"
    assert separated([3.0, 4.0], [1.0, 2.0]) == "lower"
    assert separated([1.0, 3.0], [2.0, 4.0]) is None
