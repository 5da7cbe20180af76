"""Rendering: the Markdown PR comment (Jinja) and the compact text table.

Pure: an Outcome and a Gate in, text out. The Python side builds a *view
model* (sections of pre-escaped table cells, in priority order); the template
lays it out. Row text comes from one filter, ``md_row``, used both by the
template and by the size budget, so the budget is exact rather than estimated.

Size: GitHub rejects an issue-comment body over 65,536 characters with a 422
(REST API, "body is too long"). When the full comment would exceed the limit,
lower-priority sections are collapsed into ``<details>`` and then cut from the
bottom up, each with an "…and N more" line; hard regressions are cut last.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from evalbot import __version__
from evalbot.errors import InputError
from evalbot.markdown import code_span, escape_text, one_line, truncate
from evalbot.models import (
    Bucket,
    CategoryDrift,
    Comparison,
    Correction,
    CostDelta,
    CostMeasure,
    DriftKind,
    DriftSignal,
    FetchFailed,
    Gate,
    MeanSummary,
    MetricComparison,
    MetricVerdict,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    Scenario,
    ScenarioComparison,
    Severity,
    Verdict,
)
from evalbot.trend import render_trend_line

GITHUB_COMMENT_LIMIT = 65_536
COMMENT_TEMPLATE = "comment.md.j2"


def marker(comment_key: str) -> str:
    """The hidden first line that lets the Action find its own comment again."""
    return f"<!-- evalbot:{comment_key} -->"


# --- filters (registered explicitly on the Jinja environment) ---------------


def pct(rate: float | None, digits: int = 0) -> str:
    """0.873 -> '87%' (or '87.3%' with digits=1); None -> 'n/a'."""
    return "n/a" if rate is None else f"{rate * 100:.{digits}f}%"


def pp(delta: float | None) -> str:
    """A pass-rate difference in percentage points: -1.0 -> '-100 pp'."""
    if delta is None:
        return "n/a"
    points = round(delta * 100)
    return "±0 pp" if points == 0 else f"{points:+d} pp"


def pvalue(p: Fraction | float | None) -> str:
    """A p-value to 3 significant digits."""
    return "n/a" if p is None else f"{float(p):.3g}"


def trials(scenario: Scenario) -> str:
    """'2/3 (67%)'."""
    return f"{scenario.passed}/{scenario.total} ({pct(scenario.rate)})"


def num(value: float | None) -> str:
    """A measurement for people: 3 significant digits, thousands separated, no exponent."""
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    text = f"{value:.3g}"
    if "e" in text:  # tiny values: fall back to fixed point
        text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text


def signed(value: float | None) -> str:
    """A change with its sign: +0.12, -3, ±0."""
    if value is None:
        return "n/a"
    if value == 0:
        return "±0"
    return ("+" if value > 0 else "-") + num(abs(value))


def md_row(cells: Sequence[str]) -> str:
    """One Markdown table row, newline included: cells must be escaped already."""
    return "| " + " | ".join(cells) + " |\n"


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target, or None.

    URLs come from experiment files and metadata, so anything but http(s) is
    refused (no ``javascript:``), and characters that end a link target or a
    table cell are percent-encoded.
    """
    if not url or not re.match(r"https?://[^\s]+$", url):
        return None
    return re.sub(r"[()<>|\[\]`\"' ]", lambda m: f"%{ord(m.group()):02X}", url)


def plain(text: str, max_len: int = 60) -> str:
    """Untrusted text for a terminal: no control characters (no escape sequences)."""
    return truncate(one_line(text), max_len)


FILTERS: dict[str, Callable[..., str | None]] = {
    "md": escape_text,
    "code": code_span,
    "pct": pct,
    "pp": pp,
    "pvalue": pvalue,
    "num": num,
    "signed": signed,
    "trials": trials,
    "md_row": md_row,
    "safe_url": safe_url,
}


# --- the view model ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    """A table in the comment: its rows are lists of escaped cells."""

    id: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    omitted: int = 0
    collapsed: bool = False

    @property
    def shown(self) -> int:
        return len(self.rows)


