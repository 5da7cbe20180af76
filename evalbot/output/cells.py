"""The cells of each comment table, one function per kind of row, untrusted text escaped."""

from __future__ import annotations

from fractions import Fraction
from urllib.parse import quote

from evalbot.core.models import (
    Bucket,
    CategoryDrift,
    CostDelta,
    CostMeasure,
    DriftKind,
    DriftSignal,
    MeanSummary,
    MetricComparison,
    MetricVerdict,
    Scenario,
    ScenarioComparison,
    Severity,
    Verdict,
)
from evalbot.output.formatting import (
    count,
    decimals_for,
    fixed,
    link,
    pct,
    plural,
    pp,
    pvalue,
    signed,
    trials,
)
from evalbot.output.markdown import code_span, escape_text
from evalbot.text import truncate

VERDICT_CELL = {
    Verdict.HARD_REGRESSION: "❌ hard",
    Verdict.SOFT_REGRESSION: "⚠️ soft",
    Verdict.IMPROVEMENT: "✅ better",
    Verdict.WATCH: "👀 watch",
    Verdict.STABLE: "stable",
    Verdict.UNRELIABLE_BASELINE: "unreliable",
    Verdict.INSUFFICIENT_DATA: "no data",
}


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


def scenario_cells(row: ScenarioComparison, pr: Bucket) -> tuple[str, ...]:
    """A scenario row: verdict, linked name, PR and baseline trials, change in points."""
    return (
        VERDICT_CELL[row.verdict],
        link(escape_text(row.label or row.key), scenario_url(pr, row.key)),
        trials(row.pr),
        trials(row.pooled or row.baseline),
        pp(row.delta),
    )


def one_side_cells(scenario: Scenario, bucket: Bucket) -> tuple[str, ...]:
    """A one-sided scenario row: linked name and trials."""
    return (
        link(escape_text(scenario.display), scenario_url(bucket, scenario.key)),
        trials(scenario),
    )


def drift_cells(row: CategoryDrift) -> tuple[str, ...]:
    """A failure-category row: counts and rates on each side, change, note."""
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


def metric_cells(metric: MetricComparison) -> tuple[str, ...]:
    """A metric row: means with intervals, change, verdict (bold for a regression)."""
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


COST_NAMES = {
    CostMeasure.LATENCY_P50: "Latency p50",
    CostMeasure.LATENCY_P95: "Latency p95",
    CostMeasure.TOKENS: "Tokens per trial",
    CostMeasure.COST: "Cost per trial",
    CostMeasure.COST_TOTAL: "Cost per experiment",
}
# The opt-in budget that makes a measure fail the check (compare.decide_gate).
BUDGETS = {
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


def cost_cells(cost: CostDelta) -> tuple[str, ...]:
    """A latency, tokens or cost row, in the measure's own unit."""
    change = _cost_text(cost, cost.delta, sign=True)
    if cost.delta:
        change += " (new)" if cost.relative is None else f" ({cost.relative:+.0%})"
    note = "**fails the check**" if cost.gating else "notable" if cost.notable else ""
    return (
        COST_NAMES[cost.measure],
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


def signal_change(signal: DriftSignal) -> str:
    """A drift signal's change: a ratio for output length, points otherwise."""
    if signal.kind is DriftKind.OUTPUT_LENGTH:
        return f"×{signal.change:.2f}"
    return pp(signal.change, 1)


def signal_cells(signal: DriftSignal) -> tuple[str, ...]:
    """A drift-signal row: each side, change, severity (bold when severe)."""
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
    return (_SIGNAL_NAMES[signal.kind], pr_text, base_text, signal_change(signal), severity)
