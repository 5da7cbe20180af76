"""Every setting the classifier and the gate read: tiers, thresholds, policies.

The defaults are documented on the dataclasses here only; core/thresholds.py
writes their external shape (config keys and the report's section) once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "Correction",
    "CostThresholds",
    "DriftThresholds",
    "FailOn",
    "Levels",
    "MetricThresholds",
    "OnFetchFailure",
    "Sensitivity",
    "Thresholds",
    "Tier",
]


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
