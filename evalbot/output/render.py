"""Rendering: the Markdown PR comment (Jinja), the job summary and the text format.

Pure: an Outcome, a Gate and a few facts about the run (:class:`RunLinks`) in,
text out; no environment, no network. The Python side builds a *view model*
(:class:`View`: the headline, the "what next" line, and sections of
pre-escaped table cells in priority order); the template lays it out. Row text
comes from one filter, ``md_row``, used both by the template and by the size
budget, so the budget is exact rather than estimated.

The comment is built for a ten-second read (issue 13): the gate's verdict
first (an alert whose type follows the gate, not the verdict counts), one
table of what needs attention, links into LangSmith, everything else folded.
The job summary is the same view with every section unfolded.

Size: GitHub rejects an issue-comment body over 65,536 characters with a 422
(REST API, "body is too long"). When the full comment would exceed the limit,
rows are cut from the lowest-priority sections up, each with an "…and N more"
line saying where the rows are; hard regressions are cut last.
"""

from __future__ import annotations

import math
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
from urllib.parse import quote

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from evalbot import __version__
from evalbot.core.models import (
    AggregateTest,
    Bucket,
    CategoryDrift,
    Comparison,
    Correction,
    CostDelta,
    CostMeasure,
    DriftKind,
    DriftSignal,
    FailOn,
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
    SelfBaseline,
    Severity,
    Verdict,
)
from evalbot.core.trend import points_from_buckets, render_trend_line
from evalbot.errors import InputError
from evalbot.local_files import read_limited_text
from evalbot.output import power_text
from evalbot.output.markdown import code_span, escape_text
from evalbot.text import comment_marker as marker
from evalbot.text import one_line, starts_with_marker, truncate

GITHUB_COMMENT_LIMIT = 65_536
COMMENT_TEMPLATE = "comment.md.j2"


# --- numbers for people (issue 13 §5) -------------------------------------------


def pct(rate: float | None, digits: int = 0) -> str:
    """0.873 -> '87%' (or '87.3%' with digits=1); None -> 'n/a'."""
    return "n/a" if rate is None else f"{rate * 100:.{digits}f}%"


def pp(delta: float | None, digits: int = 0) -> str:
    """A pass-rate difference in percentage points: -1.0 -> '-100 pp'."""
    if delta is None:
        return "n/a"
    points = round(delta * 100, digits)
    if points == 0:
        return "±0 pp"
    return f"{points:+.{digits}f} pp"


def pvalue(p: Fraction | float | None) -> str:
    """A p-value with three decimals, '< 0.001' below that: never an exponent."""
    if p is None:
        return "n/a"
    value = float(p)
    return "< 0.001" if value < 0.0005 else f"{value:.3f}"


def p_is(p: Fraction | float | None) -> str:
    """'p = 0.107' or 'p < 0.001'."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def count(n: int) -> str:
    """A count with thousands separators: 5000 -> '5,000'."""
    return f"{n:,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 scenario', '2 scenarios', '5,000 scenarios'."""
    return f"{count(n)} {one if n == 1 else (many or one + 's')}"


def trials(scenario: Scenario) -> str:
    """'2/3 (67%)', thousands separated."""
    return f"{scenario.passed:,}/{scenario.total:,} ({pct(scenario.rate)})"


def num(value: float | None) -> str:
    """A measurement for people: 3 significant digits, thousands separated, no exponent."""
    if value is None:
        return "n/a"
    return fixed(value, decimals_for((value,)))


def decimals_for(values: Iterable[float | None]) -> int:
    """Decimals that show the largest of ``values`` to 3 significant digits.

    One count per table row, so the PR, baseline and change of a row line up
    ("3.96 s" beside "3.20 s", not "3.2 s").
    """
    largest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if largest == 0:
        return 0
    return max(0, min(6, 2 - math.floor(math.log10(largest))))


def fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals and thousands separators."""
    return f"{value:,.{decimals}f}"


def signed(value: float | None, decimals: int | None = None) -> str:
    """A change with its sign: +0.12, -3, ±0."""
    if value is None:
        return "n/a"
    if value == 0:
        return "±0"
    digits = decimals_for((value,)) if decimals is None else decimals
    return ("+" if value > 0 else "-") + fixed(abs(value), digits)


def md_row(cells: Sequence[str]) -> str:
    """One Markdown table row, newline included: cells must be escaped already."""
    return "| " + " | ".join(cells) + " |\n"


def md_rule(align: Sequence[str]) -> str:
    """The delimiter row: ``---`` for text columns, ``--:`` for numbers (right-aligned)."""
    return md_row(["--:" if a == "r" else "---" for a in align])


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target, or None.

    URLs come from experiment files and metadata, so anything but http(s) is
    refused (no ``javascript:``), and characters that end a link target or a
    table cell are percent-encoded.
    """
    if not url or not re.match(r"https?://[^\s]+$", url):
        return None
    return re.sub(r"[()<>|\[\]`\"' ]", lambda m: f"%{ord(m.group()):02X}", url)


def link(text: str, url: str | None) -> str:
    """``[text](url)`` when the URL is safe, else just ``text`` (already escaped)."""
    target = safe_url(url)
    return f"[{text}]({target})" if target else text


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
    "count": count,
    "signed": signed,
    "trials": trials,
    "md_row": md_row,
    "md_rule": md_rule,
    "safe_url": safe_url,
}


# --- facts about the run that are not in the outcome ------------------------------


@dataclass(frozen=True, slots=True)
class RunLinks:
    """Where this run lives, for links and the stale-experiment check.

    Given by the caller (the Action reads them from the runner's variables);
    the renderer never looks at the environment. Every field is optional.
    """

    repository_url: str | None = None  # https://github.com/owner/repo
    run_url: str | None = None  # the workflow run (its page shows the job summary)
    head_sha: str | None = None  # the PR head the check is about
    report_path: str | None = None  # the JSON report file, as the user knows it


_SHA = re.compile(r"[0-9a-fA-F]{7,64}")


def commit_link(sha: str | None, links: RunLinks) -> str | None:
    """A short SHA as a code span, linked to the repository's commit page when known."""
    if not sha:
        return None
    text = code_span(sha[:7]) if _SHA.fullmatch(sha) else code_span(sha, 12)
    if links.repository_url and _SHA.fullmatch(sha):
        return link(text, f"{links.repository_url}/commit/{sha}")
    return text


