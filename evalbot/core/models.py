"""The core's values in one import: buckets, thresholds, comparison results, outcomes.

Each is defined in the module that states its job (buckets, measures, threshold_values,
verdicts, metric_values, outcomes); this module gathers the ones the shells and
the output use, so they import from one place. Those defining modules import
each other directly, never this one, so the core has no import cycle.
"""

from __future__ import annotations

from evalbot.core.buckets import (
    TARGET_ERROR,
    Bucket,
    Scenario,
)
from evalbot.core.measures import (
    NO_MEASURES,
    Measures,
)
from evalbot.core.metric_values import (
    CostDelta,
    CostMeasure,
    DriftKind,
    DriftSignal,
    MeanSummary,
    MetricComparison,
    MetricVerdict,
    ScenarioMetric,
    Severity,
)
from evalbot.core.outcomes import (
    FetchFailed,
    Gate,
    NoBaseline,
    NothingCompared,
    Ok,
    Outcome,
    OutcomeKind,
    SelfBaseline,
)
from evalbot.core.threshold_values import (
    Correction,
    CostThresholds,
    DriftThresholds,
    FailOn,
    Levels,
    MetricThresholds,
    OnFetchFailure,
    Sensitivity,
    Thresholds,
    Tier,
)
from evalbot.core.verdicts import (
    Aggregate,
    AggregateTest,
    CategoryDrift,
    Comparison,
    Power,
    PowerDrop,
    RateSummary,
    ScenarioComparison,
    Verdict,
    WinLoss,
)

__all__ = [
    "NO_MEASURES",
    "TARGET_ERROR",
    "Aggregate",
    "AggregateTest",
    "Bucket",
    "CategoryDrift",
    "Comparison",
    "Correction",
    "CostDelta",
    "CostMeasure",
    "CostThresholds",
    "DriftKind",
    "DriftSignal",
    "DriftThresholds",
    "FailOn",
    "FetchFailed",
    "Gate",
    "Levels",
    "MeanSummary",
    "Measures",
    "MetricComparison",
    "MetricThresholds",
    "MetricVerdict",
    "NoBaseline",
    "NothingCompared",
    "Ok",
    "OnFetchFailure",
    "Outcome",
    "OutcomeKind",
    "Power",
    "PowerDrop",
    "RateSummary",
    "Scenario",
    "ScenarioComparison",
    "ScenarioMetric",
    "SelfBaseline",
    "Sensitivity",
    "Severity",
    "Thresholds",
    "Tier",
    "Verdict",
    "WinLoss",
]
