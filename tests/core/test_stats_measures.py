"""Tests for the measures in evalbot.core.stats: t quantiles, mean intervals, Wilcoxon, percentiles.

Expected values are published table values, closed forms written out here
independently of the module, or small cases counted by hand (or by brute-force
enumeration), never the module's own output.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import pytest

from evalbot.core.stats import (
    Z_95,
    mean_interval,
    percentile,
    relative_change,
    t_quantile,
    wilcoxon_signed_rank,
)

# --- t_quantile -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.706204736),
        (0.975, 2, 4.302652730),
        (0.975, 4, 2.776445105),
        (0.975, 10, 2.228138852),
        (0.975, 30, 2.042272456),
    ],
)
def test_t_quantile_known_values(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=5e-10)


def test_t_quantile_many_degrees_of_freedom() -> None:
    assert t_quantile(0.975, 1000) == pytest.approx(1.962339, abs=1e-6)
    # Cornish-Fisher by hand, z + (z^3 + z)/(4v) + (5z^5 + 16z^3 + 3z)/(96v^2): the
    # next term is ~1e-15 at v = 1e5, so this checks the incomplete-beta route at
    # 100,000 and the expansion the module switches to at 100,001 (whose second
    # term, 1.4e-10 relative, must be there).
    z = Z_95
    for v in (100_000, 100_001):
        expected = z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v * v)
        assert t_quantile(0.975, v) == pytest.approx(expected, rel=1e-11)
    # At v = 1e9 only the first correction is visible, and the limit is the normal quantile.
    assert t_quantile(0.975, 10**9) == pytest.approx(z + (z**3 + z) / 4e9, rel=1e-14)
    assert t_quantile(0.975, 10**9) == pytest.approx(Z_95, rel=2e-9)


def test_t_quantile_is_monotone_across_the_large_df_switch() -> None:
    # Each extra degree of freedom lowers the 97.5% quantile by ~2.4e-10 near 1e5;
    # a jump where the method changes would break the order.
    values = [t_quantile(0.975, df) for df in range(99_998, 100_004)]
    assert all(a > b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize("df", [1, 2, 3, 4, 10, 30, 1000, 200_000])
def test_t_quantile_is_symmetric(df: int) -> None:
    assert t_quantile(0.025, df) == pytest.approx(-t_quantile(0.975, df), rel=1e-13)
    assert t_quantile(0.5, df) == 0.0


def _t_cdf_closed_form(t: float, df: int) -> float:
    """The Student-t CDF for df = 3, 4, 5 in closed form (no incomplete beta)."""
    if df == 3:
        u = t / math.sqrt(3)
        return 0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi
    if df == 4:
        s = 1 + t * t / 4
        return 0.5 + 0.375 * (t / math.sqrt(s)) * (1 - t * t / (12 * s))
    if df == 5:
        s = 1 + t * t / 5
        return 0.5 + (t / (math.sqrt(5) * s) * (1 + 2 / (3 * s)) + math.atan(t / math.sqrt(5))) / (
            math.pi
        )
    raise AssertionError(df)


@pytest.mark.parametrize("df", [3, 4, 5])
@pytest.mark.parametrize("p", [0.001, 0.01, 0.1, 0.3, 0.45, 0.55, 0.7, 0.9, 0.975, 0.999])
def test_t_quantile_inverts_the_closed_form_cdf(p: float, df: int) -> None:
    assert _t_cdf_closed_form(t_quantile(p, df), df) == pytest.approx(p, abs=1e-14)


def _t4_quantile_closed_form(p: float) -> float:
    """The df = 4 quantile in closed form.

    t = 2 sign(p - 1/2) sqrt(q - 1), q = cos(acos(sqrt(a)) / 3) / sqrt(a), a = 4p(1 - p).
    """
    alpha = 4 * p * (1 - p)
    q = math.cos(math.acos(math.sqrt(alpha)) / 3) / math.sqrt(alpha)
    return math.copysign(2 * math.sqrt(q - 1), p - 0.5)


@pytest.mark.parametrize("p", [1e-100, 1e-20, 1e-8, 0.001, 0.025])
def test_t_quantile_keeps_relative_precision_in_far_tails(p: float) -> None:
    assert t_quantile(p, 4) == pytest.approx(_t4_quantile_closed_form(p), rel=1e-12)
    # Cauchy: P(T < t) = 1/2 + atan(t)/pi, so far out t ~ -1/(pi p).
    assert t_quantile(p, 1) == pytest.approx(-1 / math.tan(math.pi * p), rel=1e-13)
    # df = 2: t = (2p - 1) / sqrt(2 p (1 - p)).
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-13)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, math.nan, math.inf])
def test_t_quantile_rejects_bad_p(p: float) -> None:
    with pytest.raises(ValueError, match="p must lie strictly between 0 and 1"):
        t_quantile(p, 5)


@pytest.mark.parametrize("df", [0, -3, 2.0, True])
def test_t_quantile_rejects_bad_df(df: int) -> None:
    with pytest.raises(ValueError, match="df must be an integer >= 1"):
        t_quantile(0.975, df)


# --- mean_interval ----------------------------------------------------------------------


def test_mean_interval_by_hand() -> None:
    # mean 3, s = sqrt(2.5), t_{0.975, 4} = 2.776445105.
    half = 2.776445105 * math.sqrt(2.5) / math.sqrt(5)
    mean, low, high = mean_interval([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert low == pytest.approx(3 - half, rel=1e-9)
    assert high == pytest.approx(3 + half, rel=1e-9)


def test_mean_interval_three_values_uses_two_degrees_of_freedom() -> None:
    # mean 2/3, s^2 = ((1/3)^2 * 2 + (2/3)^2) / 2 = 1/3, t_{0.975, 2} = 4.302652730.
    half = 4.302652730 * math.sqrt(1 / 3) / math.sqrt(3)
    mean, low, high = mean_interval([1.0, 0.0, 1.0])
    assert mean == pytest.approx(2 / 3, rel=1e-15)
    assert (low, high) == pytest.approx((2 / 3 - half, 2 / 3 + half), rel=1e-9)


def test_mean_interval_other_confidence() -> None:
    # mean 3, s = sqrt(2), n = 2: half-width t_{0.95, 1} * sqrt(2) / sqrt(2) = 6.313751515.
    mean, low, high = mean_interval([2, 4], confidence=0.90)
    assert mean == 3.0
    assert (low, high) == pytest.approx((3 - 6.313751515, 3 + 6.313751515), rel=1e-9)


def test_mean_interval_degenerate_inputs() -> None:
    assert mean_interval([]) == (None, None, None)
    single = mean_interval([3])
    assert single == (3.0, None, None)
    assert isinstance(single[0], float)
    # All equal: no spread, and exactly the value (not fsum / n rounding off by an ulp).
    assert mean_interval([0.1] * 7) == (0.1, 0.1, 0.1)


def test_mean_interval_mean_is_exactly_summed() -> None:
    # A left-to-right float sum loses both 1.0s to the 1e16s and gives 0.
    mean, low, high = mean_interval([1e16, 1.0, -1e16, 1.0])
    assert mean == 0.5
    assert low is not None and high is not None and low < 0.5 < high


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5, math.nan])
def test_mean_interval_rejects_bad_confidence(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        mean_interval([1.0, 2.0], confidence=confidence)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_mean_interval_rejects_non_finite_values(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, bad, 2.0])


# --- wilcoxon_signed_rank ---------------------------------------------------------------


def _exact_p_by_enumeration(differences: Sequence[float]) -> float:
    """Two-sided exact p by flipping the sign of every |d| in every possible way.

    Needs distinct nonzero |d|: ranks are then 1..n in order of |d|.
    """
    magnitudes = sorted(abs(d) for d in differences)
    n = len(magnitudes)
    observed = sum(magnitudes.index(abs(d)) + 1 for d in differences if d > 0)
    totals = [
        sum(rank for rank, positive in zip(range(1, n + 1), signs, strict=True) if positive)
        for signs in itertools.product((False, True), repeat=n)
    ]
    at_most = sum(1 for w in totals if w <= observed)
    at_least = sum(1 for w in totals if w >= observed)
    return min(1.0, 2 * min(at_most, at_least) / len(totals))


def test_wilcoxon_exact_small_cases_by_hand() -> None:
    # All five positive: W+ = 15 is the top of 2^5 = 32 patterns, p = 2/32.
    assert wilcoxon_signed_rank([1, 2, 3, 4, 5]) == 0.0625
    # W+ = 14: only {all} (15) and {2,3,4,5} (14) reach it, P(W+ >= 14) = 2/32.
    assert wilcoxon_signed_rank([-1, 2, 3, 4, 5]) == 0.125
    # Six positive (or six negative): 2/64.
    assert wilcoxon_signed_rank([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]) == 0.03125
    assert wilcoxon_signed_rank([-0.5, -1.5, -2.5, -3.5, -4.5, -5.5]) == 0.03125
    # [1, -2, 3, -4]: W+ = 4, P(W+ <= 4) = 7/16 (sums 0, 1, 2, 3, 3, 4, 4), p = 14/16.
    assert wilcoxon_signed_rank([1, -2, 3, -4]) == 0.875


def test_wilcoxon_exact_p_is_capped_at_one() -> None:
    # W+ = 5 = n(n+1)/4: P(W+ <= 5) = 9/16, and twice that exceeds 1.
    assert wilcoxon_signed_rank([1, -2, -3, 4]) == 1.0


def test_wilcoxon_matches_scipy_documented_example() -> None:
    # Darwin's Zea mays differences, scipy.stats.wilcoxon's docstring example:
    # statistic 24 (= W-, the ranks of -48 and -67: 10 + 14), pvalue 0.041259765625
    # = 1352 / 2^15, exact since n = 15 and there are no ties.
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    assert wilcoxon_signed_rank(d) == 0.041259765625
    assert _exact_p_by_enumeration(d) == 0.041259765625


@pytest.mark.parametrize(
    "differences",
    [
        [0.3, -1.2, 2.5, 0.1, -0.7, 1.9, -2.2, 0.05, 3.1, -0.4],
        [-5.0, -4.0, 1.0, -3.0, 2.0, -6.0, -7.0],
        [0.01, -0.02, 0.03],
    ],
)
def test_wilcoxon_exact_matches_enumeration(differences: list[float]) -> None:
    assert wilcoxon_signed_rank(differences) == _exact_p_by_enumeration(differences)


def test_wilcoxon_exact_up_to_25_then_normal() -> None:
    # n = 25, all positive: exact, 2 / 2^25.
    assert wilcoxon_signed_rank(list(range(1, 26))) == 2 / 2**25
    # n = 26, all positive: W+ = 351, mean 175.5, variance 26*27*53/24 = 1550.25.
    z = (351 - 175.5 - 0.5) / math.sqrt(1550.25)
    expected = math.erfc(z / math.sqrt(2))
    assert wilcoxon_signed_rank(list(range(1, 27))) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(8.8037e-6, rel=1e-4)


def test_wilcoxon_ties_use_the_corrected_normal_approximation() -> None:
    # |d| = 1, 1, 2, 2, 2, 3 -> average ranks 1.5, 1.5, 4, 4, 4, 6.
    # W+ = 1.5 + 4 + 4 + 4 + 6 = 19.5; mean 6*7/4 = 10.5;
    # variance 6*7*13/24 - ((2^3 - 2) + (3^3 - 3))/48 = 22.75 - 0.625 = 22.125;
    # z = (9 - 0.5) / sqrt(22.125). (scipy's wilcoxon(..., correction=True,
    # method="approx") uses the same formula.)
    z = 8.5 / math.sqrt(22.125)
    expected = math.erfc(z / math.sqrt(2))
    assert wilcoxon_signed_rank([1, -1, 2, 2, 2, 3]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0707499, rel=1e-5)


def test_wilcoxon_float_near_ties_are_ties() -> None:
    # 0.1 + 0.2 == 0.30000000000000004 ties with 0.3: ranks 1.5, 1.5, 3, W+ = 4.5,
    # mean 3, variance 3*4*7/24 - (2^3 - 2)/48 = 3.375, z = (1.5 - 0.5)/sqrt(3.375).
    # Ranked as distinct, W+ would be 5 and the exact p 0.5.
    expected = math.erfc(1 / math.sqrt(3.375) / math.sqrt(2))
    assert wilcoxon_signed_rank([0.1 + 0.2, -0.3, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert wilcoxon_signed_rank([0.3, -0.3, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.586214, rel=1e-5)


def test_wilcoxon_drops_zero_differences() -> None:
    # Same as [1, 2, 3, 4, 5]; keeping the zeros (Pratt) would give a different p.
    assert wilcoxon_signed_rank([0, 1, 0.0, 2, 3, -0.0, 4, 5]) == 0.0625


def test_wilcoxon_nothing_to_test() -> None:
    assert wilcoxon_signed_rank([]) is None
    assert wilcoxon_signed_rank([0, 0.0, -0.0]) == 1.0
    # Perfectly balanced: W+ == n(n+1)/4, p = 1.
    assert wilcoxon_signed_rank([1, -1]) == 1.0


def test_wilcoxon_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        wilcoxon_signed_rank([1.0, math.nan])


# --- percentile -------------------------------------------------------------------------


def test_percentile_type_7_values() -> None:
    values = [4, 1, 3, 2]  # order does not matter
    assert percentile(values, 50) == 2.5  # h = 1.5
    assert percentile(values, 95) == pytest.approx(3.85, rel=1e-12)  # h = 2.85
    assert percentile(values, 25) == pytest.approx(1.75, rel=1e-12)  # h = 0.75
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    # h = 1 exactly: the observed value, as a float even for int input.
    result = percentile([10, 20, 30, 40, 50], 25)
    assert result == 20.0 and isinstance(result, float)


def test_percentile_degenerate_inputs() -> None:
    assert percentile([], 50) is None
    assert percentile([7.5], 0) == 7.5
    assert percentile([7.5], 95) == 7.5
    assert percentile([7.5], 100) == 7.5


@pytest.mark.parametrize("q", [-0.1, 100.1, math.nan, math.inf])
def test_percentile_rejects_bad_q(q: float) -> None:
    with pytest.raises(ValueError, match=r"q must lie in \[0, 100\]"):
        percentile([1.0, 2.0], q)


def test_percentile_rejects_nan_values() -> None:
    with pytest.raises(ValueError, match="NaN"):
        percentile([1.0, math.nan], 50)


# --- relative_change --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pr", "baseline", "expected"),
    [
        (0.9, 0.8, 0.125),
        (0.6, 0.8, -0.25),
        (0.0, 5.0, -1.0),
        (5.0, 5.0, 0.0),
        # Negative baselines: dividing by |baseline| keeps "up" positive.
        (-1.0, -2.0, 0.5),
        (-3.0, -2.0, -0.5),
        (1.0, -2.0, 1.5),
    ],
)
def test_relative_change(pr: float, baseline: float, expected: float) -> None:
    assert relative_change(pr, baseline) == pytest.approx(expected, rel=1e-12)


def test_relative_change_from_zero() -> None:
    assert relative_change(0.0, 0.0) == 0.0
    assert relative_change(0.0, -0.0) == 0.0
    assert relative_change(1.0, 0.0) is None
    assert relative_change(-1.0, 0.0) is None
