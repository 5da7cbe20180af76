"""The pure comparison engine: two buckets in, a Comparison out (issue 2 §4).

No I/O, no logging, no environment: the same inputs always give the same
verdicts, so ``evalbot compare`` on a laptop and the Action on a PR agree.

Rates and deltas are compared as exact Fractions against thresholds read as
decimals (``Fraction("0.30")``), so a drop from 7/10 to 4/10 is exactly 30 pp
and meets a 30 pp threshold, instead of missing it by float rounding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from functools import lru_cache

from evalbot import stats
from evalbot.models import (
    Aggregate,
    Bucket,
    CategoryDrift,
    Comparison,
    FailOn,
    FetchFailed,
    Gate,
    NoBaseline,
    OnFetchFailure,
    Outcome,
    RateSummary,
    Scenario,
    ScenarioComparison,
    SelfBaseline,
    Thresholds,
    Verdict,
)


def _dec(value: float) -> Fraction:
    """A threshold as the decimal the user wrote (0.3 means 3/10, not 0.2999…)."""
    return Fraction(str(value))


@lru_cache(maxsize=65536)
def _classify(
    pr_passed: int, pr_total: int, base_passed: int, base_total: int, thresholds: Thresholds
) -> tuple[Verdict, Fraction | None, Fraction, Fraction]:
    """Verdict, exact delta and both p-values for one 2x2 table.

    Cached: real suites repeat the same few tables (3 trials a side gives at
    most 16 of them), which keeps 100,000 scenarios cheap.
    """
    if pr_total == 0 or base_total == 0:
        return Verdict.INSUFFICIENT_DATA, None, Fraction(1), Fraction(1)
    p_worse = stats.fisher_worse(pr_passed, pr_total, base_passed, base_total)
    p_better = stats.fisher_better(pr_passed, pr_total, base_passed, base_total)
    base_rate = Fraction(base_passed, base_total)
    delta = Fraction(pr_passed, pr_total) - base_rate
    hard, soft = thresholds.hard, thresholds.soft
    # Evaluation order is part of the spec (issue 2 §4): improvement, hard,
    # unreliable_baseline, soft, watch, stable.
    if stats.significant(p_better, hard.max_p) and delta >= _dec(hard.min_delta):
        verdict = Verdict.IMPROVEMENT
    elif stats.significant(p_worse, hard.max_p) and -delta >= _dec(hard.min_delta):
        # A hard-sized drop on a baseline that was already failing often is
        # not evidence about this PR: flag the baseline, don't fail the gate.
        if base_rate >= _dec(hard.min_baseline_rate):
            verdict = Verdict.HARD_REGRESSION
        else:
            verdict = Verdict.UNRELIABLE_BASELINE
    elif (
        stats.significant(p_worse, soft.max_p)
        and -delta >= _dec(soft.min_delta)
        and base_rate >= _dec(soft.min_baseline_rate)
    ):
        verdict = Verdict.SOFT_REGRESSION
    elif abs(delta) >= _dec(thresholds.watch_delta):
        verdict = Verdict.WATCH
    else:
        verdict = Verdict.STABLE
    return verdict, delta, p_worse, p_better


def compare_scenario(
    pr: Scenario, baseline: Scenario, thresholds: Thresholds
) -> ScenarioComparison:
    """Classify one scenario present on both sides."""
    verdict, delta, p_worse, p_better = _classify(
        pr.passed, pr.total, baseline.passed, baseline.total, thresholds
    )
    return ScenarioComparison(
        key=pr.key,
        label=pr.label or baseline.label,
        verdict=verdict,
        pr=pr,
        baseline=baseline,
        delta=None if delta is None else float(delta),
        p_worse=p_worse,
        p_better=p_better,
    )


def _rate_summary(passed: int, total: int) -> RateSummary:
    low, high = stats.wilson_interval(passed, total)
    return RateSummary(
        passed=passed, total=total, rate=passed / total if total else None, low=low, high=high
    )


def _aggregate(rows: Iterable[ScenarioComparison]) -> Aggregate:
    """Micro-average (total passes / total trials) over the shared scenarios."""
    pr_passed = pr_total = base_passed = base_total = count = 0
    for row in rows:
        pr_passed += row.pr.passed
        pr_total += row.pr.total
        base_passed += row.baseline.passed
        base_total += row.baseline.total
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


def compare_buckets(pr: Bucket, baseline: Bucket, thresholds: Thresholds) -> Comparison:
    """Compare a PR experiment with its baseline, scenario by scenario.

    Scenarios present on both sides get a verdict and feed the aggregate;
    scenarios present on one side only are listed in ``pr_only`` /
    ``baseline_only`` and never silently dropped. Rows are sorted by verdict
    severity, then key.
    """
    shared = [
        compare_scenario(scenario, baseline.scenarios[key], thresholds)
        for key, scenario in pr.scenarios.items()
        if key in baseline.scenarios
    ]
    shared.sort(key=lambda row: (row.verdict.severity, row.key))
    pr_only = tuple(
        sorted((s for k, s in pr.scenarios.items() if k not in baseline.scenarios), key=_key)
    )
    baseline_only = tuple(
        sorted((s for k, s in baseline.scenarios.items() if k not in pr.scenarios), key=_key)
    )
    return Comparison(
        pr=pr,
        baseline=baseline,
        thresholds=thresholds,
        scenarios=tuple(shared),
        pr_only=pr_only,
        baseline_only=baseline_only,
        aggregate=_aggregate(shared),
        categories=category_drift(pr, baseline, thresholds),
    )


def _key(scenario: Scenario) -> str:
    return scenario.key


_GATING: Mapping[FailOn, tuple[Verdict, ...]] = {
    FailOn.HARD_REGRESSION: (Verdict.HARD_REGRESSION,),
    FailOn.SOFT_REGRESSION: (Verdict.HARD_REGRESSION, Verdict.SOFT_REGRESSION),
    FailOn.NEVER: (),
}


def decide_gate(outcome: Outcome, *, fail_on: FailOn, on_fetch_failure: OnFetchFailure) -> Gate:
    """Whether the required check fails for this outcome (issue 2 §4).

    Only regressions fail it. A missing or self baseline passes (there is
    nothing to regress from); a fetch failure follows ``on_fetch_failure`` and
    is always flagged as a warning, so an outage never looks green.
    """
    if isinstance(outcome, FetchFailed):
        if on_fetch_failure is OnFetchFailure.FAIL:
            return Gate(True, "regression detection did not run (on_fetch_failure: fail)", True)
        return Gate(False, "regression detection did not run (on_fetch_failure: neutral)", True)
    if isinstance(outcome, NoBaseline):
        return Gate(False, "no baseline experiment found: nothing to compare against")
    if isinstance(outcome, SelfBaseline):
        return Gate(False, "this experiment is its own baseline: nothing to compare against")
    comparison = outcome.comparison
    counts = {v: comparison.count(v) for v in _GATING[fail_on]}
    failing = {v: n for v, n in counts.items() if n}
    if failing:
        parts = ", ".join(f"{n} {_plural(v, n)}" for v, n in failing.items())
        return Gate(True, f"{parts} (fail_on: {fail_on})")
    if fail_on is FailOn.NEVER:
        return Gate(False, "gate disabled (fail_on: never)")
    return Gate(False, f"no {_plural(Verdict(fail_on.value), 2)} (fail_on: {fail_on})")


def _plural(verdict: Verdict, n: int) -> str:
    word = verdict.value.replace("_", " ")
    return word if n == 1 else word + "s"
