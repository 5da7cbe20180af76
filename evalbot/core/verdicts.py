"""What compare_buckets returns: per-scenario verdicts and the Comparison that holds them.

Also its parts: the aggregate and its suite-level test, power, category
drift, and the pass-rate trend over the baseline window (core/trend.py
computes it; the value lives here so the Comparison needs no computing module).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

from evalbot.core.buckets import Bucket, Scenario
from evalbot.core.metric_values import CostDelta, DriftSignal, MetricComparison
from evalbot.core.threshold_values import Thresholds

__all__ = [
    "Aggregate",
    "AggregateTest",
    "CategoryDrift",
    "Comparison",
    "Direction",
    "Power",
    "PowerDrop",
    "RateSummary",
    "ScenarioComparison",
    "Trend",
    "TrendPoint",
    "Verdict",
    "WinLoss",
    "scenario_row",
]


class Verdict(enum.StrEnum):
    """Per-scenario verdict; exactly one per scenario present on both sides."""

    HARD_REGRESSION = "hard_regression"
    SOFT_REGRESSION = "soft_regression"
    WATCH = "watch"
    IMPROVEMENT = "improvement"
    STABLE = "stable"
    UNRELIABLE_BASELINE = "unreliable_baseline"
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def severity(self) -> int:
        """Sort rank: most severe first (issue 2 §4)."""
        return _SEVERITY[self]


_SEVERITY = {
    Verdict.HARD_REGRESSION: 0,
    Verdict.SOFT_REGRESSION: 1,
    Verdict.IMPROVEMENT: 2,
    Verdict.WATCH: 3,
    Verdict.UNRELIABLE_BASELINE: 4,
    Verdict.STABLE: 5,
    Verdict.INSUFFICIENT_DATA: 6,
}


@dataclass(frozen=True, slots=True)
class ScenarioComparison:
    """One scenario on both sides, with its verdict.

    ``p_worse`` / ``p_better`` are exact one-sided Fisher p-values (as
    Fractions, so threshold decisions never depend on float rounding).
    """

    key: str
    label: str
    verdict: Verdict
    pr: Scenario
    baseline: Scenario
    delta: float | None
    p_worse: Fraction
    p_better: Fraction
    # The baseline side the tests used: the latest baseline pooled with its
    # history window (== baseline counts without history).
    pooled: Scenario | None = None
    # BH-adjusted p-value when the scenario is in the gating family.
    q: float | None = None
    # Pass rate of each baseline run in the window, oldest first.
    series: tuple[float | None, ...] = ()
    # 2p(1-p) of the pooled rate: the chance two trials disagree.
    flakiness: float | None = None


class _RowBuilder:
    """ScenarioComparison's slots, assignable: builds a row, then becomes one.

    A frozen dataclass's ``__init__`` stores each field through
    ``object.__setattr__``: 12 calls a row, about 0.4 s at 100,000 scenarios
    (issue 14). Plain attribute stores into the same slot layout, followed by
    one ``__class__`` assignment, build the same value 3 times faster. Python
    checks at that assignment that the layouts match, so a field added to one
    class and not the other fails loudly rather than silently.
    """

    __slots__ = ScenarioComparison.__slots__

    def __init__(
        self,
        key: str,
        label: str,
        verdict: Verdict,
        pr: Scenario,
        baseline: Scenario,
        delta: float | None,
        p_worse: Fraction,
        p_better: Fraction,
        pooled: Scenario | None,
        q: float | None,
        series: tuple[float | None, ...],
        flakiness: float | None,
    ) -> None:
        self.key = key
        self.label = label
        self.verdict = verdict
        self.pr = pr
        self.baseline = baseline
        self.delta = delta
        self.p_worse = p_worse
        self.p_better = p_better
        self.pooled = pooled
        self.q = q
        self.series = series
        self.flakiness = flakiness
        self.__class__ = ScenarioComparison  # type: ignore[assignment]


#: ``scenario_row(key, label, verdict, pr, baseline, delta, p_worse, p_better, pooled, q,
#: series, flakiness)``: ``ScenarioComparison(...)`` with every field positional, the same
#: value (equal, frozen, of the same class) built faster, for compare_buckets, which builds
#: one per shared scenario. The builder class itself, typed as the factory it is: a wrapper
#: function would cost a call per row.
scenario_row = cast(
    Callable[
        [
            str,
            str,
            Verdict,
            Scenario,
            Scenario,
            "float | None",
            Fraction,
            Fraction,
            "Scenario | None",
            "float | None",
            "tuple[float | None, ...]",
            "float | None",
        ],
        ScenarioComparison,
    ],
    _RowBuilder,
)


@dataclass(frozen=True, slots=True)
class RateSummary:
    """A pooled pass rate with its Wilson 95% interval."""

    passed: int
    total: int
    rate: float | None
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Micro-averaged pass rates over the scenarios present on both sides."""

    pr: RateSummary
    baseline: RateSummary
    delta: float | None
    scenarios: int


