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
    from evalbot.trend import Trend


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario of an experiment: how many trials passed out of how many.

    ``categories`` counts failure categories over the scenario's trials
    (a trial may carry no category). The optional fields are filled by later
    sources (per-metric scores, latency, tokens, cost) and ignored by the
    pass/fail comparison.
    """

    key: str
    passed: int
    total: int
    label: str = ""
    categories: Mapping[str, int] = field(default_factory=dict)
    # Trials whose evaluator crashed or gave no score: they say nothing about
    # the application, so they are kept out of passed/total (issue 3 §3).
    unscored: int = 0
    scores: Mapping[str, float] = field(default_factory=dict)
    latency_ms: float | None = None
    tokens: float | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.passed <= self.total:
            raise ValueError(f"scenario {self.key!r}: need 0 <= passed <= total")
        object.__setattr__(self, "categories", _frozen_map(self.categories))
        object.__setattr__(self, "scores", _frozen_map(self.scores))

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


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every threshold of the classifier. The defaults are documented here only.

    hard: p_worse <= 0.05, drop >= 30 pp, baseline >= 70%.
    soft: p_worse <= 0.20, drop >= 15 pp, baseline >= 50%.
    watch: |delta| >= 35 pp with no flag tier met.
    improvement: p_better <= hard.max_p and gain >= hard.min_delta.
    category drift is notable at a rate gap >= 5 pp and a count gap >= 3.
    With correction "bh" (default) the hard tier's significance is decided
    by Tarone-filtered Benjamini-Hochberg at alpha - aggregate_alpha instead
    of hard.max_p, and a CMH test at aggregate_alpha can fail the check.
    """

    hard: Tier = Tier(max_p=0.05, min_delta=0.30, min_baseline_rate=0.70)
    soft: Tier = Tier(max_p=0.20, min_delta=0.15, min_baseline_rate=0.50)
    watch_delta: float = 0.35
    category_min_rate_gap: float = 0.05
    category_min_count_gap: float = 3.0
    # The false-alarm budget: P(the check fails | nothing changed) <= alpha.
    alpha: float = 0.05
    correction: Correction = Correction.BH
    # The share of alpha spent on the aggregate (CMH) test; the rest goes to
    # the per-scenario family (a Bonferroni split, so the two together stay
    # within alpha). Chosen with bench/bench_stats.py.
    aggregate_share: float = 0.4
    # Least-squares slope per baseline run beyond which the trend over the
    # history window counts as improving / worsening (issue 5 §4).
    trend_threshold: float = 0.01

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
    """The stratified (CMH) test that the PR passes less across scenarios."""

    z: float
    p: float
    alpha: float
    significant: bool
    gating: bool


@dataclass(frozen=True, slots=True)
class Power:
    """What the check could have detected with the trial counts at hand."""

    pr_trials: int
    baseline_trials: int
    threshold: float
    family_size: int
    min_baseline_rate: float | None
    max_pr_rate: float | None
    statement: str
    suggestion: str | None


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

    def count(self, verdict: Verdict) -> int:
        """How many scenarios got ``verdict``."""
        return sum(1 for s in self.scenarios if s.verdict is verdict)

    def of(self, verdict: Verdict) -> tuple[ScenarioComparison, ...]:
        """The scenarios that got ``verdict``, in report order."""
        return tuple(s for s in self.scenarios if s.verdict is verdict)


# --- Outcomes: a tagged union the renderer and the gate handle distinctly ---


class OutcomeKind(enum.StrEnum):
    OK = "ok"
    NO_BASELINE = "no_baseline"
    SELF_BASELINE = "self_baseline"
    FETCH_FAILED = "fetch_failed"


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


Outcome = Ok | NoBaseline | SelfBaseline | FetchFailed


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether the required check fails, and a one-line reason."""

    failed: bool
    reason: str
    warning: bool = False
