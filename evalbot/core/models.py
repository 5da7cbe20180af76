"""Values evalbot computes with: buckets, verdicts, comparisons, outcomes.

Everything here is a frozen dataclass or an enum from the standard library, so
the core (compare, stats, render) can pass them around without copying and
without any SDK type leaking in (brief: rules 2 and 3).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalbot.core.trend import Trend


# The failure category of a trial whose target raised (langsmith_bucket rule 2;
# experiment files use the same name), which the error-rate drift signal counts.
TARGET_ERROR = "target_error"


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Measures:
    """Per-trial measurements of one scenario beyond pass/fail (issue 6).

    Each tuple holds one value per trial that had the measurement, in trial
    order; a trial without it (no cost reported, an errored run with no
    output) is simply absent, so the tuples may be shorter than the trial
    count and differ in length. ``scores`` maps a numeric feedback key (not a
    pass key) to its per-trial scores. ``output_chars`` is the length of the
    trial's output text; ``tool_calls`` how many tool calls the output made,
    recorded only when the source says (an empty tuple means "unknown", not
    "none").
    """

    scores: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    latency_ms: tuple[float, ...] = ()
    tokens: tuple[float, ...] = ()
    cost: tuple[float, ...] = ()
    output_chars: tuple[int, ...] = ()
    tool_calls: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scores", _frozen_map(self.scores))

    def __bool__(self) -> bool:
        return bool(
            self.scores
            or self.latency_ms
            or self.tokens
            or self.cost
            or self.output_chars
            or self.tool_calls
        )


NO_MEASURES = Measures()


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario of an experiment: how many trials passed out of how many.

    ``categories`` counts failure categories over the scenario's trials
    (a trial may carry no category). ``measures`` holds the per-trial scores,
    latency, tokens, cost and output facts (issue 6); the pass/fail
    comparison ignores them.
    """

    key: str
    passed: int
    total: int
    label: str = ""
    categories: Mapping[str, int] = field(default_factory=dict)
    # Trials whose evaluator crashed or gave no score: they say nothing about
    # the application, so they are kept out of passed/total (issue 3 §3).
    unscored: int = 0
    measures: Measures = NO_MEASURES

    def __post_init__(self) -> None:
        if not 0 <= self.passed <= self.total:
            raise ValueError(f"scenario {self.key!r}: need 0 <= passed <= total")
        object.__setattr__(self, "categories", _frozen_map(self.categories))

    @property
    def display(self) -> str:
        """The label when the dataset gave one, else the key."""
        return self.label or self.key

    @property
    def rate(self) -> float | None:
        """Pass rate in [0, 1], or None when there are no trials."""
        return self.passed / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Bucket:
    """An experiment reduced to per-scenario pass counts (see issue 2 §2)."""

    name: str
    scenarios: Mapping[str, Scenario]
    url: str | None = None
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # When the experiment started (ISO 8601), for the baseline's age.
    started_at: str | None = None
    # Completeness remarks from the source, e.g. "partial: 27 of 30 runs".
    notes: tuple[str, ...] = ()
    # Where the experiment lives in LangSmith's web app, for links (issue 13
    # §4): the workspace URL (web host + ``/o/<tenant>``), the dataset id, and
    # whether scenario keys are example ids (so each scenario has a page).
    web_url: str | None = None
    dataset_id: str | None = None
    example_links: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenarios", _frozen_map(self.scenarios))
        object.__setattr__(self, "metadata", _frozen_map(self.metadata))

    @property
    def total_trials(self) -> int:
        """Trials over every scenario."""
        return sum(s.total for s in self.scenarios.values())

    @property
    def unscored(self) -> int:
        """Trials left out of every scenario because they were not scored."""
        return sum(s.unscored for s in self.scenarios.values())


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


class FailOn(enum.StrEnum):
    """Which verdicts fail the gate."""

    HARD_REGRESSION = "hard_regression"
    SOFT_REGRESSION = "soft_regression"
    NEVER = "never"


class OnFetchFailure(enum.StrEnum):
    """What the gate does when regression detection could not run."""

    NEUTRAL = "neutral"
    FAIL = "fail"


class Correction(enum.StrEnum):
    """How the gating tier handles many scenarios (issue 5 §2)."""

    BH = "bh"  # Benjamini-Hochberg over the scenarios that can reach significance
    NONE = "none"  # each scenario on its own at hard.max_p (the core classifier)


@dataclass(frozen=True, slots=True)
class Tier:
    """A flag tier: significance, minimum drop and minimum baseline pass rate."""

    max_p: float
    min_delta: float
    min_baseline_rate: float


