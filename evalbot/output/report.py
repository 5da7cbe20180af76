"""The versioned JSON report (issue 2 §7), documented by schemas/report.schema.json.

Pure: builds plain dicts from an Outcome and a Gate. The shape is a contract
with users' scripts, so every outcome kind produces the same top-level keys
(``null`` or empty where a kind has nothing to say), and ``schema_version``
is bumped on any incompatible change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from evalbot import __version__
from evalbot.core.models import (
    NO_MEASURES,
    Aggregate,
    AggregateTest,
    Bucket,
    CategoryDrift,
    Comparison,
    CostDelta,
    DriftSignal,
    FetchFailed,
    Gate,
    MeanSummary,
    MetricComparison,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    Power,
    RateSummary,
    Scenario,
    ScenarioComparison,
    Thresholds,
    Verdict,
)
from evalbot.core.thresholds import thresholds_document
from evalbot.core.trend import trend_report
from evalbot.output import power_text
from evalbot.sources.experiment_file import measures_document

SCHEMA_VERSION = 4


def _experiment(bucket: Bucket) -> dict[str, Any]:
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


def _aggregate(aggregate: Aggregate) -> dict[str, Any]:
    return {
        "scenarios": aggregate.scenarios,
        "pr": _rate(aggregate.pr),
        "baseline": _rate(aggregate.baseline),
        "delta": aggregate.delta,
    }


def _counts(scenario: Scenario) -> dict[str, Any]:
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


class _Floats:
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


def _row(row: ScenarioComparison, as_float: Callable[[Any], float] = float) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        # str() of a StrEnum is its value, without Enum.value's descriptor.
        "verdict": str(row.verdict),
        "pr": _counts(row.pr),
        "baseline": _counts(row.baseline),
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


def _one_side(scenario: Scenario) -> dict[str, Any]:
    return {"key": scenario.key, "label": scenario.label, **_counts(scenario)}


def _category(row: CategoryDrift) -> dict[str, Any]:
    return {
        "category": row.category,
        "pr": {"count": row.pr_count, "rate": row.pr_rate},
        "baseline": {"count": row.baseline_count, "rate": row.baseline_rate},
        "delta": row.delta,
        "notable": row.notable,
        "new": row.new,
    }


def _history(comparison: Comparison) -> dict[str, Any]:
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
        "compared": comparison.compared,
        "low": comparison.low_coverage,
    }


def nothing_compared_message(comparison: Comparison) -> str:
    """One line: why nothing was compared, in counts."""
    shared = len(comparison.scenarios)
    return (
        f"nothing could be compared: no shared scenario has trials on both sides "
        f"({shared} shared, {len(comparison.pr_only)} only in the PR, "
        f"{len(comparison.baseline_only)} only in the baseline)"
    )


def _power(power: Power) -> dict[str, Any]:
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


def _aggregate_test(test: AggregateTest) -> dict[str, Any]:
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


def _metric(metric: MetricComparison) -> dict[str, Any]:
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


def _cost(cost: CostDelta) -> dict[str, Any]:
    return {
        "measure": cost.measure.value,
        "pr": cost.pr,
        "baseline": cost.baseline,
        "delta": cost.delta,
        "relative": cost.relative,
        "notable": cost.notable,
        "gating": cost.gating,
    }


def _signal(signal: DriftSignal) -> dict[str, Any]:
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


def thresholds_dict(thresholds: Thresholds) -> dict[str, Any]:
    """Thresholds in the config file's shape (the one mapping: core.thresholds)."""
    return thresholds_document(thresholds)


