"""Results beyond pass/fail (issue 6): score metrics, latency/tokens/cost, drift signals.

The values core/metrics.py and core/drift.py compute and a Comparison carries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "CostDelta",
    "CostMeasure",
    "DriftKind",
    "DriftSignal",
    "MeanSummary",
    "MetricComparison",
    "MetricVerdict",
    "ScenarioMetric",
    "Severity",
]


@dataclass(frozen=True, slots=True)
class MeanSummary:
    """A mean with its 95% Student-t interval (bounds None with fewer than 2 values)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


class MetricVerdict(enum.StrEnum):
    """A score metric's verdict (issue 6 §1)."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    STABLE = "stable"
    # Fewer than one scenario scored on both sides: nothing to compare.
    NOT_COMPARABLE = "not_comparable"

    @property
    def severity(self) -> int:
        """Sort rank: most severe first."""
        return _METRIC_SEVERITY[self]


_METRIC_SEVERITY = {
    MetricVerdict.REGRESSION: 0,
    MetricVerdict.IMPROVEMENT: 1,
    MetricVerdict.NOT_COMPARABLE: 2,
    MetricVerdict.STABLE: 3,
}


@dataclass(frozen=True, slots=True)
class ScenarioMetric:
    """One scenario's scores for one metric, on each side."""

    key: str
    pr: MeanSummary
    baseline: MeanSummary
    delta: float | None


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """One numeric feedback key across the suite (issue 6 §1).

    ``pr`` and ``baseline`` summarise the per-scenario means over the
    ``pairs`` scenarios scored on both sides (each scenario weighs the same);
    ``p`` is the two-sided Wilcoxon signed-rank test on their differences.
    """

    key: str
    pr: MeanSummary
    baseline: MeanSummary
    delta: float | None
    p: float | None
    pairs: int
    min_effect: float
    verdict: MetricVerdict
    scenarios: tuple[ScenarioMetric, ...] = ()


class CostMeasure(enum.StrEnum):
    """The latency/token/cost figures compared per experiment (issue 6 §2)."""

    LATENCY_P50 = "latency_p50_ms"
    LATENCY_P95 = "latency_p95_ms"
    TOKENS = "tokens_per_trial"
    COST = "cost_per_trial"
    COST_TOTAL = "cost_per_experiment"


@dataclass(frozen=True, slots=True)
class CostDelta:
    """One figure on each side, its absolute and relative change.

    ``relative`` is None when the baseline is 0 and the PR is not (an
    increase from nothing has no ratio); 0.0 when both are 0.
    """

    measure: CostMeasure
    pr: float | None
    baseline: float | None
    delta: float | None
    relative: float | None
    notable: bool
    gating: bool


class Severity(enum.StrEnum):
    """How strongly a drift signal fires."""

    NONE = "none"
    MILD = "mild"
    SEVERE = "severe"


class DriftKind(enum.StrEnum):
    """Signals that an application is succeeding but decaying (issue 6 §3)."""

    ERROR_RATE = "error_rate"
    EMPTY_OUTPUT = "empty_output_rate"
    OUTPUT_LENGTH = "output_length"
    TOOL_SILENCE = "tool_call_silence"


@dataclass(frozen=True, slots=True)
class DriftSignal:
    """One drift signal: the value on each side, the change, its test and severity.

    For rates ``pr``/``baseline`` are shares of trials and ``change`` is the
    rise (PR - baseline); for output length they are median characters and
    ``change`` is the ratio PR / baseline.
    """

    kind: DriftKind
    pr: float
    baseline: float
    change: float
    p: float | None
    severity: Severity
    pr_trials: int
    baseline_trials: int
