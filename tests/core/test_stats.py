"""Tests for evalbot.core.stats: exact Fisher tails, the p <= alpha rule, Wilson, BH."""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalbot.core import stats
from evalbot.core.stats import (
    Z_95,
    benjamini_hochberg,
    fisher_better,
    fisher_left_tail,
    fisher_right_tail,
    fisher_worse,
    significant,
    two_sided_at_most,
    wilson_interval,
)

# No example database: the tests must not write a .hypothesis/ folder into the repo.
# No deadline: the first call of a table is uncached and its timing is not the point.
PROPERTY = settings(database=None, deadline=None, max_examples=300)


@st.composite
def counts(draw: st.DrawFn, max_total: int = 30) -> tuple[int, int]:
    """A (passed, total) pair with 0 <= passed <= total <= max_total."""
    total = draw(st.integers(min_value=0, max_value=max_total))
    passed = draw(st.integers(min_value=0, max_value=total))
    return passed, total


def point_probability(a: int, b: int, c: int, d: int) -> Fraction:
    """P(A == a) for the table [[a, b], [c, d]], written out independently of the module."""
    row1, row2, col1 = a + b, c + d, a + c
    return Fraction(math.comb(row1, a) * math.comb(row2, c), math.comb(row1 + row2, col1))


def left_tail_by_enumeration(a: int, b: int, c: int, d: int) -> Fraction:
    """P(A <= a) by literally enumerating which trials are the passes.

    Label the row1 + row2 trials, choose every possible set of col1 = a + c of them
    to be the passes (all equally likely under the null), and count the choices that
    give the first row at most a passes. No binomial coefficients involved.
    """
    row1, row2 = a + b, c + d
    trials = range(row1 + row2)
    choices = list(itertools.combinations(trials, a + c))
    hits = sum(1 for chosen in choices if sum(1 for t in chosen if t < row1) <= a)
    return Fraction(hits, len(choices))


# --- exact known values -----------------------------------------------------------------


def test_left_tail_known_values() -> None:
    # 1 / C(6, 3): the only table at least this extreme is the observed one.
    assert fisher_left_tail(0, 3, 3, 0) == Fraction(1, 20)
    # Margins 3/3 rows, 5 passes: A is 2 or 3, P(A = 2) = C(3,2) C(3,3) / C(6,5) = 3/6.
    assert fisher_left_tail(2, 1, 3, 0) == Fraction(1, 2)
    # 1 / C(20, 10).
    assert fisher_left_tail(0, 10, 10, 0) == Fraction(1, 184756)


def test_right_tail_mirrors_left_tail() -> None:
    # Swapping the pass/fail columns turns P(A <= a) into P(B >= b) with B = row1 - A.
    assert fisher_right_tail(3, 0, 0, 3) == Fraction(1, 20)
    assert fisher_right_tail(1, 2, 0, 3) == Fraction(1, 2)
    assert fisher_right_tail(10, 0, 0, 10) == Fraction(1, 184756)


def test_results_are_exact_fractions() -> None:
    for p in (
        fisher_left_tail(0, 3, 3, 0),
        fisher_right_tail(3, 0, 0, 3),
        fisher_worse(1, 3, 3, 3),
    ):
        assert type(p) is Fraction


def test_worse_and_better_on_the_canonical_drop() -> None:
    # PR 0/3 against baseline 3/3 is the table [[0, 3], [3, 0]].
    assert fisher_worse(0, 3, 3, 3) == Fraction(1, 20)
    assert fisher_better(0, 3, 3, 3) == Fraction(1)
    assert fisher_better(3, 3, 0, 3) == Fraction(1, 20)
    assert significant(fisher_worse(0, 3, 3, 3), 0.05) is True


def test_degenerate_tables_give_one() -> None:
    assert fisher_worse(0, 0, 3, 3) == Fraction(1)
    assert fisher_better(0, 0, 3, 3) == Fraction(1)
    assert fisher_worse(0, 3, 0, 0) == Fraction(1)
    assert fisher_better(3, 3, 0, 0) == Fraction(1)
    assert fisher_left_tail(0, 0, 0, 0) == Fraction(1)
    assert fisher_right_tail(0, 0, 0, 0) == Fraction(1)


