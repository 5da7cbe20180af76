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

import itertools
import math
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist
from typing import TypeVar

__all__ = [
    "Z_95",
    "benjamini_hochberg",
    "fisher_better",
    "fisher_left_tail",
    "fisher_right_tail",
    "fisher_worse",
    "mean_interval",
    "min_attainable_better",
    "min_attainable_worse",
    "normal_lower_tail",
    "percentile",
    "relative_change",
    "significant",
    "t_lower_tail",
    "t_quantile",
    "tarone_bh",
    "wilcoxon_signed_rank",
    "wilson_interval",
]

# A p-value as a float or an exact Fraction.
_P = TypeVar("_P", Fraction, float | Fraction)

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
    # Sorted through the distinct values (suites repeat a few tables, and comparing
    # Fractions one by one is slow); sorting is exact: Python compares floats and
    # Fractions with each other exactly.
    rank_of, distinct = _ranks(list(pvalues))
    distinct_ratios = [_as_ratio(p) for p in distinct]
    ratios = [distinct_ratios[r] for r in rank_of]
    order = sorted(range(m), key=rank_of.__getitem__)
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
    # Suites repeat a few distinct tables (and the cached tests hand out one object per
    # table), so everything below works on distinct values, ranked once: hashing and
    # comparing Fractions test by test dominated a 500-scenario comparison.
    min_rank, distinct = _ranks(min_pvalues)
    counts = [0] * len(distinct)
    for r in min_rank:
        counts[r] += 1
    cumulative = list(itertools.accumulate(counts))

    def at_most(k: int) -> int:
        """The index past the distinct minimum p-values <= alpha / k."""
        return _count_at_most(distinct, limit / k)

    def fits(k: int) -> bool:
        # M(k) <= k, with M(k) how many minimum p-values are <= alpha / k.
        index = at_most(k)
        return (cumulative[index - 1] if index else 0) <= k

    # M(k) never grows with k and k does, so "M(k) <= k" turns true once and stays
    # true: the smallest such K by bisection (log m steps instead of up to m).
    if m and fits(m):
        low, high = 1, m
        while low < high:
            middle = (low + high) // 2
            if fits(middle):
                high = middle
            else:
                low = middle + 1
        cutoff_rank = at_most(low) - 1
    else:
        cutoff_rank = _count_at_most(distinct, limit) - 1
    family = [i for i in range(m) if min_rank[i] <= cutoff_rank]
    if not family:
        last = _count_at_most(distinct, limit) - 1
        family = [i for i in range(m) if min_rank[i] <= last]
    rejected = [False] * m
    q_out: list[float | None] = [None] * m
    if not family:
        return rejected, q_out, 0
    size = len(family)
    for i, q in zip(family, benjamini_hochberg([pvalues[i] for i in family]), strict=True):
        q_out[i] = q
    # The step-up decision itself is exact: reject the r smallest p-values,
    # r = max{i : p_(i) <= i * alpha / size}, cross-multiplied in integers.
    p_rank, values = _ranks([pvalues[i] for i in family])
    ranked = sorted(range(size), key=p_rank.__getitem__)
    count = 0
    limit_num, limit_den = limit.numerator, limit.denominator
    for rank, j in enumerate(ranked, start=1):
        value = values[p_rank[j]]
        if value.numerator * limit_den * size <= limit_num * rank * value.denominator:
            count = rank
    for j in ranked[:count]:
        rejected[family[j]] = True
    return rejected, q_out, size


def _ranks(values: Sequence[_P]) -> tuple[list[int], list[_P]]:
    """Each value's rank among the distinct values, and those values in ascending order.

    Deduplicated by identity first (cheap), then by value among the distinct objects.
    """
    by_id: dict[int, _P] = {}
    for value in values:
        by_id.setdefault(id(value), value)
    ordered = sorted(by_id.values())
    distinct: list[_P] = []
    rank_of_id: dict[int, int] = {}
    for value in ordered:
        if not distinct or distinct[-1] != value:
            distinct.append(value)
        rank_of_id[id(value)] = len(distinct) - 1
    return [rank_of_id[id(v)] for v in values], distinct


def _count_at_most(ordered: Sequence[Fraction], threshold: Fraction) -> int:
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid] <= threshold:
            lo = mid + 1
        else:
            hi = mid
    return lo


