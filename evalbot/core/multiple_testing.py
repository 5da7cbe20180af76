"""Multiplicity: Benjamini-Hochberg q-values and the Tarone-filtered BH family (exact).

The step-up decision is made on exact rationals; q-values are floats for display.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction
from typing import TypeVar

from evalbot.core.decimals import decimal as _exact_alpha

# A p-value as a float or an exact Fraction.
_P = TypeVar("_P", Fraction, float | Fraction)


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
    return tarone_bh_grouped(pvalues, min_pvalues, [1] * len(pvalues), alpha)


def tarone_bh_grouped(
    pvalues: Sequence[Fraction],
    min_pvalues: Sequence[Fraction],
    counts: Sequence[int],
    alpha: float,
) -> tuple[list[bool], list[float | None], int]:
    """``tarone_bh`` over groups of identical tests: ``counts[i]`` tests with ``pvalues[i]``
    and ``min_pvalues[i]`` each.

    The same rejections, q-values and family size as ``tarone_bh`` over the
    tests one by one, per group: every quantity depends on a test's values
    only. A family takes a test by its minimum p; BH's step-up rejects every
    p-value up to the largest p_(i) <= i alpha / M (among tied p-values the
    last rank is the binding one, so ties are rejected together), and each q
    is the running minimum of p_(j) M / j from the top, reached for ties at
    their last rank. So each group is placed at the cumulative count of the
    tests up to it. Suites repeat a few distinct tables, so 100,000 scenarios
    are a few hundred groups (issue 14). Exact: Fractions, integer
    cross-multiplication, each q rounded to float once.

    Raises:
        ValueError: if a p-value is outside [0, 1] or NaN.
    """
    groups = len(pvalues)
    m = sum(counts)
    limit = _exact_alpha(alpha)
    by_min = sorted(range(groups), key=lambda i: _order(min_pvalues[i]))
    sorted_mins = [min_pvalues[i] for i in by_min]
    cumulative = list(itertools.accumulate(counts[i] for i in by_min))

    def fits(k: int) -> bool:
        # M(k) <= k, with M(k) how many minimum p-values are <= alpha / k.
        index = _count_at_most(sorted_mins, limit / k)
        return (cumulative[index - 1] if index else 0) <= k

    # M(k) never grows with k and k does, so "M(k) <= k" turns true once and stays
    # true: the smallest such K by bisection (log m steps instead of up to m).
    members = 0
    if m and fits(m):
        low, high = 1, m
        while low < high:
            middle = (low + high) // 2
            if fits(middle):
                high = middle
            else:
                low = middle + 1
        members = _count_at_most(sorted_mins, limit / low)
    if not members:
        members = _count_at_most(sorted_mins, limit)
    rejected = [False] * groups
    q_out: list[float | None] = [None] * groups
    family = by_min[:members]
    size = sum(counts[i] for i in family)
    if not size:
        return rejected, q_out, 0
    ratios = {i: _as_ratio(pvalues[i]) for i in family}
    family.sort(key=lambda i: _order(pvalues[i]))
    ranks = list(itertools.accumulate(counts[i] for i in family))
    # q: the running minimum of p * size / rank from the top, as an integer pair
    # num/den (cross-multiplying ints is exact, and faster than Fraction arithmetic).
    # Starting at 1 is the cap.
    best_num, best_den, best_float = 1, 1, 1.0
    for i, rank in zip(reversed(family), reversed(ranks), strict=True):
        num, den = ratios[i]
        num, den = num * size, den * rank
        if num * best_den < best_num * den:
            # int / int is correctly rounded, so this is float(exact q).
            best_num, best_den, best_float = num, den, num / den
        q_out[i] = best_float
    # The step-up decision itself is exact: reject every p-value up to the largest
    # p_(i) <= i * alpha / size, cross-multiplied in integers.
    count = 0
    limit_num, limit_den = limit.numerator, limit.denominator
    for position, (i, rank) in enumerate(zip(family, ranks, strict=True), start=1):
        num, den = ratios[i]
        if num * limit_den * size <= limit_num * rank * den:
            count = position
    for i in family[:count]:
        rejected[i] = True
    return rejected, q_out, size


def _order(p: Fraction) -> tuple[float, Fraction]:
    """A sort key with the exact order of ``p``, cheaper to compare than the Fraction.

    Rounding to float never reverses an order (p <= p' gives float(p) <= float(p')),
    so unequal floats decide exactly, and equal ones fall back to the Fractions.
    Comparing Fractions is Python code; the floats are compared in C.
    """
    return float(p), p


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