# --- sections: tables of pre-escaped cells -------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    """A table in the comment: its rows are lists of escaped cells.

    ``align`` holds "l" or "r" per column (numbers are right-aligned);
    ``lead`` is how many leading rows are notable enough to show before the
    rest (failure categories: notable and new rows first).
    """

    id: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    omitted: int = 0
    collapsed: bool = False
    align: tuple[str, ...] = ()
    lead: int = 0
    # Rows past the size budget whose cells were never built (render_comment): the
    # size cut always omits them, and until it runs the template does not see them.
    unbuilt: int = 0

    @property
    def shown(self) -> int:
        return len(self.rows)

    @property
    def total(self) -> int:
        return len(self.rows) + self.omitted + self.unbuilt

    @property
    def rule(self) -> str:
        """The delimiter row of this table."""
        return md_rule(self.align or ("l",) * len(self.header))


_TITLES = {
    Verdict.HARD_REGRESSION: "Hard regressions",
    Verdict.SOFT_REGRESSION: "Soft regressions",
    Verdict.IMPROVEMENT: "Improvements",
    Verdict.WATCH: "Watch: large swings without enough evidence",
    Verdict.STABLE: "Stable",
    Verdict.UNRELIABLE_BASELINE: "Unreliable baseline: the baseline already failed often",
    Verdict.INSUFFICIENT_DATA: "Insufficient data: no trials on one side",
}
# The verdict column of the attention table: an icon and a word.
VERDICT_CELL = {
    Verdict.HARD_REGRESSION: "❌ hard",
    Verdict.SOFT_REGRESSION: "⚠️ soft",
    Verdict.IMPROVEMENT: "✅ better",
    Verdict.WATCH: "👀 watch",
    Verdict.STABLE: "stable",
    Verdict.UNRELIABLE_BASELINE: "unreliable",
    Verdict.INSUFFICIENT_DATA: "no data",
}
ATTENTION = (
    Verdict.HARD_REGRESSION,
    Verdict.SOFT_REGRESSION,
    Verdict.IMPROVEMENT,
    Verdict.WATCH,
)
_ONE_SIDE_HEADER = ("Scenario", "Passed")
_DRIFT_HEADER = ("Failure category", "PR", "Baseline", "Δ", "Note")
_METRICS_HEADER = ("Metric", "PR", "Baseline", "Δ", "Verdict")
_COSTS_HEADER = ("Measure", "PR", "Baseline", "Δ", "Note")
_SIGNALS_HEADER = ("Signal", "PR", "Baseline", "Change", "Severity")
_NUMBERS = ("l", "r", "r", "r", "l")

# Cut order when the comment is too long: first entry goes first. Hard
# regressions are what the reader must see, so they are cut last.
_CUT_ORDER = (
    "evidence",
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


def scenario_url(bucket: Bucket, key: str) -> str | None:
    """The scenario's example page in LangSmith, when its key is an example id."""
    if not (bucket.example_links and bucket.web_url and bucket.dataset_id):
        return None
    return f"{bucket.web_url}/datasets/{quote(bucket.dataset_id, safe='')}/e/{quote(key, safe='')}"


def compare_url(pr: Bucket, baseline: Bucket) -> str | None:
    """LangSmith's compare view of the two experiments, when both live on one dataset.

    ``<web>/o/<tenant>/datasets/<dataset>/compare?selectedSessions=<pr>,<baseline>``
    """
    if not (pr.web_url and pr.dataset_id and pr.id and baseline.id):
        return None
    if baseline.web_url != pr.web_url or baseline.dataset_id != pr.dataset_id:
        return None
    sessions = ",".join(quote(i, safe="") for i in (pr.id, baseline.id))
    return (
        f"{pr.web_url}/datasets/{quote(pr.dataset_id, safe='')}/compare?selectedSessions={sessions}"
    )


def _scenario_cells(row: ScenarioComparison, pr: Bucket) -> tuple[str, ...]:
    return (
        VERDICT_CELL[row.verdict],
        link(escape_text(row.label or row.key), scenario_url(pr, row.key)),
        trials(row.pr),
        trials(row.pooled or row.baseline),
        pp(row.delta),
    )


def _one_side_cells(scenario: Scenario, bucket: Bucket) -> tuple[str, ...]:
    return (
        link(escape_text(scenario.display), scenario_url(bucket, scenario.key)),
        trials(scenario),
    )


def _drift_cells(row: CategoryDrift) -> tuple[str, ...]:
    flag = "notable" if row.notable else ""
    if row.new:
        flag = (flag + ", new") if flag else "new"
    return (
        escape_text(row.category),
        f"{count(row.pr_count)} ({pct(row.pr_rate, 1)})",
        f"{count(row.baseline_count)} ({pct(row.baseline_rate, 1)})",
        pp(row.delta, 1),
        flag,
    )


# --- issue 6: metrics, latency/tokens/cost, drift signals ----------------------------------

# Feedback keys are users' text: cap them like scenario names.
MAX_METRIC_NAME = 60


def _mean_cell(side: MeanSummary, decimals: int) -> str:
    if side.mean is None:
        return "n/a"
    if side.low is None or side.high is None:
        return fixed(side.mean, decimals)
    return (
        f"{fixed(side.mean, decimals)} ({fixed(side.low, decimals)}–{fixed(side.high, decimals)})"
    )


def relative(delta: float | None, base: float | None) -> str | None:
    """A change as a percentage of the baseline ('-8.9%'), None without a base."""
    if delta is None or not base:
        return None
    return f"{delta / abs(base):+.1%}"


def metric_change(metric: MetricComparison, decimals: int | None = None) -> str:
    """A metric's change, absolute and relative: '-0.081 (-8.9%)'."""
    digits = decimals_for((metric.pr.mean, metric.baseline.mean)) if decimals is None else decimals
    text = signed(metric.delta, digits)
    rel = relative(metric.delta, metric.baseline.mean)
    return f"{text} ({rel})" if rel and metric.delta else text


def _metric_cells(metric: MetricComparison) -> tuple[str, ...]:
    digits = decimals_for((metric.pr.mean, metric.baseline.mean))
    verdict = metric.verdict.value.replace("_", " ")
    if metric.verdict is MetricVerdict.NOT_COMPARABLE:
        verdict = "not comparable (no scenario scored on both sides)"
    elif metric.p is not None:
        verdict += f" (p {pvalue(metric.p)}, {plural(metric.pairs, 'scenario')})"
    if metric.verdict is MetricVerdict.REGRESSION:
        verdict = f"**{verdict}**"
    return (
        code_span(truncate(metric.key, MAX_METRIC_NAME)),
        _mean_cell(metric.pr, digits),
        _mean_cell(metric.baseline, digits),
        metric_change(metric, digits),
        verdict,
    )


