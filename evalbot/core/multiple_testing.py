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
