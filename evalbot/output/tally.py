"""A comparison's rows grouped by verdict, in one pass, once per comparison (and such memos).

``Comparison.count`` and ``Comparison.of`` scan every row on each call; the
comment asks them dozens of times (headline, counts line, what next, each
table), which at 100,000 scenarios was most of the rendering time (issue 14).
The renderer and the report ask :func:`tally` instead: the grouping is done
once and kept for the comparison last asked about. Row order is report order,
as ``Comparison.of`` gives it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock
from typing import Generic, TypeVar

from evalbot.core.models import Comparison, ScenarioComparison, Verdict

K = TypeVar("K")
V = TypeVar("V")


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


class Recent(Generic[K, V]):
    """``compute`` of the few objects it was last called with, held and compared by identity.

    Held, not keyed by ``id``: an id can be reused once its object is gone. The
    values are pure functions of frozen objects, so a kept value never goes stale.
    """

    def __init__(self, compute: Callable[[K], V], *, size: int = 1) -> None:
        self._compute = compute
        self._size = size
        self._kept: list[tuple[K, V]] = []
        self._lock = Lock()

    def __call__(self, key: K) -> V:
        with self._lock:
            for kept, value in self._kept:
                if kept is key:
                    return value
        value = self._compute(key)
        with self._lock:
            self._kept = [(key, value), *self._kept[: self._size - 1]]
        return value


tally: Callable[[Comparison], Tally] = Recent(_count)
"""The rows of a comparison per verdict; computed once for the latest comparison."""
