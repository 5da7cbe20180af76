"""The suite-wide test's sums: each baseline run's and the PR's, over the scenarios all share.

Split from aggregate.py, which tests them: one pass over every scenario (issue
11 §1), read from the buckets, or from the windows compare_buckets gathered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce
from operator import add, mul
from typing import NamedTuple, Protocol

__all__ = ["_Counts", "_Sums", "_Tally", "_latest_sums", "_suite_sums", "_window_sums"]


class _Counts(Protocol):
    """A scenario's pass counts: all the suite-wide test reads of it."""

    @property
    def passed(self) -> int: ...

    @property
    def total(self) -> int: ...


class _Tally(NamedTuple):
    """Pass counts of a hypothetical PR scenario (``_suite_fails_on_one``)."""

    passed: int
    total: int


class _Sums(NamedTuple):
    """Suite sums over the usable scenarios: per run, and the PR's (``_suite_sums``)."""

    passed: list[int]
    total: list[int]
    spread: list[float]  # sum of trials × the scenario's pooled binomial variance
    pr_passed: int
    pr_total: int
    pr_spread: float


def _suite_sums(
    keys: Sequence[str], pr: Mapping[str, _Counts], maps: Sequence[Mapping[str, _Counts]]
) -> _Sums | None:
    """Each run's and the PR's suite sums over the scenarios with trials in the PR and in
    every run (None when there is none), in one pass over the scenarios.

    A scenario's variance is its rate pooled over the PR and every run: under "no
    change" the PR is one more draw of the same rates, and a PR failure keeps an
    all-pass window from claiming zero variance. Plain loops, in ``keys`` order (the
    float sums follow it): this runs over every scenario, twice with a small suite
    (issue 14).
    """
    if len(maps) == 1:
        return _latest_sums(keys, pr, maps[0])
    runs = len(maps)
    passed_by_run, total_by_run, spread_by_run = [0] * runs, [0] * runs, [0.0] * runs
    pr_passed = pr_total = 0
    pr_spread = 0.0
    for k in keys:
        side = pr[k]
        if not side.total:
            continue
        found: list[_Counts] = []
        for run in maps:
            scenario = run.get(k)
            if scenario is None or not scenario.total:
                break
            found.append(scenario)
        else:
            c, m = side.passed, side.total
            for counts in found:
                c += counts.passed
                m += counts.total
            p = c / m
            variance = p * (1 - p) * m / (m - 1) if m > 1 else 0.25
            for index, counts in enumerate(found):
                passed_by_run[index] += counts.passed
                total_by_run[index] += counts.total
                spread_by_run[index] += counts.total * variance
            pr_passed += side.passed
            pr_total += side.total
            pr_spread += side.total * variance
    if not pr_total:
        return None
    return _Sums(passed_by_run, total_by_run, spread_by_run, pr_passed, pr_total, pr_spread)


def _window_sums(
    keys: Sequence[str],
    pr: Mapping[str, _Counts],
    windows: Sequence[tuple[tuple[int, int], ...]],
    runs: int,
) -> _Sums | None:
    """``_suite_sums`` from each scenario's window as compare_buckets gathered it (its
    runs with trials, oldest first), a run at a time.

    The same scenarios (trials in the PR and in all ``runs`` runs), the same
    integer sums, and the same float sums: each added in ``keys`` order from 0.0
    (``reduce``, not ``sum``: Python 3.12's float ``sum`` compensates, a loop
    does not). A run at a time, in C: a scenario at a time over 10 runs, this
    took a fifth of the comparison (issue 14).
    """
    sides: list[_Counts] = []
    usable: list[tuple[tuple[int, int], ...]] = []
    for key, window in zip(keys, windows, strict=True):
        if len(window) == runs:
            side = pr[key]
            if side.total:
                sides.append(side)
                usable.append(window)
    if not sides:
        return None
    by_run = list(zip(*usable, strict=True))
    passed_by_run = [[c for c, _ in run] for run in by_run]
    total_by_run = [[m for _, m in run] for run in by_run]
    pr_passed = [side.passed for side in sides]
    pr_total = [side.total for side in sides]
    # The pooled rate p = c / m, and p (1 - p) m / (m - 1), in the loop's order.
    variances = [
        c / m * (1 - c / m) * m / (m - 1) if m > 1 else 0.25
        for c, m in zip(
            map(sum, zip(pr_passed, *passed_by_run, strict=True)),
            map(sum, zip(pr_total, *total_by_run, strict=True)),
            strict=True,
        )
    ]
    return _Sums(
        list(map(sum, passed_by_run)),
        list(map(sum, total_by_run)),
        [reduce(add, map(mul, totals, variances), 0.0) for totals in total_by_run],
        sum(pr_passed),
        sum(pr_total),
        reduce(add, map(mul, pr_total, variances), 0.0),
    )


def _latest_sums(
    keys: Sequence[str], pr: Mapping[str, _Counts], latest: Mapping[str, _Counts]
) -> _Sums | None:
    """``_suite_sums`` for a window of one run, with scalars (no per-run lists)."""
    passed = total = pr_passed = pr_total = 0
    spread = pr_spread = 0.0
    for k in keys:
        side = pr[k]
        run = latest.get(k)
        if not side.total or run is None or not run.total:
            continue
        c, m = side.passed + run.passed, side.total + run.total
        p = c / m
        variance = p * (1 - p) * m / (m - 1) if m > 1 else 0.25
        passed += run.passed
        total += run.total
        spread += run.total * variance
        pr_passed += side.passed
        pr_total += side.total
        pr_spread += side.total * variance
    if not pr_total:
        return None
    return _Sums([passed], [total], [spread], pr_passed, pr_total, pr_spread)