# --- measures beyond pass/fail: t quantiles, mean intervals, Wilcoxon, percentiles ------
#
# Scores, latencies, token counts and costs are real numbers, not pass/fail
# counts, so these are floats throughout: they describe and rank, and the
# metrics they feed are informational (issue 6), not the exact gate above.

# Student-t quantiles are cached: a suite asks for the same few (p, df) pairs
# (one per trial count) for every scenario's interval.
_T_CACHE_SIZE = 1024
# Beyond this many degrees of freedom the incomplete beta's continued fraction
# needs many terms (O(sqrt(df))), while the Cornish-Fisher expansion is accurate
# to double precision (its first omitted term is O(df^-5)).
_T_LARGE_DF = 100_000
# Lentz's method: the smallest number kept away from zero, the convergence test.
_CF_TINY = 1e-300
_CF_EPS = 4 * math.ulp(1.0)
# The standard normal, for its quantile function.
_NORMAL = NormalDist()
# log Gamma(1/2) = log sqrt(pi).
_LOG_GAMMA_HALF = 0.5 * math.log(math.pi)
# Absolute differences within this relative distance rank as ties (Wilcoxon).
_TIE_REL_TOL = 1e-12
# Largest number of nonzero differences for which the exact Wilcoxon null is used.
_WILCOXON_EXACT_MAX = 25


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Numerical Recipes ``betacf``).

    Evaluated with the modified Lentz method; it converges quickly for
    x < (a + 1) / (a + b + 2), which is the only place the caller uses it,
    taking O(sqrt(max(a, b))) terms.

    Raises:
        ArithmeticError: if it has not converged (does not happen for a, b
            below ``_T_LARGE_DF``; the cap only guards against a silent wrong value).
    """
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _CF_TINY:
        d = _CF_TINY
    d = 1.0 / d
    h = d
    max_terms = 1000 + 20 * int(math.sqrt(max(a, b)))
    for m in range(1, max_terms + 1):
        m2 = 2 * m
        # Even step of the recurrence.
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _CF_TINY:
            d = _CF_TINY
        c = 1.0 + aa / c
        if abs(c) < _CF_TINY:
            c = _CF_TINY
        d = 1.0 / d
        h *= d * c
        # Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _CF_TINY:
            d = _CF_TINY
        c = 1.0 + aa / c
        if abs(c) < _CF_TINY:
            c = _CF_TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= _CF_EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b})")


def _log_gamma_ratio_half(a: float) -> float:
    """log(Gamma(a + 1/2) / Gamma(a)), accurate for large a too.

    For a in the thousands lgamma(a + 1/2) and lgamma(a) are both large and
    nearly equal, so their difference keeps few digits of the ~log(a)/2
    wanted (4e-12 relative at a = 5e4). From a = 20 the difference of the
    Stirling series is taken term by term instead: a log1p(1/(2a)) +
    log(a)/2 - 1/2 for the leading terms, plus the differences of the
    1/(12 z) - 1/(360 z^3) + ... corrections, truncated after the z^-9 term
    (the next is below 1e-17 there and shrinks fast as a grows).
    """
    if a < 20.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)

    def correction(z: float) -> float:
        w = 1.0 / (z * z)
        return (
            1.0 / 12.0 - w * (1.0 / 360.0 - w * (1.0 / 1260.0 - w * (1.0 / 1680.0 - w / 1188.0)))
        ) / z

    leading = a * math.log1p(0.5 / a) - 0.5 + 0.5 * math.log(a)
    return leading + (correction(a + 0.5) - correction(a))


def _t_upper_tail(t: float, df: int) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom, for t >= 0.

    P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), the regularized
    incomplete beta function. x and 1 - x = t^2 / (df + t^2) are both formed
    directly (and their logs via log1p), never one as 1 minus the other, so
    neither a far tail (x tiny) nor a small t (x near 1) loses digits to
    cancellation.
    """
    if t == 0:
        return 0.5
    a, b = df / 2.0, 0.5
    t2 = t * t
    if math.isinf(t2):
        return 0.0
    x = df / (df + t2)
    y = t2 / (df + t2)
    log_x = -math.log1p(t2 / df)
    log_y = math.log(y) if y > 0 else -math.inf
    # log of x^a (1-x)^b / B(a, b), the prefactor of both continued fractions.
    log_front = _log_gamma_ratio_half(a) - _LOG_GAMMA_HALF + a * log_x + b * log_y
    if x < (a + 1.0) / (a + b + 2.0):
        beta = math.exp(log_front) * _betacf(a, b, x) / a
    else:
        beta = 1.0 - math.exp(log_front) * _betacf(b, a, y) / b
    return 0.5 * beta