_TITLES = {
    Verdict.HARD_REGRESSION: "Hard regressions",
    Verdict.SOFT_REGRESSION: "Soft regressions",
    Verdict.IMPROVEMENT: "Improvements",
    Verdict.WATCH: "Watch: large swings without enough evidence",
    Verdict.STABLE: "Stable",
    Verdict.UNRELIABLE_BASELINE: "Unreliable baseline: the baseline already failed often",
    Verdict.INSUFFICIENT_DATA: "Insufficient data: no trials on one side",
}
_ONE_SIDE_HEADER = ("Scenario", "Passed")
_DRIFT_HEADER = ("Failure category", "PR", "Baseline", "Δ", "Note")
_METRICS_HEADER = ("Metric", "PR", "Baseline", "Δ", "Verdict")
_COSTS_HEADER = ("Measure", "PR", "Baseline", "Δ", "Note")
_SIGNALS_HEADER = ("Signal", "PR", "Baseline", "Change", "Severity")

# Cut order when the comment is too long: first entry goes first. Hard
# regressions are what the reader must see, so they are cut last.
_CUT_ORDER = (
    "baseline_only",
    "pr_only",
    "insufficient_data",
    "stable",
    "unreliable_baseline",
    "categories",
    "signals",
    "costs",
    "metrics",
    "watch",
    "improvement",
    "soft_regression",
    "hard_regression",
)


def shown_p(row: ScenarioComparison) -> Fraction:
    """The p-value of the direction the scenario moved (better for gains)."""
    return row.p_better if row.delta is not None and row.delta > 0 else row.p_worse


def _scenario_cells(row: ScenarioComparison) -> tuple[str, ...]:
    p = pvalue(shown_p(row))
    if row.verdict is Verdict.HARD_REGRESSION and row.q is not None:
        p += f" (q {pvalue(row.q)})"
    return (
        escape_text(row.label or row.key),
        trials(row.pr),
        trials(row.pooled or row.baseline),
        pp(row.delta),
        p,
    )


def _one_side_cells(scenario: Scenario) -> tuple[str, ...]:
    return (escape_text(scenario.display), trials(scenario))


def _drift_cells(row: CategoryDrift) -> tuple[str, ...]:
    flag = "notable" if row.notable else ""
    if row.new:
        flag = (flag + ", new") if flag else "new"
    return (
        escape_text(row.category),
        f"{row.pr_count} ({pct(row.pr_rate, 1)})",
        f"{row.baseline_count} ({pct(row.baseline_rate, 1)})",
        pp(row.delta),
        flag,
    )


# --- issue 6: metrics, latency/tokens/cost, drift signals ----------------------------------

# Feedback keys are users' text: cap them like scenario names.
MAX_METRIC_NAME = 60


def _mean_cell(side: MeanSummary) -> str:
    if side.mean is None:
        return "n/a"
    if side.low is None or side.high is None:
        return num(side.mean)
    return f"{num(side.mean)} ({num(side.low)}–{num(side.high)})"


def _metric_cells(metric: MetricComparison) -> tuple[str, ...]:
    verdict = metric.verdict.value.replace("_", " ")
    if metric.verdict is MetricVerdict.NOT_COMPARABLE:
        verdict = "not comparable (no scenario scored on both sides)"
    elif metric.p is not None:
        verdict += f" (p {pvalue(metric.p)}, {metric.pairs} scenarios)"
    if metric.verdict is MetricVerdict.REGRESSION:
        verdict = f"**{verdict}**"
    return (
        code_span(truncate(metric.key, MAX_METRIC_NAME)),
        _mean_cell(metric.pr),
        _mean_cell(metric.baseline),
        signed(metric.delta),
        verdict,
    )


_COST_NAMES = {
    CostMeasure.LATENCY_P50: "Latency p50",
    CostMeasure.LATENCY_P95: "Latency p95",
    CostMeasure.TOKENS: "Tokens per trial",
    CostMeasure.COST: "Cost per trial",
    CostMeasure.COST_TOTAL: "Cost per experiment",
}


def cost_value(measure: CostMeasure, value: float | None) -> str:
    """A latency in ms or s, a token count, or a cost in dollars."""
    if value is None:
        return "n/a"
    if measure in (CostMeasure.LATENCY_P50, CostMeasure.LATENCY_P95):
        return f"{num(value)} ms" if abs(value) < 1000 else f"{num(value / 1000)} s"
    if measure in (CostMeasure.COST, CostMeasure.COST_TOTAL):
        # LangSmith reports costs in US dollars.
        return f"${num(value)}"
    return num(value)


