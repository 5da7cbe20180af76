"""The terminal format: a compact plain-text table, names without control characters."""

from __future__ import annotations

from evalbot.core.models import (
    Comparison,
    Gate,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    SelfBaseline,
    Verdict,
)
from evalbot.output.advice import NOTHING_COMPARED_CHECKS, nothing_compared_causes, what_next
from evalbot.output.cells import MAX_METRIC_NAME, shown_p
from evalbot.output.formatting import plain, pp, pvalue
from evalbot.output.headline import TEXT, beyond_parts, headline, summary_line
from evalbot.output.provenance import RunLinks, stale_warning
from evalbot.output.sections import attention_key
from evalbot.output.statistics_text import chart_points, text_chart

# --- the terminal format --------------------------------------------------------


def render_text(outcome: Outcome, gate: Gate, *, links: RunLinks | None = None) -> str:
    """A compact table for terminals: the verdict first, every flagged scenario, names
    unescaped (but without control characters)."""
    head = headline(outcome, gate, TEXT)
    lines: list[str] = [f"{head.verdict}: {head.why}"]
    stale = None
    if isinstance(outcome, Ok | NothingCompared):
        stale = stale_warning(outcome.comparison.pr, links or RunLinks(), TEXT.sha)
    elif isinstance(outcome, NoBaseline | SelfBaseline):
        stale = stale_warning(outcome.pr, links or RunLinks(), TEXT.sha)
    if stale:
        lines.append(f"warning: {stale}")
    if isinstance(outcome, Ok):
        lines.extend(_text_comparison(outcome.comparison))
    elif isinstance(outcome, NothingCompared):
        lines.extend(_text_nothing(outcome.comparison))
    lines.append(f"what next: {_unmark(what_next(outcome, gate))}")
    status = "FAILED" if gate.failed else "passed"
    lines.append(f"gate: {status} — {gate.reason}")
    return "\n".join(lines) + "\n"


def _unmark(text: str) -> str:
    return text.replace("*", "").replace("`", "")


def _text_nothing(comparison: Comparison) -> list[str]:
    # The headline line above already says nothing was compared and why the gate decided.
    lines = [
        f"PR {plain(comparison.pr.name)} ({len(comparison.pr.scenarios)} scenarios) vs "
        f"baseline {plain(comparison.baseline.name)} ({len(comparison.baseline.scenarios)} "
        f"scenarios): {len(comparison.scenarios)} shared, none with trials on both sides; "
        f"{len(comparison.pr_only)} only in the PR, {len(comparison.baseline_only)} only "
        "in the baseline",
    ]
    causes = nothing_compared_causes(comparison)
    lines.extend(f"likely: {cause.replace('`', '')}" for cause in causes)
    # The advice line names these checks, in the text form too.
    lines.extend(f"check that: {check.replace('`', '')}" for check in NOTHING_COMPARED_CHECKS)
    lines.extend(_text_notes(comparison))
    lines.extend(_text_one_sided(comparison))
    return lines


def _text_notes(comparison: Comparison) -> list[str]:
    """The unscored counts and completeness notes of each side, one line each."""
    lines = []
    for side, bucket in (("PR", comparison.pr), ("baseline", comparison.baseline)):
        if bucket.unscored:
            lines.append(f"{side}: {bucket.unscored} trials unscored, left out of the pass rates")
        lines.extend(f"{side} experiment {plain(note, 200)}" for note in bucket.notes)
    return lines


def _text_comparison(comparison: Comparison) -> list[str]:
    lines = [
        f"PR {plain(comparison.pr.name)} vs baseline {plain(comparison.baseline.name)}: "
        + (summary_line(comparison) or "")
    ]
    # Low coverage is in the headline line (headline()), not repeated here.
    lines.extend(_text_notes(comparison))
    beyond = beyond_parts(comparison, lambda key: plain(key, MAX_METRIC_NAME))
    if beyond:
        lines.append("beyond pass/fail: " + " · ".join(beyond))
    chart = text_chart(chart_points(comparison))
    if chart:
        lines.append(chart)
    flagged = sorted(
        (r for r in comparison.scenarios if r.verdict is not Verdict.STABLE),
        key=attention_key,
    )
    if flagged:
        lines.append("")
        lines.append(f"{'verdict':<20} {'scenario':<40} {'PR':>7} {'baseline':>8} {'Δ':>8}  p")
        for row in flagged:
            pr = f"{row.pr.passed}/{row.pr.total}"
            base = f"{row.baseline.passed}/{row.baseline.total}"
            lines.append(
                f"{row.verdict.value:<20} {plain(row.label or row.key, 40):<40} "
                f"{pr:>7} {base:>8} {pp(row.delta):>8}  {pvalue(shown_p(row))}"
            )
    lines.extend(_text_one_sided(comparison))
    return lines


def _text_one_sided(comparison: Comparison) -> list[str]:
    lines = []
    for title, scenarios in (
        ("only in PR", comparison.pr_only),
        ("only in baseline", comparison.baseline_only),
    ):
        if scenarios:
            names = ", ".join(plain(s.display, 40) for s in scenarios[:10])
            more = f" …and {len(scenarios) - 10} more" if len(scenarios) > 10 else ""
            lines.append(f"{title}: {names}{more}")
    return lines
