"""Small-sample statistics for the regression gate: Fisher tests, Wilson intervals, BH.

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
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache

__all__ = [
    "Z_95",
    "benjamini_hochberg",
    "cmh_worse",
    "fisher_better",
    "fisher_left_tail",
    "fisher_right_tail",
    "fisher_worse",
    "min_attainable_worse",
    "significant",
    "tarone_bh",
    "wilson_interval",
]

#: Two-sided 95% standard-normal quantile, Phi^-1(0.975).
Z_95 = 1.959963984540054

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


# typed=True: 1, 1.0 and True hash alike but stringify differently ("1", "1.0",
# "True"), so they must not share a cache slot.
@lru_cache(maxsize=256, typed=True)
def _exact_alpha(alpha: float) -> Fraction:
    # str() gives the shortest decimal that round-trips, i.e. what the user
    # wrote in the config: 0.05 -> 1/20, not the binary 0.05000000000000000277.
    return Fraction(str(alpha))


def significant(p: Fraction, alpha: float) -> bool:
    """Whether to reject at level ``alpha``: ``p <= alpha``, decided exactly.

    ``alpha`` is read as its decimal (``Fraction(str(alpha))``, so 0.05 is
    exactly 1/20) and compared to the exact ``p``; a p-value sitting exactly
    on the threshold rejects.

    Raises:
        ValueError: if ``alpha`` is NaN or infinite.
    """
    return p <= _exact_alpha(alpha)


def wilson_interval(passed: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a pass rate (95% by default), clamped to [0, 1].

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not
    collapse to a point at 0/n or n/n, which matters with 3-10 trials.
    ``total == 0`` gives the uninformative ``(0.0, 1.0)``.

    Raises:
        ValueError: if a count is negative, passed exceeds total, or ``z`` is
            negative or not finite.
    """
    _check_counts("wilson", passed, total)
    if not (math.isfinite(z) and z >= 0):
        raise ValueError(f"z must be a finite non-negative number, got {z}")
    if total == 0:
        return 0.0, 1.0
    n = total
    p_hat = passed / n
    z2 = z * z
    denom = 1 + z2 / n
    center = (p_hat + z2 / (2 * n)) / denom
    half = (z / denom) * math.sqrt(p_hat * (1 - p_hat) / n + z2 / (4 * n * n))
    # At 0/n and n/n the bound is exactly 0 (resp. 1) in closed form; pin it so
    # float cancellation does not report a 1e-17 lower bound for zero passes.
    low = 0.0 if passed == 0 else max(0.0, center - half)
    high = 1.0 if passed == total else min(1.0, center + half)
    return low, high


def _as_ratio(p: float | Fraction) -> tuple[int, int]:
    # Range check first: it also rejects NaN (every comparison is False) and
    # gives one clear error instead of as_integer_ratio's OverflowError on inf.
    if not 0 <= p <= 1:
        raise ValueError(f"p-values must lie in [0, 1], got {p!r}")
    # Exact for floats and Fractions alike: a float is a dyadic rational.
    return p.as_integer_ratio()