_COST_NAMES = {
    CostMeasure.LATENCY_P50: "Latency p50",
    CostMeasure.LATENCY_P95: "Latency p95",
    CostMeasure.TOKENS: "Tokens per trial",
    CostMeasure.COST: "Cost per trial",
    CostMeasure.COST_TOTAL: "Cost per experiment",
}
# The opt-in budget that makes a measure fail the check (compare.decide_gate).
_BUDGETS = {
    CostMeasure.LATENCY_P95: "fail_on_latency_increase",
    CostMeasure.TOKENS: "fail_on_tokens_increase",
    CostMeasure.COST: "fail_on_cost_increase",
}


def _cost_scale(cost: CostDelta) -> tuple[float, str, str, int]:
    """(divisor, prefix, suffix, decimals) shared by one cost row's three numbers."""
    values = (cost.pr, cost.baseline)
    if cost.measure in (CostMeasure.LATENCY_P50, CostMeasure.LATENCY_P95):
        if max((abs(v) for v in values if v is not None), default=0.0) >= 1000:
            return 1000.0, "", " s", decimals_for(v / 1000 for v in values if v is not None)
        return 1.0, "", " ms", 0
    if cost.measure in (CostMeasure.COST, CostMeasure.COST_TOTAL):
        # LangSmith reports costs in US dollars.
        return 1.0, "$", "", decimals_for(values)
    return 1.0, "", "", decimals_for(values)


def _cost_text(cost: CostDelta, value: float | None, *, sign: bool = False) -> str:
    if value is None:
        return "n/a"
    divisor, prefix, suffix, digits = _cost_scale(cost)
    if sign:
        if value == 0:
            return "±0"
        return ("+" if value > 0 else "-") + prefix + fixed(abs(value) / divisor, digits) + suffix
    return prefix + fixed(value / divisor, digits) + suffix


def _cost_cells(cost: CostDelta) -> tuple[str, ...]:
    change = _cost_text(cost, cost.delta, sign=True)
    if cost.delta:
        change += " (new)" if cost.relative is None else f" ({cost.relative:+.0%})"
    note = "**fails the check**" if cost.gating else "notable" if cost.notable else ""
    return (
        _COST_NAMES[cost.measure],
        _cost_text(cost, cost.pr),
        _cost_text(cost, cost.baseline),
        change,
        note,
    )


_SIGNAL_NAMES = {
    DriftKind.ERROR_RATE: "Error rate",
    DriftKind.EMPTY_OUTPUT: "Empty outputs",
    DriftKind.OUTPUT_LENGTH: "Median output length",
    DriftKind.TOOL_SILENCE: "Trials without tool calls",
}


def _signal_change(signal: DriftSignal) -> str:
    if signal.kind is DriftKind.OUTPUT_LENGTH:
        return f"×{signal.change:.2f}"
    return pp(signal.change, 1)


def _signal_cells(signal: DriftSignal) -> tuple[str, ...]:
    if signal.kind is DriftKind.OUTPUT_LENGTH:
        pr_text = f"{fixed(signal.pr, 0)} chars"
        base_text = f"{fixed(signal.baseline, 0)} chars"
    else:
        pr_text = f"{pct(signal.pr, 1)} of {count(signal.pr_trials)}"
        base_text = f"{pct(signal.baseline, 1)} of {count(signal.baseline_trials)}"
    severity = signal.severity.value
    if signal.p is not None:
        severity += f" (p {pvalue(signal.p)})"
    if signal.severity is Severity.SEVERE:
        severity = f"**{severity}**"
    return (_SIGNAL_NAMES[signal.kind], pr_text, base_text, _signal_change(signal), severity)


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


def _beyond_parts(comparison: Comparison, name: Callable[[str], str]) -> list[str]:
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
                f"{_SIGNAL_SHORT[signal.kind]} {_signal_change(signal)} ({signal.severity.value})"
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
    parts = _beyond_parts(comparison, lambda key: code_span(truncate(key, MAX_METRIC_NAME)))
    return "**Beyond pass/fail:** " + " · ".join(parts) if parts else None


def _scenario_header(comparison: Comparison) -> tuple[str, ...]:
    runs = len(comparison.history) + 1
    # With history the baseline column holds the pooled window's counts.
    baseline = "Baseline" if runs == 1 else f"Baseline ({runs} runs)"
    return ("Verdict", "Scenario", "PR", baseline, "Δ")


def _attention_key(row: ScenarioComparison) -> tuple[int, float]:
    """Severity first, then the size of the move: the biggest drop (or gain) first."""
    delta = row.delta or 0.0
    if row.verdict is Verdict.IMPROVEMENT:
        return (row.verdict.severity, -delta)
    if row.verdict is Verdict.WATCH:
        return (row.verdict.severity, delta if delta < 0 else 2 - delta)
    return (row.verdict.severity, delta)


def _verdict_section(
    comparison: Comparison,
    verdict: Verdict,
    *,
    collapsed: bool,
    budget: int | None = None,
    size: Callable[[str], int] = len,
) -> Section:
    """The table of one verdict, most notable row first.

    With a ``budget``, cells are built only until the rows built so far
    measure more than it: a comment of ``budget`` characters cannot show the
    rest, and escaping 100,000 names to cut them again dominated rendering
    (issue 14). The rest are counted in ``unbuilt``.
    """
    rows = sorted(comparison.of(verdict), key=_attention_key)
    header = _scenario_header(comparison)
    align: tuple[str, ...] = ("l", "l", "r", "r", "r")
    if verdict is Verdict.INSUFFICIENT_DATA:
        header, align = header[:4], align[:4]
    width = len(header)
    built: list[tuple[str, ...]] = []
    used = 0
    for row in rows:
        if budget is not None and used > budget:
            break
        cells = _scenario_cells(row, comparison.pr)[:width]
        built.append(cells)
        if budget is not None:
            used += size(md_row(cells))
    return Section(
        id=verdict.value,
        title=_TITLES[verdict],
        header=header,
        rows=tuple(built),
        collapsed=collapsed,
        align=align,
        unbuilt=len(rows) - len(built),
    )


def _one_side_section(
    section_id: str, title: str, scenarios: Iterable[Scenario], bucket: Bucket
) -> Section:
    return Section(
        id=section_id,
        title=title,
        header=_ONE_SIDE_HEADER,
        rows=tuple(_one_side_cells(s, bucket) for s in scenarios),
        collapsed=True,
        align=("l", "r"),
    )


