"""The comment's first lines: the headline (the gate speaks first), counts, beyond pass/fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from evalbot.core.models import (
    AggregateTest,
    Comparison,
    CostMeasure,
    DriftKind,
    FailOn,
    FetchFailed,
    Gate,
    MetricVerdict,
    NoBaseline,
    NothingCompared,
    Outcome,
    ScenarioComparison,
    SelfBaseline,
    Severity,
    Verdict,
)
from evalbot.output.cells import BUDGETS, COST_NAMES, MAX_METRIC_NAME, metric_change, signal_change
from evalbot.output.formatting import count, pct, plain, plural, pp
from evalbot.output.markdown import code_span, escape_text
from evalbot.output.provenance import SHA_RE
from evalbot.output.sections import attention_key
from evalbot.output.tally import tally
from evalbot.text import truncate

# Shorter names for the one-line summary (the tables use the long ones).
_COST_SHORT = {
    CostMeasure.LATENCY_P50: "latency p50",
    CostMeasure.LATENCY_P95: "latency p95",
    CostMeasure.TOKENS: "tokens",
    CostMeasure.COST: "cost per trial",
    CostMeasure.COST_TOTAL: "total cost",
}
_SIGNAL_SHORT = {
    DriftKind.ERROR_RATE: "errors",
    DriftKind.EMPTY_OUTPUT: "empty outputs",
    DriftKind.OUTPUT_LENGTH: "output length",
    DriftKind.TOOL_SILENCE: "no tool calls",
}


def beyond_parts(comparison: Comparison, name: Callable[[str], str]) -> list[str]:
    """What moved beyond pass/fail: flagged metrics, notable costs, firing drift signals,
    notable or new failure categories."""
    parts = []
    for metric in comparison.metrics:
        if metric.verdict in (MetricVerdict.REGRESSION, MetricVerdict.IMPROVEMENT):
            parts.append(f"{name(metric.key)} {metric_change(metric)} ({metric.verdict.value})")
    for cost in comparison.costs:
        if (cost.notable or cost.gating) and cost.relative is not None:
            text = f"{_COST_SHORT[cost.measure]} {cost.relative:+.0%}"
            parts.append(text + (" (over budget)" if cost.gating else ""))
    for signal in comparison.drift:
        if signal.severity is not Severity.NONE:
            parts.append(
                f"{_SIGNAL_SHORT[signal.kind]} {signal_change(signal)} ({signal.severity.value})"
            )
    notable = [c for c in comparison.categories if c.notable]
    for category in notable[:3]:
        parts.append(f"{name(category.category)} failures {pp(category.delta, 1)}")
    if len(notable) > 3:
        parts.append(
            f"{plural(len(notable) - 3, 'more notable category', 'more notable categories')}"
        )
    new = sum(1 for c in comparison.categories if c.new and not c.notable)
    if new:
        parts.append(plural(new, "new failure category", "new failure categories"))
    return parts


def beyond_line(comparison: Comparison) -> str | None:
    """One line naming what moved beyond pass/fail, for the 10-second read; None if nothing."""
    parts = beyond_parts(comparison, lambda key: code_span(truncate(key, MAX_METRIC_NAME)))
    return "**Beyond pass/fail:** " + " · ".join(parts) if parts else None


# --- the headline: the gate speaks first (issue 13 §1) ----------------------------------


@dataclass(frozen=True, slots=True)
class Style:
    """How the headline marks names up: Markdown for the comment, plain for terminals."""

    name: Callable[[str], str]
    em: Callable[[str], str]
    strong: Callable[[str], str]
    sha: Callable[[str], str]


def _md_sha(sha: str) -> str:
    return code_span(sha[:7] if SHA_RE.fullmatch(sha) else sha, 12)


MARKDOWN = Style(
    name=lambda text: escape_text(text),
    em=lambda text: f"*{text}*",
    strong=lambda text: f"**{text}**",
    sha=_md_sha,
)
TEXT = Style(
    name=lambda text: plain(text, 80),
    em=lambda text: text,
    strong=lambda text: text,
    sha=lambda sha: plain(sha[:7] if SHA_RE.fullmatch(sha) else sha, 12),
)


@dataclass(frozen=True, slots=True)
class Headline:
    """The first visible line: the alert type, an icon, the verdict in words, and why."""

    alert: str  # CAUTION | WARNING | NOTE | TIP (GitHub's alert types)
    icon: str
    verdict: str
    why: str
    # The why already gives both pass rates (the summary line then omits them).
    rates: bool = False


def _move(row: ScenarioComparison, style: Style) -> str:
    base = row.pooled or row.baseline
    return f"{style.em(style.name(row.label or row.key))} {pct(base.rate)} → {pct(row.pr.rate)}"


def _rows_why(
    rows: Sequence[ScenarioComparison], noun: str, style: Style, many: str | None = None
) -> str:
    ordered = sorted(rows, key=attention_key)
    text = f"{plural(len(ordered), noun, many)} — {_move(ordered[0], style)}"
    if len(ordered) > 1:
        text += f" and {count(len(ordered) - 1)} more"
    return text


def _soft_gates(gate: Gate) -> bool:
    return gate.fail_on is FailOn.SOFT_REGRESSION


def _budget_why(comparison: Comparison) -> list[str]:
    out = []
    for cost in comparison.costs:
        if not cost.gating:
            continue
        limit = getattr(comparison.thresholds.costs, BUDGETS.get(cost.measure, ""), None)
        budget = f"budget +{limit:.0%}" if isinstance(limit, float) else "over budget"
        out.append(f"{COST_NAMES[cost.measure].lower()} up {cost.relative or 0:.0%} ({budget})")
    return out


def _broad_drop_why(test: AggregateTest, scenarios: int) -> str:
    # The aggregate test compares the PR's suite rate with the level the baseline runs
    # predict (their mean, or their trend at the latest run), not with the pooled rate.
    if test.pr_rate is None or test.baseline_level is None:
        return f"a broad drop across {plural(scenarios, 'scenario')}"
    return (
        f"a broad drop across {plural(scenarios, 'scenario')} ({pct(test.pr_rate, 1)} of "
        f"trials passed, {pct(test.baseline_level, 1)} expected from "
        f"{plural(test.runs, 'baseline run')})"
    )


def _ok_headline(comparison: Comparison, gate: Gate, style: Style) -> Headline:
    head = _ok_headline_alone(comparison, gate, style)
    coverage = coverage_line(comparison)
    if coverage is None:
        return head
    # Issue 11 §5: most of the baseline went unchecked, so a clean pass is no
    # green "all clear" tip, and every headline says how little was compared.
    if head.alert == "TIP":
        head = replace(head, alert="WARNING", icon="⚠️")
    return replace(head, why=f"{head.why} — {coverage}")


def _ok_headline_alone(comparison: Comparison, gate: Gate, style: Style) -> Headline:
    hard = tally(comparison).of(Verdict.HARD_REGRESSION)
    soft = tally(comparison).of(Verdict.SOFT_REGRESSION)
    watch = tally(comparison).of(Verdict.WATCH)
    agg = comparison.aggregate
    rates = f"{pct(agg.pr.rate, 1)} vs {pct(agg.baseline.rate, 1)} on the baseline"
    test = comparison.aggregate_test
    if gate.failed:
        causes = []
        if hard:
            causes.append(_rows_why(hard, "hard regression", style))
        if soft and _soft_gates(gate):
            causes.append(_rows_why(soft, "soft regression", style))
        if test is not None and test.gating and test.significant:
            causes.append(_broad_drop_why(test, agg.scenarios))
        causes.extend(_budget_why(comparison))
        # Never silent: if the gate fails for a reason not listed here, say it.
        return Headline("CAUTION", "❌", "evalbot fails", "; ".join(causes) or gate.reason)
    disabled = " (fail_on: never)" if gate.fail_on is FailOn.NEVER else ""
    # Under low coverage most shared scenarios have no trials on one side: count
    # only those compared, so the line does not claim more than was checked.
    across = (
        plural(tally(comparison).compared, "scenario")
        if tally(comparison).low_coverage
        else plural(agg.scenarios, "scenario")
    )
    findings = []
    if hard:
        findings.append(_rows_why(hard, "hard regression", style))
    if soft:
        findings.append(_rows_why(soft, "soft regression", style))
    if watch:
        findings.append(
            _rows_why(watch, "scenario to watch", style, "scenarios to watch")
            + " (a swing on too few trials to tell)"
        )
    if findings:
        return Headline("WARNING", "⚠️", f"evalbot passes{disabled}", "but " + "; ".join(findings))
    beyond = beyond_parts(comparison, style.name)
    if beyond:
        return Headline(
            "WARNING",
            "⚠️",
            f"evalbot passes{disabled}",
            f"no regression across {across} ({rates}), "
            f"but {beyond[0]}" + (f" and {count(len(beyond) - 1)} more" if len(beyond) > 1 else ""),
            rates=True,
        )
    gains = tally(comparison).count(Verdict.IMPROVEMENT)
    better = f", {plural(gains, 'improvement')}" if gains else ""
    return Headline(
        "TIP",
        "✅",
        f"evalbot passes{disabled}",
        f"no regression across {across} ({rates}){better}",
        rates=True,
    )


def headline(outcome: Outcome, gate: Gate, style: Style = MARKDOWN) -> Headline:
    """The verdict of the gate in words, with why; the alert type follows the gate.

    CAUTION whenever the check fails (any reason), WARNING for findings that do
    not fail it, a neutral fetch failure or a pass over under half of the
    baseline's scenarios, NOTE when nothing was compared, TIP only for a clean
    pass. One branch per outcome kind.
    """
    if isinstance(outcome, FetchFailed):
        error = plain(outcome.error, 500) if style is TEXT else escape_text(outcome.error, 500)
        if gate.failed:
            return Headline(
                "CAUTION", "❌", "evalbot fails", f"regression detection did not run — {error}"
            )
        return Headline(
            "WARNING",
            "⚠️",
            "evalbot passes without checking",
            f"regression detection did not run — {error}",
        )
    if isinstance(outcome, NoBaseline):
        searched = (
            plain(outcome.searched, 300) if style is TEXT else escape_text(outcome.searched, 300)
        )
        return Headline(
            "NOTE",
            "ℹ️",
            "evalbot passes, nothing compared",
            f"no baseline experiment matched {searched}",
        )
    if isinstance(outcome, SelfBaseline):
        return Headline(
            "NOTE",
            "ℹ️",
            "evalbot passes, nothing compared",
            f"{style.name(outcome.pr.name)} is its own baseline (expected on the base branch)",
        )
    if isinstance(outcome, NothingCompared):
        # Issue 11 §5: never green on nothing. on_fetch_failure decides the gate
        # (compare.decide_gate), and the first line names it either way.
        comparison = outcome.comparison
        why = (
            "regression detection did not run — no shared scenario has trials on both sides "
            f"({count(len(comparison.scenarios))} shared, "
            f"{count(len(comparison.pr_only))} only in the PR, "
            f"{count(len(comparison.baseline_only))} only in the baseline)"
        )
        if gate.failed:
            return Headline(
                "CAUTION", "❌", "evalbot fails, nothing compared (on_fetch_failure: fail)", why
            )
        return Headline(
            "NOTE", "ℹ️", "evalbot passes, nothing compared (on_fetch_failure: neutral)", why
        )
    return _ok_headline(outcome.comparison, gate, style)


def summary_line(comparison: Comparison, *, rates: bool = True) -> str | None:
    """The line under the headline: pass rates (unless the headline gave them), then
    the non-zero counts; None when that leaves nothing."""
    agg = comparison.aggregate
    parts = []
    if rates:
        parts.append(
            f"{pct(agg.pr.rate, 1)} of trials passed vs {pct(agg.baseline.rate, 1)} on the "
            f"baseline ({pp(agg.delta, 1)}) over {plural(agg.scenarios, 'shared scenario')}"
        )
    parts.extend(_counts(comparison, include_stable=False))
    return " · ".join(parts) or None


def coverage_line(comparison: Comparison) -> str | None:
    """'only 4 of the baseline's 10 scenarios compared' when under half; else None."""
    if not tally(comparison).low_coverage:
        return None
    total = len(comparison.baseline.scenarios)
    return f"only {tally(comparison).compared} of the baseline's {total} scenarios compared"


