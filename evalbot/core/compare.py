"""The pure comparison engine: two buckets in, a Comparison out (issue 2 §4).

No I/O, no logging, no environment: the same inputs always give the same
verdicts, so ``evalbot compare`` on a laptop and the Action on a PR agree.

Rates and deltas are compared as exact Fractions against thresholds read as
decimals (``Fraction("0.30")``), so a drop from 7/10 to 4/10 is exactly 30 pp
and meets a 30 pp threshold, instead of missing it by float rounding.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist
from typing import NamedTuple, Protocol

from evalbot.core import metrics, stats
from evalbot.core.models import (
    Aggregate,
    AggregateTest,
    Bucket,
    CategoryDrift,
    Comparison,
    Correction,
    CostDelta,
    CostMeasure,
    FailOn,
    FetchFailed,
    Gate,
    NoBaseline,
    NothingCompared,
    Ok,
    OnFetchFailure,
    Outcome,
    Power,
    PowerDrop,
    RateSummary,
    Scenario,
    ScenarioComparison,
    SelfBaseline,
    Thresholds,
    Verdict,
)
from evalbot.core.trend import Trend, compute_trend, points_from_buckets


@lru_cache(maxsize=256)
def _dec(value: float) -> Fraction:
    """A threshold as the decimal the user wrote (0.3 means 3/10, not 0.2999…).

    Cached: a handful of thresholds are read once per scenario.
    """
    return Fraction(str(value))


@dataclass(frozen=True, slots=True)
class _TableStats:
    p_worse: Fraction
    p_better: Fraction
    delta: Fraction | None
    base_rate: Fraction | None
    min_p: Fraction
    min_p_better: Fraction


@lru_cache(maxsize=65536)
def _table_stats(
    pr_passed: int,
    pr_total: int,
    base_passed: int,
    base_total: int,
    eff_passed: int | None = None,
    eff_total: int | None = None,
) -> _TableStats:
    """Exact p-values, delta, baseline rate and minimum attainable p for one 2x2 table.

    The delta and baseline rate come from the real counts; the p-values from
    the baseline side at its *effective* size (``eff_passed``/``eff_total``,
    see ``_effective``) when the window is over-dispersed, else from the real
    counts. Cached: real suites repeat the same few tables (3 trials a side
    gives at most 16 of them), which keeps 100,000 scenarios cheap.
    """
    if pr_total == 0 or base_total == 0:
        one = Fraction(1)
        return _TableStats(one, one, None, None, one, one)
    base_rate = Fraction(base_passed, base_total)
    c, m = (base_passed, base_total) if eff_total is None else (eff_passed or 0, eff_total)
    return _TableStats(
        p_worse=stats.fisher_worse(pr_passed, pr_total, c, m),
        p_better=stats.fisher_better(pr_passed, pr_total, c, m),
        delta=Fraction(pr_passed, pr_total) - base_rate,
        base_rate=base_rate,
        min_p=stats.min_attainable_worse(pr_total, m, pr_passed + c),
        min_p_better=stats.min_attainable_better(pr_total, m, pr_passed + c),
    )


@lru_cache(maxsize=65536)
def _favourable(recent: _TableStats, whole: _TableStats) -> _TableStats:
    """One scenario judged against two plausible baseline levels: significant only
    against both.

    Each p-value (worse and better) is the larger of the two, and so is each
    minimum attainable p (the family filter stays a function of the margins);
    the delta and baseline rate are those of the lower level (the smaller
    drop: the one more favourable to the PR; the recent one on a tie). Whichever
    level is main's true one, its test is valid, and the larger p is at least
    its p: the combination keeps the size of each (an intersection-union test).
    """
    assert recent.delta is not None and whole.delta is not None
    favoured = whole if whole.delta > recent.delta else recent
    return _TableStats(
        p_worse=max(recent.p_worse, whole.p_worse),
        p_better=max(recent.p_better, whole.p_better),
        delta=favoured.delta,
        base_rate=favoured.base_rate,
        min_p=max(recent.min_p, whole.min_p),
        min_p_better=max(recent.min_p_better, whole.min_p_better),
    )


@dataclass(frozen=True, slots=True)
class _Flags:
    """Which tests of one scenario are significant for the tiers that use them."""

    hard: bool  # a drop, for the hard tier
    soft: bool  # a drop, for the soft tier
    better: bool  # a gain, for the improvement label


def _verdict(table: _TableStats, thresholds: Thresholds, flags: _Flags) -> Verdict:
    """The tier a scenario falls in, given which of its tests are significant.

    Evaluation order is part of the spec (issue 2 §4): improvement, hard,
    unreliable_baseline, soft, watch, stable. With correction "bh" the hard
    and soft flags both come from the one multiplicity-controlled family
    (everything that can fail the check is inside the false-alarm budget) and
    the improvement flag from its mirror family; with "none" each tier uses
    its own raw p-value (the core classifier). ``unreliable_baseline`` and
    ``watch`` never fail the check and keep raw values.
    """
    if table.delta is None or table.base_rate is None:
        return Verdict.INSUFFICIENT_DATA
    delta, base_rate = table.delta, table.base_rate
    hard, soft = thresholds.hard, thresholds.soft
    if flags.better and delta >= _dec(hard.min_delta):
        return Verdict.IMPROVEMENT
    if -delta >= _dec(hard.min_delta):
        if base_rate >= _dec(hard.min_baseline_rate):
            if flags.hard:
                return Verdict.HARD_REGRESSION
        elif stats.significant(table.p_worse, hard.max_p):
            # A hard-sized drop on a baseline that was already failing often is
            # not evidence about this PR: flag the baseline, don't fail the gate.
            return Verdict.UNRELIABLE_BASELINE
    if flags.soft and -delta >= _dec(soft.min_delta) and base_rate >= _dec(soft.min_baseline_rate):
        return Verdict.SOFT_REGRESSION
    if abs(delta) >= _dec(thresholds.watch_delta):
        return Verdict.WATCH
    return Verdict.STABLE


def scenario_alpha(thresholds: Thresholds) -> float:
    """The part of the false-alarm budget spent on the per-scenario family."""
    return thresholds.alpha - thresholds.aggregate_alpha


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


# --- the baseline window: K runs, not one large sample (issue 11 §1) -----------------------

#: Two-sided Fisher level at which an older baseline run counts as inconsistent with the
#: runs after it, which ends that scenario's pool (a change point: main moved).
STALE_RUN_LEVEL = Fraction(1, 20)


#: Two-sided level of the per-scenario trend test (Cochran-Armitage) over the pooled runs.
TREND_LEVEL = 0.05


@lru_cache(maxsize=65536)
def _recent_pool(runs: tuple[tuple[int, int], ...], keep: int = 0) -> tuple[int, int, int]:
    """(passed, total, runs used): the latest run pooled with the older runs that are current.

    Walking back from the latest run, each older run is compared with the
    runs already pooled (two-sided Fisher); the first one that differs at
    ``STALE_RUN_LEVEL`` and every run before it are left out — a change
    point: main stepped. Then, when the runs left still show a trend
    (Cochran-Armitage, two-sided ``TREND_LEVEL``) — main drifting in this
    scenario — only the most recent third of them is kept. ``keep`` > 0 caps
    the pool at that many recent runs: the suite-wide analysis found main
    drifting or stepped as a whole (see compare_buckets). Runs that simply vary
    by chance keep the whole window: 4/5 against 20/20 has p = 0.4.
    """
    if not runs:
        return 0, 0, 0
    if keep > 0:
        runs = runs[-keep:]
    passed, total = runs[-1]
    used = 1
    for c, m in reversed(runs[:-1]):
        if _stale(c, m, passed, total):
            break
        passed, total, used = passed + c, total + m, used + 1
    if used >= 4 and _trending(runs[-used:]):
        used = math.ceil(used / 3)
        passed = sum(c for c, _ in runs[-used:])
        total = sum(m for _, m in runs[-used:])
    return passed, total, used


def _trending(runs: Sequence[tuple[int, int]]) -> bool:
    """Cochran-Armitage test for a linear trend of the pass rate across runs (two-sided)."""
    passed = sum(c for c, _ in runs)
    total = sum(m for _, m in runs)
    if passed in (0, total):
        return False
    p = passed / total
    x_mean = sum(x * m for x, (_, m) in enumerate(runs)) / total
    score = sum((x - x_mean) * c for x, (c, _) in enumerate(runs))
    variance = p * (1 - p) * sum(m * (x - x_mean) ** 2 for x, (_, m) in enumerate(runs))
    if variance <= 0:
        return False
    z = score / math.sqrt(variance)
    return 2 * stats.normal_lower_tail(-abs(z)) <= TREND_LEVEL


@lru_cache(maxsize=65536)
def _stale(c: int, m: int, passed: int, total: int) -> bool:
    """Whether an older run (c of m) differs from the pooled later runs (two-sided Fisher)."""
    if c * total == passed * m:
        return False  # the same rate: the two-sided p-value is at least 1/2
    left = stats.fisher_worse(c, m, passed, total)
    right = stats.fisher_better(c, m, passed, total)
    return 2 * min(left, right) <= STALE_RUN_LEVEL


#: One-sided level of the over-dispersion check, and the one-sided confidence of the upper
#: bound used once the check finds it (see _dispersion).
DISPERSION_LEVEL = 0.05
_Z_DISPERSION = 1.6448536269514722  # Phi^-1(0.95)


@dataclass(frozen=True, slots=True)
class _Dispersion:
    """Between-run variation of per-scenario pass rates, estimated from the window.

    ``phi`` is the over-dispersion factor of per-scenario run counts (1: binomial)
    and ``rho`` the intra-run correlation it implies for runs of ``per_run``
    trials (phi = 1 + (per_run - 1) rho, the beta-binomial design effect).
    """

    phi: float = 1.0
    rho: float = 0.0

    def design_effect(self, trials: float) -> float:
        return 1.0 + max(0.0, trials - 1.0) * self.rho


def _dispersion(runs_by_key: Iterable[tuple[tuple[int, int], ...]]) -> _Dispersion:
    """Pearson's X² of each scenario's runs-by-outcome table, pooled over scenarios.

    phi-hat = sum X² / sum df. When it is not significantly above 1 (one-sided
    ``DISPERSION_LEVEL`` against its null standard error sqrt(2/df)), the runs
    are taken as binomial: i.i.d. windows keep every trial. When it is, phi is
    its upper ``1 - DISPERSION_LEVEL`` confidence bound, with the standard
    error estimated from the scenarios' own X² (a ratio estimator; heavy-tailed
    under over-dispersion, so the null sqrt(2/df) would understate it). An
    upper bound, not the point estimate: under-estimating the spread is what
    fails unchanged PRs (with runs drawn at intra-class correlation 0.1, the
    point estimate less one standard error read ~0.07 and 6.7% of unchanged
    PRs failed at N = 5, K = 10); over-estimating it costs a little power.
    """
    contributions: list[tuple[float, int]] = []
    trials = runs = 0
    for runs_ in runs_by_key:
        if len(runs_) < 2:
            continue
        passed = sum(c for c, _ in runs_)
        total = sum(m for _, m in runs_)
        trials += total
        runs += len(runs_)
        if passed in (0, total) or total < 2:
            continue  # no failure (or no pass) anywhere: no information about spread
        p = passed / total
        # p(1-p) M/(M-1): the unbiased binomial variance, so X² averages its df.
        var = p * (1 - p) * total / (total - 1)
        x2 = sum((c - m * p) ** 2 / (m * var) for c, m in runs_)
        contributions.append((x2, len(runs_) - 1))
    df = sum(d for _, d in contributions)
    if df == 0 or runs == 0:
        return _Dispersion()
    estimate = math.fsum(x for x, _ in contributions) / df
    if estimate - 1.0 <= _Z_DISPERSION * math.sqrt(2.0 / df):
        return _Dispersion()
    spread = math.sqrt(math.fsum((x - estimate * d) ** 2 for x, d in contributions)) / df
    phi = estimate + _Z_DISPERSION * max(spread, math.sqrt(2.0 / df))
    per_run = trials / runs
    if per_run <= 1.0:
        return _Dispersion(phi=phi)
    return _Dispersion(phi=phi, rho=min(1.0, (phi - 1.0) / (per_run - 1.0)))


def _effective(
    c: int, m: int, used: int, n: int, dispersion: _Dispersion
) -> tuple[int | None, int | None]:
    """The pooled baseline at the size that carries the PR-vs-window variance, or (None, None).

    With intra-run correlation rho, a run of t trials carries the information
    of t / deff(t) independent ones, and the PR is one more run: the variance
    of PR rate minus pooled rate is p(1-p) (deff(n)/n + deff(m/used)/m). All
    of the excess is charged to the baseline side, whose effective size m'
    solves 1/n + 1/m' = deff(n)/n + deff(m/used)/m, so Fisher's exact test
    still runs on whole counts (the pooled rate kept, rounded to m').
    """
    if dispersion.rho <= 0.0 or m == 0 or n == 0:
        return None, None
    inverse = dispersion.design_effect(m / used) / m + (dispersion.design_effect(n) - 1.0) / n
    size = max(1, math.floor(1.0 / inverse))
    if size >= m:
        return None, None
    return (2 * c * size + m) // (2 * m), size


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
    keys = [key for key in pr.scenarios if key in baseline.scenarios]
    # One pass over the window per scenario: its runs' counts and its rate series.
    maps = [b.scenarios for b in (*history, baseline)]
    runs: dict[str, tuple[tuple[int, int], ...]] = {}
    series: dict[str, tuple[float | None, ...]] = {}
    for key in keys:
        window = [found.get(key) for found in maps]
        runs[key] = tuple((s.passed, s.total) for s in window if s is not None and s.total)
        if history:
            series[key] = tuple(None if s is None else s.rate for s in window)
    dispersion = _dispersion(runs.values()) if history else _Dispersion()
    aggregate_test = _aggregate_test(keys, pr.scenarios, baseline, history, thresholds)
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
    pooled: dict[str, Scenario] = {}
    tables: dict[str, _TableStats] = {}
    runs_used: dict[str, int] = {}
    for key in keys:
        side = pr.scenarios[key]
        window_runs = runs[key]
        c, m, used = _recent_pool(window_runs, keep)
        eff_c, eff_m = _effective(c, m, used, side.total, dispersion)
        table = _table_stats(side.passed, side.total, c, m, eff_c, eff_m)
        if not trusted and used < len(window_runs) and table.delta is not None:
            wc = sum(r[0] for r in window_runs)
            wm = sum(r[1] for r in window_runs)
            w_eff_c, w_eff_m = _effective(wc, wm, len(window_runs), side.total, dispersion)
            whole = _table_stats(side.passed, side.total, wc, wm, w_eff_c, w_eff_m)
            if whole.delta is not None and whole.delta > table.delta:
                c, m, used = wc, wm, len(window_runs)  # shown: the level that decided
            table = _favourable(table, whole)
        pooled[key] = Scenario(key=key, passed=c, total=m, label=baseline.scenarios[key].label)
        runs_used[key] = used
        tables[key] = table
    flags, qvalues, family_size = _families(keys, tables, thresholds)
    rows = []
    # A verdict depends only on the table and its flags, and _table_stats hands
    # out one object per distinct table: classify each (object, flags) once.
    verdicts: dict[tuple[int, _Flags], Verdict] = {}
    # float() of a Fraction is Python code: once per distinct table as well.
    deltas: dict[int, float | None] = {}
    for key in keys:
        table, pooled_side = tables[key], pooled[key]
        rate = pooled_side.rate
        flag = flags[key]
        verdict = verdicts.get((id(table), flag))
        if verdict is None:
            verdict = verdicts[id(table), flag] = _verdict(table, thresholds, flag)
        if id(table) in deltas:
            delta = deltas[id(table)]
        else:
            delta = deltas[id(table)] = None if table.delta is None else float(table.delta)
        rows.append(
            ScenarioComparison(
                key=key,
                label=pr.scenarios[key].label or baseline.scenarios[key].label,
                verdict=verdict,
                pr=pr.scenarios[key],
                baseline=baseline.scenarios[key],
                delta=delta,
                p_worse=table.p_worse,
                p_better=table.p_better,
                pooled=pooled_side,
                q=qvalues.get(key),
                series=series.get(key, ()),
                flakiness=None if rate is None else 2 * rate * (1 - rate),
            )
        )
    rows.sort(key=lambda row: (row.verdict.severity, row.key))
    pr_only = tuple(
        sorted((s for k, s in pr.scenarios.items() if k not in baseline.scenarios), key=_key)
    )
    baseline_only = tuple(
        sorted((s for k, s in baseline.scenarios.items() if k not in pr.scenarios), key=_key)
    )
    aggregate = _aggregate(rows)
    series_trend, scenario_trends = _trends(rows, baseline, history, thresholds)
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
            rows,
            thresholds,
            family_size=family_size,
            runs=max((runs_used[r.key] for r in rows), default=1),
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
        metrics=metrics.compare_metrics(pr, baseline, thresholds.metrics),
        costs=metrics.compare_costs(pr, baseline, thresholds.costs),
        drift=metrics.compare_drift(pr, baseline, thresholds.drift),
        win_loss=metrics.win_loss(rows),
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


def _families(
    keys: Sequence[str], tables: Mapping[str, _TableStats], thresholds: Thresholds
) -> tuple[dict[str, _Flags], dict[str, float], int]:
    """Each scenario's significance flags, its q-value (gains family for an improvement,
    drops family otherwise) and the drop family's size.

    correction "none": each tier at its own raw level (hard.max_p, soft.max_p,
    and hard.max_p for improvements) — the core classifier.
    correction "bh": one Tarone-filtered Benjamini-Hochberg family of drops
    (stats.tarone_bh) at alpha - aggregate_alpha over every shared scenario
    with trials on both sides decides both the hard and the soft tier, so
    whatever ``fail_on`` says, every scenario verdict that can fail the check
    comes out of the same budget; improvements come from the mirror family of
    gains at the same level, so an unchanged PR rarely shows one. Families
    are chosen from the tables' margins alone, never from the baseline's pass
    rate: selecting on the observed baseline rate would favour scenarios whose
    baseline ran lucky, and those have p-values biased low — the false-fail
    simulation in bench/bench_stats.py showed exactly that. The tiers'
    baseline-rate and minimum-drop conditions stay a veto in _verdict,
    applied after the test.
    """
    if thresholds.correction is Correction.NONE:
        hard, soft = thresholds.hard, thresholds.soft
        flags = {
            k: _Flags(
                hard=stats.significant(tables[k].p_worse, hard.max_p),
                soft=stats.significant(tables[k].p_worse, soft.max_p),
                better=stats.significant(tables[k].p_better, hard.max_p),
            )
            for k in keys
        }
        return flags, {}, len(keys)
    eligible = [k for k in keys if tables[k].base_rate is not None]
    level = scenario_alpha(thresholds)
    worse, qvalues, size = stats.tarone_bh(
        [tables[k].p_worse for k in eligible], [tables[k].min_p for k in eligible], level
    )
    better, better_q, _ = stats.tarone_bh(
        [tables[k].p_better for k in eligible], [tables[k].min_p_better for k in eligible], level
    )
    none = _Flags(hard=False, soft=False, better=False)
    flags = dict.fromkeys(keys, none)
    q_by_key: dict[str, float] = {}
    rows = zip(eligible, worse, better, qvalues, better_q, strict=True)
    for key, is_worse, is_better, q_worse, q_better in rows:
        flags[key] = _Flags(hard=is_worse, soft=is_worse, better=is_better)
        # The q of the family that decided: an improvement shows its gains-family q.
        q = q_better if is_better else q_worse
        if q is not None:
            q_by_key[key] = q
    return flags, q_by_key, size


# --- the aggregate test: the suite pass rate against what the K baseline runs predict ------

#: With fewer baseline runs than this the run-to-run spread of the suite pass rate is not
#: estimated (a t test on 2 runs has 1 degree of freedom): the margin rule applies instead.
MIN_RUNS_FOR_SPREAD = 3
#: From this many runs, a window whose suite rates vary no more than binomial noise is
#: tested with that (known) variance instead of the t quantile — with 5+ degrees of
#: freedom a run-level wobble large enough to matter would show in the spread.
MIN_RUNS_FOR_KNOWN_VARIANCE = 6
#: Two-sided level of the window checks that choose the baseline level: a linear trend
#: (main drifting) and a latest run inconsistent with the others (main stepped).
WINDOW_CHECK_LEVEL = 0.01


def single_run_margin(thresholds: Thresholds) -> Fraction:
    """The suite-wide drop that must be exceeded significantly with fewer than 3 baseline runs.

    Half the soft tier's minimum drop (7.5 pp by default). With one or two
    runs nothing says how much a whole run wobbles, and run-level shocks of a
    few points are common (a logit shock of SD 0.25 moves a 100-scenario suite's rate by
    about 2.4 pp, so two runs differ by 3.4 pp at one SD): a test on binomial
    noise alone would fail unchanged PRs whenever main wobbled. The check
    therefore asks whether the drop is significantly *larger than* the margin.
    """
    return _dec(thresholds.soft.min_delta) / 2


@dataclass(frozen=True, slots=True)
class _AggregateDesign:
    """What the power statement needs from the aggregate test: its scale and cut-off."""

    se: float  # standard error of PR rate minus baseline level
    quantile: float  # the statistic fails the check at or below it
    margin: float  # subtracted from a drop before testing (0 with a spread estimate)
    # How many recent runs each scenario may pool (0: all). Main moved as a whole —
    # a trend, a step at the latest run, or (with too few runs to tell which) a
    # spread beyond binomial noise — so older runs describe a main that is gone.
    recent_runs: int = 0
    # The window's trend was significant (WINDOW_CHECK_LEVEL): scenarios trust the latest
    # run alone. Otherwise, with recent_runs set, the latest run is one candidate of two.
    trusted_trend: bool = False


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


def _suite_rate(
    scenarios: Mapping[str, _Counts], keys: Sequence[str], variance: Mapping[str, float]
) -> tuple[float, float]:
    passed = total = 0
    spread = 0.0
    for key in keys:
        scenario = scenarios[key]
        passed += scenario.passed
        total += scenario.total
        spread += scenario.total * variance[key]
    return passed / total, spread / (total * total)


def _sample_variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _aggregate_test(
    keys: Sequence[str],
    pr: Mapping[str, _Counts],
    baseline: Bucket,
    history: Sequence[Bucket],
    thresholds: Thresholds,
) -> tuple[AggregateTest, _AggregateDesign | None]:
    """Is the PR's suite pass rate below what the baseline runs predict? (issue 11 §1)

    The window is K runs, not one sample of K × N trials: whole runs move
    together (run-level shocks, a drifting main), so pooling them as one
    binomial sample — the old CMH test — failed unchanged PRs whenever main
    drifted. Over the scenarios with trials in the PR and in every run:

    - each run's suite pass rate r_1..r_K, and the binomial variance a run of
      its size would have (v_b; v_pr for the PR), from the pooled per-scenario
      rates;
    - the level an unchanged PR should reach: the mean of the runs; or, when
      the window has a significant linear trend (K >= 4), the trend's value at
      the latest run (main drifted: the PR is branched from where it is now);
      or, when the latest run is inconsistent with the others (a step), the
      lower of the two;
    - the predictive variance of PR minus level: v_pr + tau² + s²·h, with s²
      the runs' spread (floored at v_b), tau² = s² - v_b the between-run part
      the PR shares, h = 1/K for a mean (more for a trend);
    - p from Student's t with the spread's degrees of freedom, or the normal
      when K >= 6 and the runs vary no more than binomial noise (not after a
      trend: a curved drift leaves a bias binomial noise does not cover).

    All of it on the arcsine-square-root scale of the rates (see the body).
    With fewer than 3 runs the spread cannot be estimated: the drop must
    exceed ``single_run_margin`` significantly (see there). Significant when
    p <= aggregate_alpha and the PR is below the level; it gates only with
    correction "bh".
    """
    alpha = thresholds.aggregate_alpha
    gating = thresholds.correction is Correction.BH
    window: tuple[Bucket, ...] = (*history, baseline)
    # Plain loops over the runs' scenario maps: this runs twice per comparison over
    # every scenario (issue 14).
    maps = [b.scenarios for b in window]
    usable = []
    for k in keys:
        if not pr[k].total:
            continue
        for run in maps:
            scenario = run.get(k)
            if scenario is None or not scenario.total:
                break
        else:
            usable.append(k)
    if not usable:
        window = (baseline,)
        maps = [baseline.scenarios]
        usable = [k for k in keys if pr[k].total and baseline.scenarios[k].total]
    if not usable:
        return AggregateTest(0.0, 1.0, alpha, False, gating, method="none", runs=0), None
    variance: dict[str, float] = {}
    for key in usable:
        # Pooled with the PR: under "no change" it is one more draw of the same rates,
        # and a PR failure keeps an all-pass window from claiming zero variance.
        side = pr[key]
        c, m = side.passed, side.total
        for run in maps:
            scenario = run[key]
            c += scenario.passed
            m += scenario.total
        p = c / m
        variance[key] = p * (1 - p) * m / (m - 1) if m > 1 else 0.25
    runs = len(window)
    rates_and_vars = [_suite_rate(b.scenarios, usable, variance) for b in window]
    rates = [r for r, _ in rates_and_vars]
    v_b = math.fsum(v for _, v in rates_and_vars) / runs
    pr_rate, v_pr = _suite_rate(pr, usable, variance)
    if runs < MIN_RUNS_FOR_SPREAD:
        level = math.fsum(rates) / runs
        margin = float(single_run_margin(thresholds))
        se = math.sqrt(v_pr + v_b / runs)
        stat = _ratio(pr_rate - level + margin, se)
        p_value = stats.normal_lower_tail(stat)
        quantile = _NORMAL.inv_cdf(alpha)
        test = AggregateTest(
            z=stat,
            p=p_value,
            alpha=alpha,
            significant=p_value <= alpha and pr_rate < level,
            gating=gating,
            method="margin",
            runs=runs,
            baseline_level=level,
            pr_rate=pr_rate,
            margin=margin,
        )
        unsteady = runs == 2 and _excess_spread(rates, v_b)
        return test, _AggregateDesign(se, quantile, margin, 1 if unsteady else 0)
    # On the arcsine-square-root scale, where a run's binomial noise has the same
    # variance at every rate: on the rate scale a near-100% suite loses more on a bad
    # run than it gains on a good one, and the t test failed ~1.4x its level under the
    # benchmark's logit shocks (about its level here). On the logit scale it held too,
    # but a drop toward 50% shrinks there: power (b) fell from 0.78 to 0.70.
    # Binomial variances follow by the delta method.
    centre = math.fsum(rates) / runs
    slope = _arcsine_slope(centre)
    values = [_arcsine(r) for r in rates]
    lv_b, lv_pr = v_b * slope * slope, v_pr * slope * slope
    pr_value = _arcsine(pr_rate)
    candidates = _window_levels(values, lv_b)
    best: tuple[float, float, float, bool, _Level] | None = None
    for candidate in candidates:
        floor = max(candidate.spread, lv_b)
        # Not after a trend: a curved drift leaves a bias no binomial variance accounts
        # for, and the t quantile's heavier tail absorbs it (the benchmark's drift rows).
        known = (
            runs >= MIN_RUNS_FOR_KNOWN_VARIANCE and candidate.spread <= lv_b and not candidate.trend
        )
        se_value = math.sqrt(lv_pr + (floor - lv_b) + floor * candidate.h)
        stat = _ratio(pr_value - candidate.level, se_value)
        p_value = stats.normal_lower_tail(stat) if known else stats.t_lower_tail(stat, candidate.df)
        # Several plausible levels (the window leans down, or its latest run stands
        # apart): the PR must be significantly below every one of them, so the largest
        # p-value decides. Whichever level is main's true one, its test alone is valid,
        # and the largest p is at least that one's.
        if best is None or p_value > best[0]:
            best = (p_value, stat, se_value, known, candidate)
    assert best is not None
    p_value, stat, se_value, known, chosen = best
    quantile = _NORMAL.inv_cdf(alpha) if known else stats.t_quantile(alpha, chosen.df)
    level = math.sin(chosen.level) ** 2
    floor = max(chosen.spread, lv_b)
    test = AggregateTest(
        z=stat,
        p=p_value,
        alpha=alpha,
        significant=p_value <= alpha and pr_rate < level,
        gating=gating,
        method="predictive_z" if known else "predictive_t",
        runs=runs,
        df=None if known else chosen.df,
        baseline_level=level,
        pr_rate=pr_rate,
        spread=math.sqrt(floor) / slope,
        trend=chosen.trend,
        latest_outlier=chosen.outlier,
    )
    se = se_value / slope  # on the rate scale, for the power statement
    # How each scenario's baseline is pooled follows what the window showed (see
    # compare_buckets): a significant trend -> the latest run only; a latest run that
    # stands apart, or 2-3 runs varying beyond binomial noise -> the latest run or the
    # whole window, whichever is more favourable to the PR. Not a mere lean: one scenario's
    # few trials cannot see a drift that small, and the latest run alone (5 trials, say)
    # would take most of a scenario's power in every window that leans by chance.
    moved = any(c.outlier for c in candidates)
    trend = any(c.trend and not c.lean for c in candidates)
    unsteady = runs < 4 and _excess_spread(rates, v_b)
    if trend:
        return test, _AggregateDesign(se, quantile, 0.0, 1, trusted_trend=True)
    return test, _AggregateDesign(se, quantile, 0.0, 1 if moved or unsteady else 0)


def _excess_spread(rates: Sequence[float], v_b: float) -> bool:
    """Whether 2 or 3 runs' suite rates vary beyond binomial noise (chi-square, level 0.05).

    (K - 1) s² / v_b is chi-square with K - 1 degrees of freedom when runs differ by
    binomial noise alone; its upper tail has a closed form for 1 and 2.
    """
    if v_b <= 0:
        return len(set(rates)) > 1
    x = (len(rates) - 1) * _sample_variance(rates) / v_b
    tail = math.erfc(math.sqrt(x / 2)) if len(rates) == 2 else math.exp(-x / 2)
    return tail <= WINDOW_CHECK_LEVEL


_NORMAL = NormalDist()


def _ratio(numerator: float, denominator: float) -> float:
    if denominator > 0:
        return numerator / denominator
    return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)


class _Level(NamedTuple):
    """One level an unchanged PR could be at, on the arcsine scale, and its uncertainty."""

    level: float
    spread: float  # s², the runs' spread around it
    df: int
    h: float  # the level's variance as a multiple of one run's
    trend: bool = False  # from the window's linear trend
    outlier: bool = False  # the latest run stands apart from the others
    lean: bool = False  # the window leans down without a significant trend


#: One-sided level at which a downward slope over the window makes the trend's value at
#: the latest run a second candidate level (the mean stays one). Looser than
#: WINDOW_CHECK_LEVEL because it can only help the PR: a drift too small to pass the
#: two-sided 0.01 check still put the mean above main's current level (drift -5 pp with
#: run shocks of logit SD 0.15 failed 7.8% of unchanged PRs at N = 3, K = 10).
LEAN_LEVEL = 0.2


def _window_levels(values: Sequence[float], v_b: float) -> list[_Level]:
    """The candidate levels for K >= 3 runs (the test takes the largest p over them).

    ``values`` are the runs' suite rates on the arcsine scale, oldest first, and
    ``v_b`` the binomial variance of one run on that scale.
    """
    runs = len(values)
    mean = math.fsum(values) / runs
    spread = _sample_variance(values)
    at_mean = _Level(mean, spread, runs - 1, 1 / runs)
    if runs < 4:
        return [at_mean]
    # A step at the latest run: it against the runs before it (predictive, two-sided).
    others = values[:-1]
    others_mean = math.fsum(others) / len(others)
    others_spread = max(_sample_variance(others), v_b)
    t_latest = _ratio(values[-1] - others_mean, math.sqrt(others_spread * (1 + 1 / len(others))))
    if 2 * stats.t_lower_tail(-abs(t_latest), runs - 2) <= WINDOW_CHECK_LEVEL:
        # Stepped or an outlier: which, one cannot tell, so take the lower level (an
        # unchanged PR is then never judged against the higher one) and charge the
        # variance of a single run on top of the others' spread.
        return [_Level(min(values[-1], others_mean), others_spread, runs - 2, 1.0, outlier=True)]
    # A drift: a least-squares line over the window, and its value at the latest run
    # (on the arcsine scale a drift of every scenario's logit curves less than in rates,
    # where a straight line overshot the latest run by ~0.7 pp on the benchmark's drift).
    x_mean = (runs - 1) / 2
    sxx = math.fsum((x - x_mean) ** 2 for x in range(runs))
    slope = math.fsum((x - x_mean) * v for x, v in enumerate(values)) / sxx
    fitted = [mean + slope * (x - x_mean) for x in range(runs)]
    residual = math.fsum((v - f) ** 2 for v, f in zip(values, fitted, strict=True)) / (runs - 2)
    t_slope = _ratio(slope, math.sqrt(residual / sxx))
    h = 1 / runs + (runs - 1 - x_mean) ** 2 / sxx
    if 2 * stats.t_lower_tail(-abs(t_slope), runs - 2) <= WINDOW_CHECK_LEVEL:
        return [_Level(fitted[-1], residual, runs - 2, h, trend=True)]
    if stats.t_lower_tail(t_slope, runs - 2) <= LEAN_LEVEL:
        return [at_mean, _Level(fitted[-1], residual, runs - 2, h, trend=True, lean=True)]
    return [at_mean]


def _arcsine(rate: float) -> float:
    return math.asin(math.sqrt(min(max(rate, 0.0), 1.0)))


def _arcsine_slope(rate: float) -> float:
    rate = min(max(rate, 1e-4), 1 - 1e-4)
    return 1 / (2 * math.sqrt(rate * (1 - rate)))


# --- power: what the check could have caught, for the design actually used (§4) -----------

#: The power the suggestion aims for, for a drop from 100% of hard.min_delta plus
#: ``SUGGESTION_EXTRA_DROP``. Not hard.min_delta itself: the hard tier also needs the
#: *observed* drop to reach it, and a scenario whose true rate fell exactly 30 pp shows
#: a smaller drop about half the time, so no design reaches 80% there (at most about
#: 50-60% however many trials: 100% -> 70% at 5 trials is observed at <= 70% 47% of the time).
POWER_TARGET = 0.8
SUGGESTION_EXTRA_DROP = Fraction(1, 10)
MAX_SUGGESTED_REPETITIONS = 50
MAX_SUGGESTED_HISTORY = 100  # the config's limit for ``history``
#: Binomial outcomes less likely than this are left out of the enumeration.
_NEGLIGIBLE = 1e-12


def _median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0


def _pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


@lru_cache(maxsize=4096)
def _drop_outcomes(
    n: int,
    m: int,
    used: int,
    before: float,
    after: float,
    rho: float,
    min_delta: Fraction,
    min_base: Fraction,
) -> tuple[tuple[Fraction, ...], tuple[float, ...]]:
    """Every outcome of one scenario dropping ``before`` -> ``after`` that the hard tier's
    size conditions admit: their exact p-values, ascending, and cumulative probabilities.

    The baseline has m trials over ``used`` runs (rate ``before``), the PR n
    trials (rate ``after``); the p-value is the one compare_buckets computes,
    on the same effective table. P(fails) at a threshold is then one bisection.
    """
    dispersion = _Dispersion(rho=rho)
    items: list[tuple[Fraction, float]] = []
    for c in range(m + 1):
        weight_c = _pmf(c, m, before)
        if weight_c < _NEGLIGIBLE or Fraction(c, m) < min_base:
            continue
        eff_c, eff_m = _effective(c, m, used, n, dispersion)
        for a in range(n + 1):
            weight = weight_c * _pmf(a, n, after)
            if weight < _NEGLIGIBLE or Fraction(c, m) - Fraction(a, n) < min_delta:
                continue
            if eff_m is None:
                p = stats.fisher_worse(a, n, c, m)
            else:
                p = stats.fisher_worse(a, n, eff_c or 0, eff_m)
            items.append((p, weight))
    items.sort(key=lambda item: item[0])
    cumulative: list[float] = []
    total = 0.0
    for _, weight in items:
        total += weight
        cumulative.append(min(1.0, total))
    return tuple(p for p, _ in items), tuple(cumulative)


def _suite_fails_on_one(
    keys: Sequence[str],
    pr: Bucket,
    baseline: Bucket,
    history: Sequence[Bucket],
    thresholds: Thresholds,
) -> bool:
    """Would the suite-wide test fail the check if one scenario alone failed every trial?

    In a small suite one scenario is a large share of the trials, so the
    aggregate test can fail the check on a drop no per-scenario test reaches
    (a one-scenario suite: 0/3 against 3/3 is p = 0.05 as a scenario but a
    100 pp suite drop). The power statement must not say "no single scenario
    can fail the check" then (issue 11 §4). Decided by the real test, not an
    approximation: an unchanged PR (each scenario at the latest baseline's
    rate, with the PR's trial counts) in which the scenario that weighs most
    fails every trial.
    """
    shared = [k for k in keys if pr.scenarios[k].total and baseline.scenarios[k].total]
    if not shared or thresholds.correction is not Correction.BH:
        return False

    # Only pass counts, as plain tuples: copying 100,000 Scenario objects to change
    # one field cost more than the whole comparison (issue 14).
    hypothetical: dict[str, _Tally] = {}
    for key in shared:
        base = baseline.scenarios[key]
        total = pr.scenarios[key].total
        hypothetical[key] = _Tally(_round_half_even(base.passed * total, base.total), total)
    worst = max(shared, key=lambda k: (hypothetical[k].passed, k))
    hypothetical[worst] = _Tally(0, hypothetical[worst].total)
    test, _ = _aggregate_test(shared, hypothetical, baseline, history, thresholds)
    return test.gating and test.significant


def _round_half_even(numerator: int, denominator: int) -> int:
    """``round(Fraction(numerator, denominator))`` in integers: ties go to the even neighbour."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        return quotient + 1
    return quotient


def _drop_power(
    n: int,
    m: int,
    used: int,
    before: float,
    after: float,
    rho: float,
    *,
    threshold: Fraction,
    thresholds: Thresholds,
) -> float:
    """P(one scenario dropping ``before`` -> ``after`` is a hard regression at ``threshold``)."""
    if n == 0 or m == 0:
        return 0.0
    pvalues, cumulative = _drop_outcomes(
        n,
        m,
        used,
        before,
        after,
        rho,
        _dec(thresholds.hard.min_delta),
        _dec(thresholds.hard.min_baseline_rate),
    )
    index = bisect.bisect_right(pvalues, threshold)
    return cumulative[index - 1] if index else 0.0


def _design_threshold(thresholds: Thresholds, family: int) -> Fraction:
    """The p a scenario needs to fail the check alone in a family of ``family`` tests."""
    if thresholds.correction is Correction.NONE:
        return _dec(thresholds.hard.max_p)
    return Fraction(str(scenario_alpha(thresholds))) / max(1, family)


def _design_power(n: int, per_run: int, runs: int, scenarios: int, thresholds: Thresholds) -> float:
    """Power for a drop from 100% of hard.min_delta + 10 pp on one scenario, from design inputs.

    Deterministic in the trial count, the runs in the window and the suite
    size — never in the observed data — so a suggestion computed from it,
    once followed, is met and not replaced by another (issue 11 §4). The
    family is the whole suite (the most a scenario can share the budget with).
    """
    kept = float(1 - _dec(thresholds.hard.min_delta) - SUGGESTION_EXTRA_DROP)
    return _drop_power(
        n,
        per_run * runs,
        runs,
        1.0,
        kept,
        0.0,
        threshold=_design_threshold(thresholds, scenarios),
        thresholds=thresholds,
    )


# Cached: every comparison with the same design asks the same search.
@lru_cache(maxsize=1024)
def _suggestion(
    n: int, per_run: int, window: int, scenarios: int, thresholds: Thresholds
) -> tuple[int | None, int | None]:
    """The fewest repetitions, and the shortest history, whose design power reaches the target."""
    reps = next(
        (
            r
            for r in range(n + 1, MAX_SUGGESTED_REPETITIONS + 1)
            if _design_power(r, r, window, scenarios, thresholds) >= POWER_TARGET
        ),
        None,
    )
    history = next(
        (
            k
            for k in range(window + 1, MAX_SUGGESTED_HISTORY + 1)
            if _design_power(n, per_run, k, scenarios, thresholds) >= POWER_TARGET
        ),
        None,
    )
    return reps, history


def power(
    rows: Sequence[ScenarioComparison],
    thresholds: Thresholds,
    *,
    family_size: int,
    runs: int = 1,
    dispersion: _Dispersion | None = None,
    aggregate_test: tuple[AggregateTest, _AggregateDesign | None] | None = None,
    suite_fails_on_one: Callable[[], bool] | bool = False,
) -> Power:
    """The chance the check fails for named drops, with this comparison's design (issue 11 §4).

    For the typical (median) PR trials n and pooled baseline trials m over
    the runs used: the probability that one scenario dropping 100% -> 70%,
    or 97% -> 10%, fails the check, summed exactly over every binomial
    outcome of both sides with the same p-values compare_buckets uses. Under
    BH the scenario must clear alpha_s (R + 1) / (F + 1): the step-up with the
    R scenarios already rejected and the family as observed plus this one —
    so when a table has hard regressions, another drop is never called
    impossible. A 5 pp drop across the suite is the aggregate test's power
    (normal approximation). When a 30 pp drop from 100% is caught less than
    80% of the time, suggest the repetitions or history that would reach it
    (``_design_power``: design inputs only, so following it settles it).
    """
    dispersion = dispersion or _Dispersion()
    scored = [r for r in rows if r.pr.total and (r.pooled or r.baseline).total]
    n = _median([r.pr.total for r in scored])
    m = _median([(r.pooled or r.baseline).total for r in scored])
    if n == 0 or m == 0:
        return Power(n, m, 0.0, family_size, "no scenario has trials on both sides", None)
    rejected = sum(1 for r in rows if r.verdict is Verdict.HARD_REGRESSION)
    if thresholds.correction is Correction.NONE:
        threshold = _dec(thresholds.hard.max_p)
    else:
        threshold = Fraction(str(scenario_alpha(thresholds))) * (rejected + 1) / (family_size + 1)
    used = max(1, min(runs, m))
    per_run = max(1, m // used)
    rho = dispersion.rho

    def scenario(before: float, after: float) -> PowerDrop:
        probability = _drop_power(
            n, m, used, before, after, rho, threshold=threshold, thresholds=thresholds
        )
        return PowerDrop(
            f"{before:.0%} → {after:.0%} on one scenario",
            "scenario",
            before,
            after,
            probability,
            True,
        )

    drops = [scenario(1.0, 0.7), scenario(0.97, 0.1)]
    suite_drop = 0.05
    test, design = aggregate_test if aggregate_test is not None else (None, None)
    if test is not None and design is not None and test.gating and design.se > 0:
        shift = (suite_drop - design.margin) / design.se
        drops.append(
            PowerDrop(
                "5 pp across the suite",
                "suite",
                0.0,
                -suite_drop,
                stats.normal_lower_tail(design.quantile + shift),
                False,
            )
        )
    # Can one scenario fail the check at all? The most extreme table: 0/n against m/m.
    eff_c, eff_m = _effective(m, m, used, n, dispersion)
    extreme = (
        stats.fisher_worse(0, n, m, m)
        if eff_m is None
        else stats.fisher_worse(0, n, eff_c or 0, eff_m)
    )
    alone = rejected > 0 or extreme <= threshold
    # Only through the suite-wide test: a small suite (see _suite_fails_on_one).
    only_through_suite = not alone and (
        suite_fails_on_one() if callable(suite_fails_on_one) else suite_fails_on_one
    )
    can_fail = alone or only_through_suite
    counts = (
        f"with {n} PR trials and {m} baseline trials"
        + (f" over {used} runs" if used > 1 else "")
        + " per scenario"
    )
    parts = []
    if rejected:
        parts.append(
            f"{rejected} scenario{'s' if rejected != 1 else ''} already fail"
            f"{'s' if rejected == 1 else ''} the check"
        )
    if only_through_suite:
        parts.append(
            "one scenario failing every trial fails the check only through the suite-wide "
            f"test (as a scenario, even 0/{n} against {m}/{m} has p = {float(extreme):.2g}, "
            f"above the {float(threshold):.2g} needed)"
        )
    elif can_fail:
        parts.append(
            "one scenario dropping "
            + ", ".join(
                f"{d.from_rate:.0%} → {d.to_rate:.0%}: {_chance(d.probability)}"
                for d in drops
                if d.scope == "scenario"
            )
        )
    else:
        parts.append(
            "no single scenario can fail the check on its own "
            f"(even 0/{n} against {m}/{m} has p = {float(extreme):.2g}, "
            f"above the {float(threshold):.2g} needed)"
        )
    suite = [d for d in drops if d.scope == "suite"]
    if suite:
        chance = _chance(suite[0].probability)
        parts.append(
            f"a 5 pp drop across the suite: {chance if chance[0] in '<>' else 'about ' + chance}"
        )
    statement = f"{counts}, " + "; ".join(parts)

    scenarios = len(scored)
    window = max(1, runs)
    suggestion = None
    reps = history = None
    if _design_power(n, per_run, window, scenarios, thresholds) < POWER_TARGET:
        reps, history = _suggestion(n, per_run, window, scenarios, thresholds)
        options = []
        if reps is not None:
            options.append(f"{reps} repetitions")
        if history is not None:
            options.append(f"a history of {history} baseline runs")
        if options:
            suggestion = (
                f"to catch a scenario dropping 100% → "
                f"{float(1 - _dec(thresholds.hard.min_delta) - SUGGESTION_EXTRA_DROP):.0%} "
                f"at least {POWER_TARGET:.0%} of the time, use {' or '.join(options)}"
            )
    return Power(
        pr_trials=n,
        baseline_trials=m,
        threshold=float(threshold),
        family_size=family_size,
        statement=statement,
        suggestion=suggestion,
        baseline_runs=used,
        dispersion=dispersion.phi,
        can_fail_alone=can_fail,
        drops=tuple(drops),
        suggested_repetitions=reps,
        suggested_history=history,
    )


def _chance(probability: float) -> str:
    if probability >= 0.995:
        return "> 99%"
    if 0 < probability < 0.005:
        return "< 1%"
    return f"{probability:.0%}"


def _key(scenario: Scenario) -> str:
    return scenario.key


_GATING: Mapping[FailOn, tuple[Verdict, ...]] = {
    FailOn.HARD_REGRESSION: (Verdict.HARD_REGRESSION,),
    FailOn.SOFT_REGRESSION: (Verdict.HARD_REGRESSION, Verdict.SOFT_REGRESSION),
    FailOn.NEVER: (),
}


def settle(comparison: Comparison) -> Ok | NothingCompared:
    """``ok``, or ``nothing_compared`` when no shared scenario has trials on both sides.

    Zero compared scenarios would otherwise read as "no regressions over 0
    scenarios": green on nothing (issue 11 §5).
    """
    return Ok(comparison) if comparison.compared else NothingCompared(comparison)


def decide_gate(outcome: Outcome, *, fail_on: FailOn, on_fetch_failure: OnFetchFailure) -> Gate:
    """Whether the required check fails for this outcome (issue 2 §4).

    Only regressions fail it. A missing or self baseline passes (there is
    nothing to regress from); a fetch failure, and two experiments with no
    scenario to compare, follow ``on_fetch_failure`` and are always flagged
    as a warning, so an outage never looks green.
    """
    if isinstance(outcome, FetchFailed | NothingCompared):
        # Nothing compared is an outage of the data, not of the source: the
        # same policy decides (issue 11 §5), and it is never silently green.
        what = "nothing could be compared: " if isinstance(outcome, NothingCompared) else ""
        failed = on_fetch_failure is OnFetchFailure.FAIL
        reason = f"{what}regression detection did not run (on_fetch_failure: {on_fetch_failure})"
        return Gate(failed, reason, True)
    if isinstance(outcome, NoBaseline):
        return Gate(False, "no baseline experiment found: nothing to compare against")
    if isinstance(outcome, SelfBaseline):
        return Gate(False, "this experiment is its own baseline: nothing to compare against")
    comparison = outcome.comparison
    counts = {v: comparison.count(v) for v in _GATING[fail_on]}
    parts = [f"{n} {_plural(v, n)}" for v, n in counts.items() if n]
    test = comparison.aggregate_test
    if fail_on is not FailOn.NEVER and test is not None and test.gating and test.significant:
        # A broad, moderate drop that no single scenario shows (issue 5 §2).
        parts.append(f"an aggregate regression across scenarios (p = {test.p:.3g})")
    if parts:
        parts = [f"{', '.join(parts)} (fail_on: {fail_on})"]
    if fail_on is not FailOn.NEVER:
        # Opt-in budgets (fail_on_*_increase, issue 6 §2): off unless configured.
        parts.extend(
            _budget_reason(cost, comparison.thresholds) for cost in comparison.costs if cost.gating
        )
    if parts:
        return Gate(True, "; ".join(parts), fail_on=fail_on)
    if fail_on is FailOn.NEVER:
        return Gate(False, "gate disabled (fail_on: never)", fail_on=fail_on)
    return Gate(
        False, f"no {_plural(Verdict(fail_on.value), 2)} (fail_on: {fail_on})", fail_on=fail_on
    )


_BUDGET_SETTING = {
    CostMeasure.LATENCY_P95: "fail_on_latency_increase",
    CostMeasure.TOKENS: "fail_on_tokens_increase",
    CostMeasure.COST: "fail_on_cost_increase",
}


def _budget_reason(cost: CostDelta, thresholds: Thresholds) -> str:
    setting = _BUDGET_SETTING[cost.measure]
    limit = getattr(thresholds.costs, setting)
    name = cost.measure.value.replace("_", " ").replace(" ms", "")
    return f"{name} up {cost.relative or 0:.0%} ({setting}: {limit:g})"


def _plural(verdict: Verdict, n: int) -> str:
    word = verdict.value.replace("_", " ")
    return word if n == 1 else word + "s"
