"""Beyond pass/fail (issue 6): score metrics, latency/tokens/cost and win/loss.

Pure, like compare.py: buckets and thresholds in, frozen values out. Every
figure here is computed from the per-trial ``Scenario.measures`` the sources
fill (LangSmith runs or the offline experiment file), so the same numbers come
out online and offline.

Choices, and why:

- **Score metrics** are summarised per scenario (mean of the trials, Student-t
  95% interval) and across the suite as the mean of per-scenario means over
  the scenarios scored on *both* sides, so every scenario weighs the same and
  the two sides cover the same scenarios. The test is a two-sided **Wilcoxon
  signed-rank** test on the per-scenario differences: the scenario is the
  unit that is paired across the two experiments, scores are bounded and
  often skewed (a t-test's normality is doubtful), and unlike a bootstrap it
  is deterministic — the same data always gives the same verdict. A metric is
  a regression (improvement) when p <= ``metrics.max_p`` *and* the mean falls
  (rises) by at least its minimum effect: significance alone would flag
  0.001-point shifts on large suites. Informational: metrics never gate.
- **Latency, tokens and cost** pool every trial of each experiment:
  percentiles use linear interpolation (numpy's default); cost per
  experiment is the sum over trials. They are *notable* beyond a relative
  increase and gate only when a ``fail_on_*_increase`` setting is configured.

Drift signals live in core/drift.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from evalbot.core import stats
from evalbot.core.buckets import Bucket, Scenario
from evalbot.core.decimals import at_least
from evalbot.core.measures import NO_MEASURES
from evalbot.core.metric_values import (
    CostDelta,
    CostMeasure,
    MeanSummary,
    MetricComparison,
    MetricVerdict,
    ScenarioMetric,
)
from evalbot.core.threshold_values import CostThresholds, MetricThresholds
from evalbot.core.verdicts import WinLoss


def summarize(values: Sequence[float]) -> MeanSummary:
    """Mean and 95% Student-t interval of ``values``."""
    mean, low, high = stats.mean_interval(values)
    return MeanSummary(mean=mean, low=low, high=high, n=len(values))


def measured(*buckets: Bucket) -> bool:
    """Whether any scenario of the buckets has a measurement beyond pass/fail.

    Most suites have none: then every figure below is empty, and scanning
    100,000 scenarios per figure to find that out cost a second (issue 14).
    """
    return any(
        s.measures is not NO_MEASURES and s.measures
        for bucket in buckets
        for s in bucket.scenarios.values()
    )


# --- score metrics -------------------------------------------------------------------------


def metric_keys(*buckets: Bucket) -> list[str]:
    """Every numeric feedback key scored in any scenario of the buckets, sorted."""
    keys: set[str] = set()
    for bucket in buckets:
        for scenario in bucket.scenarios.values():
            keys.update(k for k, v in scenario.measures.scores.items() if v)
    return sorted(keys)


def compare_metrics(
    pr: Bucket,
    baseline: Bucket,
    thresholds: MetricThresholds,
    *,
    has_measures: bool | None = None,
) -> tuple[MetricComparison, ...]:
    """Every score metric on both sides, most severe verdict first (issue 6 §1).

    ``has_measures``: ``measured(pr, baseline)`` when the caller knows it already.
    """
    if not (measured(pr, baseline) if has_measures is None else has_measures):
        return ()
    results = [_compare_metric(key, pr, baseline, thresholds) for key in metric_keys(pr, baseline)]
    results.sort(key=lambda m: (m.verdict.severity, m.key))
    return tuple(results)


def _scores(scenario: Scenario | None, key: str) -> tuple[float, ...]:
    return () if scenario is None else scenario.measures.scores.get(key, ())


def _compare_metric(
    key: str, pr: Bucket, baseline: Bucket, thresholds: MetricThresholds
) -> MetricComparison:
    rows: list[ScenarioMetric] = []
    pr_means: list[float] = []
    base_means: list[float] = []
    for name in sorted(set(pr.scenarios) | set(baseline.scenarios)):
        pr_side = summarize(_scores(pr.scenarios.get(name), key))
        base_side = summarize(_scores(baseline.scenarios.get(name), key))
        if not pr_side.n and not base_side.n:
            continue
        delta = None
        if pr_side.mean is not None and base_side.mean is not None:
            delta = pr_side.mean - base_side.mean
            pr_means.append(pr_side.mean)
            base_means.append(base_side.mean)
        rows.append(ScenarioMetric(key=name, pr=pr_side, baseline=base_side, delta=delta))
    min_effect = thresholds.effect_for(key)
    if not pr_means:
        # Nothing scored on both sides: show each side on its own, no verdict.
        return MetricComparison(
            key=key,
            pr=summarize([r.pr.mean for r in rows if r.pr.mean is not None]),
            baseline=summarize([r.baseline.mean for r in rows if r.baseline.mean is not None]),
            delta=None,
            p=None,
            pairs=0,
            min_effect=min_effect,
            verdict=MetricVerdict.NOT_COMPARABLE,
            scenarios=tuple(rows),
        )
    pr_summary, base_summary = summarize(pr_means), summarize(base_means)
    assert pr_summary.mean is not None and base_summary.mean is not None
    delta = pr_summary.mean - base_summary.mean
    p = stats.wilcoxon_signed_rank([a - b for a, b in zip(pr_means, base_means, strict=True)])
    verdict = MetricVerdict.STABLE
    if p is not None and p <= thresholds.max_p and at_least(abs(delta), min_effect) and delta:
        verdict = MetricVerdict.REGRESSION if delta < 0 else MetricVerdict.IMPROVEMENT
    return MetricComparison(
        key=key,
        pr=pr_summary,
        baseline=base_summary,
        delta=delta,
        p=p,
        pairs=len(pr_means),
        min_effect=min_effect,
        verdict=verdict,
        scenarios=tuple(rows),
    )


# --- latency, tokens, cost -----------------------------------------------------------------


def _pooled(bucket: Bucket, field: Callable[[Scenario], Sequence[float]]) -> list[float]:
    return [value for s in bucket.scenarios.values() for value in field(s)]


def _mean(values: Sequence[float]) -> float | None:
    return stats.mean_interval(values)[0]


def _total(values: Sequence[float]) -> float | None:
    return float(sum(values)) if values else None


def _latency(scenario: Scenario) -> Sequence[float]:
    return scenario.measures.latency_ms


def _tokens(scenario: Scenario) -> Sequence[float]:
    return scenario.measures.tokens


def _cost(scenario: Scenario) -> Sequence[float]:
    return scenario.measures.cost


# measure -> (which values, how they are reduced)
_FIGURES: Mapping[
    CostMeasure,
    tuple[Callable[[Scenario], Sequence[float]], Callable[[Sequence[float]], float | None]],
] = {
    CostMeasure.LATENCY_P50: (_latency, lambda v: stats.percentile(v, 50)),
    CostMeasure.LATENCY_P95: (_latency, lambda v: stats.percentile(v, 95)),
    CostMeasure.TOKENS: (_tokens, _mean),
    CostMeasure.COST: (_cost, _mean),
    CostMeasure.COST_TOTAL: (_cost, _total),
}


def scenario_figures(scenario: Scenario) -> dict[CostMeasure, float | None]:
    """The latency/token/cost figures of one scenario's trials (for reports and CSV)."""
    return {m: reduce(field(scenario)) for m, (field, reduce) in _FIGURES.items()}


