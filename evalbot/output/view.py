"""The view model the default template lays out: one View per outcome kind, and its context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from evalbot import __version__
from evalbot.core.models import (
    Comparison,
    FetchFailed,
    Gate,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    SelfBaseline,
    Verdict,
)
from evalbot.output.advice import NOTHING_COMPARED_CHECKS, nothing_compared_causes, what_next
from evalbot.output.cells import compare_url
from evalbot.output.formatting import count, link, plural, safe_url
from evalbot.output.headline import (
    MARKDOWN,
    Headline,
    beyond_line,
    counts_line,
    coverage_line,
    headline,
    summary_line,
)
from evalbot.output.markdown import code_span, escape_text
from evalbot.output.provenance import (
    RunLinks,
    baseline_age,
    experiment_facts,
    experiment_md,
    stale_warning,
)
from evalbot.output.sections import ATTENTION, Section, build_sections
from evalbot.output.statistics_text import chart_points, mermaid_chart, statistics_lines
from evalbot.output.tally import tally
from evalbot.output.trend_text import render_trend_line
from evalbot.text import comment_marker as marker

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
    pr, baseline = (
        experiment_facts(comparison.pr, links),
        experiment_facts(comparison.baseline, links),
    )
    found = (
        f"**Found:** PR {experiment_md(pr)} ({plural(pr['scenarios'], 'scenario')}) and "
        f"baseline {experiment_md(baseline)} ({plural(baseline['scenarios'], 'scenario')}): "
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
            side = experiment_facts(outcome.pr, links)
            provenance = (
                f"PR experiment {experiment_md(side)}, {plural(side['scenarios'], 'scenario')}"
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
    pr, baseline = (
        experiment_facts(comparison.pr, links),
        experiment_facts(comparison.baseline, links),
    )
    age = baseline_age(comparison.pr, comparison.baseline)
    parts = [f"PR {experiment_md(pr)}", f"baseline {experiment_md(baseline)}"]
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
    """The variables every comment template receives (documented in docs/comment.md).

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
            counts={v.value: tally(comparison).count(v) for v in Verdict},
            counts_line=counts_line(comparison),
            coverage_line=coverage_line(comparison),
            pr=experiment_facts(comparison.pr, links),
            baseline=experiment_facts(comparison.baseline, links),
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
            pr=experiment_facts(comparison.pr, links),
            baseline=experiment_facts(comparison.baseline, links),
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
        context.update(pr=experiment_facts(outcome.pr, links), searched=outcome.searched)
    elif isinstance(outcome, FetchFailed):
        context.update(error=outcome.error)
    else:
        context.update(pr=experiment_facts(outcome.pr, links))
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
