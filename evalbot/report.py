"""The versioned JSON report (issue 2 §7), documented by schemas/report.schema.json.

Pure: builds plain dicts from an Outcome and a Gate. The shape is a contract
with users' scripts, so every outcome kind produces the same top-level keys
(``null`` or empty where a kind has nothing to say), and ``schema_version``
is bumped on any incompatible change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from evalbot import __version__
from evalbot.compare import compare_buckets
from evalbot.config import parse_config
from evalbot.errors import EvalbotError, InputError
from evalbot.experiment_file import measures_document, parse_measures
from evalbot.models import (
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
    Levels,
    MeanSummary,
    Measures,
    MetricComparison,
    NoBaseline,
    Ok,
    Outcome,
    OutcomeKind,
    Power,
    RateSummary,
    Scenario,
    ScenarioComparison,
    SelfBaseline,
    Thresholds,
    Verdict,
)
from evalbot.trend import trend_report

SCHEMA_VERSION = 3


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
        # Per-trial values, so `evalbot publish` recomputes metrics, costs and
        # drift from data, as it does verdicts (issue 6 §6). Most suites have
        # none: skip the per-field walk for the shared empty value.
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


def _power(power: Power) -> dict[str, Any]:
    return {
        "pr_trials": power.pr_trials,
        "baseline_trials": power.baseline_trials,
        "threshold": power.threshold,
        "family_size": power.family_size,
        "min_baseline_rate": power.min_baseline_rate,
        "max_pr_rate": power.max_pr_rate,
        "statement": power.statement,
        "suggestion": power.suggestion,
    }


def _aggregate_test(test: AggregateTest) -> dict[str, Any]:
    return {
        "method": "cmh",
        "z": test.z,
        "p": test.p,
        "alpha": test.alpha,
        "significant": test.significant,
        "gating": test.gating,
    }


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


def _levels(levels: Levels) -> dict[str, float]:
    return {"mild": levels.mild, "severe": levels.severe}


def thresholds_dict(thresholds: Thresholds) -> dict[str, Any]:
    """Thresholds in the config file's shape."""
    costs = thresholds.costs
    drift = thresholds.drift
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
        "alpha": thresholds.alpha,
        "correction": thresholds.correction.value,
        "aggregate_alpha": thresholds.aggregate_alpha,
        "sensitivity": thresholds.sensitivity.value,
        "metrics": {
            "min_effect": thresholds.metrics.min_effect,
            "min_effect_by_key": dict(thresholds.metrics.by_key),
            "max_p": thresholds.metrics.max_p,
        },
        "costs": {"latency": costs.latency, "tokens": costs.tokens, "cost": costs.cost},
        "fail_on_latency_increase": costs.fail_on_latency_increase,
        "fail_on_tokens_increase": costs.fail_on_tokens_increase,
        "fail_on_cost_increase": costs.fail_on_cost_increase,
        "drift": {
            "error_rate": _levels(drift.error_rate),
            "empty_output": _levels(drift.empty_output),
            "output_length": _levels(drift.output_length),
            "tool_silence": _levels(drift.tool_silence),
            "max_p": drift.max_p,
        },
    }


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
    ``policy`` records ``fail_on``, ``on_fetch_failure`` and ``comment_key`` so
    ``evalbot publish`` can recompute the gate and the comment from the report.
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


# --- reading a report back (``evalbot publish``) --------------------------------


def _need(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{where}{key}: missing or of the wrong type")
    return value


_Side = tuple[int, int, int, dict[str, int], Measures]


def _side(row: Any, where: str) -> _Side:
    passed = _need(row, "passed", int, where)
    total = _need(row, "total", int, where)
    unscored = _need(row, "unscored", int, where)
    categories = _need(row, "categories", dict, where)
    if not all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in categories.items()):
        raise ValueError(f"{where}categories: must map names to counts")
    if not 0 <= passed <= total or unscored < 0:
        raise ValueError(f"{where}: need 0 <= passed <= total")
    try:
        measures = parse_measures(row.get("measures", {}), source=where, limit=total + unscored)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return passed, total, unscored, categories, measures


def _scenario(key: str, label: str, side: _Side) -> Scenario:
    passed, total, unscored, categories, measures = side
    return Scenario(
        key,
        passed,
        total,
        label=label,
        categories=categories,
        unscored=unscored,
        measures=measures,
    )