def build_sections(
    comparison: Comparison, *, row_budget: int | None = None, size: Callable[[str], int] = len
) -> dict[str, Section]:
    """Every table of the comment, keyed by section id, before any size cut.

    ``row_budget`` limits the rows built for the stable table (see
    ``_verdict_section``); only ``render_comment`` passes it.
    """
    sections = {v.value: _verdict_section(comparison, v, collapsed=False) for v in ATTENTION}
    sections["metrics"] = Section(
        id="metrics",
        title="Metrics",
        header=_METRICS_HEADER,
        rows=tuple(_metric_cells(m) for m in comparison.metrics),
        align=_NUMBERS,
    )
    sections["costs"] = Section(
        id="costs",
        title="Latency, tokens and cost",
        header=_COSTS_HEADER,
        rows=tuple(_cost_cells(c) for c in comparison.costs),
        align=_NUMBERS,
    )
    sections["signals"] = Section(
        id="signals",
        title="Drift signals",
        header=_SIGNALS_HEADER,
        rows=tuple(_signal_cells(d) for d in comparison.drift),
        collapsed=all(d.severity is Severity.NONE for d in comparison.drift),
        align=_NUMBERS,
    )
    # Notable and new categories first (shown), then the rest (folded).
    categories = sorted(comparison.categories, key=lambda c: not (c.notable or c.new))
    sections["categories"] = Section(
        id="categories",
        title="Failure-category drift",
        header=_DRIFT_HEADER,
        rows=tuple(_drift_cells(r) for r in categories),
        align=_NUMBERS,
        lead=sum(1 for c in categories if c.notable or c.new),
    )
    # Only the stable table: it is the large one, and the evidence table reuses the
    # cells of the others row for row.
    sections[Verdict.STABLE.value] = _verdict_section(
        comparison, Verdict.STABLE, collapsed=True, budget=row_budget, size=size
    )
    for verdict in (Verdict.UNRELIABLE_BASELINE, Verdict.INSUFFICIENT_DATA):
        sections[verdict.value] = _verdict_section(comparison, verdict, collapsed=True)
    sections["pr_only"] = _one_side_section(
        "pr_only", "Only in the PR experiment (not compared)", comparison.pr_only, comparison.pr
    )
    sections["baseline_only"] = _one_side_section(
        "baseline_only",
        "Only in the baseline experiment (missing from the PR)",
        comparison.baseline_only,
        comparison.baseline,
    )
    sections["evidence"] = _evidence_section(comparison, sections)
    return sections


# --- provenance ---------------------------------------------------------------------


def _trials_per_scenario(bucket: Bucket) -> str:
    counts = {s.total for s in bucket.scenarios.values()}
    if not counts:
        return "0"
    low, high = min(counts), max(counts)
    return count(low) if low == high else f"{count(low)}–{count(high)}"


_COMMIT_KEYS = ("commit", "head_sha", "git_sha", "revision_id")


def experiment_commit(bucket: Bucket) -> str | None:
    """The commit the experiment ran on, from its metadata (first of _COMMIT_KEYS)."""
    return next((str(bucket.metadata[k]) for k in _COMMIT_KEYS if bucket.metadata.get(k)), None)


def _provenance(bucket: Bucket, links: RunLinks | None = None) -> dict[str, Any]:
    commit = experiment_commit(bucket)
    branch = bucket.metadata.get("branch")
    return {
        "name": bucket.name,
        "url": bucket.url,
        "commit": commit[:12] if commit else None,
        "commit_link": commit_link(commit, links or RunLinks()),
        "branch": str(branch) if branch else None,
        "trials_per_scenario": _trials_per_scenario(bucket),
        "scenarios": len(bucket.scenarios),
        "unscored": bucket.unscored,
        "notes": list(bucket.notes),
    }


def _experiment_md(side: dict[str, Any]) -> str:
    """An experiment by name, linked when it has a URL; branch and commit after it."""
    text = link(escape_text(side["name"]), side["url"])
    if side["branch"]:
        text += f" on {code_span(side['branch'])}"
    if side["commit_link"]:
        text += f" at {side['commit_link']}"
    return text


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


def stale_warning(pr: Bucket, links: RunLinks, name: Callable[[str], str]) -> str | None:
    """Issue 13 §8: the PR experiment ran on another commit than the PR head.

    Silent when either SHA is unknown; a short SHA in the metadata matches a
    head that starts with it.
    """
    commit, head = experiment_commit(pr), links.head_sha
    if not commit or not head:
        return None
    a, b = commit.lower(), head.lower()
    if a.startswith(b) or b.startswith(a):
        return None
    return (
        f"The PR experiment ran on commit {name(commit)}, not on this PR's head "
        f"{name(head)}: its results may be stale. Re-run the evals on the head commit."
    )


# --- the headline: the gate speaks first (issue 13 §1) ----------------------------------


@dataclass(frozen=True, slots=True)
class Style:
    """How the headline marks names up: Markdown for the comment, plain for terminals."""

    name: Callable[[str], str]
    em: Callable[[str], str]
    strong: Callable[[str], str]
    sha: Callable[[str], str]


def _md_sha(sha: str) -> str:
    return code_span(sha[:7] if _SHA.fullmatch(sha) else sha, 12)


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
    sha=lambda sha: plain(sha[:7] if _SHA.fullmatch(sha) else sha, 12),
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
    ordered = sorted(rows, key=_attention_key)
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
        limit = getattr(comparison.thresholds.costs, _BUDGETS.get(cost.measure, ""), None)
        budget = f"budget +{limit:.0%}" if isinstance(limit, float) else "over budget"
        out.append(f"{_COST_NAMES[cost.measure].lower()} up {cost.relative or 0:.0%} ({budget})")
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
    hard = comparison.of(Verdict.HARD_REGRESSION)
    soft = comparison.of(Verdict.SOFT_REGRESSION)
    watch = comparison.of(Verdict.WATCH)
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
        plural(comparison.compared, "scenario")
        if comparison.low_coverage
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
    beyond = _beyond_parts(comparison, style.name)
    if beyond:
        return Headline(
            "WARNING",
            "⚠️",
            f"evalbot passes{disabled}",
            f"no regression across {across} ({rates}), "
            f"but {beyond[0]}" + (f" and {count(len(beyond) - 1)} more" if len(beyond) > 1 else ""),
            rates=True,
        )
    gains = comparison.count(Verdict.IMPROVEMENT)
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