def test_tails_match_brute_force_enumeration_on_small_tables() -> None:
    # Every table with at most 4 trials a side (and at least one on each).
    for a, b, c, d in itertools.product(range(5), repeat=4):
        if a + b == 0 or c + d == 0:
            continue
        expected = left_tail_by_enumeration(a, b, c, d)
        assert fisher_left_tail(a, b, c, d) == expected, (a, b, c, d)
        # Right tail of a table == left tail of the column-swapped table.
        assert fisher_right_tail(b, a, d, c) == expected, (a, b, c, d)


def test_tail_is_memoized() -> None:
    fisher_left_tail(7, 2, 5, 4)
    before = fisher_left_tail.cache_info().hits
    fisher_left_tail(7, 2, 5, 4)
    assert fisher_left_tail.cache_info().hits == before + 1


# --- significance rule ------------------------------------------------------------------


def test_significant_boundary_is_inclusive_and_exact() -> None:
    assert significant(Fraction(1, 20), 0.05) is True
    assert significant(Fraction(1, 20) + Fraction(1, 10**12), 0.05) is False
    assert significant(Fraction(1, 20) - Fraction(1, 10**12), 0.05) is True
    assert significant(Fraction(1, 20), 0.049) is False


def test_significant_reads_alpha_as_the_written_decimal() -> None:
    # The binary float 0.3 is 0.29999999999999998889..., below 3/10: comparing against
    # it directly would refuse to reject p = 3/10 at "alpha 0.3".
    assert Fraction(0.3) < Fraction(3, 10)
    assert significant(Fraction(3, 10), 0.3) is True
    assert significant(Fraction(3, 10) + Fraction(1, 10**30), 0.3) is False


# --- Wilson interval --------------------------------------------------------------------

# Closed forms of the Wilson interval
#     (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
# at the points tested, with z = Z_95 (z² = 3.841458820694124):
#   p = 0:   bounds 0 and z²/(n + z²)       -> 0/3:  upper = 3.8414588/6.8414588 = 0.56149703
#   p = 1:   bounds n/(n + z²) and 1        -> 3/3:  lower = 3/6.8414588        = 0.43850297
#   p = 1/2: 1/2 ± z / (2·sqrt(n + z²))     -> 5/10: half = 1.959964/7.440822   = 0.26340691
WILSON_CASES = [
    (0, 3, (0.0, 0.5614970317550454)),
    (3, 3, (0.4385029682449546, 1.0)),
    (5, 10, (0.2365930905, 0.7634069095)),
]


def test_wilson_expected_values_match_the_closed_forms() -> None:
    # Guard the hand-computed literals themselves, so a typo there cannot hide.
    z2 = Z_95 * Z_95
    assert WILSON_CASES[0][2][1] == pytest.approx(z2 / (3 + z2), abs=1e-12)
    assert WILSON_CASES[1][2][0] == pytest.approx(3 / (3 + z2), abs=1e-12)
    half = Z_95 / (2 * math.sqrt(10 + z2))
    assert WILSON_CASES[2][2] == pytest.approx((0.5 - half, 0.5 + half), abs=1e-9)


@pytest.mark.parametrize(("passed", "total", "expected"), WILSON_CASES)
def test_wilson_known_values(passed: int, total: int, expected: tuple[float, float]) -> None:
    assert wilson_interval(passed, total) == pytest.approx(expected, abs=1e-6)


def test_wilson_pins_the_exact_ends() -> None:
    # In closed form these ends are exactly 0 and 1; no float residue should leak out.
    assert wilson_interval(0, 3)[0] == 0.0
    assert wilson_interval(3, 3)[1] == 1.0


def test_wilson_empty_and_custom_z() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # A wider z gives a wider interval around the same point.
    narrow = wilson_interval(5, 10)
    wide = wilson_interval(5, 10, z=2.5758293035489004)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


@PROPERTY
@given(counts(max_total=200))
def test_wilson_is_a_sub_interval_of_unit_containing_the_rate(pt: tuple[int, int]) -> None:
    passed, total = pt
    low, high = wilson_interval(passed, total)
    assert 0.0 <= low <= high <= 1.0
    if total:
        assert low <= passed / total <= high


# --- Benjamini-Hochberg -----------------------------------------------------------------


