"""Statistics for comparing noisy timings: the Mann–Whitney U rank test, in pure Python.

Why a rank test: GPU step times are skewed (a step that hits a page fault or a clock dip is
slower, never faster), so a t-test's normality assumption is wrong exactly where it matters; the
rank test assumes nothing about the shape. asv makes the same choice.

Why our own implementation: scipy is a heavy dependency for twenty lines of arithmetic. The
definitions follow Mann & Whitney (1947) and the tie-corrected variance in Lehmann,
*Nonparametrics* (1975), eq. 1.73; tests/test_gate_stats.py pins them to hand-computed examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

# The exact null distribution (with or without ties) comes from a counting table whose size grows
# as n³; past this many samples in all, the normal approximation is accurate and cheaper.
MAX_EXACT_SIZE = 60

Method = Literal["auto", "exact", "normal"]


@dataclass(frozen=True)
class RankTest:
    """Outcome of a two-sided Mann–Whitney U test of ``current`` against ``baseline``."""

    u_current: float  # pairs (c, b) with c > b, ties counting 1/2
    u_baseline: float
    p_value: float  # two-sided
    method: Literal["exact", "normal"]
    n_baseline: int
    n_current: int


def median(values: list[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def midranks(values: list[float]) -> list[float]:
    """1-based ranks of ``values``; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2.0 + 1.0
        for position in range(start, end + 1):
            ranks[order[position]] = shared
        start = end + 1
    return ranks


def u_statistic(first: list[float], second: list[float]) -> float:
    """U of ``first``: the number of pairs in which ``first`` is larger, ties counting 1/2."""
    ranks = midranks(first + second)
    rank_sum = sum(ranks[: len(first)])
    return rank_sum - len(first) * (len(first) + 1) / 2.0


def min_attainable_p(n_baseline: int, n_current: int) -> float:
    """The smallest two-sided p-value the exact test can give at these sizes (complete separation).

    With 3 steps against 3 steps it is 2 / C(6, 3) = 0.1: no outcome is significant at 5 %, which
    is why the gate falls back to another rule there (see compare.py).
    """
    if n_baseline < 1 or n_current < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n_baseline + n_current, n_baseline))


def mann_whitney_u(baseline: list[float], current: list[float], *, method: Method = "auto") -> RankTest:
    """Two-sided Mann–Whitney U test.

    ``auto`` is exact when that is cheap — from the null distribution's recurrence without ties,
    by enumerating assignments of midranks with ties — and otherwise the normal approximation
    with tie correction and a continuity correction of 1/2.
    """
    n1, n2 = len(baseline), len(current)
    if n1 < 1 or n2 < 1:
        raise ValueError("each side needs at least one sample")
    if any(math.isnan(x) for x in baseline + current):
        raise ValueError("samples contain NaN")
    u_current = u_statistic(current, baseline)
    u_baseline = n1 * n2 - u_current
    pooled = baseline + current
    ties = len(set(pooled)) < len(pooled)
    if method == "auto":
        method = "exact" if n1 + n2 <= MAX_EXACT_SIZE else "normal"
    if method == "exact":
        if ties:
            p = _exact_p_with_ties(baseline, current, u_current)
        else:
            p = _exact_p_no_ties(n1, n2, u_current)
        return RankTest(u_current, u_baseline, p, "exact", n1, n2)
    return RankTest(u_current, u_baseline, _normal_p(baseline, current, u_current), "normal", n1, n2)


def _u_counts(n1: int, n2: int) -> list[int]:
    """How many of the C(n1+n2, n1) orderings give each U = 0 … n1·n2 (Mann & Whitney's
    recurrence: the largest observation belongs to one side or the other).
    """
    # table[j][u] for sizes (i, j), built up over i.
    previous = [[1] + [0] * (n1 * n2) for _ in range(n2 + 1)]  # i = 0: U is 0, one ordering
    for i in range(1, n1 + 1):
        row = [[0] * (n1 * n2 + 1) for _ in range(n2 + 1)]
        row[0][0] = 1
        for j in range(1, n2 + 1):
            for u in range(i * j + 1):
                # Largest is from the first sample: it beats all j of the second (adds j to U).
                from_first = previous[j][u - j] if u >= j else 0
                from_second = row[j - 1][u]
                row[j][u] = from_first + from_second
        previous = row
    return previous[n2]


def _exact_p_no_ties(n1: int, n2: int, u: float) -> float:
    # U of the current sample counts pairs where current wins; its null law is that of sizes (n2, n1).
    counts = _u_counts(n2, n1)
    total = math.comb(n1 + n2, n1)
    at_most = sum(counts[: int(math.floor(u)) + 1])
    at_least = sum(counts[int(math.ceil(u)) :])
    return min(1.0, 2.0 * min(at_most, at_least) / total)


def _exact_p_with_ties(baseline: list[float], current: list[float], u_observed: float) -> float:
    """Permutation distribution of U given the observed midranks (the conditional exact test).

    Counted, not enumerated: doubled midranks are integers, so the number of ways to pick the
    current sample's n2 positions with each rank sum comes from a subset-sum table in
    O((n1+n2) · n2 · Σranks) steps instead of C(n1+n2, n2) assignments.
    """
    n1, n2 = len(baseline), len(current)
    doubled = [int(round(2 * r)) for r in midranks(baseline + current)]
    max_sum = sum(sorted(doubled)[-n2:])
    # ways[k][s]: subsets of k positions whose doubled ranks sum to s.
    ways = [[0] * (max_sum + 1) for _ in range(n2 + 1)]
    ways[0][0] = 1
    for rank in doubled:
        for k in range(n2, 0, -1):
            below, row = ways[k - 1], ways[k]
            for s in range(max_sum, rank - 1, -1):
                if below[s - rank]:
                    row[s] += below[s - rank]
    offset = n2 * (n2 + 1)  # doubled n2(n2+1)/2
    observed = int(round(2 * u_observed)) + offset
    total = math.comb(n1 + n2, n2)
    at_most = sum(ways[n2][: observed + 1])
    at_least = sum(ways[n2][observed:])
    return min(1.0, 2.0 * min(at_most, at_least) / total)


def _normal_p(baseline: list[float], current: list[float], u: float) -> float:
    n1, n2 = len(baseline), len(current)
    n = n1 + n2
    pooled = baseline + current
    counts: dict[float, int] = {}
    for value in pooled:
        counts[value] = counts.get(value, 0) + 1
    tie_term = sum(t**3 - t for t in counts.values())
    mean = n1 * n2 / 2.0
    variance = n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return 1.0  # every value tied: no evidence of a difference
    z = max(abs(u - mean) - 0.5, 0.0) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def separated(baseline: list[float], current: list[float]) -> Literal["higher", "lower", None]:
    """Whether every current sample lies above (``higher``) or below (``lower``) every baseline
    sample — the most extreme outcome a rank test can see."""
    if min(current) > max(baseline):
        return "higher"
    if max(current) < min(baseline):
        return "lower"
    return None
