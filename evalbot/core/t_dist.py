"""Student's t and the normal distribution: tails and quantiles, stdlib-only (no scipy)."""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

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