def _t_log_density(t: float, df: int) -> float:
    """The log of the Student-t density at t (the CDF's slope, for Newton steps).

    A log because far in the tail the density itself underflows (t^-(df+1)
    with t ~ 1e100) while the ratio of tail to density Newton needs does not.
    """
    log_norm = _log_gamma_ratio_half(df / 2.0) - 0.5 * math.log(df * math.pi)
    return log_norm - (df + 1) / 2.0 * math.log1p(t * t / df)


def _t_cornish_fisher(tail: float, df: int) -> float:
    """Upper ``tail`` quantile for large df: Abramowitz & Stegun 26.7.5 (Cornish-Fisher).

    t = z + g1(z)/df + g2(z)/df^2 + g3(z)/df^3 + g4(z)/df^4 with z the normal
    quantile; only used for df > ``_T_LARGE_DF``, where the omitted O(df^-5)
    term is far below double precision for any representable tail.
    """
    z = -_NORMAL.inv_cdf(tail)
    z2 = z * z
    g1 = (z2 + 1.0) * z / 4.0
    g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
    g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
    g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
    v = float(df)
    return z + (g1 + (g2 + (g3 + g4 / v) / v) / v) / v


@lru_cache(maxsize=_T_CACHE_SIZE)
def _t_upper_quantile(tail: float, df: int) -> float:
    """The t >= 0 with P(T > t) == ``tail``, for 0 < tail <= 1/2.

    Working from the upper-tail probability rather than p keeps full relative
    precision far in the tail: 1 - p would round p = 1 - 1e-20 to 0.
    """
    if tail == 0.5:
        return 0.0
    if df == 1:
        # Cauchy: P(T > t) = 1/2 - atan(t)/pi, so t = tan(pi (1/2 - tail)) = 1/tan(pi tail).
        # Near the pole the cotangent form is the accurate one, near 0 the tangent.
        if tail < 0.25:
            return 1.0 / math.tan(math.pi * tail)
        return math.tan(math.pi * (0.5 - tail))
    if df == 2:
        # P(T > t) = (1 - t / sqrt(2 + t^2)) / 2, inverted in closed form.
        return (1.0 - 2.0 * tail) / math.sqrt(2.0 * tail * (1.0 - tail))
    if df > _T_LARGE_DF:
        return _t_cornish_fisher(tail, df)
    # Bracket the root: the tail falls as t grows, so square hi until it drops
    # below (far tails reach t ~ 1e100 at df = 3, in a handful of steps).
    lo, hi = 0.0, 2.0
    while _t_upper_tail(hi, df) > tail:
        lo, hi = hi, hi * hi
    # Safeguarded Newton on log P(T > t): the log makes far tails (P ~ C t^-df)
    # close to linear, and a step leaving the bracket falls back to bisection,
    # geometric once the bracket is off zero, since it may span decades.
    log_target = math.log(tail)
    t = 1.0 if lo == 0.0 else math.sqrt(lo * hi)
    for _ in range(400):
        upper = _t_upper_tail(t, df)
        if upper > tail:
            lo = t
        else:
            hi = t
        if upper <= 0.0:
            step = math.nan
        else:
            # d/dt log P(T > t) = -density / P(T > t).
            log_upper = math.log(upper)
            step = (log_upper - log_target) * math.exp(log_upper - _t_log_density(t, df))
        new_t = t + step
        if abs(new_t - t) <= 1e-15 * t:  # False for a NaN step
            return new_t
        if not lo < new_t < hi:
            new_t = 0.5 * hi if lo == 0.0 else math.sqrt(lo * hi)
        if hi - lo <= 1e-15 * hi:
            return new_t
        t = new_t
    return t


