"""The pure comparison engine: two buckets in, a Comparison out (issue 2 §4).

No I/O, no logging, no environment: the same inputs always give the same
verdicts, so ``evalbot compare`` on a laptop and the Action on a PR agree.

Rates and deltas are compared as exact Fractions against thresholds read as
decimals (``Fraction("0.30")``), so a drop from 7/10 to 4/10 is exactly 30 pp
and meets a 30 pp threshold, instead of missing it by float rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from evalbot import metrics, stats
from evalbot.models import (
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
    RateSummary,
    Scenario,
    ScenarioComparison,
    SelfBaseline,
    Thresholds,
    Verdict,
)
from evalbot.trend import Trend, compute_trend, points_from_buckets


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


@lru_cache(maxsize=65536)
def _table_stats(pr_passed: int, pr_total: int, base_passed: int, base_total: int) -> _TableStats:
    """Exact p-values, delta, baseline rate and minimum attainable p for one 2x2 table.

    Cached: real suites repeat the same few tables (3 trials a side gives at
    most 16 of them), which keeps 100,000 scenarios cheap.
    """
    if pr_total == 0 or base_total == 0:
        return _TableStats(Fraction(1), Fraction(1), None, None, Fraction(1))
    base_rate = Fraction(base_passed, base_total)
    return _TableStats(
        p_worse=stats.fisher_worse(pr_passed, pr_total, base_passed, base_total),
        p_better=stats.fisher_better(pr_passed, pr_total, base_passed, base_total),
        delta=Fraction(pr_passed, pr_total) - base_rate,
        base_rate=base_rate,
        min_p=stats.min_attainable_worse(pr_total, base_total, pr_passed + base_passed),
    )


def _verdict(table: _TableStats, thresholds: Thresholds, *, hard_significant: bool) -> Verdict:
    """The tier a scenario falls in, given whether its drop is significant for gating.

    Evaluation order is part of the spec (issue 2 §4): improvement, hard,
    unreliable_baseline, soft, watch, stable. Only the hard tier gates; with
    correction "bh" its significance comes from the multiplicity-controlled
    family, while the other tiers use raw p-values and are informational.
    """
    if table.delta is None or table.base_rate is None:
        return Verdict.INSUFFICIENT_DATA
    delta, base_rate = table.delta, table.base_rate
    hard, soft = thresholds.hard, thresholds.soft
    if stats.significant(table.p_better, hard.max_p) and delta >= _dec(hard.min_delta):
        return Verdict.IMPROVEMENT
    if -delta >= _dec(hard.min_delta):
        if base_rate >= _dec(hard.min_baseline_rate):
            if hard_significant:
                return Verdict.HARD_REGRESSION
        elif stats.significant(table.p_worse, hard.max_p):
            # A hard-sized drop on a baseline that was already failing often is
            # not evidence about this PR: flag the baseline, don't fail the gate.
            return Verdict.UNRELIABLE_BASELINE
    if (
        stats.significant(table.p_worse, soft.max_p)
        and -delta >= _dec(soft.min_delta)
        and base_rate >= _dec(soft.min_baseline_rate)
    ):
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


def _pool(key: str, baseline: Scenario, history: Sequence[Bucket]) -> Scenario:
    """The baseline scenario pooled with the same scenario in older baselines."""
    passed, total = baseline.passed, baseline.total
    for bucket in history:
        old = bucket.scenarios.get(key)
        if old is not None:
            passed += old.passed
            total += old.total
    return Scenario(key=key, passed=passed, total=total, label=baseline.label)


def _series(key: str, baseline: Scenario, history: Sequence[Bucket]) -> tuple[float | None, ...]:
    """Pass rate of the scenario in each baseline run, oldest first."""
    rates: list[float | None] = []
    for bucket in history:
        old = bucket.scenarios.get(key)
        rates.append(old.rate if old is not None else None)
    rates.append(baseline.rate)
    return tuple(rates)


def compare_buckets(
    pr: Bucket,
    baseline: Bucket,
    thresholds: Thresholds,
    *,
    history: Sequence[Bucket] = (),
) -> Comparison:
    """Compare a PR experiment with its baseline, scenario by scenario.

    ``history`` holds older baseline experiments, oldest first; each
    scenario's baseline side is the latest baseline pooled with them (issue
    5 §1). Scenarios present on both sides get a verdict and feed the
    aggregate; scenarios present on one side only are listed in ``pr_only`` /
    ``baseline_only`` and never silently dropped. Rows are sorted by verdict
    severity, then key.
    """
    keys = [key for key in pr.scenarios if key in baseline.scenarios]
    pooled = {key: _pool(key, baseline.scenarios[key], history) for key in keys}
    tables = {
        key: _table_stats(
            pr.scenarios[key].passed,
            pr.scenarios[key].total,
            pooled[key].passed,
            pooled[key].total,
        )
        for key in keys
    }
    hard_significant, qvalues, family_size = _gating_family(keys, tables, thresholds)
    rows = []
    # A verdict depends only on the table and its gating flag, and _table_stats
    # hands out one object per distinct table: classify each (object, flag) once.
    verdicts: dict[tuple[int, bool], Verdict] = {}
    for key in keys:
        table, pooled_side = tables[key], pooled[key]
        rate = pooled_side.rate
        flag = hard_significant[key]
        verdict = verdicts.get((id(table), flag))
        if verdict is None:
            verdict = verdicts[id(table), flag] = _verdict(table, thresholds, hard_significant=flag)
        rows.append(
            ScenarioComparison(
                key=key,
                label=pr.scenarios[key].label or baseline.scenarios[key].label,
                verdict=verdict,
                pr=pr.scenarios[key],
                baseline=baseline.scenarios[key],
                delta=None if table.delta is None else float(table.delta),
                p_worse=table.p_worse,
                p_better=table.p_better,
                pooled=pooled_side,
                q=qvalues.get(key),
                series=_series(key, baseline.scenarios[key], history) if history else (),
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
        aggregate_test=_aggregate_test(rows, aggregate, thresholds),
        power=power(rows, thresholds, family_size=family_size),
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


def _gating_family(
    keys: Sequence[str], tables: Mapping[str, _TableStats], thresholds: Thresholds
) -> tuple[dict[str, bool], dict[str, float], int]:
    """Which scenarios' drops are significant for the gate, their q-values, the family size.

    correction "none": each scenario at hard.max_p (the core classifier).
    correction "bh": Tarone-filtered Benjamini-Hochberg (stats.tarone_bh) at
    alpha - aggregate_alpha over every shared scenario with trials on both
    sides. The family is chosen from the tables' margins alone (which tests
    can reach significance), never from the baseline's pass rate: selecting
    on the observed baseline rate would favour scenarios whose baseline ran
    lucky, and those have p-values biased low — the false-fail simulation in
    bench/bench_stats.py showed exactly that. The hard tier's baseline-rate
    and minimum-drop conditions stay a veto in _verdict, applied after the test.
    """
    if thresholds.correction is Correction.NONE:
        flags = {k: stats.significant(tables[k].p_worse, thresholds.hard.max_p) for k in keys}
        return flags, {}, len(keys)
    eligible = [k for k in keys if tables[k].base_rate is not None]
    rejected, qvalues, size = stats.tarone_bh(
        [tables[k].p_worse for k in eligible],
        [tables[k].min_p for k in eligible],
        scenario_alpha(thresholds),
    )
    flags = dict.fromkeys(keys, False)
    q_by_key: dict[str, float] = {}
    for key, is_rejected, q in zip(eligible, rejected, qvalues, strict=True):
        flags[key] = is_rejected
        if q is not None:
            q_by_key[key] = q
    return flags, q_by_key, size


def _aggregate_test(
    rows: Sequence[ScenarioComparison], aggregate: Aggregate, thresholds: Thresholds
) -> AggregateTest:
    """One-sided CMH over the shared scenarios (PR vs pooled baseline), issue 5 §2."""
    tables = []
    for row in rows:
        base = row.pooled or row.baseline
        tables.append((row.pr.passed, row.pr.total, base.passed, base.total))
    z, p = stats.cmh_worse(tables)
    alpha = thresholds.aggregate_alpha
    worse = aggregate.delta is not None and aggregate.delta < 0
    return AggregateTest(
        z=z,
        p=p,
        alpha=alpha,
        significant=worse and p <= alpha,
        gating=thresholds.correction is Correction.BH,
    )


def _median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0


def _detects(
    n: int, m: int, threshold: float, thresholds: Thresholds
) -> tuple[int | None, int | None]:
    """Most PR passes (of n) and fewest baseline passes (of m) at which one scenario fails."""
    hard = thresholds.hard
    max_a = None
    for a in range(n, -1, -1):
        if 1 - Fraction(a, n) >= _dec(hard.min_delta) and stats.significant(
            stats.fisher_worse(a, n, m, m), threshold
        ):
            max_a = a
            break
    min_c = None
    for c in range(m + 1):
        if (
            Fraction(c, m) >= _dec(hard.min_baseline_rate)
            and Fraction(c, m) >= _dec(hard.min_delta)
            and stats.significant(stats.fisher_worse(0, n, c, m), threshold)
        ):
            min_c = c
            break
    return max_a, min_c


def power(rows: Sequence[ScenarioComparison], thresholds: Thresholds, *, family_size: int) -> Power:
    """The smallest single-scenario drop that could have failed the check (issue 5 §3).

    For the typical (median) trial counts: the highest PR pass rate and the
    lowest baseline pass rate at which one scenario alone fails the check —
    under BH a lone rejection needs p <= (alpha - aggregate_alpha) / family
    size. When a drop from 100% by hard.min_delta could not fail it, suggest
    the repetitions or history length that would (same family size assumed).
    """
    n = _median([r.pr.total for r in rows if r.pr.total])
    m = _median([b.total for r in rows if (b := r.pooled or r.baseline).total])
    if thresholds.correction is Correction.NONE:
        threshold = thresholds.hard.max_p
    else:
        threshold = scenario_alpha(thresholds) / max(1, family_size)
    if n == 0 or m == 0:
        return Power(
            n, m, threshold, family_size, None, None, "no scenario has trials on both sides", None
        )
    max_a, min_c = _detects(n, m, threshold, thresholds)
    counts = f"with {n} PR trials and {m} baseline trials per scenario"
    if max_a is None or min_c is None:
        statement = f"{counts}, no single-scenario drop can fail the check"
    else:
        statement = (
            f"{counts}, only a drop from ≥ {100 * min_c / m:.0f}% to "
            f"≤ {100 * max_a / n:.0f}% can fail the check"
        )
    kept = 1 - _dec(thresholds.hard.min_delta)

    def detects_drop(n_: int, m_: int) -> bool:
        passes = int(kept * n_)
        return stats.significant(stats.fisher_worse(passes, n_, m_, m_), threshold)

    suggestion = None
    if not detects_drop(n, m):
        runs = max(1, round(m / n))
        reps = next((r for r in range(n + 1, 51) if detects_drop(r, r * runs)), None)
        window = next((w for w in range(runs + 1, 51) if detects_drop(n, n * w)), None)
        options = []
        if reps is not None:
            options.append(f"{reps} repetitions")
        if window is not None:
            options.append(f"a history of {window} baseline runs")
        if options:
            suggestion = (
                f"to detect a {100 * thresholds.hard.min_delta:.0f} pp drop from 100%, "
                f"use {' or '.join(options)}"
            )
    return Power(
        pr_trials=n,
        baseline_trials=m,
        threshold=threshold,
        family_size=family_size,
        min_baseline_rate=None if min_c is None else min_c / m,
        max_pr_rate=None if max_a is None else max_a / n,
        statement=statement,
        suggestion=suggestion,
    )


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
        parts.append(f"an aggregate regression across scenarios (CMH p = {test.p:.3g})")
    if parts:
        parts = [f"{', '.join(parts)} (fail_on: {fail_on})"]
    if fail_on is not FailOn.NEVER:
        # Opt-in budgets (fail_on_*_increase, issue 6 §2): off unless configured.
        parts.extend(
            _budget_reason(cost, comparison.thresholds) for cost in comparison.costs if cost.gating
        )
    if parts:
        return Gate(True, "; ".join(parts))
    if fail_on is FailOn.NEVER:
        return Gate(False, "gate disabled (fail_on: never)")
    return Gate(False, f"no {_plural(Verdict(fail_on.value), 2)} (fail_on: {fail_on})")


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
