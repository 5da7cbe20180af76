"""The report writer: the versioned JSON report (issue 2 §7) and its typed value, Report.

Documented by schemas/report.schema.json. Pure: plain dicts or JSON text from an
Outcome and a Gate; the one writer of the report (nothing in evalbot reads a report
back). The shape is a contract with users' scripts, so every outcome kind produces
the same top-level keys (``null`` or empty where a kind has nothing to say), and
``schema_version`` is bumped on any incompatible change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from evalbot import __version__
from evalbot.core.models import (
    FetchFailed,
    Gate,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    Thresholds,
    Verdict,
)
from evalbot.core.thresholds import thresholds_document
from evalbot.core.trend import trend_report
from evalbot.output import report_parts as json_parts
from evalbot.output.row_text import FloatTexts, row_json
from evalbot.output.tally import tally

SCHEMA_VERSION = 4


def thresholds_dict(thresholds: Thresholds) -> dict[str, Any]:
    """Thresholds in the config file's shape (the one mapping: core.thresholds)."""
    return thresholds_document(thresholds)


def verdict_counts(outcome: Outcome) -> dict[Verdict, int]:
    """Scenarios per verdict, every verdict listed: zeros when nothing was compared."""
    if isinstance(outcome, Ok | NothingCompared):
        counted = tally(outcome.comparison)
        return {verdict: counted.count(verdict) for verdict in Verdict}
    return dict.fromkeys(Verdict, 0)


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
        report["pr"] = json_parts.experiment(outcome.pr)
    elif isinstance(outcome, NothingCompared):
        # What each side held, so a script sees why;
        # no aggregate, test, power or metrics: they would describe nothing.
        comparison = outcome.comparison
        report["message"] = json_parts.nothing_compared_message(comparison)
        report["pr"] = json_parts.experiment(comparison.pr)
        report["baseline"] = json_parts.experiment(comparison.baseline)
        report["counts"] = {verdict.value: n for verdict, n in verdict_counts(outcome).items()}
        report["scenarios"] = [json_parts.row(r) for r in comparison.scenarios]
        report["pr_only"] = [json_parts.one_side(s) for s in comparison.pr_only]
        report["baseline_only"] = [json_parts.one_side(s) for s in comparison.baseline_only]
        report["history"] = json_parts.history(comparison)
        report["coverage"] = json_parts.coverage(comparison)
    elif isinstance(outcome, Ok):
        comparison = outcome.comparison
        report["coverage"] = json_parts.coverage(comparison)
        report["pr"] = json_parts.experiment(comparison.pr)
        report["baseline"] = json_parts.experiment(comparison.baseline)
        report["counts"] = {verdict.value: n for verdict, n in verdict_counts(outcome).items()}
        report["aggregate"] = json_parts.aggregate(comparison.aggregate)
        if rows:  # else left empty for json_chunks, which writes them one by one
            as_float = json_parts.Floats()
            report["scenarios"] = [json_parts.row(r, as_float) for r in comparison.scenarios]
        report["pr_only"] = [json_parts.one_side(s) for s in comparison.pr_only]
        report["baseline_only"] = [json_parts.one_side(s) for s in comparison.baseline_only]
        report["failure_categories"] = [json_parts.category(c) for c in comparison.categories]
        report["history"] = json_parts.history(comparison)
        if comparison.aggregate_test is not None:
            report["aggregate_test"] = json_parts.aggregate_test(comparison.aggregate_test)
        if comparison.power is not None:
            report["power"] = json_parts.power(comparison.power)
        report["metrics"] = [json_parts.metric(m) for m in comparison.metrics]
        report["costs"] = [json_parts.cost(c) for c in comparison.costs]
        report["drift"] = [json_parts.signal(d) for d in comparison.drift]
        won = comparison.win_loss
        report["win_loss"] = {"wins": won.wins, "losses": won.losses, "ties": won.ties}
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
        report["pr"] = json_parts.experiment(outcome.pr)
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
    if len(scenarios) + len(report["pr_only"]) + len(report["baseline_only"]) <= (
        PRETTY_MAX_SCENARIOS
    ):
        as_float = json_parts.Floats()
        report["scenarios"] = [json_parts.row(r, as_float) for r in scenarios]
        yield dumps(report)
        return
    # What dumps() gives for a large report: json.dumps(..., separators=(",", ":")).
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    p_text = FloatTexts()
    parts = ["{"]
    for index, (key, value) in enumerate(report.items()):
        parts.append(("," if index else "") + encode(key) + ":")
        if key != "scenarios":
            parts.append(encode(value))
            continue
        parts.append("[")
        for start in range(0, len(scenarios), _ROWS_PER_CHUNK):
            rows = scenarios[start : start + _ROWS_PER_CHUNK]
            parts.append(("," if start else "") + ",".join(row_json(r, p_text) for r in rows))
            yield "".join(parts)
            parts = []
        parts.append("]")
    parts.append("}\n")
    yield "".join(parts)


@dataclass(frozen=True, slots=True)
class Report:
    """One run's JSON report: what the shells read from it, and the document when asked.

    Nothing is built until it is asked for: ``evalbot compare --format markdown``
    never builds a document it does not print (issue 14: 2 s of 8 at 100,000
    scenarios), and :meth:`json_chunks` writes the rows a thousand at a time.
    ``fetch`` and ``policy``: see :func:`build_report`.
    """

    outcome: Outcome
    gate: Gate
    thresholds: Thresholds
    fetch: Mapping[str, Any] | None = None
    policy: Mapping[str, str] | None = None

    @property
    def counts(self) -> dict[Verdict, int]:
        """Scenarios per verdict (the document's ``counts``)."""
        return verdict_counts(self.outcome)

    def document(self) -> dict[str, Any]:
        """The report as plain dicts and lists (:func:`build_report`)."""
        return build_report(
            self.outcome,
            self.gate,
            thresholds=self.thresholds,
            fetch=self.fetch,
            policy=self.policy,
        )

    def json_chunks(self) -> Iterator[str]:
        """The report's JSON text in pieces: ``dumps(self.document())``, not built whole."""
        return json_chunks(
            self.outcome,
            self.gate,
            thresholds=self.thresholds,
            fetch=self.fetch,
            policy=self.policy,
        )

    def text(self) -> str:
        """The report's JSON text, as written to ``report_path`` or ``--format json``."""
        return "".join(self.json_chunks())
