"""How sure we are, in words: the statistics lines, the power statement, the pass-rate chart."""

from __future__ import annotations

from collections.abc import Sequence

from evalbot.core.models import (
    AggregateTest,
    Comparison,
    Correction,
)
from evalbot.core.trend import points_from_buckets
from evalbot.output import power_text
from evalbot.output.formatting import count, p_is, pct, plural, pp
from evalbot.output.provenance import trials_per_scenario

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
        f"Trials per scenario: {trials_per_scenario(comparison.pr)} on the PR, "
        f"{trials_per_scenario(comparison.baseline)} on the baseline"
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
