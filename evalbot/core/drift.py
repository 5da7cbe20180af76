"""Drift signals (issue 6 §3): is the application succeeding but decaying?

Pure, like compare.py: buckets and thresholds in, frozen values out.

**Drift signals** compare the scenarios present on both sides. Rates (errors,
empty outputs, tool-call silence) use the one-sided Fisher test that the PR
has more of them (a two-proportion z-test beyond 2,000 trials, where the
exact sums get slow and the approximation is excellent); output length
uses the Wilcoxon test on per-scenario median lengths. A signal is
``mild``/``severe`` only when its change passes the level *and* its test
has p <= ``drift.max_p``, so a single unlucky trial is not "drift".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

from evalbot.core import metrics, stats
from evalbot.core.buckets import TARGET_ERROR, Bucket, Scenario
from evalbot.core.decimals import at_least, at_most
from evalbot.core.metric_values import DriftKind, DriftSignal, Severity
from evalbot.core.threshold_values import DriftThresholds, Levels

__all__ = ["EXACT_LIMIT", "compare_drift"]


def _severity(
    change: float | Fraction, levels: Levels, p: float | None, max_p: float, *, ratio: bool
) -> Severity:
    if p is None or p > max_p:
        return Severity.NONE
    reaches = at_most if ratio else at_least
    if reaches(change, levels.severe):
        return Severity.SEVERE
    return Severity.MILD if reaches(change, levels.mild) else Severity.NONE


def _rate_signal(
    kind: DriftKind,
    counts: tuple[int, int, int, int],
    levels: Levels,
    max_p: float,
) -> DriftSignal | None:
    """A rate signal from (pr_hits, pr_trials, base_hits, base_trials)."""
    pr_hits, pr_n, base_hits, base_n = counts
    if not pr_n or not base_n or not (pr_hits or base_hits):
        # No trials, or not one hit on either side: nothing to report.
        return None
    p = _more_hits_p(pr_hits, pr_n, base_hits, base_n)
    # Exact: rates come from counts, so a rise of exactly a level reaches it.
    change = Fraction(pr_hits, pr_n) - Fraction(base_hits, base_n)
    return DriftSignal(
        kind=kind,
        pr=pr_hits / pr_n,
        baseline=base_hits / base_n,
        change=float(change),
        p=p,
        severity=_severity(change, levels, p, max_p, ratio=False),
        pr_trials=pr_n,
        baseline_trials=base_n,
    )


# Above this many trials in all, exact Fisher sums over huge binomial
# coefficients (seconds per table at 100,000 trials); the normal approximation
# is excellent there.
EXACT_LIMIT = 2000


def _more_hits_p(pr_hits: int, pr_n: int, base_hits: int, base_n: int) -> float:
    """One-sided p that the PR's hit rate is above the baseline's."""
    if pr_n + base_n <= EXACT_LIMIT:
        # "More hits on the PR" is "fewer non-hits": Fisher's left tail on the complement.
        return float(stats.fisher_worse(pr_n - pr_hits, pr_n, base_n - base_hits, base_n))
    # Two-proportion z-test with the pooled rate.
    pooled = (pr_hits + base_hits) / (pr_n + base_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / pr_n + 1 / base_n))
    if spread == 0:
        return 1.0
    z = (pr_hits / pr_n - base_hits / base_n) / spread
    return 0.5 * math.erfc(z / math.sqrt(2))


def _shared(pr: Bucket, baseline: Bucket) -> list[tuple[Scenario, Scenario]]:
    return [
        (pr.scenarios[k], baseline.scenarios[k])
        for k in sorted(pr.scenarios)
        if k in baseline.scenarios
    ]


def _error_counts(pr: Bucket, baseline: Bucket) -> tuple[int, int, int, int]:
    # Sums over the shared scenarios in any order (integers): no sorted pairs needed,
    # and most scenarios have no failure category to look into (issue 14).
    pr_hits = pr_n = base_hits = base_n = 0
    base_map = baseline.scenarios
    for key, pr_s in pr.scenarios.items():
        base_s = base_map.get(key)
        if base_s is None:
            continue
        # Errored trials are failed trials in total (langsmith_bucket rule 2);
        # unscored ones ran without error, so they count as trials too.
        if pr_s.categories:
            pr_hits += pr_s.categories.get(TARGET_ERROR, 0)
        if base_s.categories:
            base_hits += base_s.categories.get(TARGET_ERROR, 0)
        pr_n += pr_s.total + pr_s.unscored
        base_n += base_s.total + base_s.unscored
    return pr_hits, pr_n, base_hits, base_n


def _any_error(bucket: Bucket) -> bool:
    """Whether any trial of the bucket errored (a category mapping holds TARGET_ERROR)."""
    for scenario in bucket.scenarios.values():
        if scenario.categories and scenario.categories.get(TARGET_ERROR, 0):
            return True
    return False


def _empty_counts(pairs: Iterable[tuple[Scenario, Scenario]]) -> tuple[int, int, int, int]:
    counts = [0, 0, 0, 0]
    for pr_s, base_s in pairs:
        for i, side in ((0, pr_s), (2, base_s)):
            chars = side.measures.output_chars
            counts[i] += sum(1 for c in chars if c == 0)
            counts[i + 1] += len(chars)
    return counts[0], counts[1], counts[2], counts[3]


def _silence_counts(pairs: Iterable[tuple[Scenario, Scenario]]) -> tuple[int, int, int, int]:
    """Trials with no tool call, in scenarios whose baseline made tool calls."""
    counts = [0, 0, 0, 0]
    for pr_s, base_s in pairs:
        if not any(base_s.measures.tool_calls):
            continue
        for i, side in ((0, pr_s), (2, base_s)):
            calls = side.measures.tool_calls
            counts[i] += sum(1 for c in calls if c == 0)
            counts[i + 1] += len(calls)
    return counts[0], counts[1], counts[2], counts[3]


def _length_signal(
    pairs: Sequence[tuple[Scenario, Scenario]], thresholds: DriftThresholds
) -> DriftSignal | None:
    pr_all = [c for pr_s, _ in pairs for c in pr_s.measures.output_chars]
    base_all = [c for _, base_s in pairs for c in base_s.measures.output_chars]
    pr_median = stats.percentile(pr_all, 50)
    base_median = stats.percentile(base_all, 50)
    if pr_median is None or base_median is None or base_median <= 0:
        return None
    differences = []
    for pr_s, base_s in pairs:
        a = stats.percentile(pr_s.measures.output_chars, 50)
        b = stats.percentile(base_s.measures.output_chars, 50)
        if a is not None and b is not None:
            differences.append(a - b)
    p = stats.wilcoxon_signed_rank(differences)
    ratio = pr_median / base_median
    return DriftSignal(
        kind=DriftKind.OUTPUT_LENGTH,
        pr=pr_median,
        baseline=base_median,
        change=ratio,
        p=p,
        severity=_severity(ratio, thresholds.output_length, p, thresholds.max_p, ratio=True),
        pr_trials=len(pr_all),
        baseline_trials=len(base_all),
    )


def compare_drift(
    pr: Bucket,
    baseline: Bucket,
    thresholds: DriftThresholds,
    *,
    has_measures: bool | None = None,
) -> tuple[DriftSignal, ...]:
    """The drift signals with something to say, in a fixed order (issue 6 §3).

    A rate signal is left out when neither side has a single hit (no error,
    no empty output): "0% vs 0%" is not news, and a source that records no
    errors would otherwise fill the comment with zeros. ``has_measures``:
    ``metrics.measured(pr, baseline)`` when the caller knows it already.
    """
    error = (
        _rate_signal(
            DriftKind.ERROR_RATE,
            _error_counts(pr, baseline),
            thresholds.error_rate,
            thresholds.max_p,
        )
        # No errored trial anywhere: the signal has no hit to report (see _rate_signal),
        # found without summing every shared scenario's trials (issue 14).
        if _any_error(pr) or _any_error(baseline)
        else None
    )
    if not (metrics.measured(pr, baseline) if has_measures is None else has_measures):
        # The other signals read measurements only: with none, each has no trials.
        return () if error is None else (error,)
    pairs = _shared(pr, baseline)
    signals = [
        error,
        _rate_signal(
            DriftKind.EMPTY_OUTPUT, _empty_counts(pairs), thresholds.empty_output, thresholds.max_p
        ),
        _length_signal(pairs, thresholds),
        _rate_signal(
            DriftKind.TOOL_SILENCE,
            _silence_counts(pairs),
            thresholds.tool_silence,
            thresholds.max_p,
        ),
    ]
    return tuple(s for s in signals if s is not None)
