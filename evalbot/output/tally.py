"""A comparison's rows grouped by verdict, in one pass, once per comparison.

``Comparison.count`` and ``Comparison.of`` scan every row on each call; the
comment asks them dozens of times (headline, counts line, what next, each
table), which at 100,000 scenarios was most of the rendering time (issue 14).
The renderer and the report ask :func:`tally` instead: the grouping is done
once and kept for the comparison last asked about. Row order is report order,
as ``Comparison.of`` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Lock

from evalbot.core.models import Comparison, ScenarioComparison, Verdict


@dataclass(frozen=True, slots=True)
class Tally:
    """Rows per verdict, and how many shared scenarios had trials on both sides."""

    rows: dict[Verdict, tuple[ScenarioComparison, ...]]
    compared: int
    baseline_scenarios: int

    def of(self, verdict: Verdict) -> tuple[ScenarioComparison, ...]:
        """The scenarios that got ``verdict``, in report order (``Comparison.of``)."""
        return self.rows[verdict]

    def count(self, verdict: Verdict) -> int:
        """How many scenarios got ``verdict`` (``Comparison.count``)."""
        return len(self.rows[verdict])

    @property
    def low_coverage(self) -> bool:
        """``Comparison.low_coverage``: fewer than half of the baseline's scenarios compared."""
        return 2 * self.compared < self.baseline_scenarios


def _count(comparison: Comparison) -> Tally:
    grouped: dict[Verdict, list[ScenarioComparison]] = {verdict: [] for verdict in Verdict}
    compared = 0
    for row in comparison.scenarios:
        grouped[row.verdict].append(row)
        # Comparison.compared: trials on both sides (the pooled baseline when there is one).
        if row.pr.total and (row.pooled or row.baseline).total:
            compared += 1
    return Tally(
        rows={verdict: tuple(rows) for verdict, rows in grouped.items()},
        compared=compared,
        baseline_scenarios=len(comparison.baseline.scenarios),
    )


# The comparison last tallied, held (not its id: an id can be reused) with its tally.
_last: list[tuple[Comparison, Tally]] = []
_lock = Lock()


def tally(comparison: Comparison) -> Tally:
    """The rows of ``comparison`` per verdict; computed once for the latest comparison."""
    with _lock:
        if _last and _last[0][0] is comparison:
            return _last[0][1]
    counted = _count(comparison)
    with _lock:
        _last[:] = [(comparison, counted)]
    return counted
