"""The pure comparison engine: two buckets in, a Comparison out (issue 2 §4).

No I/O, no logging, no environment: the same inputs always give the same
verdicts, so ``evalbot compare`` on a laptop and the Action on a PR agree.
The statistics live below it: scenario_tests (exact tables, families,
verdicts), window (pooling the baseline runs), aggregate (the suite-wide
test), power (the power statement); gate decides the required check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction
from itertools import repeat

from evalbot.core import drift, metrics, stats
from evalbot.core.aggregate import _aggregate_test, single_run_margin
from evalbot.core.budget import scenario_alpha
from evalbot.core.decimals import decimal as _dec
from evalbot.core.gate import decide_gate, settle
from evalbot.core.models import (
    Aggregate,
    Bucket,
    CategoryDrift,
    Comparison,
    RateSummary,
    Scenario,
    ScenarioComparison,
    Thresholds,
    Verdict,
)
from evalbot.core.pooling import flakiness, latest_only, pool_window, window_runs
from evalbot.core.power import _suite_fails_on_one, power
from evalbot.core.scenario_tests import (
    _families,
    _verdict,
)
from evalbot.core.trend import compute_trend, points_from_buckets
from evalbot.core.verdicts import Trend, scenario_row
from evalbot.core.window import _Dispersion, _dispersion

__all__ = [
    "category_drift",
    "compare_buckets",
    "compare_scenario",
    "decide_gate",
    "scenario_alpha",
    "settle",
    "single_run_margin",
]


def _rate_summary(passed: int, total: int) -> RateSummary:
    low, high = stats.wilson_interval(passed, total)
    return RateSummary(
        passed=passed, total=total, rate=passed / total if total else None, low=low, high=high
    )


def _aggregate(rows: Iterable[ScenarioComparison]) -> Aggregate:
    """Micro-average (total passes / total trials) over the shared scenarios."""
    pr_passed = pr_total = base_passed = base_total = count = 0
    for row in rows:
        side = row.pooled or row.baseline
        pr_passed += row.pr.passed
        pr_total += row.pr.total
        base_passed += side.passed
        base_total += side.total
        count += 1
    pr = _rate_summary(pr_passed, pr_total)
    base = _rate_summary(base_passed, base_total)
    delta = None if pr.rate is None or base.rate is None else pr.rate - base.rate
    return Aggregate(pr=pr, baseline=base, delta=delta, scenarios=count)


def _category_counts(scenarios: Iterable[Scenario]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for scenario in scenarios:
        # Most scenarios have no failure category: skip the empty mapping's items().
        if scenario.categories:
            for name, n in scenario.categories.items():
                counts[name] = counts.get(name, 0) + n
    return counts


def category_drift(
    pr: Bucket, baseline: Bucket, thresholds: Thresholds
) -> tuple[CategoryDrift, ...]:
    """Failure-category counts and per-trial rates on each side (issue 2 §4).

    Every category seen on either side is kept (new ones are marked, never
    dropped). A row is ``notable`` when the per-trial rate gap reaches
    ``category_min_rate_gap`` *and* the PR count differs from the baseline
    count scaled to the PR's trial total by at least ``category_min_count_gap``
    — the second test stops 1 vs 0 on a tiny suite from looking like drift.
    Rows that are zero on both sides are omitted. Notable rows come first.
    """
    pr_counts = _category_counts(pr.scenarios.values())
    base_counts = _category_counts(baseline.scenarios.values())
    pr_trials, base_trials = pr.total_trials, baseline.total_trials
    rows = []
    for name in pr_counts.keys() | base_counts.keys():
        pr_n, base_n = pr_counts.get(name, 0), base_counts.get(name, 0)
        if pr_n == 0 and base_n == 0:
            continue
        pr_rate = Fraction(pr_n, pr_trials) if pr_trials else Fraction(0)
        base_rate = Fraction(base_n, base_trials) if base_trials else Fraction(0)
        expected = base_rate * pr_trials
        notable = abs(pr_rate - base_rate) >= _dec(thresholds.category_min_rate_gap) and abs(
            pr_n - expected
        ) >= _dec(thresholds.category_min_count_gap)
        rows.append(
            CategoryDrift(
                category=name,
                pr_count=pr_n,
                baseline_count=base_n,
                pr_rate=float(pr_rate),
                baseline_rate=float(base_rate),
                delta=float(pr_rate - base_rate),
                notable=notable,
                new=base_n == 0,
            )
        )
    rows.sort(key=lambda r: (not r.notable, -abs(r.delta), r.category))
    return tuple(rows)


def compare_buckets(
    pr: Bucket,
    baseline: Bucket,
    thresholds: Thresholds,
    *,
    history: Sequence[Bucket] = (),
) -> Comparison:
    """Compare a PR experiment with its baseline, scenario by scenario.

    ``history`` holds older baseline experiments, oldest first; together with
    the latest baseline they are the window of K baseline runs (issue 5 §1,
    issue 11 §1). Each scenario's baseline side is the latest run pooled with
    the older runs consistent with it (``_recent_pool``), tested at the
    effective size the window's between-run spread allows (``_effective``);
    the aggregate test compares the PR's suite pass rate with what the K
    runs predict (``_aggregate_test``). Scenarios present on both sides get
    a verdict; scenarios present on one side only are listed in ``pr_only``
    / ``baseline_only`` and never silently dropped. Rows are sorted by
    verdict severity, then key.
    """
    pr_map, base_map = pr.scenarios, baseline.scenarios
    shared = [(key, side) for key, side in pr_map.items() if key in base_map]
    keys: list[str] = [key for key, _ in shared]
    # Every pass over the scenarios below walks them in the files' order, as they lie in
    # memory (in key order each step lands somewhere else: the same passes took twice as
    # long at 100,000 scenarios); the rows are sorted once, at the end.
    sides: list[Scenario] = [side for _, side in shared]
    bases = list(map(base_map.__getitem__, keys))
    # Each scenario's window: its runs' counts and its rate series, aligned with keys
    # (without history, the latest run alone is read directly below).
    maps = [b.scenarios for b in history]
    runs, series = window_runs(keys, maps, bases) if history else ([], [])
    dispersion = _dispersion(runs) if history else _Dispersion()
    aggregate_test = _aggregate_test(
        keys, pr_map, baseline, history, thresholds, windows=runs if history else None
    )
    # When the suite as a whole drifted or stepped, every scenario's pool is limited to
    # the recent runs: a per-scenario test sees too few trials to notice a drift that
    # the suite rate shows clearly, and the stale average would fail unchanged PRs.
    design = aggregate_test[1]
    keep = design.recent_runs if design is not None else 0
    # Unless the window trends significantly (then the latest run is main's level), a
    # pool cut short — the suite's latest run stands apart, or this scenario's older
    # runs differ from its recent ones — is one of two plausible levels, the whole
    # window the other; which one main is at now, the window cannot tell (a lucky latest
    # run, a bad old one and a real step all look alike), so the PR is compared with
    # both and must be significantly worse than each (_favourable).
    trusted = design is not None and design.trusted_trend
    if history:
        tables, pooled, most_runs = pool_window(
            keys, sides, bases, runs, dispersion, keep=keep, trusted=trusted
        )
    else:
        tables, pooled = latest_only(keys, sides, bases)
        most_runs = 1
    # A scenario's flags, q and verdict depend on its table alone, and _table_stats hands
    # out one object per distinct table: the families and the verdicts run per distinct
    # table (a few hundred at 100,000 scenarios), keyed by identity (the tables are alive
    # in the list).
    table_ids = list(map(id, tables))
    counts = Counter(table_ids)
    distinct = dict(zip(table_ids, tables, strict=True))
    flags, qvalues, family_size = _families(
        [distinct[i] for i in counts], list(counts.values()), thresholds
    )
    # Per distinct table: its verdict, delta (float() of a Fraction is Python code) and q.
    verdict_of: dict[int, Verdict] = {}
    severity_of: dict[int, int] = {}
    delta_of: dict[int, float | None] = {}
    q_of: dict[int, float | None] = {}
    for table_id, flag, q in zip(counts, flags, qvalues, strict=True):
        table = distinct[table_id]
        verdict_of[table_id] = verdict = _verdict(table, thresholds, flag)
        severity_of[table_id] = verdict.severity
        delta_of[table_id] = None if table.delta is None else float(table.delta)
        q_of[table_id] = q
    # Per row, only what differs between scenarios with the same table; a plain loop
    # over the columns, the row built by scenario_row (issue 14: 100,000 rows).
    no_series: tuple[float | None, ...] = ()
    flakiness_of: dict[tuple[int, int], float | None] = {}
    built: list[ScenarioComparison] = []
    windows = series if history else repeat(no_series, len(keys))
    columns = zip(keys, sides, bases, tables, table_ids, pooled, windows, strict=True)
    for key, side, base, table, table_id, pooled_side, window in columns:
        pair = (pooled_side.passed, pooled_side.total)
        flaky = flakiness_of.get(pair, _UNSEEN)
        if flaky is _UNSEEN:
            flaky = flakiness_of[pair] = flakiness(*pair)
        built.append(
            scenario_row(
                key,
                side.label or base.label,
                verdict_of[table_id],
                side,
                base,
                delta_of[table_id],
                table.p_worse,
                table.p_better,
                pooled_side,
                q_of[table_id],
                window,
                flaky,
            )
        )
    # By verdict severity, then key (keys are unique): positions sorted by key, then
    # stably by severity — the order of sorting on (severity, key), without a tuple or
    # a Python call per row.
    order = sorted(range(len(keys)), key=keys.__getitem__)
    order.sort(key=list(map(severity_of.__getitem__, table_ids)).__getitem__)
    rows = list(map(built.__getitem__, order))
    # The one-sided scenarios (usually none: no scan then) by set difference of the keys
    # (in C), then sorted by key.
    pr_only = (
        tuple(sorted(map(pr_map.__getitem__, pr_map.keys() - base_map.keys()), key=_key))
        if len(pr_map) > len(keys)
        else ()
    )
    baseline_only = (
        tuple(sorted(map(base_map.__getitem__, base_map.keys() - pr_map.keys()), key=_key))
        if len(base_map) > len(keys)
        else ()
    )
    # Sums and counts over the rows, in any order: the unsorted ones lie in memory in order.
    aggregate = _aggregate(built)
    series_trend, scenario_trends = _trends(rows, baseline, history, thresholds)
    has_measures = metrics.measured(pr, baseline)
    return Comparison(
        pr=pr,
        baseline=baseline,
        thresholds=thresholds,
        scenarios=tuple(rows),
        pr_only=pr_only,
        baseline_only=baseline_only,
        aggregate=aggregate,
        categories=category_drift(pr, baseline, thresholds),
        aggregate_test=aggregate_test[0],
        power=power(
            built,
            thresholds,
            family_size=family_size,
            runs=most_runs,
            dispersion=dispersion,
            aggregate_test=aggregate_test,
            # Lazily: only asked when no scenario can fail the check alone (the
            # aggregate test over every scenario again, otherwise wasted).
            suite_fails_on_one=lambda: _suite_fails_on_one(keys, pr, baseline, history, thresholds),
        ),
        history=tuple(history),
        family_size=family_size,
        trend=series_trend,
        scenario_trends=scenario_trends,
        # Whether any scenario has a measurement, found once for the three (a scan of
        # every scenario).
        metrics=metrics.compare_metrics(
            pr, baseline, thresholds.metrics, has_measures=has_measures
        ),
        costs=metrics.compare_costs(pr, baseline, thresholds.costs, has_measures=has_measures),
        drift=drift.compare_drift(pr, baseline, thresholds.drift, has_measures=has_measures),
        win_loss=metrics.win_loss(
            (delta_of[table_id], count) for table_id, count in counts.items()
        ),
    )


# Flagged scenarios whose own trend line is shown (the comment stays short).
MAX_SCENARIO_TRENDS = 5


def _trends(
    rows: Sequence[ScenarioComparison],
    baseline: Bucket,
    history: Sequence[Bucket],
    thresholds: Thresholds,
) -> tuple[Trend | None, tuple[tuple[str, Trend], ...]]:
    """The pass-rate trend over the baseline window, overall and per flagged scenario."""
    if not history:
        return None, ()
    runs = [*history, baseline]
    overall = compute_trend(points_from_buckets(runs), threshold=thresholds.trend_threshold)
    flagged = [
        row for row in rows if row.verdict in (Verdict.HARD_REGRESSION, Verdict.SOFT_REGRESSION)
    ][:MAX_SCENARIO_TRENDS]
    per_scenario = tuple(
        (
            row.label or row.key,
            compute_trend(
                points_from_buckets(runs, key=row.key), threshold=thresholds.trend_threshold
            ),
        )
        for row in flagged
    )
    return overall, per_scenario


def compare_scenario(
    pr: Scenario, baseline: Scenario, thresholds: Thresholds
) -> ScenarioComparison:
    """One scenario compared on its own, as a one-scenario suite."""
    one = compare_buckets(
        Bucket(name="pr", scenarios={pr.key: pr}),
        Bucket(name="baseline", scenarios={pr.key: baseline}),
        thresholds,
    )
    return one.scenarios[0]


# A flakiness not computed yet (None is a value: no trials).
_UNSEEN = -1.0


def _key(scenario: Scenario) -> str:
    return scenario.key