def _cost_cells(cost: CostDelta) -> tuple[str, ...]:
    if cost.delta is None:
        change = "n/a"
    elif cost.delta == 0:
        change = "±0"
    else:
        sign = "+" if cost.delta > 0 else "-" if cost.delta < 0 else "±"
        change = sign + cost_value(cost.measure, abs(cost.delta))
        change += " (new)" if cost.relative is None else f" ({cost.relative:+.0%})"
    note = "**fails the check**" if cost.gating else "notable" if cost.notable else ""
    return (
        _COST_NAMES[cost.measure],
        cost_value(cost.measure, cost.pr),
        cost_value(cost.measure, cost.baseline),
        change,
        note,
    )


_SIGNAL_NAMES = {
    DriftKind.ERROR_RATE: "Error rate",
    DriftKind.EMPTY_OUTPUT: "Empty outputs",
    DriftKind.OUTPUT_LENGTH: "Median output length",
    DriftKind.TOOL_SILENCE: "Trials without tool calls",
}


def _signal_cells(signal: DriftSignal) -> tuple[str, ...]:
    if signal.kind is DriftKind.OUTPUT_LENGTH:
        pr_text = f"{num(signal.pr)} chars"
        base_text = f"{num(signal.baseline)} chars"
        change = f"×{signal.change:.2f}"
    else:
        pr_text = f"{pct(signal.pr, 1)} of {signal.pr_trials}"
        base_text = f"{pct(signal.baseline, 1)} of {signal.baseline_trials}"
        change = pp(signal.change)
    severity = signal.severity.value
    if signal.p is not None:
        severity += f" (p {pvalue(signal.p)})"
    if signal.severity is Severity.SEVERE:
        severity = f"**{severity}**"
    return (_SIGNAL_NAMES[signal.kind], pr_text, base_text, change, severity)


def _beyond_parts(comparison: Comparison, name: Callable[[str], str]) -> list[str]:
    """What moved beyond pass/fail: flagged metrics, notable costs, firing drift signals."""
    parts = []
    for metric in comparison.metrics:
        if metric.verdict in (MetricVerdict.REGRESSION, MetricVerdict.IMPROVEMENT):
            parts.append(f"{name(metric.key)} {signed(metric.delta)} ({metric.verdict.value})")
    for cost in comparison.costs:
        if (cost.notable or cost.gating) and cost.relative is not None:
            parts.append(f"{_COST_NAMES[cost.measure].lower()} {cost.relative:+.0%}")
    for signal in comparison.drift:
        if signal.severity is not Severity.NONE:
            parts.append(f"{_SIGNAL_NAMES[signal.kind].lower()}: {signal.severity.value}")
    return parts


def beyond_line(comparison: Comparison) -> str | None:
    """One line naming what moved beyond pass/fail, for the 10-second read; None if nothing."""
    parts = _beyond_parts(comparison, lambda key: code_span(truncate(key, MAX_METRIC_NAME)))
    return "**Beyond pass/fail:** " + " · ".join(parts) if parts else None


def _scenario_header(comparison: Comparison) -> tuple[str, ...]:
    runs = len(comparison.history) + 1
    # With history the baseline column holds the pooled window's counts.
    baseline = "Baseline" if runs == 1 else f"Baseline ({runs} runs)"
    return ("Scenario", "PR", baseline, "Δ", "p")


def _verdict_section(comparison: Comparison, verdict: Verdict, *, collapsed: bool) -> Section:
    rows = comparison.of(verdict)
    header = _scenario_header(comparison)
    return Section(
        id=verdict.value,
        title=_TITLES[verdict],
        header=header if verdict is not Verdict.INSUFFICIENT_DATA else header[:3],
        rows=tuple(
            _scenario_cells(r)[:3] if verdict is Verdict.INSUFFICIENT_DATA else _scenario_cells(r)
            for r in rows
        ),
        collapsed=collapsed,
    )


def _one_side_section(section_id: str, title: str, scenarios: Iterable[Scenario]) -> Section:
    return Section(
        id=section_id,
        title=title,
        header=_ONE_SIDE_HEADER,
        rows=tuple(_one_side_cells(s) for s in scenarios),
        collapsed=True,
    )


