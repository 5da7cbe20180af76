"""The report's parts: one JSON-ready dict (or JSON text) per value of an outcome."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from evalbot.core.measures import measures_document
from evalbot.core.models import (
    NO_MEASURES,
    Aggregate,
    AggregateTest,
    Bucket,
    CategoryDrift,
    Comparison,
    CostDelta,
    DriftSignal,
    MeanSummary,
    MetricComparison,
    Power,
    RateSummary,
    Scenario,
    ScenarioComparison,
)
from evalbot.output import power_text
from evalbot.output.tally import tally


def experiment(bucket: Bucket) -> dict[str, Any]:
    """The ``pr`` / ``baseline`` object: one experiment's identity and size."""
    return {
        "name": bucket.name,
        "id": bucket.id,
        "url": bucket.url,
        "metadata": dict(bucket.metadata),
        "started_at": bucket.started_at,
        "scenarios": len(bucket.scenarios),
        "trials": bucket.total_trials,
        "unscored": bucket.unscored,
        "notes": list(bucket.notes),
    }


def _rate(summary: RateSummary) -> dict[str, Any]:
    return {
        "passed": summary.passed,
        "total": summary.total,
        "rate": summary.rate,
        "ci95": [summary.low, summary.high],
    }


def aggregate(aggregate: Aggregate) -> dict[str, Any]:
    """The ``aggregate`` object: pooled pass rates over the shared scenarios."""
    return {
        "scenarios": aggregate.scenarios,
        "pr": _rate(aggregate.pr),
        "baseline": _rate(aggregate.baseline),
        "delta": aggregate.delta,
    }


def counts_part(scenario: Scenario) -> dict[str, Any]:
    """One side of a scenario: its counts, failure categories and per-trial measures."""
    measures = scenario.measures
    return {
        "passed": scenario.passed,
        "total": scenario.total,
        "unscored": scenario.unscored,
        "categories": dict(scenario.categories),
        # Per-trial values, so a script can recompute metrics, costs and drift
        # from data (issue 6 §6). Most suites have none: skip the per-field walk
        # for the shared empty value.
        "measures": {} if measures is NO_MEASURES else measures_document(measures),
    }


class Floats:
    """float() of the p-values, once per distinct object.

    compare_buckets classifies each distinct table once, so rows share their
    (exact, Fraction) p-value objects; Fraction.__float__ is Python code, and
    a Fraction's hash is too, so the memo is keyed by identity. Every row is
    alive while the report is built, so an id is never reused meanwhile.
    """

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}

    def __call__(self, value: Any) -> float:
        key = id(value)
        number = self._seen.get(key)
        if number is None:
            number = self._seen[key] = float(value)
        return number


def row(row: ScenarioComparison, as_float: Callable[[Any], float] = float) -> dict[str, Any]:
    """One ``scenarios`` row; ``as_float`` converts the exact p-values (see Floats)."""
    return {
        "key": row.key,
        "label": row.label,
        # str() of a StrEnum is its value, without Enum.value's descriptor.
        "verdict": str(row.verdict),
        "pr": counts_part(row.pr),
        "baseline": counts_part(row.baseline),
        "delta": row.delta,
        "p_worse": as_float(row.p_worse),
        "p_better": as_float(row.p_better),
        "pooled": None
        if row.pooled is None
        else {"passed": row.pooled.passed, "total": row.pooled.total},
        "q": row.q,
        "flakiness": row.flakiness,
        "series": list(row.series),
    }


def one_side(scenario: Scenario) -> dict[str, Any]:
    """One ``pr_only`` / ``baseline_only`` row."""
    return {"key": scenario.key, "label": scenario.label, **counts_part(scenario)}


def category(row: CategoryDrift) -> dict[str, Any]:
    """One ``failure_categories`` row."""
    return {
        "category": row.category,
        "pr": {"count": row.pr_count, "rate": row.pr_rate},
        "baseline": {"count": row.baseline_count, "rate": row.baseline_rate},
        "delta": row.delta,
        "notable": row.notable,
        "new": row.new,
    }