def _counts(comparison: Comparison, *, include_stable: bool) -> list[str]:
    parts = []
    for verdict in sorted(Verdict, key=lambda v: v.severity):
        n = comparison.count(verdict)
        if n and (include_stable or verdict is not Verdict.STABLE):
            one, many = _COUNT_WORDS[verdict]
            parts.append(plural(n, one, many))
    if comparison.pr_only:
        parts.append(f"{count(len(comparison.pr_only))} only in the PR")
    if comparison.baseline_only:
        parts.append(f"{count(len(comparison.baseline_only))} only in the baseline")
    return parts


def _counts_line(comparison: Comparison) -> str:
    """'1 hard regression · 1 soft regression · … — 3 wins, 6 losses, 17 ties'.

    Non-zero verdict counts in severity order, then the win/loss/tie tally.
    """
    tally = comparison.win_loss
    return (
        " · ".join(_counts(comparison, include_stable=True) or ["no scenarios compared"])
        + f" — {plural(tally.wins, 'win')}, {plural(tally.losses, 'loss', 'losses')}, "
        + plural(tally.ties, "tie")
    )


# --- what next (issue 13 §7) ------------------------------------------------------------


def what_next(outcome: Outcome, gate: Gate, compare: str | None = None) -> str:
    """One line on what to do about this outcome (Markdown; ``compare`` is a link or None)."""
    where = f"in LangSmith ({compare})" if compare else "in LangSmith"
    if isinstance(outcome, FetchFailed):
        return (
            "re-run the job once LangSmith answers; if it keeps failing, check the endpoint, "
            "the API key and the experiment name."
        )
    if isinstance(outcome, NoBaseline):
        return (
            "create a baseline: run the eval suite on the base branch (for example on every "
            "push to `main`) with metadata the baseline search matches, or name a baseline "
            "experiment explicitly."
        )
    if isinstance(outcome, SelfBaseline):
        return "nothing to do; pull requests will compare against this run."
    if isinstance(outcome, NothingCompared):
        return (
            "fix what *Check that* points to (scenario key, dataset, pass key), then re-run "
            "the evals; until then this check says nothing about regressions."
        )
    comparison = outcome.comparison
    flagged = any(comparison.count(v) for v in (Verdict.HARD_REGRESSION, Verdict.SOFT_REGRESSION))
    if gate.failed:
        if flagged:
            return (
                f"open the regressed scenarios {where}, then fix them or explain them "
                "in the PR; the check runs again with the next eval run."
            )
        broad = (
            f"look for a cause shared by many scenarios {where} (prompt, model, tools); "
            "no single scenario dropped enough on its own"
        )
        test = comparison.aggregate_test
        if any(cost.gating for cost in comparison.costs):
            if test is not None and test.gating and test.significant:
                return f"{broad}; and bring latency, tokens or cost back under the budget."
            return "bring latency, tokens or cost back under the budget, or raise the budget."
        return broad + "."
    if flagged:
        return f"look at the regressed scenarios {where} before merging."
    if comparison.count(Verdict.WATCH):
        return (
            "these swings may be noise: add repetitions (or baseline history) to tell; "
            "see *How sure we are*."
        )
    if _beyond_parts(comparison, str):
        return "check *Beyond pass/fail* below before merging."
    if comparison.low_coverage:
        return (
            "run the PR's evals on the baseline's scenarios (see *Other scenarios*: missing "
            "from the PR or without trials on one side); this check says nothing about them."
        )
    return "nothing to do."


# --- how sure we are: the statistics live here only -------------------------------------


def power_lines(comparison: Comparison) -> list[str]:
    """The power statement: the single place it is rendered (the report holds the value)."""
    power = comparison.power
    if power is None:
        return []
    text = f"Power: {power_text.statement(power)}"
    advice = power_text.suggestion(power)
    if advice:
        text += f"; {advice}"
    return [text + "."]


def statistics_lines(comparison: Comparison) -> list[str]:
    """How sure we are, in a few sentences: rates, the budget α (once), the tests, the power."""
    lines = []
    thresholds = comparison.thresholds
    agg = comparison.aggregate
    tally = comparison.win_loss
    lines.append(
        f"Pass rate {pct(agg.pr.rate, 1)} (95% CI {pct(agg.pr.low, 1)}–{pct(agg.pr.high, 1)}) "
        f"on this PR vs {pct(agg.baseline.rate, 1)} ({pct(agg.baseline.low, 1)}–"
        f"{pct(agg.baseline.high, 1)}) on the baseline, {pp(agg.delta, 1)} over "
        f"{plural(agg.scenarios, 'shared scenario')}; the PR passes more often in "
        f"{plural(tally.wins, 'scenario')}, less often in {count(tally.losses)}, equally in "
        f"{count(tally.ties)}."
    )
    lines.append(
        f"Trials per scenario: {_trials_per_scenario(comparison.pr)} on the PR, "
        f"{_trials_per_scenario(comparison.baseline)} on the baseline"
        + (
            f"; baseline window of {count(len(comparison.history) + 1)} runs of the base "
            "branch, each scenario pooled over the recent runs consistent with the latest."
            if comparison.history
            else "."
        )
    )
    if thresholds.correction is Correction.BH:
        lines.append(
            f"False-alarm budget α = {thresholds.alpha:g}, split between the scenarios and the "
            f"aggregate test. Hard and soft regressions must pass Benjamini–Hochberg correction "
            f"(q ≤ {thresholds.alpha - thresholds.aggregate_alpha:g}) over the "
            f"{plural(comparison.family_size, 'scenario')} that can reach significance, "
            "improvements the same correction in the other direction; watch and unreliable "
            "baseline are informational."
        )
    else:
        lines.append(
            f"No multiplicity correction: each scenario is tested alone at "
            f"p ≤ {thresholds.hard.max_p:g} (correction: none)."
        )
    test = comparison.aggregate_test
    if test is not None and test.method != "none":
        lines.append(_aggregate_line(test))
    lines.extend(power_lines(comparison))
    return lines


def _aggregate_line(test: AggregateTest) -> str:
    """The suite-level test in words: the PR's pass rate against what the baseline runs
    predict, and on what basis (compare._aggregate_test)."""
    verdict = (
        "**significant: a broad regression across scenarios**"
        if test.significant
        else "not significant"
    )
    role = "" if test.gating else " (informational: correction is none)"
    if test.method == "margin":
        basis = (
            f"{plural(test.runs, 'baseline run')}, too few to measure how runs vary, so the "
            f"drop must exceed {100 * (test.margin or 0):.1f} pp"
        )
    else:
        how = "the trend at the latest" if test.trend else "the mean"
        if test.latest_outlier:
            how = "the lower of the latest and the others"
        basis = (
            f"{how} of {plural(test.runs, 'baseline run')}, which vary by "
            f"{100 * (test.spread or 0):.1f} pp from run to run"
        )
    expected = "n/a" if test.baseline_level is None else pct(test.baseline_level, 1)
    actual = "n/a" if test.pr_rate is None else pct(test.pr_rate, 1)
    return (
        f"Aggregate test across scenarios: suite pass rate {actual} vs {expected} expected "
        f"from {basis}; {p_is(test.p)}, {verdict} at its share of α ({test.alpha:g}){role}."
    )


