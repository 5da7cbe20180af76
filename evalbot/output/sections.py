"""The comment's tables: which rows each holds, in what order, built up to a size budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from evalbot.core.models import (
    Bucket,
    Comparison,
    Scenario,
    ScenarioComparison,
    Severity,
    Verdict,
)
from evalbot.output.cells import (
    cost_cells,
    drift_cells,
    metric_cells,
    one_side_cells,
    scenario_cells,
    shown_p,
    signal_cells,
)
from evalbot.output.formatting import md_row, md_rule, pvalue
from evalbot.output.tally import tally

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


def _scenario_header(comparison: Comparison) -> tuple[str, ...]:
    runs = len(comparison.history) + 1
    # With history the baseline column holds the pooled window's counts.
    baseline = "Baseline" if runs == 1 else f"Baseline ({runs} runs)"
    return ("Verdict", "Scenario", "PR", baseline, "Δ")


def _drop(row: ScenarioComparison) -> float:
    return row.delta or 0.0


def _gain(row: ScenarioComparison) -> float:
    return -(row.delta or 0.0)


def _swing(row: ScenarioComparison) -> float:
    delta = row.delta or 0.0
    return delta if delta < 0 else 2 - delta


# Within one verdict: the biggest drop first (the biggest gain for improvements;
# drops, then the largest gains, for watch).
_MOVE_KEYS: dict[Verdict, Callable[[ScenarioComparison], float]] = {
    Verdict.IMPROVEMENT: _gain,
    Verdict.WATCH: _swing,
}


def attention_key(row: ScenarioComparison) -> tuple[int, float]:
    """Severity first, then the size of the move: the biggest drop (or gain) first."""
    return (row.verdict.severity, _MOVE_KEYS.get(row.verdict, _drop)(row))


def by_attention(verdict: Verdict, rows: Iterable[ScenarioComparison]) -> list[ScenarioComparison]:
    """Rows of one ``verdict`` in :func:`attention_key` order.

    Without the severity, which is the same for every row: the stable table
    sorts 100,000 rows at that scale (issue 14).
    """
    return sorted(rows, key=_MOVE_KEYS.get(verdict, _drop))


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
    rows = by_attention(verdict, tally(comparison).of(verdict))
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
        cells = scenario_cells(row, comparison.pr)[:width]
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
        rows=tuple(one_side_cells(s, bucket) for s in scenarios),
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
        rows=tuple(metric_cells(m) for m in comparison.metrics),
        align=_NUMBERS,
    )
    sections["costs"] = Section(
        id="costs",
        title="Latency, tokens and cost",
        header=_COSTS_HEADER,
        rows=tuple(cost_cells(c) for c in comparison.costs),
        align=_NUMBERS,
    )
    sections["signals"] = Section(
        id="signals",
        title="Drift signals",
        header=_SIGNALS_HEADER,
        rows=tuple(signal_cells(d) for d in comparison.drift),
        collapsed=all(d.severity is Severity.NONE for d in comparison.drift),
        align=_NUMBERS,
    )
    # Notable and new categories first (shown), then the rest (folded).
    categories = sorted(comparison.categories, key=lambda c: not (c.notable or c.new))
    sections["categories"] = Section(
        id="categories",
        title="Failure-category drift",
        header=_DRIFT_HEADER,
        rows=tuple(drift_cells(r) for r in categories),
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


def _evidence_section(comparison: Comparison, sections: dict[str, Section]) -> Section:
    """p and q per flagged scenario (folded under How sure we are).

    Reuses the scenario cells of the verdict sections (same order), so no name
    is escaped twice.
    """
    rows = []
    for verdict in (*ATTENTION, Verdict.UNRELIABLE_BASELINE):
        ordered = by_attention(verdict, tally(comparison).of(verdict))
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
