"""Beyond pass/fail (issue 6): score metrics, latency/tokens/cost, drift signals, win/loss.

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
- **Drift signals** compare the scenarios present on both sides. Rates (errors,
  empty outputs, tool-call silence) use the one-sided Fisher test that the PR
  has more of them (a two-proportion z-test beyond 2,000 trials, where the
  exact sums get slow and the approximation is excellent); output length
  uses the Wilcoxon test on per-scenario median lengths. A signal is
  ``mild``/``severe`` only when its change passes the level *and* its test
  has p <= ``drift.max_p``, so a single unlucky trial is not "drift".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction

from evalbot.core import stats
from evalbot.core.models import (
    NO_MEASURES,
    TARGET_ERROR,
    Bucket,
    CostDelta,
    CostMeasure,
    CostThresholds,
    DriftKind,
    DriftSignal,
    DriftThresholds,
    Levels,
    MeanSummary,
    MetricComparison,
    MetricThresholds,
    MetricVerdict,
    Scenario,
    ScenarioComparison,
    ScenarioMetric,
    Severity,
    WinLoss,
)


def at_least(value: float | Fraction, level: float) -> bool:
    """``value >= level`` as the user means it (issue 6 review: boundaries).

    Counts give exact Fractions, compared with the level as the decimal the
    user wrote (a 35/100 vs 20/100 rise is exactly 0.15). Float arithmetic
    (0.35 - 0.2 = 0.1499…) is given a relative 1e-9 of slack, far below any
    meaningful difference, so a change exactly at a threshold reaches it.
    """
    if isinstance(value, Fraction):
        return value >= Fraction(str(level))
    return value >= level - 1e-9 * max(1.0, abs(level))


def at_most(value: float | Fraction, level: float) -> bool:
    """``value <= level``, with the same exactness rules as ``at_least``."""
    if isinstance(value, Fraction):
        return value <= Fraction(str(level))
    return value <= level + 1e-9 * max(1.0, abs(level))


def summarize(values: Sequence[float]) -> MeanSummary:
    """Mean and 95% Student-t interval of ``values``."""
    mean, low, high = stats.mean_interval(values)
    return MeanSummary(mean=mean, low=low, high=high, n=len(values))


def _measured(*buckets: Bucket) -> bool:
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
    pr: Bucket, baseline: Bucket, thresholds: MetricThresholds
) -> tuple[MetricComparison, ...]:
    """Every score metric on both sides, most severe verdict first (issue 6 §1)."""
    if not _measured(pr, baseline):
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
    # One figure per setting, the one teams budget by (README "Latency, tokens and cost").
    return {
        CostMeasure.LATENCY_P95: thresholds.fail_on_latency_increase,
        CostMeasure.TOKENS: thresholds.fail_on_tokens_increase,
        CostMeasure.COST: thresholds.fail_on_cost_increase,
    }.get(measure)


def compare_costs(
    pr: Bucket, baseline: Bucket, thresholds: CostThresholds
) -> tuple[CostDelta, ...]:
    """Latency percentiles, tokens and cost on each side, with their changes (issue 6 §2).

    A figure is listed when either side has data for it.
    """
    if not _measured(pr, baseline):
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


# --- drift signals -------------------------------------------------------------------------


def _severity(
    change: float | Fraction, levels: Levels, p: float | None, max_p: float, *, ratio: bool
) -> Severity:
    if p is None or p > max_p:
        return Severity.NONE
    reaches = at_most if ratio else at_least
    if reaches(change, levels.severe):
        return Severity.SEVERE
    return Severity.MILD if reaches(change, levels.mild) else Severity.NONE


def _rate_signal(
    kind: DriftKind,
    counts: tuple[int, int, int, int],
    levels: Levels,
    max_p: float,
) -> DriftSignal | None:
    """A rate signal from (pr_hits, pr_trials, base_hits, base_trials)."""
    pr_hits, pr_n, base_hits, base_n = counts
    if not pr_n or not base_n or not (pr_hits or base_hits):
        # No trials, or not one hit on either side: nothing to report.
        return None
    p = _more_hits_p(pr_hits, pr_n, base_hits, base_n)
    # Exact: rates come from counts, so a rise of exactly a level reaches it.
    change = Fraction(pr_hits, pr_n) - Fraction(base_hits, base_n)
    return DriftSignal(
        kind=kind,
        pr=pr_hits / pr_n,
        baseline=base_hits / base_n,
        change=float(change),
        p=p,
        severity=_severity(change, levels, p, max_p, ratio=False),
        pr_trials=pr_n,
        baseline_trials=base_n,
    )


# Above this many trials in all, exact Fisher sums over huge binomial
# coefficients (seconds per table at 100,000 trials); the normal approximation
# is excellent there.
EXACT_LIMIT = 2000


def _more_hits_p(pr_hits: int, pr_n: int, base_hits: int, base_n: int) -> float:
    """One-sided p that the PR's hit rate is above the baseline's."""
    if pr_n + base_n <= EXACT_LIMIT:
        # "More hits on the PR" is "fewer non-hits": Fisher's left tail on the complement.
        return float(stats.fisher_worse(pr_n - pr_hits, pr_n, base_n - base_hits, base_n))
    # Two-proportion z-test with the pooled rate.
    pooled = (pr_hits + base_hits) / (pr_n + base_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / pr_n + 1 / base_n))
    if spread == 0:
        return 1.0
    z = (pr_hits / pr_n - base_hits / base_n) / spread
    return 0.5 * math.erfc(z / math.sqrt(2))


def _shared(pr: Bucket, base: Bucket, *, ordered: bool) -> list[tuple[Scenario, Scenario]]:
    keys = sorted(pr.scenarios) if ordered else pr.scenarios
    return [(pr.scenarios[k], base.scenarios[k]) for k in keys if k in base.scenarios]


def _error_counts(pairs: Iterable[tuple[Scenario, Scenario]]) -> tuple[int, int, int, int]:
    counts = [0, 0, 0, 0]
    for pr_s, base_s in pairs:
        # Errored trials are failed trials in total (langsmith_bucket rule 2);
        # unscored ones ran without error, so they count as trials too.
        counts[0] += pr_s.categories.get(TARGET_ERROR, 0)
        counts[1] += pr_s.total + pr_s.unscored
        counts[2] += base_s.categories.get(TARGET_ERROR, 0)
        counts[3] += base_s.total + base_s.unscored
    return counts[0], counts[1], counts[2], counts[3]


def _empty_counts(pairs: Iterable[tuple[Scenario, Scenario]]) -> tuple[int, int, int, int]:
    counts = [0, 0, 0, 0]
    for pr_s, base_s in pairs:
        for i, side in ((0, pr_s), (2, base_s)):
            chars = side.measures.output_chars
            counts[i] += sum(1 for c in chars if c == 0)
            counts[i + 1] += len(chars)
    return counts[0], counts[1], counts[2], counts[3]


def _silence_counts(pairs: Iterable[tuple[Scenario, Scenario]]) -> tuple[int, int, int, int]:
    """Trials with no tool call, in scenarios whose baseline made tool calls."""
    counts = [0, 0, 0, 0]
    for pr_s, base_s in pairs:
        if not any(base_s.measures.tool_calls):
            continue
        for i, side in ((0, pr_s), (2, base_s)):
            calls = side.measures.tool_calls
            counts[i] += sum(1 for c in calls if c == 0)
            counts[i + 1] += len(calls)
    return counts[0], counts[1], counts[2], counts[3]


def _length_signal(
    pairs: Sequence[tuple[Scenario, Scenario]], thresholds: DriftThresholds
) -> DriftSignal | None:
    pr_all = [c for pr_s, _ in pairs for c in pr_s.measures.output_chars]
    base_all = [c for _, base_s in pairs for c in base_s.measures.output_chars]
    pr_median = stats.percentile(pr_all, 50)
    base_median = stats.percentile(base_all, 50)
    if pr_median is None or base_median is None or base_median <= 0:
        return None
    differences = []
    for pr_s, base_s in pairs:
        a = stats.percentile(pr_s.measures.output_chars, 50)
        b = stats.percentile(base_s.measures.output_chars, 50)
        if a is not None and b is not None:
            differences.append(a - b)
    p = stats.wilcoxon_signed_rank(differences)
    ratio = pr_median / base_median
    return DriftSignal(
        kind=DriftKind.OUTPUT_LENGTH,
        pr=pr_median,
        baseline=base_median,
        change=ratio,
        p=p,
        severity=_severity(ratio, thresholds.output_length, p, thresholds.max_p, ratio=True),
        pr_trials=len(pr_all),
        baseline_trials=len(base_all),
    )


def compare_drift(
    pr: Bucket, baseline: Bucket, thresholds: DriftThresholds
) -> tuple[DriftSignal, ...]:
    """The drift signals with something to say, in a fixed order (issue 6 §3).

    A rate signal is left out when neither side has a single hit (no error,
    no empty output): "0% vs 0%" is not news, and a source that records no
    errors would otherwise fill the comment with zeros.
    """
    measured = _measured(pr, baseline)
    pairs = _shared(pr, baseline, ordered=measured)  # error counts are sums: any order
    error = _rate_signal(
        DriftKind.ERROR_RATE, _error_counts(pairs), thresholds.error_rate, thresholds.max_p
    )
    if not measured:
        # The other signals read measurements only: with none, each has no trials.
        return () if error is None else (error,)
    signals = [
        error,
        _rate_signal(
            DriftKind.EMPTY_OUTPUT, _empty_counts(pairs), thresholds.empty_output, thresholds.max_p
        ),
        _length_signal(pairs, thresholds),
        _rate_signal(
            DriftKind.TOOL_SILENCE,
            _silence_counts(pairs),
            thresholds.tool_silence,
            thresholds.max_p,
        ),
    ]
    return tuple(s for s in signals if s is not None)


# --- win / loss ----------------------------------------------------------------------------


def win_loss(rows: Iterable[ScenarioComparison]) -> WinLoss:
    """Shared scenarios where the PR's pass rate is above / below / equal to the baseline's.

    The baseline side is the one the verdicts used (pooled over the history
    window when there is one); scenarios without trials on a side are left out.
    """
    wins = losses = ties = 0
    for row in rows:
        if row.delta is None:
            continue
        if row.delta > 0:
            wins += 1
        elif row.delta < 0:
            losses += 1
        else:
            ties += 1
    return WinLoss(wins=wins, losses=losses, ties=ties)