def _notable_at(measure: CostMeasure, thresholds: CostThresholds) -> float:
    if measure in (CostMeasure.LATENCY_P50, CostMeasure.LATENCY_P95):
        return thresholds.latency
    if measure is CostMeasure.TOKENS:
        return thresholds.tokens
    return thresholds.cost


def _gating_at(measure: CostMeasure, thresholds: CostThresholds) -> float | None:
    # One figure per setting, the one teams budget by (docs/statistics.md, "Latency, tokens ...").
    return {
        CostMeasure.LATENCY_P95: thresholds.fail_on_latency_increase,
        CostMeasure.TOKENS: thresholds.fail_on_tokens_increase,
        CostMeasure.COST: thresholds.fail_on_cost_increase,
    }.get(measure)


def compare_costs(
    pr: Bucket,
    baseline: Bucket,
    thresholds: CostThresholds,
    *,
    has_measures: bool | None = None,
) -> tuple[CostDelta, ...]:
    """Latency percentiles, tokens and cost on each side, with their changes (issue 6 §2).

    A figure is listed when either side has data for it. ``has_measures``: see
    ``compare_metrics``.
    """
    if not (measured(pr, baseline) if has_measures is None else has_measures):
        return ()
    out = []
    for measure, (field, reduce) in _FIGURES.items():
        pr_values, base_values = _pooled(pr, field), _pooled(baseline, field)
        if not pr_values and not base_values:
            continue
        pr_value, base_value = reduce(pr_values), reduce(base_values)
        delta = relative = None
        if pr_value is not None and base_value is not None:
            delta = pr_value - base_value
            relative = stats.relative_change(pr_value, base_value)
        notable = (
            delta is not None
            and delta > 0
            and (relative is None or at_least(relative, _notable_at(measure, thresholds)))
        )
        fail_at = _gating_at(measure, thresholds)
        # An increase "from nothing" (relative None) never gates: a baseline
        # whose source reported no cost says nothing about a budget.
        gating = fail_at is not None and relative is not None and at_least(relative, fail_at)
        out.append(
            CostDelta(
                measure=measure,
                pr=pr_value,
                baseline=base_value,
                delta=delta,
                relative=relative,
                notable=notable,
                gating=gating,
            )
        )
    return tuple(out)


# --- win / loss ----------------------------------------------------------------------------


def win_loss(deltas: Iterable[tuple[float | None, int]]) -> WinLoss:
    """Shared scenarios where the PR's pass rate is above / below / equal to the baseline's.

    ``deltas`` holds each scenario's delta (PR rate minus the baseline side the
    verdicts used: pooled over the history window when there is one) with how
    many scenarios have it, so a suite's few distinct deltas are counted once
    each (issue 14). Scenarios without trials on a side (delta None) are left out.
    """
    wins = losses = ties = 0
    for delta, count in deltas:
        if delta is None:
            continue
        if delta > 0:
            wins += count
        elif delta < 0:
            losses += count
        else:
            ties += count
    return WinLoss(wins=wins, losses=losses, ties=ties)