def test_bh_known_values() -> None:
    # Sorted: 0.005·4/1 = 0.02, 0.01·4/2 = 0.02, 0.03·4/3 = 0.04, 0.04·4/4 = 0.04.
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert q == pytest.approx([0.02, 0.04, 0.04, 0.02], rel=1e-12)


def test_bh_enforces_monotonicity() -> None:
    # Raw p·m/j is 0.03, 0.03, 0.021: the smallest two must be pulled down to 0.021,
    # otherwise a smaller p would get a larger q than 0.021.
    q = benjamini_hochberg([0.02, 0.021, 0.01])
    assert q == pytest.approx([0.021, 0.021, 0.021], rel=1e-12)


def test_bh_never_exceeds_one() -> None:
    # Raw 0.6·2/1 = 1.2; the adjusted value is capped at 1.
    assert benjamini_hochberg([0.6, 1.0]) == [1.0, 1.0]
    assert benjamini_hochberg([1.0]) == [1.0]


def test_bh_empty_and_exact_inputs() -> None:
    assert benjamini_hochberg([]) == []
    # Fractions are accepted and used exactly: 1/20·2/1 = 1/10.
    assert benjamini_hochberg([Fraction(1, 20), Fraction(1, 2)]) == [0.1, 0.5]


def bh_reference(pvalues: list[Fraction]) -> list[Fraction]:
    """The textbook definition, O(m²), in exact arithmetic."""
    m = len(pvalues)
    ordered = sorted(pvalues)
    out = []
    for p in pvalues:
        # Rank of the last copy of p: ties share a q, and the last rank gives the min.
        i = bisect_right(ordered, p)
        out.append(min([Fraction(1)] + [ordered[j - 1] * m / j for j in range(i, m + 1)]))
    return out


probabilities = st.one_of(
    st.floats(min_value=0.0, max_value=1.0),
    st.fractions(min_value=0, max_value=1, max_denominator=1000),
)


@PROPERTY
@given(st.lists(probabilities, max_size=30))
def test_bh_matches_the_definition(pvalues: list[float | Fraction]) -> None:
    q = benjamini_hochberg(pvalues)
    expected = bh_reference([Fraction(p) for p in pvalues])
    # The module rounds each exact q once, so the floats must agree bit for bit.
    assert q == [float(e) for e in expected]
    for p, exact_q in zip(pvalues, expected, strict=True):
        assert p <= exact_q <= 1
    for (p1, q1), (p2, q2) in itertools.combinations(zip(pvalues, q, strict=True), 2):
        if p1 <= p2:
            assert q1 <= q2


# --- property tests for the Fisher tails ------------------------------------------------


@PROPERTY
@given(counts(), counts())
def test_p_values_lie_in_unit_interval(pr: tuple[int, int], base: tuple[int, int]) -> None:
    worse, better = fisher_worse(*pr, *base), fisher_better(*pr, *base)
    assert 0 <= worse <= 1
    assert 0 <= better <= 1


@PROPERTY
@given(counts(), counts())
def test_tails_overlap_in_exactly_the_observed_table(
    pr: tuple[int, int], base: tuple[int, int]
) -> None:
    (a, n), (c, m) = pr, base
    point = point_probability(a, n - a, c, m - c)
    assert fisher_worse(a, n, c, m) + fisher_better(a, n, c, m) - point == 1


@PROPERTY
@given(counts(max_total=80), counts(max_total=80))
def test_tails_match_the_direct_sum(pr: tuple[int, int], base: tuple[int, int]) -> None:
    # Larger tables than the enumeration test, so both the direct sum and the
    # complement shortcut in the module get exercised.
    (a, n), (c, m) = pr, base
    col1 = a + c
    k_min, k_max = max(0, col1 - (m)), min(n, col1)
    terms = {
        k: point_probability(k, n - k, col1 - k, m - col1 + k) for k in range(k_min, k_max + 1)
    }
    assert fisher_worse(a, n, c, m) == sum(p for k, p in terms.items() if k <= a)
    assert fisher_better(a, n, c, m) == sum(p for k, p in terms.items() if k >= a)


