"""The baseline window read a run at a time (issue 14) gives what a scenario at a time gave.

window_runs against the per-scenario loop it replaced, the suite sums from the
windows against the sums from the buckets (floats included, bit for bit), the
dispersion over distinct windows against the one over every scenario, the
trend test's exact pre-decision against the float computation it skips, and the
stale-run test against stats.two_sided_at_most.
"""

from __future__ import annotations

import math
from fractions import Fraction
from random import Random

import pytest

from evalbot.core import stats
from evalbot.core.buckets import Scenario
from evalbot.core.compare import compare_buckets
from evalbot.core.models import Bucket, Thresholds
from evalbot.core.pooling import window_runs
from evalbot.core.suite_sums import _suite_sums, _window_sums
from evalbot.core.window import _dispersion, _stale, _trending, _trending_float


def _maps(rng: Random, keys: list[str], runs: int, gaps: bool) -> list[dict[str, Scenario]]:
    maps = []
    for _ in range(runs):
        scenarios = {}
        for key in keys:
            if gaps and rng.random() < 0.1:
                continue  # absent from this run
            total = rng.choice([0, 1, 3, 5, 8]) if gaps else rng.randint(1, 8)
            scenarios[key] = Scenario(key, rng.randint(0, total), total)
        maps.append(scenarios)
    return maps


def _by_scenario(
    keys: list[str], maps: list[dict[str, Scenario]]
) -> tuple[list[tuple[tuple[int, int], ...]], list[tuple[float | None, ...]]]:
    """The per-scenario loop window_runs replaced (compare_buckets before issue 14)."""
    runs, series = [], []
    for key in keys:
        window = [found.get(key) for found in maps]
        runs.append(tuple([(s.passed, s.total) for s in window if s is not None and s.total]))
        series.append(
            tuple([None if s is None else s.passed / s.total if s.total else None for s in window])
        )
    return runs, series


@pytest.mark.parametrize("gaps", [False, True])
def test_window_runs_and_suite_sums_match_the_per_scenario_reading(gaps: bool) -> None:
    rng = Random(f"columns/{gaps}")
    keys = [f"s{i}" for i in range(400)]
    maps = _maps(rng, keys, 6, gaps)
    latest = maps[-1]
    shared = [key for key in keys if key in latest]
    totals = {key: rng.randint(0, 6) for key in keys}
    pr = {key: Scenario(key, rng.randint(0, totals[key]), totals[key]) for key in keys}
    runs, series = window_runs(shared, maps[:-1], [latest[k] for k in shared])
    assert (runs, series) == _by_scenario(shared, maps)
    assert any(len(r) < len(maps) for r in runs) == gaps
    # Bit for bit: the same floats, not merely close ones.
    assert repr(_window_sums(shared, pr, runs, len(maps))) == repr(_suite_sums(shared, pr, maps))


def test_window_sums_without_a_usable_scenario_are_none() -> None:
    assert _window_sums(["a"], {"a": Scenario("a", 0, 0)}, [((1, 2), (1, 2))], 2) is None
    assert _window_sums(["a"], {"a": Scenario("a", 1, 2)}, [((1, 2),)], 2) is None


def test_dispersion_over_distinct_windows_is_the_dispersion_over_every_scenario() -> None:
    rng = Random("dispersion")
    distinct = [tuple((rng.randint(0, 5), 5) for _ in range(rng.randint(1, 6))) for _ in range(40)]
    windows = [rng.choice(distinct) for _ in range(2000)]
    # Over-dispersed too: windows whose runs sit at 0/5 and 5/5.
    windows += [((0, 5), (5, 5), (0, 5))] * 200 + [((5, 5), (0, 5))] * 100
    grouped = _dispersion(windows)
    assert grouped.rho > 0
    # The per-scenario computation, as window.py had it before issue 14.
    contributions, trials, runs = [], 0, 0
    for window in windows:
        if len(window) < 2:
            continue
        passed, total = sum(c for c, _ in window), sum(m for _, m in window)
        trials, runs = trials + total, runs + len(window)
        if passed in (0, total) or total < 2:
            continue
        p = passed / total
        var = p * (1 - p) * total / (total - 1)
        contributions.append(
            (sum((c - m * p) ** 2 / (m * var) for c, m in window), len(window) - 1)
        )
    df = sum(d for _, d in contributions)
    estimate = math.fsum(x for x, _ in contributions) / df
    spread = math.sqrt(math.fsum((x - estimate * d) ** 2 for x, d in contributions)) / df
    phi = estimate + 1.6448536269514722 * max(spread, math.sqrt(2.0 / df))
    assert grouped.phi == phi
    assert grouped.rho == min(1.0, (phi - 1.0) / (trials / runs - 1.0))


def test_the_trend_tests_exact_pre_decision_agrees_with_the_float_test() -> None:
    rng = Random("trend")
    decided = {True: 0, False: 0}
    near = 0
    for _ in range(20_000):
        runs = rng.randint(4, 11)
        level = rng.random()
        slope = rng.uniform(-0.08, 0.08)
        window = []
        for x in range(runs):
            total = rng.randint(1, 10)
            rate = min(1.0, max(0.0, level + slope * x))
            window.append((sum(rng.random() < rate for _ in range(total)), total))
        result = _trending(window)
        assert result == _trending_float(window), window
        decided[result] += 1
        passed = sum(c for c, _ in window)
        total = sum(m for _, m in window)
        if 0 < passed < total:
            xs = range(runs)
            sxc = sum(x * c for x, (c, _) in zip(xs, window, strict=True))
            sxm = sum(x * m for x, (_, m) in zip(xs, window, strict=True))
            sxxm = sum(x * x * m for x, (_, m) in zip(xs, window, strict=True))
            z2 = total * (total * sxc - passed * sxm) ** 2
            z2 /= passed * (total - passed) * (total * sxxm - sxm * sxm)
            near += 3.8 <= z2 <= 3.9
    assert min(decided.values()) > 1000  # both answers, many times
    assert near > 0  # and the float test still decides near the cut-off


def test_a_window_with_gaps_compares_as_before() -> None:
    # Scenarios missing from some runs or without trials there: the window keeps the
    # runs with trials, and the suite-wide test the scenarios every run has.
    rng = Random("gaps")
    keys = [f"s{i}" for i in range(300)]
    maps = _maps(rng, keys, 5, True)
    baseline = Bucket(name="main", scenarios={k: Scenario(k, 4, 5) for k in keys})
    pr = Bucket(name="pr", scenarios={k: Scenario(k, rng.randint(2, 5), 5) for k in keys})
    history = [Bucket(name=f"old{i}", scenarios=m) for i, m in enumerate(maps)]
    comparison = compare_buckets(pr, baseline, Thresholds(), history=history)
    for row in comparison.scenarios:
        window = [m.get(row.key) for m in maps] + [baseline.scenarios[row.key]]
        assert row.series == tuple(
            None if s is None or not s.total else s.passed / s.total for s in window
        )


def test_the_stale_run_test_is_the_exact_two_sided_fisher_decision() -> None:
    level = Fraction(1, 20)
    for m in range(1, 11):
        for c in range(m + 1):
            for total in range(1, 41):
                for passed in range(total + 1):
                    expected = stats.two_sided_at_most(c, m, passed, total, level)
                    assert _stale.__wrapped__(c, m, passed, total) == expected