@dataclass(frozen=True, slots=True)
class AggregateTest:
    """The suite-level test that the PR passes less than the baseline runs predict.

    ``method`` is "predictive_t" (the PR's suite pass rate against the spread
    of the K baseline runs' suite rates, Student t with ``df`` degrees of
    freedom), "predictive_z" (the same, when the runs vary no more than
    binomial noise, so the variance is known), or "margin" (fewer than 3
    baseline runs: the spread cannot be estimated, so the drop must exceed
    ``margin`` significantly). ``z`` is the test statistic.
    """

    z: float
    p: float
    alpha: float
    significant: bool
    gating: bool
    method: str = "predictive_t"
    runs: int = 1
    df: int | None = None
    # The suite pass rate the baseline runs predict for an unchanged PR, the
    # PR's own, and the estimated run-to-run standard deviation of a suite rate.
    baseline_level: float | None = None
    pr_rate: float | None = None
    spread: float | None = None
    margin: float | None = None
    # The level came from the window's linear trend (a significant drift).
    trend: bool = False
    # The latest baseline run was inconsistent with the runs before it.
    latest_outlier: bool = False


@dataclass(frozen=True, slots=True)
class PowerDrop:
    """The chance that the check fails for one named drop, with this comparison's design."""

    scope: str  # "scenario" (one scenario drops) or "suite" (every scenario drops)
    from_rate: float
    to_rate: float
    probability: float
    # True: summed exactly over every outcome (binomial enumeration); False: a
    # normal approximation (the suite-wide drop).
    exact: bool


@dataclass(frozen=True, slots=True)
class Power:
    """What the check could have detected with the trial counts and history at hand."""

    pr_trials: int
    baseline_trials: int
    threshold: float
    family_size: int
    baseline_runs: int = 1
    # The over-dispersion factor applied to per-scenario tests (1 = binomial).
    dispersion: float = 1.0
    # Whether one scenario dropping, alone, can fail the check at these counts.
    can_fail_alone: bool = False
    drops: tuple[PowerDrop, ...] = ()
    # The design that reaches 80% power for a 30 pp drop from 100% on one
    # scenario (None when already reached or out of range).
    suggested_repetitions: int | None = None
    suggested_history: int | None = None
    # What the sentences (output.power_text) read besides the above: scenarios that
    # already fail the check, the p-value of the most extreme table (0/n against m/m;
    # None without trials on both sides), whether one scenario can fail the check only
    # through the suite-wide test, and the rate the suggestion's drop goes to.
    rejected: int = 0
    extreme_p: float | None = None
    only_through_suite: bool = False
    target_rate: float = 0.6


@dataclass(frozen=True, slots=True)
class CategoryDrift:
    """One failure category: counts and per-trial rates on each side."""

    category: str
    pr_count: int
    baseline_count: int
    pr_rate: float
    baseline_rate: float
    delta: float
    notable: bool
    new: bool


class Direction(enum.StrEnum):
    """Where the pass rate is heading (see the module docstring for the rule)."""

    IMPROVING = "improving"
    WORSENING = "worsening"
    STABLE = "stable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One run of the series: its name, start time and pass counts."""

    name: str
    started_at: str | None
    passed: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.passed <= self.total:
            raise ValueError(f"trend point {self.name!r}: need 0 <= passed <= total")

    @property
    def rate(self) -> float | None:
        """Pass rate in [0, 1], or None when the run has no trials."""
        return self.passed / self.total if self.total else None

    @property
    def exact_rate(self) -> Fraction | None:
        """The pass rate as an exact fraction, or None when the run has no trials."""
        return Fraction(self.passed, self.total) if self.total else None


@dataclass(frozen=True, slots=True)
class Trend:
    """A series of runs (oldest first) with its slope, direction and regression flag."""

    points: tuple[TrendPoint, ...]
    slope: float | None
    direction: Direction
    threshold: float
    regression: bool


@dataclass(frozen=True, slots=True)
class WinLoss:
    """Shared scenarios where the PR's pass rate is higher / lower / equal (issue 6 §4)."""

    wins: int = 0
    losses: int = 0
    ties: int = 0


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of ``compare_buckets``: pure data, ready to render or report."""

    pr: Bucket
    baseline: Bucket
    thresholds: Thresholds
    scenarios: tuple[ScenarioComparison, ...]
    pr_only: tuple[Scenario, ...]
    baseline_only: tuple[Scenario, ...]
    aggregate: Aggregate
    categories: tuple[CategoryDrift, ...]
    aggregate_test: AggregateTest | None = None
    power: Power | None = None
    # Older baselines pooled with the latest one, oldest first.
    history: tuple[Bucket, ...] = ()
    family_size: int = 0
    # The aggregate pass-rate trend over the baseline window (None without
    # history), and the trend of each flagged scenario.
    trend: Trend | None = None
    scenario_trends: tuple[tuple[str, Trend], ...] = ()
    # Issue 6: beyond pass/fail.
    metrics: tuple[MetricComparison, ...] = ()
    costs: tuple[CostDelta, ...] = ()
    drift: tuple[DriftSignal, ...] = ()
    win_loss: WinLoss = WinLoss()

    def count(self, verdict: Verdict) -> int:
        """How many scenarios got ``verdict``."""
        return sum(1 for s in self.scenarios if s.verdict is verdict)

    def of(self, verdict: Verdict) -> tuple[ScenarioComparison, ...]:
        """The scenarios that got ``verdict``, in report order."""
        return tuple(s for s in self.scenarios if s.verdict is verdict)

    @property
    def compared(self) -> int:
        """Shared scenarios with trials on both sides: what the verdicts rest on.

        A shared scenario whose trials on one side were all unscored (or
        absent) is in ``scenarios`` as insufficient data but compares nothing.
        """
        return sum(1 for s in self.scenarios if s.pr.total and (s.pooled or s.baseline).total)

    @property
    def low_coverage(self) -> bool:
        """The PR compared fewer than half of the baseline's scenarios (issue 11 §5)."""
        return 2 * self.compared < len(self.baseline.scenarios)
