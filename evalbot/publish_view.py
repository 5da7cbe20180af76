"""What a result shows on GitHub besides the comment: status, annotations and outputs.

Shared by ``evalbot action`` and ``evalbot publish`` through the one publish flow
(:mod:`evalbot.publish`), so both report a result in the same words.
"""

from __future__ import annotations

from evalbot.core.models import (
    FetchFailed,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    Verdict,
)
from evalbot.github import runtime
from evalbot.github.api import StatusState
from evalbot.output.render import pct
from evalbot.pipeline import Result

MAX_ANNOTATIONS = 5


def status_description(outcome: Outcome, gate_failed: bool) -> str:
    """The one-line commit-status text (trimmed to 140 by the GitHub module)."""
    if isinstance(outcome, FetchFailed):
        return f"Regression detection did not run: {outcome.error}"
    if isinstance(outcome, NoBaseline):
        return "No baseline experiment found: regression detection did not run"
    if isinstance(outcome, NothingCompared):
        shared = len(outcome.comparison.scenarios)
        return (
            "Regression detection did not run: nothing compared "
            f"({shared} shared scenarios, none with trials on both sides)"
        )
    if not isinstance(outcome, Ok):
        return "This run is the baseline: nothing to compare"
    comparison = outcome.comparison
    hard = comparison.count(Verdict.HARD_REGRESSION)
    soft = comparison.count(Verdict.SOFT_REGRESSION)
    parts = []
    if hard:
        parts.append(f"{hard} hard regression{'s' if hard != 1 else ''}")
    if soft:
        parts.append(f"{soft} soft")
    if not parts:
        parts.append("No regressions")
    agg = comparison.aggregate
    text = f"{', '.join(parts)} · {pct(agg.pr.rate)} vs {pct(agg.baseline.rate)}"
    if comparison.low_coverage:
        text += f" · only {comparison.compared}/{len(comparison.baseline.scenarios)} compared"
    return text


def status_state(result: Result) -> StatusState:
    """failure when the gate fails, error when detection did not run and that fails it."""
    if not result.gate.failed:
        return StatusState.SUCCESS
    if isinstance(result.outcome, FetchFailed | NothingCompared):
        return StatusState.ERROR
    return StatusState.FAILURE


def workflow_annotations(result: Result) -> list[str]:
    """::error / ::warning / ::notice lines: a few, then a summary of the rest."""
    lines: list[str] = []
    outcome = result.outcome
    if isinstance(outcome, FetchFailed):
        lines.append(
            runtime.command(
                "warning", f"Regression detection did not run: {outcome.error}", title="evalbot"
            )
        )
    elif isinstance(outcome, NoBaseline):
        lines.append(
            runtime.command(
                "warning", f"No baseline: nothing matched {outcome.searched}", title="evalbot"
            )
        )
    elif isinstance(outcome, NothingCompared):
        lines.append(
            runtime.command(
                "warning",
                f"Regression detection did not run: {result.gate.reason}",
                title="evalbot",
            )
        )
    elif isinstance(outcome, Ok):
        for verdict, kind, word in (
            (Verdict.HARD_REGRESSION, "error", "Hard regression"),
            (Verdict.SOFT_REGRESSION, "warning", "Soft regression"),
            (Verdict.IMPROVEMENT, "notice", "Improvement"),
        ):
            rows = outcome.comparison.of(verdict)
            for row in rows[:MAX_ANNOTATIONS]:
                text = (
                    f"{word}: {row.label or row.key}: {row.pr.passed}/{row.pr.total} vs "
                    f"{row.baseline.passed}/{row.baseline.total}"
                )
                lines.append(runtime.command(kind, text[:300], title="evalbot"))
            if len(rows) > MAX_ANNOTATIONS:
                more = len(rows) - MAX_ANNOTATIONS
                lines.append(
                    runtime.command(
                        kind,
                        f"…and {more} more {word.lower()}s: see the job summary",
                        title="evalbot",
                    )
                )
    return lines


def result_outputs(result: Result, *, report_path: str, comment_url: str) -> dict[str, str]:
    """The step's outputs for a result (action.yml ``outputs``)."""
    counts = result.report["counts"]
    return {
        "outcome": result.outcome.kind.value,
        "gate": "fail" if result.gate.failed else "pass",
        "hard_regressions": str(counts[Verdict.HARD_REGRESSION.value]),
        "soft_regressions": str(counts[Verdict.SOFT_REGRESSION.value]),
        "improvements": str(counts[Verdict.IMPROVEMENT.value]),
        "report_path": report_path,
        "comment_url": comment_url,
    }