def t_lower_tail(t: float, df: int) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (``df`` an integer >= 1).

    The one-sided p-value of a t statistic whose small values are evidence:
    the aggregate test's "the PR passes less than the baseline runs".
    """
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"df must be an integer >= 1, got {df!r}")
    if math.isnan(t):
        raise ValueError("t must not be NaN")
    if t <= 0:
        return _t_upper_tail(-t, df)
    return 1.0 - _t_upper_tail(t, df)


def normal_lower_tail(z: float) -> float:
    """P(Z <= z) for the standard normal, without cancellation in the far lower tail."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t distribution with ``df`` degrees of freedom.

    For the interval of a mean from n values (df = n - 1), where a handful of
    trials makes the normal quantile far too small; stdlib-only, so no scipy.
    The CDF is the regularized incomplete beta function (the Numerical Recipes
    continued fraction, by Lentz's method), inverted by safeguarded Newton
    iteration to about 1e-14 relative (1e-16 absolute near t = 0; 1e-12 as df
    nears 1e5), well inside the 1e-10 anyone reads. df = 1 (Cauchy) and df = 2
    have closed forms, and df above 1e5 uses the Cornish-Fisher expansion,
    exact to double precision there. Both tails come from the smaller tail
    probability, so t_quantile(p, df) == -t_quantile(1 - p, df) up to the
    rounding of 1 - p, and far tails (p = 1e-300) keep their relative precision.

    Raises:
        ValueError: if ``p`` is not strictly between 0 and 1 (or is NaN), or
            ``df`` is not an integer >= 1.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie strictly between 0 and 1, got {p!r}")
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"df must be an integer >= 1, got {df!r}")
    # Both tails are formed exactly: 1 - p is exact for p >= 1/2 (Sterbenz).
    if p > 0.5:
        return _t_upper_quantile(1.0 - p, df)
    return -_t_upper_quantile(p, df)


def _check_finite(name: str, values: Sequence[float]) -> None:
    for value in values:
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite numbers, got {value!r}")


def mean_interval(
    values: Sequence[float], *, confidence: float = 0.95
) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high): the mean and its two-sided Student-t confidence interval.

    low, high = mean -/+ t_{(1 + c)/2, n - 1} * s / sqrt(n), with s the sample
    standard deviation (n - 1 denominator). Student's t rather than the normal
    z because a scenario has a handful of trials: with 3 values the 95%
    multiplier is 4.30, not 1.96, and a z interval would be far too narrow.

    Empty input gives (None, None, None); one value gives (value, None, None),
    since a single value says nothing about spread; values that are all equal
    give (v, v, v). The mean is ``math.fsum`` divided by n, so it does not
    depend on the order of the values, and it is kept within [min, max].

    Raises:
        ValueError: if ``confidence`` is not strictly between 0 and 1, or a
            value is NaN or infinite.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    _check_finite("values", values)
    n = len(values)
    if n == 0:
        return None, None, None
    smallest, largest = float(min(values)), float(max(values))
    if n == 1:
        return smallest, None, None
    if smallest == largest:
        # No spread, and the mean is exactly the value (fsum / n could be an ulp off).
        return smallest, smallest, smallest
    mean = min(max(math.fsum(values) / n, smallest), largest)
    variance = math.fsum((value - mean) ** 2 for value in values) / (n - 1)
    half = t_quantile((1.0 + confidence) / 2.0, n - 1) * math.sqrt(variance / n)
    return mean, mean - half, mean + half