def build_sections(comparison: Comparison) -> dict[str, Section]:
    """Every table of the comment, keyed by section id, before any size cut."""
    sections = {
        v.value: _verdict_section(comparison, v, collapsed=False)
        for v in (
            Verdict.HARD_REGRESSION,
            Verdict.SOFT_REGRESSION,
            Verdict.IMPROVEMENT,
            Verdict.WATCH,
        )
    }
    sections["metrics"] = Section(
        id="metrics",
        title="Metrics",
        header=_METRICS_HEADER,
        rows=tuple(_metric_cells(m) for m in comparison.metrics),
    )
    sections["costs"] = Section(
        id="costs",
        title="Latency, tokens and cost",
        header=_COSTS_HEADER,
        rows=tuple(_cost_cells(c) for c in comparison.costs),
    )
    sections["signals"] = Section(
        id="signals",
        title="Drift signals",
        header=_SIGNALS_HEADER,
        rows=tuple(_signal_cells(d) for d in comparison.drift),
        # Folded away unless a signal fires: the reader's 10 seconds go to what moved.
        collapsed=all(d.severity is Severity.NONE for d in comparison.drift),
    )
    sections["categories"] = Section(
        id="categories",
        title="Failure-category drift",
        header=_DRIFT_HEADER,
        rows=tuple(_drift_cells(r) for r in comparison.categories),
    )
    for verdict in (Verdict.STABLE, Verdict.UNRELIABLE_BASELINE, Verdict.INSUFFICIENT_DATA):
        sections[verdict.value] = _verdict_section(comparison, verdict, collapsed=True)
    sections["pr_only"] = _one_side_section(
        "pr_only", "Only in the PR experiment (not compared)", comparison.pr_only
    )
    sections["baseline_only"] = _one_side_section(
        "baseline_only",
        "Only in the baseline experiment (missing from the PR)",
        comparison.baseline_only,
    )
    return sections


def _trials_per_scenario(bucket: Bucket) -> str:
    counts = {s.total for s in bucket.scenarios.values()}
    if not counts:
        return "0"
    low, high = min(counts), max(counts)
    return str(low) if low == high else f"{low}–{high}"


_COMMIT_KEYS = ("commit", "head_sha", "git_sha", "revision_id")


def _provenance(bucket: Bucket) -> dict[str, Any]:
    commit = next((str(bucket.metadata[k]) for k in _COMMIT_KEYS if bucket.metadata.get(k)), None)
    branch = bucket.metadata.get("branch")
    return {
        "name": bucket.name,
        "url": bucket.url,
        "commit": commit[:12] if commit else None,
        "branch": str(branch) if branch else None,
        "trials_per_scenario": _trials_per_scenario(bucket),
        "scenarios": len(bucket.scenarios),
        "unscored": bucket.unscored,
        "notes": list(bucket.notes),
    }


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def baseline_age(pr: Bucket, baseline: Bucket) -> str | None:
    """'3 days older than the PR experiment', from both start times when known."""
    pr_time, base_time = _parse_time(pr.started_at), _parse_time(baseline.started_at)
    if pr_time is None or base_time is None:
        return None
    seconds = (pr_time - base_time).total_seconds()
    word = "older" if seconds >= 0 else "newer"
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} {word} than the PR experiment"
    return "started within a minute of the PR experiment"


_ALERTS = (
    (Verdict.HARD_REGRESSION, "CAUTION"),
    (Verdict.SOFT_REGRESSION, "WARNING"),
    (Verdict.WATCH, "NOTE"),
)


def _alert(comparison: Comparison) -> str:
    for verdict, alert in _ALERTS:
        if comparison.count(verdict):
            return alert
    # Most of the baseline went unchecked: not the green "all clear" tip.
    return "WARNING" if comparison.low_coverage else "TIP"


def coverage_line(comparison: Comparison) -> str | None:
    """'only 4 of the baseline's 10 scenarios compared' when under half; else None."""
    if not comparison.low_coverage:
        return None
    total = len(comparison.baseline.scenarios)
    return f"only {comparison.compared} of the baseline's {total} scenarios compared"