def build_report(
    outcome: Outcome,
    gate: Gate,
    *,
    thresholds: Thresholds,
    fetch: Mapping[str, Any] | None = None,
    policy: Mapping[str, str] | None = None,
    rows: bool = True,
) -> dict[str, Any]:
    """The JSON report for ``outcome``: same top-level keys for every kind.

    ``fetch`` describes how the experiments were obtained (LangSmith requests,
    timings, how the baseline was chosen); it is null for experiment files.
    ``policy`` records ``fail_on``, ``on_fetch_failure`` and ``comment_key``, the
    settings that decided the gate and named the comment.
    ``rows=False`` leaves ``scenarios`` empty (see ``json_chunks``).
    """
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "evalbot_version": __version__,
        "outcome": outcome.kind.value,
        "gate": {"failed": gate.failed, "reason": gate.reason, "warning": gate.warning},
        "message": None,
        "pr": None,
        "baseline": None,
        "thresholds": thresholds_dict(thresholds),
        "policy": None if policy is None else dict(policy),
        "counts": {verdict.value: 0 for verdict in Verdict},
        "aggregate": None,
        "scenarios": [],
        "pr_only": [],
        "baseline_only": [],
        "failure_categories": [],
        "history": None,
        "aggregate_test": None,
        "power": None,
        "trend": None,
        "metrics": [],
        "costs": [],
        "drift": [],
        "win_loss": None,
        "coverage": None,
        "fetch": None if fetch is None else dict(fetch),
    }
    if isinstance(outcome, FetchFailed):
        report["message"] = outcome.error
    elif isinstance(outcome, NoBaseline):
        report["message"] = f"no baseline experiment matched {outcome.searched}"
        report["pr"] = _experiment(outcome.pr)
    elif isinstance(outcome, NothingCompared):
        # What each side held, so a script sees why;
        # no aggregate, test, power or metrics: they would describe nothing.
        comparison = outcome.comparison
        report["message"] = nothing_compared_message(comparison)
        report["pr"] = _experiment(comparison.pr)
        report["baseline"] = _experiment(comparison.baseline)
        report["counts"] = {verdict.value: comparison.count(verdict) for verdict in Verdict}
        report["scenarios"] = [_row(row) for row in comparison.scenarios]
        report["pr_only"] = [_one_side(s) for s in comparison.pr_only]
        report["baseline_only"] = [_one_side(s) for s in comparison.baseline_only]
        report["history"] = _history(comparison)
        report["coverage"] = coverage(comparison)
    elif isinstance(outcome, Ok):
        comparison = outcome.comparison
        report["coverage"] = coverage(comparison)
        report["pr"] = _experiment(comparison.pr)
        report["baseline"] = _experiment(comparison.baseline)
        report["counts"] = {verdict.value: comparison.count(verdict) for verdict in Verdict}
        report["aggregate"] = _aggregate(comparison.aggregate)
        if rows:  # else left empty for json_chunks, which writes them one by one
            as_float = _Floats()
            report["scenarios"] = [_row(row, as_float) for row in comparison.scenarios]
        report["pr_only"] = [_one_side(s) for s in comparison.pr_only]
        report["baseline_only"] = [_one_side(s) for s in comparison.baseline_only]
        report["failure_categories"] = [_category(row) for row in comparison.categories]
        report["history"] = _history(comparison)
        if comparison.aggregate_test is not None:
            report["aggregate_test"] = _aggregate_test(comparison.aggregate_test)
        if comparison.power is not None:
            report["power"] = _power(comparison.power)
        report["metrics"] = [_metric(m) for m in comparison.metrics]
        report["costs"] = [_cost(c) for c in comparison.costs]
        report["drift"] = [_signal(d) for d in comparison.drift]
        tally = comparison.win_loss
        report["win_loss"] = {"wins": tally.wins, "losses": tally.losses, "ties": tally.ties}
        if comparison.trend is not None:
            report["trend"] = {
                **trend_report(comparison.trend),
                "scenarios": [
                    {"label": label, "slope": t.slope, "direction": t.direction.value}
                    for label, t in comparison.scenario_trends
                ],
            }
    else:
        report["message"] = "this experiment is its own baseline"
        report["pr"] = _experiment(outcome.pr)
    return report


# Above this many scenario rows the report is written compact: with per-trial
# measures (schema v3) a 10,000-scenario report is 30 MB pretty-printed, and
# json's indenting encoder is pure Python — 1.6 s against 0.35 s compact
# (bench/bench_compare.py --measures). Small reports stay readable.
PRETTY_MAX_SCENARIOS = 1000


def dumps(report: dict[str, Any]) -> str:
    """The report as stable JSON text (keys in document order); pretty unless large."""
    rows = len(report.get("scenarios") or ()) + len(report.get("pr_only") or ())
    if rows + len(report.get("baseline_only") or ()) > PRETTY_MAX_SCENARIOS:
        return json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n"
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


# Scenario rows per piece of json_chunks: few enough pieces for the writer,
# small enough that a piece is a few hundred kilobytes.
_ROWS_PER_CHUNK = 1000


def json_chunks(
    outcome: Outcome,
    gate: Gate,
    *,
    thresholds: Thresholds,
    fetch: Mapping[str, Any] | None = None,
    policy: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """``dumps(build_report(...))``, the same text, in pieces.

    A large report is compact JSON, which is the concatenation of its parts
    encoded one by one; so the scenario rows are built and encoded a thousand
    at a time instead of all held as dicts first (issue 14: at 100,000
    scenarios the rows took 135 MB and their text another 90 MB at once).
    Small reports come as one pretty-printed piece.
    """
    report = build_report(
        outcome, gate, thresholds=thresholds, fetch=fetch, policy=policy, rows=False
    )
    if not isinstance(outcome, Ok):
        yield dumps(report)
        return
    scenarios = outcome.comparison.scenarios
    as_float = _Floats()
    if len(scenarios) + len(report["pr_only"]) + len(report["baseline_only"]) <= (
        PRETTY_MAX_SCENARIOS
    ):
        report["scenarios"] = [_row(row, as_float) for row in scenarios]
        yield dumps(report)
        return
    # What dumps() gives for a large report: json.dumps(..., separators=(",", ":")).
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    parts = ["{"]
    for index, (key, value) in enumerate(report.items()):
        parts.append(("," if index else "") + encode(key) + ":")
        if key != "scenarios":
            parts.append(encode(value))
            continue
        parts.append("[")
        for start in range(0, len(scenarios), _ROWS_PER_CHUNK):
            rows = scenarios[start : start + _ROWS_PER_CHUNK]
            parts.append(("," if start else "") + ",".join(encode(_row(r, as_float)) for r in rows))
            yield "".join(parts)
            parts = []
        parts.append("]")
    parts.append("}\n")
    yield "".join(parts)