def _signed_rank_null_counts(n: int) -> list[int]:
    """counts[w] = how many of the 2^n sign patterns of ranks 1..n give W+ == w.

    Under the null each rank is positive or negative with probability 1/2
    independently, so this is the number of subsets of {1..n} summing to w,
    built one rank at a time (subset-sum dynamic programming) in integers.
    """
    counts = [1] + [0] * (n * (n + 1) // 2)
    top = 0
    for rank in range(1, n + 1):
        top += rank
        for w in range(top, rank - 1, -1):
            counts[w] += counts[w - rank]
    return counts


def wilcoxon_signed_rank(differences: Sequence[float]) -> float | None:
    """Two-sided p-value of the Wilcoxon signed-rank test that ``differences`` centre on 0.

    Used on paired per-scenario differences (PR mean minus baseline mean, the
    scenario being the unit paired across the two experiments): it needs no
    normality, which bounded, skewed scores do not have, and unlike a
    bootstrap it is deterministic. The rules:

    - Zero differences are dropped before ranking (Wilcoxon's original
      method): a scenario that did not move carries no sign.
    - The remaining n differences are ranked by absolute value, tied values
      taking the average of their ranks; absolute values equal within a
      relative 1e-12 count as tied (comparing each with the next larger one),
      because the inputs are differences of float means and 0.1 + 0.2 should
      tie with 0.3. W+ is the sum of the ranks of the positive differences.
    - No nonzero difference left: 1.0 if the input had any (all zeros is no
      evidence of a shift), None if it was empty (no test at all).
    - n <= 25 and no ties: the exact null distribution of W+, counting the
      2^n equally likely sign patterns in integers;
      p = min(1, 2 * min(P(W+ <= w), P(W+ >= w))).
    - Otherwise (ties, or n > 25): the normal approximation with mean
      n(n+1)/4, variance n(n+1)(2n+1)/24 - sum(t^3 - t)/48 over tie groups of
      size t, and continuity correction 1/2:
      z = max(0, (|W+ - n(n+1)/4| - 1/2) / sqrt(variance)), p = 2 (1 - Phi(z)).

    Raises:
        ValueError: if a difference is NaN.
    """
    for value in differences:
        if math.isnan(value):
            raise ValueError("differences must not be NaN")
    nonzero = sorted((d for d in differences if d != 0), key=abs)
    n = len(nonzero)
    if n == 0:
        return None if len(differences) == 0 else 1.0
    # Twice the ranks, so average ranks of ties ((i + j) / 2) stay integers and
    # W+ is exact: a tie group in 1-based positions i..j gets 2 * rank = i + j.
    w_plus_twice = 0
    tie_term = 0  # sum of t^3 - t over tie groups
    start = 0
    while start < n:
        end = start + 1
        while end < n and math.isclose(
            abs(nonzero[end]), abs(nonzero[end - 1]), rel_tol=_TIE_REL_TOL, abs_tol=0.0
        ):
            end += 1
        size = end - start
        tie_term += size**3 - size
        rank_twice = (start + 1) + end
        w_plus_twice += rank_twice * sum(1 for d in nonzero[start:end] if d > 0)
        start = end
    if tie_term == 0 and n <= _WILCOXON_EXACT_MAX:
        w = w_plus_twice // 2
        counts = _signed_rank_null_counts(n)
        at_most = sum(counts[: w + 1])
        at_least = sum(counts[w:])
        patterns = 1 << n
        # int / int is correctly rounded: the float of the exact p.
        return min(patterns, 2 * min(at_most, at_least)) / patterns
    # In quarters: 4 |W+ - n(n+1)/4| = |2 * (2 W+) - n(n+1)|, and 48 * variance.
    deviation = abs(2 * w_plus_twice - n * (n + 1)) / 4.0
    variance = (2 * n * (n + 1) * (2 * n + 1) - tie_term) / 48.0
    z = max(0.0, (deviation - 0.5) / math.sqrt(variance))
    # 2 (1 - Phi(z)) == erfc(z / sqrt 2), without the cancellation of 1 - Phi.
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0 <= q <= 100), interpolating linearly between closest ranks.

    The "type 7" definition, numpy's default: sort, h = (n - 1) q / 100, and
    interpolate between the values at positions floor(h) and ceil(h). It is
    continuous in q and returns an observed value at q = 0, 50 (odd n) and
    100, which keeps latency percentiles of small samples readable and
    matches what users get from numpy or pandas. Empty input gives None.

    Raises:
        ValueError: if ``q`` is outside [0, 100] or NaN, or a value is NaN.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must lie in [0, 100], got {q!r}")
    for value in values:
        if math.isnan(value):
            raise ValueError("values must not be NaN")
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * q / 100.0
    below = math.floor(h)
    low, high = float(ordered[below]), float(ordered[math.ceil(h)])
    if low == high:
        return low
    # Clamped so rounding never leaves the segment between the two neighbours.
    return min(max(low + (h - below) * (high - low), low), high)


def relative_change(pr: float, baseline: float) -> float | None:
    """(pr - baseline) / |baseline|: the change as a fraction of the baseline.

    Dividing by |baseline| keeps the sign meaning "went up": from -2 to -1 is
    +0.5, not -0.5. Both zero gives 0.0 (nothing changed); a zero baseline
    with a nonzero PR gives None, since an increase from nothing has no ratio
    (an infinity would read as a huge regression and could not be serialized
    to JSON).
    """
    if baseline == 0:
        return 0.0 if pr == 0 else None
    return (pr - baseline) / abs(baseline)