def _evidence_section(comparison: Comparison, sections: dict[str, Section]) -> Section:
    """p and q per flagged scenario (folded under How sure we are).

    Reuses the scenario cells of the verdict sections (same order), so no name
    is escaped twice.
    """
    rows = []
    for verdict in (*ATTENTION, Verdict.UNRELIABLE_BASELINE):
        ordered = sorted(comparison.of(verdict), key=_attention_key)
        for row, cells in zip(ordered, sections[verdict.value].rows, strict=True):
            q = "" if row.q is None else pvalue(row.q)
            rows.append((cells[1], cells[0], pvalue(shown_p(row)), q))
    return Section(
        id="evidence",
        title="Evidence per flagged scenario",
        header=("Scenario", "Verdict", "p", "q"),
        rows=tuple(rows),
        align=("l", "l", "r", "r"),
    )


# --- the chart (issue 13 §6) ----------------------------------------------------------

MIN_CHART_RUNS = 3


def chart_points(comparison: Comparison) -> list[tuple[str, float]]:
    """(label, pass rate in %) per baseline run, oldest first, then the PR; [] when the
    history has fewer than MIN_CHART_RUNS runs."""
    if comparison.trend is None or len(comparison.trend.points) < MIN_CHART_RUNS:
        return []
    points = [*comparison.trend.points, *points_from_buckets([comparison.pr])]
    n = len(points) - 1
    out = []
    for i, point in enumerate(points):
        if point.rate is None:
            continue
        label = "PR" if i == n else f"-{n - i}"
        out.append((label, round(point.rate * 100, 1)))
    return out


def mermaid_chart(points: Sequence[tuple[str, float]]) -> str | None:
    """A Mermaid ``xychart-beta`` line of the pass rates (GitHub renders Mermaid in comments).

    Only evalbot's own labels and numbers go in: no user text inside the diagram.
    """
    if not points:
        return None
    labels = ", ".join(f'"{label}"' for label, _ in points)
    values = ", ".join(f"{value:.1f}" for _, value in points)
    return (
        "```mermaid\nxychart-beta\n"
        '    x-axis "runs ago" [' + labels + "]\n"
        '    y-axis "pass rate (%)" 0 --> 100\n'
        f"    line [{values}]\n```"
    )


def text_chart(points: Sequence[tuple[str, float]]) -> str | None:
    """The plain-text fallback: 'pass rate by run: -4 86.4% · … · PR 80.7%'."""
    if not points:
        return None
    return "pass rate by run: " + " · ".join(f"{label} {value:.1f}%" for label, value in points)


# --- the view model --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fold:
    """A folded part of the comment (a ``<details>``; a heading in the job summary)."""

    id: str
    title: str
    sections: tuple[str, ...] = ()  # ids of the tables inside, in order
    lines: tuple[str, ...] = ()  # Markdown paragraphs before the tables


@dataclass(frozen=True, slots=True)
class View:
    """Everything the default template lays out, in reading order."""

    headline: Headline
    summary: str | None = None
    stale: str | None = None
    what_next: str = ""
    body: tuple[str, ...] = ()  # paragraphs for outcomes without a comparison
    attention: tuple[str, ...] = ()  # section ids of the one "needs attention" table
    beyond: str | None = None
    provenance: str | None = None
    notes: tuple[str, ...] = ()
    folds: tuple[Fold, ...] = ()
    chart: str | None = None
    chart_title: str | None = None
    folded: bool = True  # False in the job summary: every section unfolded
    more_where: str = "in the job summary and the JSON report"
    truncated_note: str = ""


def _folds(comparison: Comparison, sections: dict[str, Section]) -> tuple[Fold, ...]:
    folds = []
    beyond = [
        (sid, f"{sections[sid].total} {word}")
        for sid, word in (
            ("metrics", "metrics" if len(comparison.metrics) != 1 else "metric"),
            ("costs", "latency, tokens and cost"),
            ("signals", "drift signals" if len(comparison.drift) != 1 else "drift signal"),
        )
        if sections[sid].total
    ]
    if beyond:
        folds.append(
            Fold(
                "beyond",
                "Beyond pass/fail: " + " · ".join(title for _, title in beyond),
                tuple(sid for sid, _ in beyond),
            )
        )
    if sections["categories"].total:
        notable = sum(1 for c in comparison.categories if c.notable)
        new = sum(1 for c in comparison.categories if c.new)
        parts = [p for p in (f"{notable} notable" if notable else "", f"{new} new" if new else "")]
        detail = ", ".join(p for p in parts if p)
        folds.append(
            Fold(
                "categories",
                f"Failure categories ({count(sections['categories'].total)}"
                + (f": {detail})" if detail else ")"),
                ("categories",),
            )
        )
    others = [
        ("stable", "stable"),
        ("unreliable_baseline", "unreliable baseline"),
        ("insufficient_data", "without data"),
        ("pr_only", "only in the PR"),
        ("baseline_only", "only in the baseline"),
    ]
    present = [(sid, word) for sid, word in others if sections[sid].total]
    if present:
        folds.append(
            Fold(
                "scenarios",
                "Other scenarios: "
                + " · ".join(f"{count(sections[sid].total)} {word}" for sid, word in present),
                tuple(sid for sid, _ in present),
            )
        )
    return tuple(folds)


def _side_notes(pr: dict[str, Any], baseline: dict[str, Any]) -> tuple[str, ...]:
    """Unscored trials and completeness notes of each side, one paragraph each."""
    notes = []
    for name, side in (("PR", pr), ("Baseline", baseline)):
        if side["unscored"]:
            notes.append(
                f"{name}: {plural(side['unscored'], 'trial')} unscored (evaluator error or no "
                "score), left out of the pass rates."
            )
        notes.extend(f"{name} experiment {escape_text(n, 200)}." for n in side["notes"])
    return tuple(notes)


# The tables a nothing_compared comment can show: no verdict or statistic means anything.
NOTHING_COMPARED_SECTIONS = ("insufficient_data", "pr_only", "baseline_only")


