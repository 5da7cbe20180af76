"""Exact one-sided Fisher tests, their minimum attainable p-values and the exact p <= alpha rule.

Pure and stdlib-only: no numpy/scipy, no I/O, no environment, so the same
counts always give the same verdict on a laptop and in CI.

Why exact arithmetic
    Eval suites run a handful of trials per scenario (3 a side is typical), so
    the p-values that matter sit on a coarse lattice of exact rationals, and
    they land *exactly* on common thresholds: PR 0/3 against baseline 3/3 has
    p = 1/20, exactly alpha = 0.05. Summed in floats, that p could come out a
    hair above or below 0.05 depending on summation order and library, and the
    gate would flip on rounding noise. So the hypergeometric tails are summed
    as integers (``math.comb``) and returned as one ``Fraction``; no float
    touches the p-value path.

Why one-sided
    The gate asks two directional questions, "is the PR worse?" (a regression
    fails the gate) and "is the PR better?" (an improvement is reported), and
    acts differently on each. A two-sided test would spend half its alpha on
    the direction we are not asking about, and would call a large improvement
    "significant" in the same breath as a regression. Hence ``fisher_worse``
    (left tail) and ``fisher_better`` (right tail), each its own one-sided test.

Why ``p <= alpha``
    This is the textbook rejection rule (the test's size is P(p <= alpha) <=
    alpha), and with exact p-values the boundary is actually reachable: 1/20
    at alpha 0.05 rejects. ``alpha`` arrives as a float from config, so it is
    read as the decimal the user wrote (``Fraction(str(0.05)) == 1/20``), not
    as the binary float 0.05000000000000000277..., which would also make 1/20
    reject but only by accident of rounding direction.

Wilson and Benjamini-Hochberg results are floats: they are for display and
ranking, not for the exact pass/fail boundary.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

from evalbot.core.decimals import decimal as _exact_alpha

# Suites repeat the same few tables over and over (3 trials a side gives at most
# 16 distinct tables), and a benchmark runs 100,000 scenarios, so the tails are
# memoized. Fractions are immutable, so sharing cached results is safe.
_CACHE_SIZE = 65536


def _check_cell(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"{name} must be a non-negative count, got {value}")


def _check_counts(side: str, passed: int, total: int) -> None:
    if total < 0 or passed < 0:
        raise ValueError(f"{side}: counts must be non-negative, got {passed}/{total}")
    if passed > total:
        raise ValueError(f"{side}: passed ({passed}) exceeds total ({total})")


def _hypergeom_weight_sum(row1: int, row2: int, col1: int, k_from: int, k_to: int) -> int:
    """Sum of C(row1, k) * C(row2, col1 - k) for k in [k_from, k_to] (empty range -> 0).

    Each term is the number of tables with A == k; dividing by C(N, col1) gives
    P(A == k). Summing the integer weights first and dividing once keeps the
    result exact and avoids building a Fraction per term.
    """
    return sum(math.comb(row1, k) * math.comb(row2, col1 - k) for k in range(k_from, k_to + 1))


def _tail(a: int, b: int, c: int, d: int, *, left: bool) -> Fraction:
    """P(A <= a) if ``left`` else P(A >= a), for A hypergeometric with the table's margins."""
    for name, value in (("a", a), ("b", b), ("c", c), ("d", d)):
        _check_cell(name, value)
    row1, row2 = a + b, c + d
    if row1 == 0 or row2 == 0:
        # One side has no trials: there is no comparison to make, so no evidence.
        return Fraction(1)
    col1 = a + c
    total = math.comb(row1 + row2, col1)  # Vandermonde: the sum of all weights.
    k_min, k_max = max(0, col1 - row2), min(row1, col1)
    want_from, want_to = (k_min, a) if left else (a, k_max)
    # Sum whichever side of the support is shorter: the complement is exact too
    # (integers), so this only saves time on large, lopsided tables.
    wanted_len = want_to - want_from + 1
    if wanted_len <= (k_max - k_min + 1) - wanted_len:
        weight = _hypergeom_weight_sum(row1, row2, col1, want_from, want_to)
    else:
        rest_from, rest_to = (a + 1, k_max) if left else (k_min, a - 1)
        weight = total - _hypergeom_weight_sum(row1, row2, col1, rest_from, rest_to)
    return Fraction(weight, total)


