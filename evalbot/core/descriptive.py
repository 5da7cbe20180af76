"""Descriptive statistics: Wilson intervals, t intervals of means, Wilcoxon, percentiles.

Floats throughout: they describe and rank (issue 6); the exact gate is in fisher.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from evalbot.core.t_dist import t_quantile

#: Two-sided 95% standard-normal quantile, Phi^-1(0.975).
Z_95 = 1.959963984540054

# Absolute differences within this relative distance rank as ties (Wilcoxon).
_TIE_REL_TOL = 1e-12
# Largest number of nonzero differences for which the exact Wilcoxon null is used.
_WILCOXON_EXACT_MAX = 25


def _check_counts(side: str, passed: int, total: int) -> None:
    if total < 0 or passed < 0:
        raise ValueError(f"{side}: counts must be non-negative, got {passed}/{total}")
    if passed > total:
        raise ValueError(f"{side}: passed ({passed}) exceeds total ({total})")


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