_COUNT_WORDS = {
    Verdict.HARD_REGRESSION: ("hard regression", "hard regressions"),
    Verdict.SOFT_REGRESSION: ("soft regression", "soft regressions"),
    Verdict.IMPROVEMENT: ("improvement", "improvements"),
    Verdict.WATCH: ("to watch", "to watch"),
    Verdict.UNRELIABLE_BASELINE: ("unreliable baseline", "unreliable baselines"),
    Verdict.STABLE: ("stable", "stable"),
    Verdict.INSUFFICIENT_DATA: ("without data", "without data"),
}


def _counts(comparison: Comparison, *, include_stable: bool) -> list[str]:
    parts = []
    for verdict in sorted(Verdict, key=lambda v: v.severity):
        n = tally(comparison).count(verdict)
        if n and (include_stable or verdict is not Verdict.STABLE):
            one, many = _COUNT_WORDS[verdict]
            parts.append(plural(n, one, many))
    if comparison.pr_only:
        parts.append(f"{count(len(comparison.pr_only))} only in the PR")
    if comparison.baseline_only:
        parts.append(f"{count(len(comparison.baseline_only))} only in the baseline")
    return parts


def counts_line(comparison: Comparison) -> str:
    """'1 hard regression · 1 soft regression · … — 3 wins, 6 losses, 17 ties'.

    Non-zero verdict counts in severity order, then the win/loss/tie tally.
    """
    tally = comparison.win_loss
    return (
        " · ".join(_counts(comparison, include_stable=True) or ["no scenarios compared"])
        + f" — {plural(tally.wins, 'win')}, {plural(tally.losses, 'loss', 'losses')}, "
        + plural(tally.ties, "tie")
    )