def nothing_compared_causes(comparison: Comparison) -> list[str]:
    """The likely causes of ``nothing_compared``, most specific first (plain text)."""
    pr_n, base_n = len(comparison.pr.scenarios), len(comparison.baseline.scenarios)
    causes = []
    if pr_n == 0:
        causes.append(
            "the PR experiment has no scenarios: its run crashed, was cancelled, "
            "or recorded no runs"
        )
    if base_n == 0:
        causes.append("the baseline experiment has no scenarios")
    if pr_n and base_n and not comparison.scenarios:
        causes.append(
            "the two experiments share no scenario key: another dataset, or a "
            "`scenario_key` that names scenarios differently on each side"
        )
    rows = comparison.scenarios
    empty = []
    for side, trials, unscored in (
        ("PR", sum(r.pr.total for r in rows), sum(r.pr.unscored for r in rows)),
        (
            "baseline",
            sum((r.pooled or r.baseline).total for r in rows),
            sum(r.baseline.unscored for r in rows),
        ),
    ):
        if rows and trials == 0 and unscored:
            causes.append(
                f"every trial of the shared scenarios is unscored on the {side} side: the "
                "evaluator crashed, gave NaN, infinite or non-numeric scores, or does not "
                "score the `pass_key`"
            )
        if rows and trials == 0:
            empty.append(side)
    if rows and not empty:
        causes.append(
            "each shared scenario has trials on one side only: unscored on the other, "
            "or missing there"
        )
    elif rows and not any("unscored" in c for c in causes):
        causes.append(f"the shared scenarios have no trials on the {' and '.join(empty)} side")
    return causes


NOTHING_COMPARED_CHECKS = (
    "`scenario_key` is the same for both experiments (default: the dataset example)",
    "both experiments ran on the same dataset and the PR run finished",
    "`pass_key` names the evaluator that scores every run",
)


_COUNT_WORDS = {
    Verdict.HARD_REGRESSION: ("hard regression", "hard regressions"),
    Verdict.SOFT_REGRESSION: ("soft regression", "soft regressions"),
    Verdict.IMPROVEMENT: ("improvement", "improvements"),
    Verdict.WATCH: ("to watch", "to watch"),
    Verdict.UNRELIABLE_BASELINE: ("unreliable baseline", "unreliable baselines"),
    Verdict.STABLE: ("stable", "stable"),
    Verdict.INSUFFICIENT_DATA: ("without data", "without data"),
}


def _counts_line(comparison: Comparison) -> str:
    """'1 hard regression · 0 soft regressions · … — 3 wins, 2 losses, 15 ties'.

    Every verdict in severity order, then the win/loss/tie tally (issue 6 §4).
    """
    parts = []
    for verdict in sorted(Verdict, key=lambda v: v.severity):
        n = comparison.count(verdict)
        parts.append(f"{n} {_COUNT_WORDS[verdict][n != 1]}")
    tally = comparison.win_loss
    return (
        " · ".join(parts)
        + f" — {tally.wins} win{'s' if tally.wins != 1 else ''}, "
        + f"{tally.losses} loss{'es' if tally.losses != 1 else ''}, "
        + f"{tally.ties} tie{'s' if tally.ties != 1 else ''}"
    )


def statistics_lines(comparison: Comparison) -> list[str]:
    """How sure we are, in a few sentences: the aggregate test, the budget, the power."""
    lines = []
    thresholds = comparison.thresholds
    test = comparison.aggregate_test
    if test is not None:
        verdict = (
            "**significant: a broad regression across scenarios**"
            if test.significant
            else "not significant"
        )
        role = "" if test.gating else " (informational: correction is none)"
        lines.append(
            f"Aggregate test across scenarios (stratified CMH): z = {test.z:.2f}, "
            f"p = {pvalue(test.p)}, {verdict} at {test.alpha:g}{role}."
        )
    if thresholds.correction is Correction.BH:
        lines.append(
            f"False-alarm budget α = {thresholds.alpha:g}: hard regressions are "
            f"Benjamini–Hochberg-corrected at {thresholds.alpha - thresholds.aggregate_alpha:g} "
            f"over the {comparison.family_size} scenario"
            f"{'s' if comparison.family_size != 1 else ''} that can reach significance; "
            "soft, watch and improvement use raw p-values and never fail the check."
        )
    else:
        lines.append(
            f"No multiplicity correction: each scenario is tested alone at "
            f"p ≤ {thresholds.hard.max_p:g} (correction: none)."
        )
    if comparison.history:
        lines.append(f"Baseline pooled over {len(comparison.history) + 1} runs of the base branch.")
    if comparison.power is not None:
        text = f"Power: {comparison.power.statement}"
        if comparison.power.suggestion:
            text += f"; {comparison.power.suggestion}"
        lines.append(text + ".")
    return lines