@PROPERTY
@given(counts(), counts())
def test_a_worse_pr_never_raises_p_worse(pr: tuple[int, int], base: tuple[int, int]) -> None:
    # Turning one PR pass into a fail: A's support shifts down by at most one, so the
    # left tail can only shrink (more evidence of a regression), the right tail only grow.
    # Checked exhaustively for totals below 12 before being asserted here.
    (a, n), (c, m) = pr, base
    if a == 0:
        return
    assert fisher_worse(a - 1, n, c, m) <= fisher_worse(a, n, c, m)
    assert fisher_better(a - 1, n, c, m) >= fisher_better(a, n, c, m)


@PROPERTY
@given(counts(), counts())
def test_swapping_sides_swaps_the_tails(pr: tuple[int, int], base: tuple[int, int]) -> None:
    (a, n), (c, m) = pr, base
    assert fisher_worse(a, n, c, m) == fisher_better(c, m, a, n)
    assert fisher_better(a, n, c, m) == fisher_worse(c, m, a, n)


@PROPERTY
@given(counts(), counts())
def test_swapping_pass_and_fail_swaps_the_tails(pr: tuple[int, int], base: tuple[int, int]) -> None:
    (a, n), (c, m) = pr, base
    assert fisher_left_tail(a, n - a, c, m - c) == fisher_right_tail(n - a, a, m - c, c)


# --- invalid input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (-1, 3, 0, 3),  # negative passes
        (0, -1, 0, 3),  # negative total
        (4, 3, 0, 3),  # PR passed > total
        (0, 3, 4, 3),  # baseline passed > total
        (0, 3, -1, 3),
        (0, 3, 0, -1),
    ],
)
def test_fisher_rejects_invalid_counts(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match=r"non-negative|exceeds"):
        fisher_worse(*args)
    with pytest.raises(ValueError, match=r"non-negative|exceeds"):
        fisher_better(*args)


@pytest.mark.parametrize("position", range(4))
def test_tails_reject_negative_cells(position: int) -> None:
    cells = [1, 1, 1, 1]
    cells[position] = -1
    with pytest.raises(ValueError):
        fisher_left_tail(*cells)
    with pytest.raises(ValueError):
        fisher_right_tail(*cells)


@pytest.mark.parametrize(
    ("passed", "total", "message"),
    [(-1, 3, "non-negative"), (4, 3, "exceeds"), (0, -1, "non-negative")],
)
def test_wilson_rejects_invalid_counts(passed: int, total: int, message: str) -> None:
    # Match the message: 4/3 would otherwise also "pass" via sqrt's math domain error.
    with pytest.raises(ValueError, match=message):
        wilson_interval(passed, total)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), Fraction(3, 2)])
def test_bh_rejects_values_outside_unit_interval(bad: float | Fraction) -> None:
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, bad])


def test_two_sided_decision_equals_both_one_sided_p_values() -> None:
    # Every table up to 7 trials a side, at levels that land exactly on attainable values.
    levels = [Fraction(1, 20), Fraction(1, 10), Fraction(2, 7), Fraction(1), Fraction(2)]
    for m, total in itertools.product(range(8), repeat=2):
        for c, passed in itertools.product(range(m + 1), range(total + 1)):
            both = 2 * min(fisher_worse(c, m, passed, total), fisher_better(c, m, passed, total))
            for level in [*levels, both]:
                assert two_sided_at_most(c, m, passed, total, level) == (both <= level)


def test_fisher_tails_are_the_four_tests_of_the_table() -> None:
    # Every table up to 8 trials a side, and larger pooled windows (issue 14).
    tables = [
        (a, n, c, m) for n in range(9) for m in range(9) for a in range(n + 1) for c in range(m + 1)
    ]
    rng = random.Random("fisher_tails")
    for _ in range(2000):
        n, m = rng.randint(1, 12), rng.randint(1, 150)
        tables.append((rng.randint(0, n), n, rng.randint(0, m), m))
    for a, n, c, m in tables:
        assert stats.fisher_tails(a, n, c, m) == (
            stats.fisher_worse(a, n, c, m),
            stats.fisher_better(a, n, c, m),
            stats.min_attainable_worse(n, m, a + c),
            stats.min_attainable_better(n, m, a + c),
        )
    with pytest.raises(ValueError, match="exceeds total"):
        stats.fisher_tails(3, 2, 0, 1)