def _bucket(info: Any, scenarios: dict[str, Scenario], where: str) -> Bucket:
    name = _need(info, "name", str, where)
    notes = info.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ValueError(f"{where}notes: must be a list of strings")
    metadata = info.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}metadata: must be an object")
    optional = {k: info.get(k) for k in ("id", "url", "started_at")}
    if any(v is not None and not isinstance(v, str) for v in optional.values()):
        raise ValueError(f"{where}id/url/started_at: must be strings or null")
    return Bucket(
        name=name,
        scenarios=scenarios,
        metadata=metadata,
        notes=tuple(notes),
        **optional,
    )


def outcome_from_report(report: Any) -> Outcome:
    """Rebuild the Outcome a report describes, from its data only.

    Used by ``evalbot publish``: the report may come from an untrusted job
    (a fork's pull request), so the comment is re-rendered by evalbot from
    the counts, and verdicts are recomputed by the caller, instead of
    trusting any Markdown or verdict in the file. Raises ValueError with the
    offending field when the report does not have the documented shape.
    """
    if not isinstance(report, dict) or report.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema_version: must be {SCHEMA_VERSION}")
    kind = report.get("outcome")
    message = report.get("message")
    if kind == OutcomeKind.FETCH_FAILED.value:
        return FetchFailed(error=str(message or "regression detection did not run"))
    pr_info = _need(report, "pr", dict, "")
    pr: dict[str, Scenario] = {}
    base: dict[str, Scenario] = {}
    rows = _need(report, "scenarios", list, "")
    for i, row in enumerate(rows):
        where = f"scenarios[{i}]."
        key = _need(row, "key", str, where)
        label = _need(row, "label", str, where)
        pr[key] = _scenario(key, label, _side(row.get("pr"), where + "pr."))
        passed, total, unscored, categories, measures = _side(
            row.get("baseline"), where + "baseline."
        )
        pooled = row.get("pooled")
        if pooled is not None:
            # The verdicts were made against the pooled window: rebuild that side.
            passed = _need(pooled, "passed", int, where + "pooled.")
            total = _need(pooled, "total", int, where + "pooled.")
            if not 0 <= passed <= total:
                raise ValueError(f"{where}pooled: need 0 <= passed <= total")
        base[key] = _scenario(key, label, (passed, total, unscored, categories, measures))
    for name, target in (("pr_only", pr), ("baseline_only", base)):
        for i, row in enumerate(_need(report, name, list, "")):
            where = f"{name}[{i}]."
            key = _need(row, "key", str, where)
            target[key] = _scenario(key, _need(row, "label", str, where), _side(row, where))
    pr_bucket = _bucket(pr_info, pr, "pr.")
    if kind == OutcomeKind.NO_BASELINE.value:
        searched = str(message or "").removeprefix("no baseline experiment matched ")
        return NoBaseline(pr=pr_bucket, searched=searched)
    if kind == OutcomeKind.SELF_BASELINE.value:
        return SelfBaseline(pr=pr_bucket)
    if kind != OutcomeKind.OK.value:
        raise ValueError("outcome: must be ok, no_baseline, self_baseline or fetch_failed")
    base_bucket = _bucket(_need(report, "baseline", dict, ""), base, "baseline.")
    raw = report.get("thresholds")
    if not isinstance(raw, dict):
        raise ValueError("thresholds: must be an object")
    top_level = (
        "alpha",
        "correction",
        "sensitivity",
        "metrics",
        "costs",
        "drift",
        "fail_on_latency_increase",
        "fail_on_tokens_increase",
        "fail_on_cost_increase",
    )
    # Unset budgets are null in the report and absent in a config file.
    statistics = {k: raw[k] for k in top_level if raw.get(k) is not None}
    core = {k: v for k, v in raw.items() if k not in (*top_level, "aggregate_alpha")}
    try:
        thresholds = parse_config(
            {"thresholds": core, **statistics}, source="thresholds"
        ).thresholds
    except EvalbotError as exc:
        raise ValueError(str(exc)) from None
    return Ok(compare_buckets(pr_bucket, base_bucket, thresholds))