def comment_context(
    outcome: Outcome,
    gate: Gate,
    *,
    comment_key: str,
    reproduce: str,
    selection: str | None = None,
) -> dict[str, Any]:
    """The variables every comment template receives (documented in the README)."""
    context: dict[str, Any] = {
        "marker": marker(comment_key),
        "outcome": outcome.kind.value,
        "gate": gate,
        "version": __version__,
        "reproduce": reproduce,
        "sections": {},
        "truncated": False,
        "selection": selection,
    }
    if isinstance(outcome, Ok):
        comparison = outcome.comparison
        context.update(
            comparison=comparison,
            aggregate=comparison.aggregate,
            counts={v.value: comparison.count(v) for v in Verdict},
            counts_line=_counts_line(comparison),
            alert=_alert(comparison),
            coverage_line=coverage_line(comparison),
            pr=_provenance(comparison.pr),
            baseline=_provenance(comparison.baseline),
            baseline_age=baseline_age(comparison.pr, comparison.baseline),
            sections=build_sections(comparison),
            statistics=statistics_lines(comparison),
            beyond_line=beyond_line(comparison),
            trend_line=None
            if comparison.trend is None
            else render_trend_line(
                str(comparison.baseline.metadata.get("branch") or comparison.baseline.name),
                comparison.trend,
                comparison.scenario_trends,
            ),
        )
    elif isinstance(outcome, NothingCompared):
        comparison = outcome.comparison
        sections = build_sections(comparison)
        reason = (
            f"nothing could be compared: no shared scenario has trials on both sides "
            f"({len(comparison.scenarios)} shared, {len(comparison.pr_only)} only in the PR, "
            f"{len(comparison.baseline_only)} only in the baseline)"
        )
        context.update(
            comparison=comparison,
            pr=_provenance(comparison.pr),
            baseline=_provenance(comparison.baseline),
            shared=len(comparison.scenarios),
            pr_only=len(comparison.pr_only),
            baseline_only=len(comparison.baseline_only),
            causes=nothing_compared_causes(comparison),
            checks=list(NOTHING_COMPARED_CHECKS),
            sections={k: sections[k] for k in ("insufficient_data", "pr_only", "baseline_only")},
            # A custom template written before this outcome existed treats any
            # unknown outcome as fetch_failed and prints `error`: give it one.
            error=reason,
        )
    elif isinstance(outcome, NoBaseline):
        context.update(pr=_provenance(outcome.pr), searched=outcome.searched)
    elif isinstance(outcome, FetchFailed):
        context.update(error=outcome.error)
    else:
        context.update(pr=_provenance(outcome.pr))
    return context


# --- Jinja --------------------------------------------------------------------
#
# Every template, built-in or the user's, runs in Jinja's immutable sandbox. A
# user's template is untrusted code: in GitHub Actions its path may come from
# .github/evalbot.yml, which a pull request can edit, and the rendered comment
# is posted publicly. Without the sandbox `{{ cycler.__init__.__globals__.os
# .environ }}` prints the job's secrets. The sandbox refuses underscore and
# internal attributes (function globals, frames, code objects, mro), str.format
# tricks, and any method that mutates a list, dict or set; `range` is capped at
# 100,000 items; `*` and `**` may not build huge values. The loader (below)
# keeps a user's includes inside the template's own directory.

_MAX_ERROR = 300  # characters of a template's exception text shown in the one-line error
# `*` and `**` are the two operators that can build a huge value from a short
# template ({{ "x" * 10**12 }}): bounded far above anything a comment needs
# (the job summary, the largest output, is 1 MiB).
_MAX_REPEAT = 2**21
_MAX_POWER_BITS = 2**20


def _builtin_dir() -> str:
    return str(resources.files("evalbot.templates"))