def benjamini_hochberg(pvalues: Sequence[float | Fraction]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    With the p-values sorted ascending as p_(1) <= ... <= p_(m),
    q_(i) = min over j >= i of p_(j) * m / j, capped at 1; the running minimum
    keeps q monotone in p (and gives tied p-values the same q). Rejecting where
    q <= alpha controls the false discovery rate at alpha. Empty input gives [].

    The arithmetic is exact and each q is rounded to float once, at the end,
    so a q does not depend on the order of float operations.

    Raises:
        ValueError: if a p-value is outside [0, 1] or NaN.
    """
    m = len(pvalues)
    ratios = [_as_ratio(p) for p in pvalues]
    # Sorting on the raw values is already exact: Python compares floats and
    # Fractions with each other exactly.
    order = sorted(range(m), key=pvalues.__getitem__)
    qvalues = [1.0] * m
    # The running minimum as an integer pair num/den rather than a Fraction:
    # cross-multiplying ints is exact and several times faster than Fraction
    # arithmetic (which normalizes with a gcd at every step), and BH may run
    # over every scenario of a 100,000-scenario suite. Starting at 1 is the cap.
    best_num, best_den, best_float = 1, 1, 1.0
    for rank in range(m, 0, -1):
        index = order[rank - 1]
        num, den = ratios[index]
        num, den = num * m, den * rank
        if num * best_den < best_num * den:
            # int / int is correctly rounded, so this is float(exact q).
            best_num, best_den, best_float = num, den, num / den
        qvalues[index] = best_float
    return qvalues


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


def tarone_bh(
    pvalues: Sequence[Fraction], min_pvalues: Sequence[Fraction], alpha: float
) -> tuple[list[bool], list[float | None], int]:
    """Benjamini-Hochberg on the tests that can reach significance (after Gilbert, 2005).

    Find the smallest K with M(K) <= K, where M(K) counts the tests whose
    minimum attainable p-value is <= alpha / K, and apply BH at level
    ``alpha`` to those M(K) tests only. When that family is empty — many
    tests share a moderate minimum p, e.g. thousands of 0/5 vs 5/5 tables —
    use every test whose minimum p is <= alpha instead (those are the only
    ones BH could ever reject). Either family depends on the margins alone,
    and Fisher's p-values are valid conditionally on the margins, so BH on
    it controls the false discovery rate at ``alpha`` for independent tests
    — and so, when nothing changed, the chance of any rejection — while not
    charging for tests that could never reject (see ``min_attainable_worse``).

    Returns the rejections, the q-values (None for tests left out) and the
    family size M(K).
    """
    m = len(pvalues)
    limit = _exact_alpha(alpha)
    ordered_min = sorted(min_pvalues)
    cutoff = limit  # alpha / K once K is found; K = m at the latest
    for k in range(1, m + 1):
        # M(k): how many minimum p-values are <= alpha / k (ordered_min is sorted).
        if _count_at_most(ordered_min, limit / k) <= k:
            cutoff = limit / k
            break
    family = [i for i in range(m) if min_pvalues[i] <= cutoff]
    if not family:
        family = [i for i in range(m) if min_pvalues[i] <= limit]
    rejected = [False] * m
    q_out: list[float | None] = [None] * m
    if not family:
        return rejected, q_out, 0
    size = len(family)
    for i, q in zip(family, benjamini_hochberg([pvalues[i] for i in family]), strict=True):
        q_out[i] = q
    # The step-up decision itself is exact: reject the r smallest p-values,
    # r = max{i : p_(i) <= i * alpha / size}.
    ranked = sorted(family, key=lambda i: pvalues[i])
    count = 0
    for rank, i in enumerate(ranked, start=1):
        if pvalues[i] <= limit * rank / size:
            count = rank
    for i in ranked[:count]:
        rejected[i] = True
    return rejected, q_out, size


def _count_at_most(ordered: Sequence[Fraction], threshold: Fraction) -> int:
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid] <= threshold:
            lo = mid + 1
        else:
            hi = mid
    return lo


def cmh_worse(tables: Sequence[tuple[int, int, int, int]]) -> tuple[float, float]:
    """One-sided Cochran-Mantel-Haenszel test that the PR passes less, across strata.

    Each table is (pr_passed, pr_total, base_passed, base_total) for one
    scenario. The statistic sums, over scenarios, the PR's passes minus their
    expectation given the margins, divided by the square root of the summed
    hypergeometric variances, with a continuity correction of 1/2; p is the
    normal lower tail. A broad, moderate drop across many scenarios shows up
    here even when no single scenario is significant. Returns (z, p); (0, 1)
    when no stratum carries information.
    """
    deviation = 0.0
    variance = 0.0
    for pr_passed, pr_total, base_passed, base_total in tables:
        n = pr_total + base_total
        passed = pr_passed + base_passed
        if pr_total == 0 or base_total == 0 or n < 2 or passed in (0, n):
            continue
        deviation += pr_passed - pr_total * passed / n
        variance += pr_total * base_total * passed * (n - passed) / (n * n * (n - 1))
    if variance <= 0:
        return 0.0, 1.0
    # Continuity correction towards zero (Mantel-Haenszel), capped so it never
    # flips the sign.
    corrected = deviation + min(0.5, abs(deviation)) if deviation < 0 else deviation
    z = corrected / math.sqrt(variance)
    return z, 0.5 * math.erfc(-z / math.sqrt(2))