def _nothing_view(
    outcome: NothingCompared,
    gate: Gate,
    head: Headline,
    sections: dict[str, Section],
    *,
    links: RunLinks,
    run: str | None,
) -> View:
    """nothing_compared (issue 11 §5): what each side held, the likely causes, what to check."""
    comparison = outcome.comparison
    pr, baseline = _provenance(comparison.pr, links), _provenance(comparison.baseline, links)
    found = (
        f"**Found:** PR {_experiment_md(pr)} ({plural(pr['scenarios'], 'scenario')}) and "
        f"baseline {_experiment_md(baseline)} ({plural(baseline['scenarios'], 'scenario')}): "
        f"{count(len(comparison.scenarios))} shared, none with trials on both sides; "
        f"{count(len(comparison.pr_only))} only in the PR, "
        f"{count(len(comparison.baseline_only))} only in the baseline."
    )
    policy = (
        "The check fails because `on_fetch_failure` is `fail`."
        if gate.failed
        else "The check passes because `on_fetch_failure` is `neutral`, but it says nothing "
        "about regressions."
    )
    causes = "**Likely causes:**\n" + "\n".join(
        f"- {cause}" for cause in nothing_compared_causes(comparison)
    )
    checks = "**Check that:**\n" + "\n".join(f"- {check}" for check in NOTHING_COMPARED_CHECKS)
    present = [sid for sid in NOTHING_COMPARED_SECTIONS if sections[sid].total]
    words = {"insufficient_data": "without data", "pr_only": "only in the PR"}
    folds = (
        (
            Fold(
                "scenarios",
                "Scenarios: "
                + " · ".join(
                    f"{count(sections[sid].total)} {words.get(sid, 'only in the baseline')}"
                    for sid in present
                ),
                tuple(present),
            ),
        )
        if present
        else ()
    )
    compare = compare_url(comparison.pr, comparison.baseline)
    parts = [link("compare the experiments", compare)] if compare else []
    if run:
        parts.append(run)
    return View(
        headline=head,
        stale=stale_warning(comparison.pr, links, MARKDOWN.sha),
        what_next=what_next(outcome, gate),
        body=(policy, found, causes, checks),
        provenance=" · ".join(parts) or None,
        notes=_side_notes(pr, baseline),
        folds=folds,
    )


def build_view(
    outcome: Outcome,
    gate: Gate,
    *,
    sections: dict[str, Section],
    links: RunLinks,
    selection: str | None = None,
    folded: bool = True,
) -> View:
    """The default template's view model: one branch per outcome kind."""
    head = headline(outcome, gate, MARKDOWN)
    if folded:
        more = (
            f"in the [job summary]({safe_url(links.run_url)})"
            if safe_url(links.run_url)
            else "in the job summary"
        ) + " and the JSON report"
        note = (
            "This comment was shortened to fit GitHub's 65,536-character limit; "
            f"every row is {more}."
        )
    else:
        report = code_span(links.report_path, 200) if links.report_path else "file"
        more = f"in the JSON report {report}"
        note = f"This summary was cut to fit GitHub's 1 MiB job-summary limit; every row is {more}."
    run = link("workflow run", links.run_url) if safe_url(links.run_url) else None
    if isinstance(outcome, NothingCompared):
        return replace(
            _nothing_view(outcome, gate, head, sections, links=links, run=run),
            folded=folded,
            more_where=more,
            truncated_note=note,
        )
    if not isinstance(outcome, Ok):
        body: list[str] = []
        if isinstance(outcome, FetchFailed):
            body.append(
                "The check fails because `on_fetch_failure` is `fail`."
                if gate.failed
                else "The check passes because `on_fetch_failure` is `neutral`, but it says "
                "nothing about regressions."
            )
        provenance = None
        if isinstance(outcome, NoBaseline | SelfBaseline):
            side = _provenance(outcome.pr, links)
            provenance = (
                f"PR experiment {_experiment_md(side)}, {plural(side['scenarios'], 'scenario')}"
            )
        stale = None
        if isinstance(outcome, NoBaseline | SelfBaseline):
            stale = stale_warning(outcome.pr, links, MARKDOWN.sha)
        if run:
            provenance = f"{provenance} · {run}" if provenance else run
        return View(
            headline=head,
            stale=stale,
            what_next=what_next(outcome, gate),
            body=tuple(body),
            provenance=provenance,
            folded=folded,
            more_where=more,
            truncated_note=note,
        )
    comparison = outcome.comparison
    compare = compare_url(comparison.pr, comparison.baseline)
    compare_md = link("compare the experiments", compare) if compare else None
    pr, baseline = _provenance(comparison.pr, links), _provenance(comparison.baseline, links)
    age = baseline_age(comparison.pr, comparison.baseline)
    parts = [f"PR {_experiment_md(pr)}", f"baseline {_experiment_md(baseline)}"]
    if age:
        parts[-1] += f", {age.replace(' than the PR experiment', '')}"
    if selection:
        parts.append(f"baseline {escape_text(selection, 300)}")
    if compare_md:
        parts.append(compare_md)
    if run:
        parts.append(run)
    notes = _side_notes(pr, baseline)
    points = chart_points(comparison)
    branch = comparison.baseline.metadata.get("branch")
    return View(
        headline=head,
        summary=summary_line(comparison, rates=not head.rates),
        stale=stale_warning(comparison.pr, links, MARKDOWN.sha),
        what_next=what_next(outcome, gate, compare_md),
        attention=tuple(v.value for v in ATTENTION if sections[v.value].total),
        beyond=beyond_line(comparison),
        provenance=" · ".join(parts),
        notes=tuple(notes),
        folds=_folds(comparison, sections),
        chart=mermaid_chart(points),
        chart_title=(
            f"Pass rate over the last {plural(len(points) - 1, 'baseline run')}"
            + (" on the base branch" if branch else "")
            + " and this PR"
            + (f" ({comparison.trend.direction.value})" if comparison.trend else "")
        )
        if points
        else None,
        folded=folded,
        more_where=more,
        truncated_note=note,
    )