def two_sided_at_most(
    pr_passed: int, pr_total: int, base_passed: int, base_total: int, level: Fraction
) -> bool:
    """Whether 2 min(fisher_worse, fisher_better) <= ``level``, decided exactly.

    The same decision as computing both one-sided p-values, from integer tail
    weights over one common denominator, without building a Fraction (their
    normalising gcd on large binomial coefficients is most of a tail's cost),
    and the larger tail from the smaller one: left + right = total + P(A = a)
    (issue 14: a 10-run window asks this thousands of times).

    Raises:
        ValueError: if a count is negative or passed exceeds total.
    """
    _check_counts("pr", pr_passed, pr_total)
    _check_counts("baseline", base_passed, base_total)
    if pr_total == 0 or base_total == 0:
        return level >= 2  # both p-values are 1
    return within_level(
        pr_passed, pr_total, base_passed, base_total, level.numerator, level.denominator
    )


def within_level(
    pr_passed: int,
    pr_total: int,
    base_passed: int,
    base_total: int,
    numerator: int,
    denominator: int,
) -> bool:
    """``two_sided_at_most`` at the level numerator / denominator, for counts already
    checked with both totals > 0.

    Each tail holds the observed table's own weight P(A = a): when twice that weight
    alone is above the level, the answer is no without summing a tail (most of a
    window's older runs agree with the pool: issue 14, thousands of distinct tests).
    """
    a, row1, row2 = pr_passed, pr_total, base_total
    col1 = pr_passed + base_passed
    total = math.comb(row1 + row2, col1)
    at_a = math.comb(row1, a) * math.comb(row2, col1 - a)
    if 2 * at_a * denominator > numerator * total:
        return False
    left, right = _tails(a, row1, row2, col1, total, at_a)
    return 2 * min(left, right) * denominator <= numerator * total


def fisher_tails(
    pr_passed: int, pr_total: int, base_passed: int, base_total: int
) -> tuple[Fraction, Fraction, Fraction, Fraction]:
    """(fisher_worse, fisher_better, min_attainable_worse, min_attainable_better) of one
    table, from one set of integer weights.

    The same four exact values as the four functions (left + right = total +
    P(A = a); the minimum attainable tails are the end weights of the support),
    without building each tail's weights and checks again: a 10-run window asks
    for about 1,500 distinct tables at 10,000 scenarios (issue 14).

    Raises:
        ValueError: if a count is negative or passed exceeds total.
    """
    _check_counts("pr", pr_passed, pr_total)
    _check_counts("baseline", base_passed, base_total)
    if pr_total == 0 or base_total == 0:
        one = Fraction(1)
        return one, one, one, one
    left, right, total = tail_weights(pr_passed, pr_total, base_passed, base_total)
    row1, row2, col1 = pr_total, base_total, pr_passed + base_passed
    k_min, k_max = max(0, col1 - row2), min(row1, col1)
    lowest = math.comb(row1, k_min) * math.comb(row2, col1 - k_min)
    highest = math.comb(row1, k_max) * math.comb(row2, col1 - k_max)
    return (
        Fraction(left, total),
        Fraction(right, total),
        Fraction(lowest, total),
        Fraction(highest, total),
    )


@lru_cache(maxsize=_CACHE_SIZE)
def fisher_left_tail(a: int, b: int, c: int, d: int) -> Fraction:
    """Exact left tail P(A <= a) of Fisher's test for the 2x2 table [[a, b], [c, d]].

    A is the top-left cell under the hypergeometric distribution with the
    table's row and column margins fixed. A table with an empty row returns 1.

    Raises:
        ValueError: if any cell is negative.
    """
    return _tail(a, b, c, d, left=True)


@lru_cache(maxsize=_CACHE_SIZE)
def fisher_right_tail(a: int, b: int, c: int, d: int) -> Fraction:
    """Exact right tail P(A >= a) of Fisher's test for the 2x2 table [[a, b], [c, d]].

    See :func:`fisher_left_tail`; a table with an empty row returns 1.

    Raises:
        ValueError: if any cell is negative.
    """
    return _tail(a, b, c, d, left=False)