class _TemplateDirLoader(jinja2.FileSystemLoader):
    """A user's template directory: what the template loads must stay inside it.

    FileSystemLoader already refuses ``..``; this also refuses names whose file
    (symlinks followed) lies outside the directory — a committed symlink to
    ``/proc/self/environ`` would otherwise be included verbatim — and hidden
    paths such as ``.git/config`` (where actions/checkout keeps the job's
    token), except ``entry``, the template the user named.
    """

    def __init__(self, root: str, entry: str) -> None:
        super().__init__(root)
        self.root = os.path.realpath(root)
        self.entry = entry

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # TemplateNotFound for ".."
        if template != self.entry and any(piece.startswith(".") for piece in pieces):
            raise SecurityError(f"{template!r} is a hidden path; templates may not load it")
        real = os.path.realpath(os.path.join(self.root, *pieces))
        if os.path.commonpath([real, self.root]) != self.root:
            raise SecurityError(
                f"{template!r} resolves outside the template's directory; "
                "templates may only load files beside them"
            )
        return super().get_source(environment, template)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with ``*`` and ``**`` bounded in the size they build."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and right > 0
                and abs(left).bit_length() * right > _MAX_POWER_BITS
            ):
                raise SecurityError(f"'**' would make a number of over {_MAX_POWER_BITS:,} bits")
            return left**right
        for items, count in ((left, right), (right, left)):
            if (
                isinstance(items, str | list | tuple)
                and isinstance(count, int)
                and len(items) * count > _MAX_REPEAT
            ):
                raise SecurityError(f"'*' would make a value of over {_MAX_REPEAT:,} items")
        return left * right