class Sensitivity(enum.StrEnum):
    """One-word preset for effect-size thresholds (issue 6 §3); never changes alpha."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Levels:
    """The mild and severe thresholds of one drift signal."""

    mild: float
    severe: float


@dataclass(frozen=True, slots=True)
class DriftThresholds:
    """When a drift signal is mild or severe (issue 6 §3).

    Rates (errors, empty outputs, tool-call silence) are judged by their rise
    in absolute terms (0.05 = 5 pp more trials); output length by the ratio
    of median lengths PR / baseline, at or below the level. A signal also
    needs a significant test (p <= max_p) to be anything but ``none``.
    """

    error_rate: Levels = Levels(mild=0.05, severe=0.15)
    empty_output: Levels = Levels(mild=0.05, severe=0.15)
    output_length: Levels = Levels(mild=0.7, severe=0.4)
    tool_silence: Levels = Levels(mild=0.10, severe=0.30)
    max_p: float = 0.05


@dataclass(frozen=True, slots=True)
class MetricThresholds:
    """When a score metric's change counts (issue 6 §1).

    ``min_effect`` is in the score's own units (0.05 on a 0-1 score);
    ``by_key`` overrides it per feedback key (e.g. 0.25 on a 1-5 scale).
    """

    min_effect: float = 0.05
    by_key: tuple[tuple[str, float], ...] = ()
    max_p: float = 0.05

    def effect_for(self, key: str) -> float:
        """The minimum effect for feedback key ``key``."""
        return dict(self.by_key).get(key, self.min_effect)


@dataclass(frozen=True, slots=True)
class CostThresholds:
    """Relative increases that make a latency/token/cost change notable, and
    the optional ones that fail the check (None: never gating, the default)."""

    latency: float = 0.25
    tokens: float = 0.20
    cost: float = 0.20
    fail_on_latency_increase: float | None = None
    fail_on_tokens_increase: float | None = None
    fail_on_cost_increase: float | None = None


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every threshold of the classifier. The defaults are documented here only.

    hard: p_worse <= 0.05, drop >= 30 pp, baseline >= 70%.
    soft: p_worse <= 0.20, drop >= 15 pp, baseline >= 50%.
    watch: |delta| >= 35 pp with no flag tier met.
    improvement: p_better <= hard.max_p and gain >= hard.min_delta.
    category drift is notable at a rate gap >= 5 pp and a count gap >= 3.
    With correction "bh" (default) the significance of every tier that can
    fail the check (hard and soft) is decided by one Tarone-filtered
    Benjamini-Hochberg family at alpha - aggregate_alpha instead of
    hard.max_p / soft.max_p, improvements by the mirror family, and a
    predictive test of the suite pass rate at aggregate_alpha can fail the check.
    """

    hard: Tier = Tier(max_p=0.05, min_delta=0.30, min_baseline_rate=0.70)
    soft: Tier = Tier(max_p=0.20, min_delta=0.15, min_baseline_rate=0.50)
    watch_delta: float = 0.35
    category_min_rate_gap: float = 0.05
    category_min_count_gap: float = 3.0
    # The false-alarm budget: P(the check fails | nothing changed) <= alpha.
    alpha: float = 0.05
    correction: Correction = Correction.BH
    # The share of alpha spent on the aggregate (suite-level) test; the rest goes to
    # the per-scenario family (a Bonferroni split, so the two together stay
    # within alpha). Chosen with bench/bench_stats.py.
    aggregate_share: float = 0.4
    # Least-squares slope per baseline run beyond which the trend over the
    # history window counts as improving / worsening (issue 5 §4).
    trend_threshold: float = 0.01
    # Issue 6: score metrics, latency/tokens/cost and drift signals, and the
    # sensitivity preset these thresholds came from (config.sensitivity_preset).
    metrics: MetricThresholds = MetricThresholds()
    costs: CostThresholds = CostThresholds()
    drift: DriftThresholds = DriftThresholds()
    sensitivity: Sensitivity = Sensitivity.NORMAL

    @property
    def aggregate_alpha(self) -> float:
        """The level of the aggregate test."""
        return self.alpha * self.aggregate_share


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


# --- Outcomes: a tagged union the renderer and the gate handle distinctly ---


class OutcomeKind(enum.StrEnum):
    OK = "ok"
    NO_BASELINE = "no_baseline"
    SELF_BASELINE = "self_baseline"
    FETCH_FAILED = "fetch_failed"
    NOTHING_COMPARED = "nothing_compared"


@dataclass(frozen=True, slots=True)
class Ok:
    """Both experiments were found and compared."""

    comparison: Comparison
    kind: OutcomeKind = OutcomeKind.OK


@dataclass(frozen=True, slots=True)
class NoBaseline:
    """No baseline experiment matched; ``searched`` says what was looked for."""

    pr: Bucket
    searched: str
    kind: OutcomeKind = OutcomeKind.NO_BASELINE


@dataclass(frozen=True, slots=True)
class SelfBaseline:
    """The chosen baseline is this very experiment (e.g. a run on main)."""

    pr: Bucket
    kind: OutcomeKind = OutcomeKind.SELF_BASELINE


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """Regression detection did not run: the source could not be read."""

    error: str
    kind: OutcomeKind = OutcomeKind.FETCH_FAILED


@dataclass(frozen=True, slots=True)
class NothingCompared:
    """Both experiments were found, but no shared scenario has trials on both sides.

    Regression detection did not run: a wrong ``scenario_key``, a PR run that
    crashed before any scored trial, another dataset, or a pass key the PR's
    evaluators never scored. ``comparison`` still lists what each side held
    (PR-only, baseline-only, shared scenarios without trials), so the comment
    can say what to check; none of its verdicts or statistics mean anything.
    """

    comparison: Comparison
    kind: OutcomeKind = OutcomeKind.NOTHING_COMPARED


Outcome = Ok | NoBaseline | SelfBaseline | FetchFailed | NothingCompared


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether the required check fails, and a one-line reason."""

    failed: bool
    reason: str
    warning: bool = False
    # The policy that decided a comparison (None for outcomes without one), so the
    # renderer reads it as data instead of parsing ``reason``.
    fail_on: FailOn | None = None
