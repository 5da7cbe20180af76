"""Issue 6: score metrics, latency/tokens/cost, drift signals and win/loss (evalbot.core.metrics).

Every expected value is worked out by hand in the comments (closed-form t
quantiles, exact Wilcoxon null counts, hypergeometric sums), never taken from
the module's own output.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import pytest

from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.metrics import compare_costs, compare_drift, compare_metrics
from evalbot.core.models import (
    Bucket,
    CostDelta,
    CostMeasure,
    CostThresholds,
    DriftKind,
    DriftSignal,
    DriftThresholds,
    FailOn,
    Gate,
    Levels,
    MeanSummary,
    Measures,
    MetricThresholds,
    MetricVerdict,
    Ok,
    OnFetchFailure,
    Scenario,
    Severity,
    Thresholds,
    Verdict,
    WinLoss,
)

from helpers import make_bucket

# Closed forms of the Student-t 0.975 quantile, independent of stats.t_quantile:
# df = 1 is the Cauchy distribution, tan(pi (p - 1/2)); df = 2 has
# F(t) = 1/2 + t / (2 sqrt(t^2 + 2)), so t = (2p - 1) / sqrt(2p(1 - p)).
T975_DF1 = math.tan(math.pi * 0.475)  # 12.7062...
T975_DF2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # 4.3027...

# One-sided Fisher p for 4 hits of 10 trials vs 0 of 10: all 4 hits land on the
# PR row, P = C(10, 4) C(10, 0) / C(20, 4) = 210 / 4845.
P_4_OF_10_VS_0_OF_10 = math.comb(10, 4) / math.comb(20, 4)


def scen(
    key: str,
    *,
    passed: int = 1,
    total: int = 1,
    unscored: int = 0,
    categories: Mapping[str, int] | None = None,
    **measures: object,
) -> Scenario:
    """A scenario with the given per-trial measures (Measures keyword arguments)."""
    return Scenario(
        key=key,
        passed=passed,
        total=total,
        unscored=unscored,
        categories=categories or {},
        measures=Measures(**measures),  # type: ignore[arg-type]
    )


def bucket(name: str, *scenarios: Scenario) -> Bucket:
    return Bucket(name=name, scenarios={s.key: s for s in scenarios})


def scored(name: str, key: str, by_scenario: Mapping[str, tuple[float, ...]]) -> Bucket:
    """A bucket whose scenarios carry the scores of feedback key ``key``."""
    return bucket(name, *(scen(k, scores={key: v}) for k, v in by_scenario.items()))


def shifted(
    n: int, step: float, *, base: float = 1.0, key: str = "correctness"
) -> tuple[Bucket, Bucket]:
    """(pr, baseline): n scenarios scored ``base`` on the baseline and
    ``base + step * i`` (i = 1..n) on the PR, so every difference is distinct."""
    baseline = scored("base", key, {f"s{i}": (base,) for i in range(1, n + 1)})
    pr = scored("pr", key, {f"s{i}": (base + step * i,) for i in range(1, n + 1)})
    return pr, baseline


def assert_summary(summary: MeanSummary, mean: float, half: float, n: int) -> None:
    """``summary`` has this mean, the interval mean -/+ half, and n values."""
    assert summary.n == n
    assert summary.mean == pytest.approx(mean)
    assert summary.low == pytest.approx(mean - half)
    assert summary.high == pytest.approx(mean + half)


def by_kind(signals: tuple[DriftSignal, ...], kind: DriftKind) -> DriftSignal:
    found = [s for s in signals if s.kind is kind]
    assert len(found) == 1, f"expected one {kind} signal, got {signals}"
    return found[0]


def by_measure(costs: tuple[CostDelta, ...], measure: CostMeasure) -> CostDelta:
    found = [c for c in costs if c.measure is measure]
    assert len(found) == 1, f"expected one {measure} row, got {costs}"
    return found[0]


# --- score metrics: means and intervals -----------------------------------------------------


def test_per_scenario_means_and_t_intervals() -> None:
    pr = scored("pr", "correctness", {"a": (0.8, 0.9, 1.0), "b": (0.6,), "c": (0.4,)})
    baseline = scored("base", "correctness", {"a": (0.5, 0.7), "b": (0.6, 0.6), "d": (0.2,)})
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    rows = {row.key: row for row in metric.scenarios}
    assert list(rows) == ["a", "b", "c", "d"]

    # a, PR: mean 0.9, sd 0.1, half-width t(0.975, 2) * 0.1 / sqrt(3) = 0.2484.
    half = T975_DF2 * 0.1 / math.sqrt(3)
    assert half == pytest.approx(0.248414, abs=1e-6)
    assert_summary(rows["a"].pr, 0.9, half, 3)
    # a, baseline: mean 0.6, sd sqrt(0.02), half-width t(0.975, 1) * sqrt(0.02) / sqrt(2).
    half = T975_DF1 * 0.1
    assert_summary(rows["a"].baseline, 0.6, half, 2)
    assert rows["a"].delta == pytest.approx(0.3)
    # One value: no interval; equal values: a zero-width one.
    assert rows["b"].pr == MeanSummary(mean=0.6, low=None, high=None, n=1)
    assert rows["b"].baseline == MeanSummary(mean=0.6, low=0.6, high=0.6, n=2)
    assert rows["b"].delta == 0.0
    # Scored on one side only: shown, without a delta.
    assert rows["c"].pr.mean == pytest.approx(0.4)
    assert rows["c"].baseline == MeanSummary(mean=None, low=None, high=None, n=0)
    assert rows["c"].delta is None
    assert rows["d"].pr == MeanSummary(mean=None, low=None, high=None, n=0)
    assert rows["d"].baseline.mean == pytest.approx(0.2)
    assert rows["d"].delta is None


def test_suite_summary_is_mean_of_paired_scenario_means() -> None:
    pr = scored("pr", "correctness", {"a": (0.8, 0.9, 1.0), "b": (0.6,), "c": (0.4,)})
    baseline = scored("base", "correctness", {"a": (0.5, 0.7), "b": (0.6, 0.6), "d": (0.2,)})
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    # Only a and b are scored on both sides: PR means [0.9, 0.6], baseline [0.6, 0.6]
    # (c's 0.4 and d's 0.2 would move both means if they were pooled in).
    assert metric.pairs == 2
    # PR: mean 0.75, sd 0.15 * sqrt(2), half-width t(0.975, 1) * 0.15.
    half = T975_DF1 * 0.15
    assert_summary(metric.pr, 0.75, half, 2)
    assert_summary(metric.baseline, 0.6, 0.0, 2)
    assert metric.delta == pytest.approx(0.15)
    # Differences [0.3, 0.0]: the zero is dropped, one positive rank left:
    # P(W+ >= 1) = 1/2, P(W+ <= 1) = 1 -> p = min(1, 2 * 1/2) = 1.
    assert metric.p == 1.0
    # A 0.15 rise with p = 1 is not an improvement.
    assert metric.verdict is MetricVerdict.STABLE
    assert metric.min_effect == 0.05


def test_six_distinct_drops_are_a_regression() -> None:
    # Differences -0.1 .. -0.6, all negative and distinct: W+ = 0, and 1 of the
    # 2^6 sign patterns has W+ <= 0, so p = 2 * 1/64 = 0.03125 <= 0.05.
    pr, baseline = shifted(6, -0.1)
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    assert metric.p == 2 / 64
    assert metric.pairs == 6
    assert metric.delta == pytest.approx(-0.35)
    assert metric.baseline.mean == 1.0
    assert metric.pr.mean == pytest.approx(0.65)
    assert metric.verdict is MetricVerdict.REGRESSION


def test_significant_but_tiny_drop_is_stable() -> None:
    # The same signs (p = 0.03125), but a mean drop of 0.0035 < min_effect 0.05.
    pr, baseline = shifted(6, -0.001)
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    assert metric.p == 2 / 64
    assert metric.delta == pytest.approx(-0.0035)
    assert metric.verdict is MetricVerdict.STABLE


def test_five_drops_are_not_significant() -> None:
    # W+ = 0 with n = 5: p = 2 * 1/32 = 0.0625 > 0.05, however large the drop.
    pr, baseline = shifted(5, -0.1)
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    assert metric.p == 2 / 32
    assert metric.delta == pytest.approx(-0.3)
    assert metric.verdict is MetricVerdict.STABLE


def test_min_effect_boundary_is_inclusive() -> None:
    # Drops in sixteenths, so every mean is exact in binary: 1, 2, 3, 4, 5, 9
    # sixteenths sum to 24/16 = 1.5, a mean drop of exactly 0.25.
    drops = (1, 2, 3, 4, 5, 9)
    baseline = scored("base", "correctness", {f"s{d}": (1.0,) for d in drops})
    pr = scored("pr", "correctness", {f"s{d}": (1.0 - d / 16,) for d in drops})
    (metric,) = compare_metrics(pr, baseline, MetricThresholds(min_effect=0.25))
    assert metric.delta == -0.25
    assert metric.p == 2 / 64
    assert metric.verdict is MetricVerdict.REGRESSION
    (metric,) = compare_metrics(pr, baseline, MetricThresholds(min_effect=0.2500001))
    assert metric.verdict is MetricVerdict.STABLE


def test_metric_max_p_is_respected() -> None:
    pr, baseline = shifted(6, -0.1)
    (metric,) = compare_metrics(pr, baseline, MetricThresholds(max_p=0.03))
    assert metric.p == 0.03125
    assert metric.verdict is MetricVerdict.STABLE


def test_six_distinct_rises_are_an_improvement() -> None:
    pr, baseline = shifted(6, 0.1, base=0.0)
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    assert metric.p == 2 / 64  # W+ = 21, P(W+ >= 21) = 1/64
    assert metric.delta == pytest.approx(0.35)
    assert metric.verdict is MetricVerdict.IMPROVEMENT


def test_min_effect_by_key() -> None:
    thresholds = MetricThresholds(by_key=(("helpfulness", 0.25),))
    # A 1-5 scale: drops 0.05 .. 0.30, mean drop 0.175 (>= 0.05, < 0.25).
    pr, baseline = shifted(6, -0.05, base=4.0, key="helpfulness")
    (metric,) = compare_metrics(pr, baseline, thresholds)
    assert metric.min_effect == 0.25
    assert metric.delta == pytest.approx(-0.175)
    assert metric.p == 2 / 64
    assert metric.verdict is MetricVerdict.STABLE
    # Without the per-key override the same data is a regression...
    (default,) = compare_metrics(pr, baseline, MetricThresholds())
    assert default.min_effect == 0.05
    assert default.verdict is MetricVerdict.REGRESSION
    # ...and with it, a mean drop of 0.35 still is.
    pr, baseline = shifted(6, -0.1, base=4.0, key="helpfulness")
    (metric,) = compare_metrics(pr, baseline, thresholds)
    assert metric.delta == pytest.approx(-0.35)
    assert metric.verdict is MetricVerdict.REGRESSION
    # Other keys keep the global minimum effect.
    assert thresholds.effect_for("correctness") == 0.05


def test_not_comparable_when_no_scenario_is_scored_on_both_sides() -> None:
    pr = bucket("pr", scen("a", scores={"tone": (0.8,)}), scen("b"))
    baseline = bucket("base", scen("a"), scen("b", scores={"tone": (0.6,)}))
    (metric,) = compare_metrics(pr, baseline, MetricThresholds())
    assert metric.verdict is MetricVerdict.NOT_COMPARABLE
    assert (metric.delta, metric.p, metric.pairs) == (None, None, 0)
    assert metric.pr == MeanSummary(mean=0.8, low=None, high=None, n=1)
    assert metric.baseline == MeanSummary(mean=0.6, low=None, high=None, n=1)
    assert [(r.key, r.pr.n, r.baseline.n, r.delta) for r in metric.scenarios] == [
        ("a", 1, 0, None),
        ("b", 0, 1, None),
    ]


def test_key_present_on_one_side_only() -> None:
    pr = bucket(
        "pr",
        scen("a", scores={"correctness": (1.0,), "tone": (0.5,)}),
        scen("b", scores={"correctness": (1.0,), "tone": (0.7,)}),
    )
    baseline = bucket(
        "base", scen("a", scores={"correctness": (1.0,)}), scen("b", scores={"correctness": (1.0,)})
    )
    metrics = {m.key: m for m in compare_metrics(pr, baseline, MetricThresholds())}
    assert set(metrics) == {"correctness", "tone"}
    tone = metrics["tone"]
    assert tone.verdict is MetricVerdict.NOT_COMPARABLE
    # PR side on its own: per-scenario means [0.5, 0.7], half-width t(0.975, 1) * 0.1.
    half = T975_DF1 * 0.1
    assert_summary(tone.pr, 0.6, half, 2)
    assert tone.baseline == MeanSummary(mean=None, low=None, high=None, n=0)
    assert tone.delta is None
    # The shared key is compared as usual: no change, all differences zero -> p = 1.
    correctness = metrics["correctness"]
    assert correctness.verdict is MetricVerdict.STABLE
    assert (correctness.delta, correctness.p, correctness.pairs) == (0.0, 1.0, 2)


def test_metrics_sorted_regression_first() -> None:
    keys = [f"s{i}" for i in range(1, 7)]

    def side(name: str, sign: int) -> Bucket:
        return bucket(
            name,
            *(
                scen(
                    k,
                    scores={
                        "a_flat": (0.5,),
                        "y_rise": (0.5 + sign * 0.1 * i,),
                        "z_drop": (0.5 - sign * 0.1 * i / 2,),
                        **({"b_lonely": (0.5,)} if sign > 0 else {}),
                    },
                )
                for i, k in enumerate(keys, start=1)
            ),
        )

    result = compare_metrics(side("pr", 1), side("base", 0), MetricThresholds())
    assert [(m.key, m.verdict) for m in result] == [
        ("z_drop", MetricVerdict.REGRESSION),
        ("y_rise", MetricVerdict.IMPROVEMENT),
        ("b_lonely", MetricVerdict.NOT_COMPARABLE),
        ("a_flat", MetricVerdict.STABLE),
    ]


# --- latency, tokens and cost ---------------------------------------------------------------


def test_cost_figures_by_hand() -> None:
    pr = bucket(
        "pr",
        scen("a", latency_ms=(100.0, 200.0), tokens=(100.0, 200.0), cost=(0.01, 0.03)),
        scen("b", latency_ms=(300.0, 400.0, 1000.0), tokens=(300.0,), cost=(0.05,)),
    )
    baseline = bucket(
        "base",
        scen("a", latency_ms=(100.0, 300.0), tokens=(100.0, 100.0), cost=(0.01, 0.01)),
        scen("b", latency_ms=(200.0, 400.0), tokens=(100.0,), cost=(0.01,)),
    )
    costs = compare_costs(pr, baseline, CostThresholds())
    assert [c.measure for c in costs] == [
        CostMeasure.LATENCY_P50,
        CostMeasure.LATENCY_P95,
        CostMeasure.TOKENS,
        CostMeasure.COST,
        CostMeasure.COST_TOTAL,
    ]
    # PR latencies pooled: [100, 200, 300, 400, 1000].
    #   p50: h = 4 * 0.5 = 2 -> 300; p95: h = 3.8 -> 400 + 0.8 * 600 = 880.
    # Baseline: [100, 200, 300, 400].
    #   p50: h = 1.5 -> 250; p95: h = 2.85 -> 300 + 0.85 * 100 = 385.
    p50 = by_measure(costs, CostMeasure.LATENCY_P50)
    assert p50.pr == pytest.approx(300.0)
    assert p50.baseline == pytest.approx(250.0)
    assert p50.delta == pytest.approx(50.0)
    assert p50.relative == pytest.approx(0.2)
    assert not p50.notable  # +20% < 25%
    p95 = by_measure(costs, CostMeasure.LATENCY_P95)
    assert p95.pr == pytest.approx(880.0)
    assert p95.baseline == pytest.approx(385.0)
    assert p95.relative == pytest.approx(495 / 385)
    assert p95.notable
    # Tokens per trial: (100 + 200 + 300) / 3 = 200 vs 100.
    tokens = by_measure(costs, CostMeasure.TOKENS)
    assert tokens.pr == pytest.approx(200.0)
    assert tokens.baseline == pytest.approx(100.0)
    assert tokens.relative == pytest.approx(1.0)
    assert tokens.notable
    # Cost per trial: 0.09 / 3 = 0.03 vs 0.03 / 3 = 0.01; per experiment: 0.09 vs 0.03.
    cost = by_measure(costs, CostMeasure.COST)
    assert cost.pr == pytest.approx(0.03)
    assert cost.baseline == pytest.approx(0.01)
    assert cost.delta == pytest.approx(0.02)
    assert cost.relative == pytest.approx(2.0)
    total = by_measure(costs, CostMeasure.COST_TOTAL)
    assert total.pr == pytest.approx(0.09)
    assert total.baseline == pytest.approx(0.03)
    assert total.relative == pytest.approx(2.0)
    assert total.notable
    assert not any(c.gating for c in costs)


def test_notable_at_exactly_the_threshold() -> None:
    # 200 -> 250 is exactly +25% (latency), 100 -> 120 exactly +20% (tokens).
    pr = bucket("pr", scen("a", latency_ms=(250.0,), tokens=(120.0,)))
    baseline = bucket("base", scen("a", latency_ms=(200.0,), tokens=(100.0,)))
    costs = compare_costs(pr, baseline, CostThresholds())
    for measure in (CostMeasure.LATENCY_P50, CostMeasure.LATENCY_P95):
        row = by_measure(costs, measure)
        assert row.relative == 0.25
        assert row.notable
    assert by_measure(costs, CostMeasure.TOKENS).relative == 0.2
    assert by_measure(costs, CostMeasure.TOKENS).notable
    # Just under: 200 -> 249 is +24.5%.
    pr = bucket("pr", scen("a", latency_ms=(249.0,), tokens=(119.0,)))
    costs = compare_costs(pr, baseline, CostThresholds())
    assert not any(c.notable for c in costs)
    # A fall is never notable, however large.
    pr = bucket("pr", scen("a", latency_ms=(50.0,), tokens=(10.0,)))
    costs = compare_costs(pr, baseline, CostThresholds())
    assert by_measure(costs, CostMeasure.TOKENS).relative == pytest.approx(-0.9)
    assert not any(c.notable for c in costs)


def test_zero_baseline_and_zero_pr() -> None:
    pr = bucket("pr", scen("a", cost=(0.0, 0.0)))
    baseline = bucket("base", scen("a", cost=(0.0,)))
    costs = compare_costs(pr, baseline, CostThresholds(fail_on_cost_increase=0.5))
    assert costs == (
        CostDelta(CostMeasure.COST, 0.0, 0.0, 0.0, 0.0, notable=False, gating=False),
        CostDelta(CostMeasure.COST_TOTAL, 0.0, 0.0, 0.0, 0.0, notable=False, gating=False),
    )


def test_increase_from_zero_baseline_is_notable_but_never_gating() -> None:
    pr = bucket("pr", scen("a", cost=(0.01,)))
    baseline = bucket("base", scen("a", cost=(0.0, 0.0)))
    costs = compare_costs(pr, baseline, CostThresholds(fail_on_cost_increase=0.5))
    cost = by_measure(costs, CostMeasure.COST)
    assert (cost.pr, cost.baseline, cost.delta) == (0.01, 0.0, 0.01)
    assert cost.relative is None
    assert cost.notable
    assert not cost.gating  # a budget is set, but "up from nothing" has no ratio
    total = by_measure(costs, CostMeasure.COST_TOTAL)
    assert (total.relative, total.notable, total.gating) == (None, True, False)


def test_figure_with_data_on_one_side_only() -> None:
    pr = bucket("pr", scen("a", tokens=(100.0, 300.0)))
    baseline = bucket("base", scen("a", latency_ms=(10.0, 30.0)))
    costs = compare_costs(pr, baseline, CostThresholds(fail_on_tokens_increase=0.1))
    # Cost is on neither side: not listed at all.
    assert [c.measure for c in costs] == [
        CostMeasure.LATENCY_P50,
        CostMeasure.LATENCY_P95,
        CostMeasure.TOKENS,
    ]
    assert by_measure(costs, CostMeasure.TOKENS) == CostDelta(
        CostMeasure.TOKENS, 200.0, None, None, None, notable=False, gating=False
    )
    assert by_measure(costs, CostMeasure.LATENCY_P50) == CostDelta(
        CostMeasure.LATENCY_P50, None, 20.0, None, None, notable=False, gating=False
    )
    # p95 of [10, 30]: h = 0.95 -> 10 + 0.95 * 20 = 29.
    p95 = by_measure(costs, CostMeasure.LATENCY_P95)
    assert p95.pr is None
    assert p95.baseline == pytest.approx(29.0)


def _cost_comparison(pr_cost: float, base_cost: float, costs: CostThresholds) -> Ok:
    pr = bucket("pr", scen("a", passed=3, total=3, cost=(pr_cost, pr_cost)))
    baseline = bucket("base", scen("a", passed=3, total=3, cost=(base_cost, base_cost)))
    return Ok(compare_buckets(pr, baseline, Thresholds(costs=costs)))


def test_cost_budget_fails_the_gate() -> None:
    outcome = _cost_comparison(0.04, 0.02, CostThresholds(fail_on_cost_increase=0.5))
    costs = outcome.comparison.costs
    assert by_measure(costs, CostMeasure.COST).relative == 1.0
    assert by_measure(costs, CostMeasure.COST).gating
    # The per-experiment total doubled too, but no setting budgets it.
    assert by_measure(costs, CostMeasure.COST_TOTAL).relative == 1.0
    assert not by_measure(costs, CostMeasure.COST_TOTAL).gating
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert gate == Gate(
        True, "cost per trial up 100% (fail_on_cost_increase: 0.5)", fail_on=FailOn.HARD_REGRESSION
    )
    # fail_on: never turns the budgets off with everything else.
    gate = decide_gate(outcome, fail_on=FailOn.NEVER, on_fetch_failure=OnFetchFailure.NEUTRAL)
    assert gate == Gate(False, "gate disabled (fail_on: never)", fail_on=FailOn.NEVER)


def test_cost_budget_boundary() -> None:
    budget = CostThresholds(fail_on_cost_increase=0.5)
    # 2 -> 3 is exactly +50%: at the budget fails.
    outcome = _cost_comparison(3.0, 2.0, budget)
    assert by_measure(outcome.comparison.costs, CostMeasure.COST).gating
    gate = decide_gate(
        outcome, fail_on=FailOn.SOFT_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert gate == Gate(
        True, "cost per trial up 50% (fail_on_cost_increase: 0.5)", fail_on=FailOn.SOFT_REGRESSION
    )
    # 2 -> 2.5 is +25%: notable (>= 20%) but within the budget.
    outcome = _cost_comparison(2.5, 2.0, budget)
    row = by_measure(outcome.comparison.costs, CostMeasure.COST)
    assert (row.relative, row.notable, row.gating) == (0.25, True, False)
    assert not decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    ).failed


def test_without_a_budget_nothing_gates() -> None:
    outcome = _cost_comparison(100.0, 1.0, CostThresholds())
    assert by_measure(outcome.comparison.costs, CostMeasure.COST).relative == 99.0
    assert not any(c.gating for c in outcome.comparison.costs)
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert gate == Gate(
        False, "no hard regressions (fail_on: hard_regression)", fail_on=FailOn.HARD_REGRESSION
    )


def test_latency_budget_gates_on_p95_only() -> None:
    pr = bucket("pr", scen("a", passed=3, total=3, latency_ms=(110.0,)))
    baseline = bucket("base", scen("a", passed=3, total=3, latency_ms=(100.0,)))
    thresholds = Thresholds(costs=CostThresholds(fail_on_latency_increase=0.1))
    comparison = compare_buckets(pr, baseline, thresholds)
    p50 = by_measure(comparison.costs, CostMeasure.LATENCY_P50)
    p95 = by_measure(comparison.costs, CostMeasure.LATENCY_P95)
    assert p50.relative == p95.relative == 0.1
    assert (p50.gating, p95.gating) == (False, True)
    assert not p95.notable  # +10% < the 25% notable level, yet over the budget
    gate = decide_gate(
        Ok(comparison), fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert gate == Gate(
        True, "latency p95 up 10% (fail_on_latency_increase: 0.1)", fail_on=FailOn.HARD_REGRESSION
    )


# --- drift signals ---------------------------------------------------------------------------


def _error_buckets() -> tuple[Bucket, Bucket]:
    # PR: 8 scored trials (4 of them errored) + 2 unscored = 10 trials, 4 errors.
    # A PR-only scenario full of errors is not shared, so it does not count.
    pr = bucket(
        "pr",
        scen("a", passed=4, total=8, unscored=2, categories={"target_error": 4}),
        scen("z", passed=0, total=5, categories={"target_error": 5}),
    )
    baseline = bucket("base", scen("a", passed=10, total=10))
    return pr, baseline


def test_error_rate_signal_by_hand() -> None:
    pr, baseline = _error_buckets()
    (signal,) = compare_drift(pr, baseline, DriftThresholds())
    # Rate 4/10 vs 0/10, rise 0.4 >= severe 0.15; p = C(10,4) / C(20,4) = 210/4845.
    assert signal.p == pytest.approx(P_4_OF_10_VS_0_OF_10, rel=1e-12)
    assert dataclasses.replace(signal, p=None) == DriftSignal(
        kind=DriftKind.ERROR_RATE,
        pr=0.4,
        baseline=0.0,
        change=0.4,
        p=None,
        severity=Severity.SEVERE,
        pr_trials=10,
        baseline_trials=10,
    )


@pytest.mark.parametrize(
    ("levels", "severity"),
    [
        (Levels(mild=0.05, severe=0.15), Severity.SEVERE),
        (Levels(mild=0.3, severe=0.5), Severity.MILD),
        (Levels(mild=0.3, severe=0.4), Severity.SEVERE),  # exactly at severe
        (Levels(mild=0.4, severe=0.6), Severity.MILD),  # exactly at mild
        (Levels(mild=0.5, severe=0.8), Severity.NONE),
    ],
)
def test_error_rate_severity_levels(levels: Levels, severity: Severity) -> None:
    pr, baseline = _error_buckets()
    (signal,) = compare_drift(pr, baseline, DriftThresholds(error_rate=levels))
    assert signal.change == 0.4
    assert signal.severity is severity


def test_error_rate_mild_at_default_levels() -> None:
    # 12 errors in 100 trials vs 2 in 100: a 10 pp rise (mild 5 pp, severe 15 pp).
    pr = bucket("pr", scen("a", passed=88, total=100, categories={"target_error": 12}))
    baseline = bucket("base", scen("a", passed=98, total=100, categories={"target_error": 2}))
    (signal,) = compare_drift(pr, baseline, DriftThresholds())
    # P(>= 12 of the 14 errors on the PR row) = sum_{k=12..14} C(100,k) C(100,14-k) / C(200,14).
    p = sum(math.comb(100, k) * math.comb(100, 14 - k) for k in range(12, 15)) / math.comb(200, 14)
    assert p == pytest.approx(0.0050474, abs=1e-7)
    assert signal.p == pytest.approx(p, rel=1e-12)
    assert (signal.pr, signal.baseline) == (0.12, 0.02)
    assert signal.change == pytest.approx(0.10)
    assert signal.severity is Severity.MILD
    # The same counts with a stricter max_p are not significant enough.
    (signal,) = compare_drift(pr, baseline, DriftThresholds(max_p=0.005))
    assert signal.severity is Severity.NONE


def test_error_rate_rise_exactly_at_severe_level() -> None:
    # 35/100 vs 20/100 is a 15 pp rise, exactly the default severe level;
    # p = P(>= 35 of the 55 errors on the PR row) ~ 0.013.
    pr = bucket("pr", scen("a", passed=65, total=100, categories={"target_error": 35}))
    baseline = bucket("base", scen("a", passed=80, total=100, categories={"target_error": 20}))
    (signal,) = compare_drift(pr, baseline, DriftThresholds())
    p = sum(math.comb(100, k) * math.comb(100, 55 - k) for k in range(35, 56)) / math.comb(200, 55)
    assert signal.p == pytest.approx(p, rel=1e-12)
    assert p < 0.05
    assert signal.severity is Severity.SEVERE


def test_large_rise_on_one_trial_is_not_drift() -> None:
    pr = bucket("pr", scen("a", passed=0, total=1, categories={"target_error": 1}))
    baseline = bucket("base", scen("a", passed=1, total=1))
    (signal,) = compare_drift(pr, baseline, DriftThresholds())
    # 1/1 vs 0/1: a 100 pp rise, but p = C(1,1) / C(2,1) = 1/2 > 0.05.
    assert (signal.kind, signal.change, signal.p) == (DriftKind.ERROR_RATE, 1.0, 0.5)
    assert signal.severity is Severity.NONE


def test_rate_signal_without_hits_is_omitted() -> None:
    # Failures of another category, no errors on either side: no error-rate signal.
    pr = bucket("pr", scen("a", passed=1, total=3, categories={"wrong_answer": 2}))
    baseline = bucket("base", scen("a", passed=3, total=3))
    assert compare_drift(pr, baseline, DriftThresholds()) == ()
    # Outputs present, none empty, same length: only the length signal.
    pr = bucket("pr", scen("a", output_chars=(50, 50)))
    baseline = bucket("base", scen("a", output_chars=(50,)))
    assert [s.kind for s in compare_drift(pr, baseline, DriftThresholds())] == [
        DriftKind.OUTPUT_LENGTH
    ]


def test_empty_output_rate() -> None:
    pr = bucket("pr", scen("a", output_chars=(0, 0, 0, 0, 50, 50, 50, 50, 50, 50)))
    baseline = bucket("base", scen("a", output_chars=(50,) * 10))
    signal = by_kind(compare_drift(pr, baseline, DriftThresholds()), DriftKind.EMPTY_OUTPUT)
    assert (signal.pr, signal.baseline, signal.change) == (0.4, 0.0, 0.4)
    assert signal.p == pytest.approx(P_4_OF_10_VS_0_OF_10, rel=1e-12)
    assert (signal.pr_trials, signal.baseline_trials) == (10, 10)
    assert signal.severity is Severity.SEVERE
    # Output length: PR median of [0 x4, 50 x6] is 50, ratio 1 -> nothing.
    length = by_kind(compare_drift(pr, baseline, DriftThresholds()), DriftKind.OUTPUT_LENGTH)
    assert (length.pr, length.baseline, length.change) == (50.0, 50.0, 1.0)
    assert length.severity is Severity.NONE


def _length_buckets(pr_per_100: int, n: int = 6) -> tuple[Bucket, Bucket]:
    # Scenario i has one output of 100 i characters on the baseline and
    # pr_per_100 * i on the PR: distinct per-scenario differences, all one sign.
    baseline = bucket("base", *(scen(f"s{i}", output_chars=(100 * i,)) for i in range(1, n + 1)))
    pr = bucket("pr", *(scen(f"s{i}", output_chars=(pr_per_100 * i,)) for i in range(1, n + 1)))
    return pr, baseline


@pytest.mark.parametrize(
    ("pr_per_100", "ratio", "severity"),
    [
        (30, 0.3, Severity.SEVERE),
        (40, 0.4, Severity.SEVERE),  # exactly at severe (ratio at or below the level)
        (60, 0.6, Severity.MILD),
        (70, 0.7, Severity.MILD),  # exactly at mild
        (90, 0.9, Severity.NONE),
    ],
)
def test_output_length_ratio(pr_per_100: int, ratio: float, severity: Severity) -> None:
    pr, baseline = _length_buckets(pr_per_100)
    signal = by_kind(compare_drift(pr, baseline, DriftThresholds()), DriftKind.OUTPUT_LENGTH)
    # Baseline median of [100 .. 600] is (300 + 400) / 2 = 350; the PR's is 3.5 * pr_per_100.
    assert signal.baseline == 350.0
    assert signal.pr == 3.5 * pr_per_100
    assert signal.change == ratio
    # Six differences of one sign, distinct: p = 2/64.
    assert signal.p == 2 / 64
    assert (signal.pr_trials, signal.baseline_trials) == (6, 6)
    assert signal.severity is severity


def test_output_length_needs_six_scenarios_for_significance() -> None:
    pr, baseline = _length_buckets(30, n=5)
    signal = by_kind(compare_drift(pr, baseline, DriftThresholds()), DriftKind.OUTPUT_LENGTH)
    # Medians 90 vs 300: ratio 0.3, but five same-sign differences give p = 2/32.
    assert (signal.pr, signal.baseline, signal.change) == (90.0, 300.0, 0.3)
    assert signal.p == 2 / 32
    assert signal.severity is Severity.NONE


def test_output_length_uses_per_scenario_medians() -> None:
    # Scenario medians: PR [10, 20, ..., 60] (middle of three trials), baseline 100 i.
    pr = bucket("pr", *(scen(f"s{i}", output_chars=(0, 10 * i, 1000)) for i in range(1, 7)))
    baseline = bucket("base", *(scen(f"s{i}", output_chars=(100 * i,)) for i in range(1, 7)))
    signal = by_kind(compare_drift(pr, baseline, DriftThresholds()), DriftKind.OUTPUT_LENGTH)
    # Pooled PR [0 x6, 10..60, 1000 x6]: 18 values, median = mean of the 9th and
    # 10th = (30 + 40) / 2 = 35; ratio 35 / 350 = 0.1.
    assert (signal.pr, signal.baseline, signal.change) == (35.0, 350.0, 0.1)
    assert signal.p == 2 / 64
    assert (signal.pr_trials, signal.baseline_trials) == (18, 6)
    assert signal.severity is Severity.SEVERE


def test_output_length_test_uses_baseline_scenario_medians() -> None:
    # s1..s3: baseline (0, 0, 100 i x3) has median 100 i but mean 60 i; the PR's
    # 80 i is below the median and above the mean. s4..s6: baseline 100 i, PR 80 i.
    # Medians: six negative differences -20 i, p = 2/64; means would mix signs.
    pr = bucket("pr", *(scen(f"s{i}", output_chars=(80 * i,)) for i in range(1, 7)))
    baseline = bucket(
        "base",
        *(scen(f"s{i}", output_chars=(0, 0, 100 * i, 100 * i, 100 * i)) for i in range(1, 4)),
        *(scen(f"s{i}", output_chars=(100 * i,)) for i in range(4, 7)),
    )
    signal = by_kind(compare_drift(pr, baseline, DriftThresholds()), DriftKind.OUTPUT_LENGTH)
    assert signal.p == 2 / 64
    # Pooled: PR [80 .. 480] -> (240 + 320) / 2 = 280; baseline [0 x6, 100 x3,
    # 200 x3, 300 x3, 400, 500, 600] -> the 9th and 10th of 18 = (100 + 200) / 2 = 150.
    assert (signal.pr, signal.baseline) == (280.0, 150.0)
    assert signal.change == pytest.approx(280 / 150)
    assert signal.severity is Severity.NONE  # longer, not shorter


def test_tool_silence_only_where_the_baseline_called_tools() -> None:
    pr = bucket(
        "pr",
        scen("a", tool_calls=(0, 0, 0, 0, 1, 1, 2, 1, 1, 1)),
        scen("b", tool_calls=(0, 0, 0)),  # baseline never called a tool here: ignored
        scen("c", tool_calls=(0, 0)),  # baseline has no tool-call data: ignored
    )
    baseline = bucket(
        "base",
        scen("a", tool_calls=(1, 2, 1, 1, 1, 1, 3, 1, 1, 1)),
        scen("b", tool_calls=(0, 0, 0)),
        scen("c"),
    )
    (signal,) = compare_drift(pr, baseline, DriftThresholds())
    # Only scenario a: 4/10 silent vs 0/10 (with b it would be 7/13 vs 3/13).
    assert signal.p == pytest.approx(P_4_OF_10_VS_0_OF_10, rel=1e-12)
    assert dataclasses.replace(signal, p=None) == DriftSignal(
        kind=DriftKind.TOOL_SILENCE,
        pr=0.4,
        baseline=0.0,
        change=0.4,
        p=None,
        severity=Severity.SEVERE,
        pr_trials=10,
        baseline_trials=10,
    )
    # tool_silence levels are 10 / 30 pp: a custom severe level above 0.4 makes it mild.
    (signal,) = compare_drift(
        pr, baseline, DriftThresholds(tool_silence=Levels(mild=0.1, severe=0.5))
    )
    assert signal.severity is Severity.MILD


def test_tool_silence_absent_without_data() -> None:
    # No tool-call data at all (unknown, not "none"): no signal.
    pr = bucket("pr", scen("a", output_chars=(10, 10)))
    baseline = bucket("base", scen("a", output_chars=(10, 10)))
    kinds = [s.kind for s in compare_drift(pr, baseline, DriftThresholds())]
    assert DriftKind.TOOL_SILENCE not in kinds
    # Baseline never made a call: nothing to fall silent from.
    pr = bucket("pr", scen("a", tool_calls=(0, 0)))
    baseline = bucket("base", scen("a", tool_calls=(0, 0)))
    assert compare_drift(pr, baseline, DriftThresholds()) == ()


def test_drift_signals_in_fixed_order() -> None:
    pr = bucket(
        "pr",
        *(
            scen(
                f"s{i}",
                passed=0,
                total=1,
                categories={"target_error": 1},
                output_chars=(0, 30 * i),
                tool_calls=(0,),
            )
            for i in range(1, 7)
        ),
    )
    baseline = bucket(
        "base",
        *(
            scen(f"s{i}", passed=1, total=1, output_chars=(100 * i,), tool_calls=(1,))
            for i in range(1, 7)
        ),
    )
    signals = compare_drift(pr, baseline, DriftThresholds())
    assert [s.kind for s in signals] == [
        DriftKind.ERROR_RATE,
        DriftKind.EMPTY_OUTPUT,
        DriftKind.OUTPUT_LENGTH,
        DriftKind.TOOL_SILENCE,
    ]
    # Errors and tool silence: 6/6 vs 0/6, p = 1 / C(12, 6) = 1/924.
    for signal in (signals[0], signals[3]):
        assert (signal.pr, signal.baseline, signal.change) == (1.0, 0.0, 1.0)
        assert signal.p == pytest.approx(1 / 924, rel=1e-12)
        assert signal.severity is Severity.SEVERE
    # Empty outputs: 6 of 12 PR outputs vs 0 of 6, p = C(12, 6) / C(18, 6) = 924/18564.
    empty = signals[1]
    assert (empty.pr, empty.change, empty.pr_trials, empty.baseline_trials) == (0.5, 0.5, 12, 6)
    assert empty.p == pytest.approx(924 / 18564, rel=1e-12)
    assert empty.severity is Severity.SEVERE
    # Length: PR scenario medians 15 i vs 100 i; pooled PR [0 x6, 30 .. 180] -> median 15.
    length = signals[2]
    assert (length.pr, length.baseline) == (15.0, 350.0)
    assert length.change == pytest.approx(15 / 350)
    assert length.p == 2 / 64
    assert length.severity is Severity.SEVERE


# --- win / loss and compare_buckets ---------------------------------------------------------


def test_win_loss_from_compare_buckets() -> None:
    pr = make_bucket(
        "pr",
        {
            "win": (3, 3),
            "loss": (1, 3),
            "tie": (2, 3),
            "tie_other_n": (2, 2),
            "loss_small": (2, 3),
            "no_pr_trials": (0, 0),
            "no_base_trials": (3, 3),
            "pr_only": (0, 3),
        },
    )
    baseline = make_bucket(
        "base",
        {
            "win": (1, 3),
            "loss": (3, 3),
            "tie": (2, 3),
            "tie_other_n": (3, 3),
            "loss_small": (3, 3),
            "no_pr_trials": (3, 3),
            "no_base_trials": (0, 0),
            "base_only": (3, 3),
        },
    )
    comparison = compare_buckets(pr, baseline, Thresholds())
    insufficient = {r.key for r in comparison.scenarios if r.verdict is Verdict.INSUFFICIENT_DATA}
    assert insufficient == {"no_pr_trials", "no_base_trials"}
    # win +2/3; loss -2/3 and loss_small -1/3; tie and tie_other_n 0; the two
    # scenarios without trials on a side (insufficient data) and the one-sided ones are out.
    assert comparison.win_loss == WinLoss(wins=1, losses=2, ties=2)


def test_compare_buckets_without_measures() -> None:
    pr = bucket(
        "pr",
        scen("a", passed=1, total=3, categories={"target_error": 2}),
        scen("b", passed=3, total=3),
    )
    baseline = make_bucket("base", {"a": (3, 3), "b": (3, 3)})
    comparison = compare_buckets(pr, baseline, Thresholds())
    assert comparison.metrics == ()
    assert comparison.costs == ()
    # The error rate comes from the failure categories, not from measures, so
    # target_error failures give a signal even without measures: 2 errors in the
    # 6 shared PR trials vs 0 in 6, p = C(6, 2) / C(12, 2) = 15/66 > 0.05.
    (signal,) = comparison.drift
    assert (signal.kind, signal.pr_trials, signal.baseline_trials) == (DriftKind.ERROR_RATE, 6, 6)
    assert signal.p == pytest.approx(15 / 66, rel=1e-12)
    assert signal.severity is Severity.NONE
    plain = compare_buckets(
        make_bucket("pr", {"a": (1, 3), "b": (3, 3)}),
        make_bucket("base", {"a": (3, 3), "b": (2, 3)}),
        Thresholds(),
    )
    assert (plain.metrics, plain.costs, plain.drift) == ((), (), ())
    assert plain.win_loss == WinLoss(wins=1, losses=1, ties=0)


def test_compare_buckets_wires_metrics_with_thresholds() -> None:
    pr, baseline = shifted(6, -0.1)
    comparison = compare_buckets(pr, baseline, Thresholds(metrics=MetricThresholds(min_effect=0.5)))
    (metric,) = comparison.metrics
    # The comparison's own metric thresholds are used: a 0.35 drop < 0.5 is stable.
    assert metric.min_effect == 0.5
    assert metric.verdict is MetricVerdict.STABLE