def fisher_worse(pr_passed: int, pr_total: int, base_passed: int, base_total: int) -> Fraction:
    """One-sided Fisher exact p-value that the PR's pass rate is LOWER than the baseline's.

    The 2x2 table is [[pr_passed, pr_failed], [base_passed, base_failed]] and
    the result is its left tail P(A <= pr_passed): the chance, if PR and
    baseline were equally good, of the PR getting this few passes or fewer.
    Returns ``Fraction(1)`` when either side has no trials.

    Raises:
        ValueError: if a count is negative or passed exceeds total.
    """
    _check_counts("pr", pr_passed, pr_total)
    _check_counts("baseline", base_passed, base_total)
    return fisher_left_tail(pr_passed, pr_total - pr_passed, base_passed, base_total - base_passed)


def fisher_better(pr_passed: int, pr_total: int, base_passed: int, base_total: int) -> Fraction:
    """One-sided Fisher exact p-value that the PR's pass rate is HIGHER than the baseline's.

    The right tail P(A >= pr_passed) of the same table as :func:`fisher_worse`.
    Returns ``Fraction(1)`` when either side has no trials.

    Raises:
        ValueError: if a count is negative or passed exceeds total.
    """
    _check_counts("pr", pr_passed, pr_total)
    _check_counts("baseline", base_passed, base_total)
    return fisher_right_tail(pr_passed, pr_total - pr_passed, base_passed, base_total - base_passed)


def significant(p: Fraction, alpha: float) -> bool:
    """Whether to reject at level ``alpha``: ``p <= alpha``, decided exactly.

    ``alpha`` is read as its decimal (``Fraction(str(alpha))``, so 0.05 is
    exactly 1/20) and compared to the exact ``p``; a p-value sitting exactly
    on the threshold rejects.

    Raises:
        ValueError: if ``alpha`` is NaN or infinite.
    """
    return p <= _exact_alpha(alpha)


@lru_cache(maxsize=_CACHE_SIZE)
def min_attainable_worse(pr_total: int, base_total: int, passed_total: int) -> Fraction:
    """The smallest ``fisher_worse`` p-value possible with these margins.

    Fisher's test conditions on the margins, so with few failures in total a
    scenario cannot reach a small p-value whatever the PR does (3/3 vs 33/33
    with one failure in all). Tarone (1990) uses this to leave such tests out
    of the multiplicity correction: they can never be rejected, so counting
    them only costs the others power.
    """
    low = max(0, passed_total - base_total)
    if pr_total == 0 or base_total == 0:
        return Fraction(1)
    return fisher_left_tail(
        low, pr_total - low, passed_total - low, base_total - passed_total + low
    )


@lru_cache(maxsize=_CACHE_SIZE)
def min_attainable_better(pr_total: int, base_total: int, passed_total: int) -> Fraction:
    """The smallest ``fisher_better`` p-value possible with these margins.

    The mirror of :func:`min_attainable_worse`, for the improvement family:
    the right tail at the most PR passes the margins allow.
    """
    if pr_total == 0 or base_total == 0:
        return Fraction(1)
    high = min(pr_total, passed_total)
    return fisher_right_tail(
        high, pr_total - high, passed_total - high, base_total - passed_total + high
    )


def tail_weights(
    pr_passed: int, pr_total: int, base_passed: int, base_total: int
) -> tuple[int, int, int]:
    """Integer weights of the table's lower tail P(A <= a), upper tail P(A >= a) and the
    whole support, over one common denominator; counts already checked, both totals > 0.

    Only the shorter side of the support is summed: left + right = total + P(A = a).
    """
    a, row1, row2 = pr_passed, pr_total, base_total
    col1 = pr_passed + base_passed
    total = math.comb(row1 + row2, col1)
    at_a = math.comb(row1, a) * math.comb(row2, col1 - a)
    left, right = _tails(a, row1, row2, col1, total, at_a)
    return left, right, total


def _tails(a: int, row1: int, row2: int, col1: int, total: int, at_a: int) -> tuple[int, int]:
    """(left, right) tail weights given the support's ``total`` and ``at_a`` = P(A = a)'s weight."""
    k_min, k_max = max(0, col1 - row2), min(row1, col1)
    if a - k_min <= k_max - a:
        left = _hypergeom_weight_sum(row1, row2, col1, k_min, a)
        return left, total - left + at_a
    right = _hypergeom_weight_sum(row1, row2, col1, a, k_max)
    return total - right + at_a, right