@lru_cache(maxsize=8)
def _environment(user_dir: str | None, entry: str | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(_builtin_dir())]
    if user_dir is not None and entry is not None:
        loaders.insert(0, _TemplateDirLoader(user_dir, entry))
    env = _Sandbox(
        loader=jinja2.ChoiceLoader(loaders),
        # Undefined variables are template bugs, not empty strings.
        undefined=jinja2.StrictUndefined,
        # Markdown, not HTML: escaping is explicit through the `md` and
        # `code` filters on every untrusted value.
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def _problem(name: str, text: str) -> InputError:
    """One line naming the template: its messages may quote the template's own text."""
    return InputError(f"template: {one_line(name)}: {truncate(one_line(text), _MAX_ERROR)}")


def _load_template(template: Path | None) -> jinja2.Template:
    if template is None:
        return _environment(None).get_template(COMMENT_TEMPLATE)
    try:
        env = _environment(str(template.parent.resolve()), template.name)
        return env.get_template(template.name)
    except jinja2.TemplateNotFound:
        raise InputError(f"template: file not found: {one_line(str(template))}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise _problem(str(template), f"line {exc.lineno}: {exc.message}") from None
    except SecurityError as exc:
        raise _problem(str(template), f"refused: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _problem(str(template), f"cannot read it ({exc})") from None


def _render(template: jinja2.Template, context: dict[str, Any], name: str, *, user: bool) -> str:
    try:
        return template.render(context)
    except jinja2.UndefinedError as exc:
        raise _problem(name, exc.message or "undefined") from None
    except SecurityError as exc:
        if not user:
            raise  # the built-in template broke the sandbox's rules: a bug, exit 3
        raise _problem(name, f"refused by the sandbox: {exc}") from None
    except jinja2.TemplateNotFound as exc:
        if not user:
            raise
        raise _problem(name, f"loads {exc.name!r}, which does not exist") from None
    except Exception as exc:
        if not user:
            raise  # a bug in the built-in template: exit 3 with a traceback
        # Anything a user's template raises ({{ 1 / 0 }}, a bad filter
        # argument, a missing include) is an input error in that template,
        # not an evalbot bug.
        raise _problem(name, str(exc) or type(exc).__name__) from None


def _shrink(
    sections: dict[str, Section], overshoot: int, size: Callable[[str], int] = len
) -> dict[str, Section]:
    """Cut ``overshoot`` characters of rows, lowest-priority sections first."""
    out = dict(sections)
    for section_id in _CUT_ORDER:
        if overshoot <= 0:
            break
        section = out.get(section_id)
        if section is None or not section.rows:
            continue
        rows = list(section.rows)
        while rows and overshoot > 0:
            overshoot -= size(md_row(rows.pop()))
        out[section_id] = replace(
            section, rows=tuple(rows), omitted=section.omitted + section.shown - len(rows)
        )
    return out


def render_comment(
    outcome: Outcome,
    gate: Gate,
    *,
    comment_key: str,
    reproduce: str,
    template: Path | None = None,
    selection: str | None = None,
    max_chars: int = GITHUB_COMMENT_LIMIT,
    size: Callable[[str], int] = len,
) -> str:
    """The PR comment as Markdown, at most ``max_chars`` as measured by ``size``.

    ``size`` is ``len`` for GitHub's comment limit (characters); the job
    summary passes a UTF-8 byte count, since its 1 MiB limit is in bytes.

    The first line is the hidden marker for ``comment_key``; it is checked
    after rendering so a custom template cannot silently break in-place
    updates.
    """
    compiled = _load_template(template)
    name = str(template or COMMENT_TEMPLATE)
    context = comment_context(
        outcome, gate, comment_key=comment_key, reproduce=reproduce, selection=selection
    )
    body = _render(compiled, context, name, user=template is not None)
    # Each pass cuts at least the overshoot plus room for the "…and N more"
    # lines; the loop only repeats if a template adds text per omitted row.
    reserve = 200
    while size(body) > max_chars and context["sections"]:
        collapsed = {
            k: replace(s, collapsed=s.collapsed or k not in _NEVER_COLLAPSED)
            for k, s in context["sections"].items()
        }
        context["sections"] = _shrink(collapsed, size(body) - max_chars + reserve, size)
        context["truncated"] = True
        body = _render(compiled, context, name, user=template is not None)
        reserve *= 2
        if all(not s.rows for s in context["sections"].values()):
            break
    if size(body) > max_chars:
        raise InputError(
            f"template: {name}: the comment is {size(body)} characters even with every table "
            f"cut; GitHub accepts at most {max_chars}"
        )
    if body.split("\n", 1)[0].strip() != context["marker"]:
        raise InputError(f"template: {name}: the first line must be {{{{ marker }}}}")
    return body


_NEVER_COLLAPSED = frozenset({Verdict.HARD_REGRESSION.value, Verdict.SOFT_REGRESSION.value})


# --- the terminal format --------------------------------------------------------


def render_text(outcome: Outcome, gate: Gate) -> str:
    """A compact table for terminals: every flagged scenario, stable ones counted."""
    lines: list[str] = []
    if isinstance(outcome, FetchFailed):
        lines.append(f"evalbot: regression detection did not run: {plain(outcome.error, 300)}")
    elif isinstance(outcome, NoBaseline):
        lines.append(f"evalbot: no baseline experiment matched {plain(outcome.searched, 200)}")
    elif isinstance(outcome, Ok):
        lines.extend(_text_comparison(outcome.comparison))
    elif isinstance(outcome, NothingCompared):
        lines.extend(_text_nothing(outcome.comparison))
    else:
        lines.append(f"evalbot: {plain(outcome.pr.name)} is its own baseline; nothing to compare")
    status = "FAILED" if gate.failed else "passed"
    lines.append(f"gate: {status} — {gate.reason}")
    return "\n".join(lines) + "\n"


def _text_nothing(comparison: Comparison) -> list[str]:
    lines = [
        "evalbot: nothing could be compared, so regression detection did not run",
        f"PR {plain(comparison.pr.name)} ({len(comparison.pr.scenarios)} scenarios) vs "
        f"baseline {plain(comparison.baseline.name)} ({len(comparison.baseline.scenarios)} "
        f"scenarios): {len(comparison.scenarios)} shared, none with trials on both sides; "
        f"{len(comparison.pr_only)} only in the PR, {len(comparison.baseline_only)} only "
        "in the baseline",
    ]
    causes = nothing_compared_causes(comparison)
    lines.extend(f"likely: {cause.replace('`', '')}" for cause in causes)
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
    agg = comparison.aggregate
    lines = [
        f"evalbot: {_counts_line(comparison)}",
        f"PR {plain(comparison.pr.name)} vs baseline {plain(comparison.baseline.name)}: "
        f"{pct(agg.pr.rate, 1)} vs {pct(agg.baseline.rate, 1)} ({pp(agg.delta)}) "
        f"over {agg.scenarios} shared scenarios",
    ]
    if (line := coverage_line(comparison)) is not None:
        lines.append(f"coverage: {line}")
    lines.extend(_text_notes(comparison))
    beyond = _beyond_parts(comparison, lambda key: plain(key, MAX_METRIC_NAME))
    if beyond:
        lines.append("beyond pass/fail: " + " · ".join(beyond))
    flagged = [r for r in comparison.scenarios if r.verdict is not Verdict.STABLE]
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