def comment_context(
    outcome: Outcome,
    gate: Gate,
    *,
    comment_key: str,
    reproduce: str,
    selection: str | None = None,
    links: RunLinks | None = None,
    folded: bool = True,
    row_budget: int | None = None,
    size: Callable[[str], int] = len,
) -> dict[str, Any]:
    """The variables every comment template receives (documented in the README).

    ``row_budget`` and ``size``: see ``build_sections``.
    """
    links = links or RunLinks()
    context: dict[str, Any] = {
        "marker": marker(comment_key),
        "outcome": outcome.kind.value,
        "gate": gate,
        "version": __version__,
        "reproduce": reproduce,
        "sections": {},
        "truncated": False,
        "selection": selection,
        "links": links,
    }
    if isinstance(outcome, Ok):
        comparison = outcome.comparison
        context.update(
            comparison=comparison,
            aggregate=comparison.aggregate,
            counts={v.value: comparison.count(v) for v in Verdict},
            counts_line=_counts_line(comparison),
            coverage_line=coverage_line(comparison),
            pr=_provenance(comparison.pr, links),
            baseline=_provenance(comparison.baseline, links),
            baseline_age=baseline_age(comparison.pr, comparison.baseline),
            sections=build_sections(comparison, row_budget=row_budget, size=size),
            statistics=statistics_lines(comparison),
            beyond_line=beyond_line(comparison),
            # Kept for templates written before the chart (issue 13): a sparkline line.
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
            pr=_provenance(comparison.pr, links),
            baseline=_provenance(comparison.baseline, links),
            shared=len(comparison.scenarios),
            pr_only=len(comparison.pr_only),
            baseline_only=len(comparison.baseline_only),
            causes=nothing_compared_causes(comparison),
            checks=list(NOTHING_COMPARED_CHECKS),
            sections={k: sections[k] for k in NOTHING_COMPARED_SECTIONS},
            # A custom template written before this outcome existed treats any
            # unknown outcome as fetch_failed and prints `error`: give it one.
            error=reason,
        )
    elif isinstance(outcome, NoBaseline):
        context.update(pr=_provenance(outcome.pr, links), searched=outcome.searched)
    elif isinstance(outcome, FetchFailed):
        context.update(error=outcome.error)
    else:
        context.update(pr=_provenance(outcome.pr, links))
    view = build_view(
        outcome,
        gate,
        sections=context["sections"],
        links=links,
        selection=selection,
        folded=folded,
    )
    context.update(view=view, alert=view.headline.alert)
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


MAX_TEMPLATE_BYTES = 2**20


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
        if not os.path.exists(real):
            raise jinja2.TemplateNotFound(template)
        # Read like every user-named file: a FIFO would block open() forever and
        # a device never ends (local_files); a template is a few kilobytes.
        source = read_limited_text(real, limit=MAX_TEMPLATE_BYTES, kind="template")
        mtime = os.path.getmtime(real)
        return source, real, lambda: os.path.getmtime(real) == mtime


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


def _make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The one place the Jinja environment is built (sandbox, options and filters)."""
    env = _Sandbox(
        loader=loader,
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


@lru_cache(maxsize=8)
def _environment(user_dir: str | None, entry: str | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(_builtin_dir())]
    if user_dir is not None and entry is not None:
        loaders.insert(0, _TemplateDirLoader(user_dir, entry))
    return _make_environment(jinja2.ChoiceLoader(loaders))


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


_BLANK_RUNS = re.compile(r"\n{3,}")


def _render(template: jinja2.Template, context: dict[str, Any], name: str, *, user: bool) -> str:
    try:
        text = template.render(context)
        # The built-in template's blocks leave runs of blank lines; one is enough
        # in Markdown (it has no code block with blank lines; a user's might).
        return text if user else _BLANK_RUNS.sub("\n\n", text)
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
            section,
            rows=tuple(rows),
            omitted=section.omitted + section.unbuilt + section.shown - len(rows),
            lead=min(section.lead, len(rows)),
            unbuilt=0,
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
    links: RunLinks | None = None,
    summary: bool = False,
    max_chars: int = GITHUB_COMMENT_LIMIT,
    size: Callable[[str], int] = len,
) -> str:
    """The PR comment as Markdown, at most ``max_chars`` as measured by ``size``.

    ``size`` is ``len`` for GitHub's comment limit (characters); the job
    summary passes a UTF-8 byte count, since its 1 MiB limit is in bytes.
    With ``summary`` the view is the job summary's: every section unfolded,
    and rows cut for size point to the JSON report rather than to itself.

    The first line is the hidden marker for ``comment_key``; it is checked
    after rendering so a custom template cannot silently break in-place
    updates.
    """
    compiled = _load_template(template)
    name = str(template or COMMENT_TEMPLATE)
    user = template is not None

    def fit(row_budget: int | None) -> tuple[str, dict[str, Any]]:
        context = comment_context(
            outcome,
            gate,
            comment_key=comment_key,
            reproduce=reproduce,
            selection=selection,
            links=links,
            folded=not summary,
            row_budget=row_budget,
            size=size,
        )
        return _fit(compiled, context, name, user=user, max_chars=max_chars, size=size), context

    # The built-in template prints each row as md_row(cells), so rows beyond
    # max_chars of the stable table cannot change the cut: the cut is the same
    # with them unbuilt, as long as it reaches that table (then the first pass
    # had cut every section before it). When it does not — or with a user's
    # template, which may print rows otherwise — every row is built after all.
    body, context = fit(None if user else max_chars)
    if any(s.unbuilt for s in context["sections"].values()):
        body, context = fit(None)
    if size(body) > max_chars:
        raise InputError(
            f"template: {name}: the comment is {size(body)} characters even with every table "
            f"cut; GitHub accepts at most {max_chars}"
        )
    if not starts_with_marker(body, context["marker"]):
        raise InputError(f"template: {name}: the first line must be {{{{ marker }}}}")
    return body


def _fit(
    compiled: jinja2.Template,
    context: dict[str, Any],
    name: str,
    *,
    user: bool,
    max_chars: int,
    size: Callable[[str], int],
) -> str:
    """The comment rendered from ``context``, its tables cut until it fits ``max_chars``.

    Updates ``context`` (sections, truncated) as it cuts.
    """
    body = _render(compiled, context, name, user=user)
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
        body = _render(compiled, context, name, user=user)
        reserve *= 2
        if all(not s.rows for s in context["sections"].values()):
            break
    return body


_NEVER_COLLAPSED = frozenset({Verdict.HARD_REGRESSION.value, Verdict.SOFT_REGRESSION.value})


def is_notable(outcome: Outcome, gate: Gate) -> bool:
    """False only for a clean pass (the TIP comment): ``comment_when: notable`` skips it."""
    return headline(outcome, gate).alert != "TIP"


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
    beyond = _beyond_parts(comparison, lambda key: plain(key, MAX_METRIC_NAME))
    if beyond:
        lines.append("beyond pass/fail: " + " · ".join(beyond))
    chart = text_chart(chart_points(comparison))
    if chart:
        lines.append(chart)
    flagged = sorted(
        (r for r in comparison.scenarios if r.verdict is not Verdict.STABLE),
        key=_attention_key,
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
