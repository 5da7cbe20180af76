"""The versioned JSON report (issue 2 §7), documented by schemas/report.schema.json.

Pure: builds plain dicts from an Outcome and a Gate. The shape is a contract
with users' scripts, so every outcome kind produces the same top-level keys
(``null`` or empty where a kind has nothing to say), and ``schema_version``
is bumped on any incompatible change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evalbot import __version__
from evalbot.models import (
    Aggregate,
    Bucket,
    CategoryDrift,
    FetchFailed,
    Gate,
    NoBaseline,
    Ok,
    Outcome,
    RateSummary,
    Scenario,
    ScenarioComparison,
    Thresholds,
    Verdict,
)

SCHEMA_VERSION = 1


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
    return {
        "passed": scenario.passed,
        "total": scenario.total,
        "unscored": scenario.unscored,
        "categories": dict(scenario.categories),
    }


def _row(row: ScenarioComparison) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "verdict": row.verdict.value,
        "pr": _counts(row.pr),
        "baseline": _counts(row.baseline),
        "delta": row.delta,
        "p_worse": float(row.p_worse),
        "p_better": float(row.p_better),
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


def thresholds_dict(thresholds: Thresholds) -> dict[str, Any]:
    """Thresholds in the config file's shape."""
    return {
        "hard": {
            "max_p": thresholds.hard.max_p,
            "min_delta": thresholds.hard.min_delta,
            "min_baseline_rate": thresholds.hard.min_baseline_rate,
        },
        "soft": {
            "max_p": thresholds.soft.max_p,
            "min_delta": thresholds.soft.min_delta,
            "min_baseline_rate": thresholds.soft.min_baseline_rate,
        },
        "watch_delta": thresholds.watch_delta,
        "category": {
            "min_rate_gap": thresholds.category_min_rate_gap,
            "min_count_gap": thresholds.category_min_count_gap,
        },
    }


def build_report(
    outcome: Outcome,
    gate: Gate,
    *,
    thresholds: Thresholds,
    fetch: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report for ``outcome``: same top-level keys for every kind.

    ``fetch`` describes how the experiments were obtained (LangSmith requests,
    timings, how the baseline was chosen); it is null for experiment files.
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
        "counts": {verdict.value: 0 for verdict in Verdict},
        "aggregate": None,
        "scenarios": [],
        "pr_only": [],
        "baseline_only": [],
        "failure_categories": [],
        "fetch": None if fetch is None else dict(fetch),
    }
    if isinstance(outcome, FetchFailed):
        report["message"] = outcome.error
    elif isinstance(outcome, NoBaseline):
        report["message"] = f"no baseline experiment matched {outcome.searched}"
        report["pr"] = _experiment(outcome.pr)
    elif isinstance(outcome, Ok):
        comparison = outcome.comparison
        report["pr"] = _experiment(comparison.pr)
        report["baseline"] = _experiment(comparison.baseline)
        report["counts"] = {verdict.value: comparison.count(verdict) for verdict in Verdict}
        report["aggregate"] = _aggregate(comparison.aggregate)
        report["scenarios"] = [_row(row) for row in comparison.scenarios]
        report["pr_only"] = [_one_side(s) for s in comparison.pr_only]
        report["baseline_only"] = [_one_side(s) for s in comparison.baseline_only]
        report["failure_categories"] = [_category(row) for row in comparison.categories]
    else:
        report["message"] = "this experiment is its own baseline"
        report["pr"] = _experiment(outcome.pr)
    return report


def dumps(report: dict[str, Any]) -> str:
    """The report as stable, pretty JSON text (keys in document order)."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