def history(comparison: Comparison) -> dict[str, Any]:
    """The ``history`` object: the baseline runs pooled, oldest first, then the latest."""
    runs = [*comparison.history, comparison.baseline]
    return {
        "runs": len(runs),
        "experiments": [
            {
                "name": bucket.name,
                "id": bucket.id,
                "started_at": bucket.started_at,
                "passed": sum(s.passed for s in bucket.scenarios.values()),
                "total": bucket.total_trials,
            }
            for bucket in runs
        ],
    }


def coverage(comparison: Comparison) -> dict[str, Any]:
    """How much of each side the comparison covered (schema v4, issue 11 §5)."""
    return {
        "pr_scenarios": len(comparison.pr.scenarios),
        "baseline_scenarios": len(comparison.baseline.scenarios),
        "shared": len(comparison.scenarios),
        "compared": tally(comparison).compared,
        "low": tally(comparison).low_coverage,
    }


def nothing_compared_message(comparison: Comparison) -> str:
    """One line: why nothing was compared, in counts."""
    shared = len(comparison.scenarios)
    return (
        f"nothing could be compared: no shared scenario has trials on both sides "
        f"({shared} shared, {len(comparison.pr_only)} only in the PR, "
        f"{len(comparison.baseline_only)} only in the baseline)"
    )


def power(power: Power) -> dict[str, Any]:
    """The ``power`` object: what this suite could detect."""
    return {
        "pr_trials": power.pr_trials,
        "baseline_trials": power.baseline_trials,
        "baseline_runs": power.baseline_runs,
        "threshold": power.threshold,
        "family_size": power.family_size,
        "dispersion": power.dispersion,
        "can_fail_alone": power.can_fail_alone,
        "drops": [
            {
                "label": power_text.drop_label(drop),
                "scope": drop.scope,
                "from_rate": drop.from_rate,
                "to_rate": drop.to_rate,
                "probability": drop.probability,
                "exact": drop.exact,
            }
            for drop in power.drops
        ],
        "statement": power_text.statement(power),
        "suggestion": power_text.suggestion(power),
        "suggested_repetitions": power.suggested_repetitions,
        "suggested_history": power.suggested_history,
    }


def aggregate_test(test: AggregateTest) -> dict[str, Any]:
    """The ``aggregate_test`` object: the suite-level test."""
    return {
        "method": test.method,
        "z": _finite(test.z),
        "p": test.p,
        "alpha": test.alpha,
        "significant": test.significant,
        "gating": test.gating,
        "runs": test.runs,
        "df": test.df,
        "baseline_level": test.baseline_level,
        "pr_rate": test.pr_rate,
        "spread": test.spread,
        "margin": test.margin,
        "trend": test.trend,
        "latest_outlier": test.latest_outlier,
    }


def _finite(value: float) -> float | None:
    # JSON has no infinity: a statistic with zero variance is reported as null.
    return value if math.isfinite(value) else None


def _mean(summary: MeanSummary) -> dict[str, Any]:
    return {"mean": summary.mean, "ci95": [summary.low, summary.high], "n": summary.n}


def metric(metric: MetricComparison) -> dict[str, Any]:
    """One ``metrics`` row, with its per-scenario means."""
    return {
        "key": metric.key,
        "verdict": metric.verdict.value,
        "pr": _mean(metric.pr),
        "baseline": _mean(metric.baseline),
        "delta": metric.delta,
        "p": metric.p,
        "test": "wilcoxon_signed_rank",
        "pairs": metric.pairs,
        "min_effect": metric.min_effect,
        "scenarios": [
            {
                "key": row.key,
                "pr": _mean(row.pr),
                "baseline": _mean(row.baseline),
                "delta": row.delta,
            }
            for row in metric.scenarios
        ],
    }


def cost(cost: CostDelta) -> dict[str, Any]:
    """One ``costs`` row."""
    return {
        "measure": cost.measure.value,
        "pr": cost.pr,
        "baseline": cost.baseline,
        "delta": cost.delta,
        "relative": cost.relative,
        "notable": cost.notable,
        "gating": cost.gating,
    }


def signal(signal: DriftSignal) -> dict[str, Any]:
    """One ``drift`` row."""
    return {
        "signal": signal.kind.value,
        "pr": signal.pr,
        "baseline": signal.baseline,
        "change": signal.change,
        "p": signal.p,
        "severity": signal.severity.value,
        "pr_trials": signal.pr_trials,
        "baseline_trials": signal.baseline_trials,
    }
