"""The baseline window per scenario: which runs to pool, and how much their spread inflates.

The window is K runs of a branch that moves, not one large sample (issue 11 §1).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from operator import mul

from evalbot.core import fisher, stats

# --- the baseline window: K runs, not one large sample (issue 11 §1) -----------------------

#: Two-sided Fisher level at which an older baseline run counts as inconsistent with the
#: runs after it, which ends that scenario's pool (a change point: main moved).
STALE_RUN_LEVEL = Fraction(1, 20)


#: Two-sided level of the per-scenario trend test (Cochran-Armitage) over the pooled runs.
TREND_LEVEL = 0.05


@lru_cache(maxsize=65536)
def _recent_pool(runs: tuple[tuple[int, int], ...], keep: int = 0) -> tuple[int, int, int]:
    """(passed, total, runs used): the latest run pooled with the older runs that are current.

    Walking back from the latest run, each older run is compared with the
    runs already pooled (two-sided Fisher); the first one that differs at
    ``STALE_RUN_LEVEL`` and every run before it are left out — a change
    point: main stepped. Then, when the runs left still show a trend
    (Cochran-Armitage, two-sided ``TREND_LEVEL``) — main drifting in this
    scenario — only the most recent third of them is kept. ``keep`` > 0 caps
    the pool at that many recent runs: the suite-wide analysis found main
    drifting or stepped as a whole (see compare_buckets). Runs that simply vary
    by chance keep the whole window: 4/5 against 20/20 has p = 0.4.
    """
    if not runs:
        return 0, 0, 0
    if keep > 0:
        runs = runs[-keep:]
    passed, total = runs[-1]
    used = 1
    for c, m in reversed(runs[:-1]):
        if _stale(c, m, passed, total):
            break
        passed, total, used = passed + c, total + m, used + 1
    if used >= 4 and _trending(runs[-used:]):
        used = math.ceil(used / 3)
        passed = sum(c for c, _ in runs[-used:])
        total = sum(m for _, m in runs[-used:])
    return passed, total, used


def _trending(runs: Sequence[tuple[int, int]]) -> bool:
    """Cochran-Armitage test for a linear trend of the pass rate across runs (two-sided).

    Decided on the statistic's exact square first, in integers: with C of M
    trials passing and run x holding c_x of m_x,
    z² = M (M Σ x c_x - C Σ x m_x)² / (C (M - C) (M Σ x² m_x - (Σ x m_x)²)).
    Away from the cut-off (z² = 3.84) the float computation below rounds to the
    same decision; between 3.8 and 3.9 it decides, as it always did. A fifth of
    the cost, once per distinct window (issue 14: thousands of them).
    """
    passed_by_run = [c for c, _ in runs]
    total_by_run = [m for _, m in runs]
    passed, total = sum(passed_by_run), sum(total_by_run)
    if passed in (0, total):
        return False
    xs = range(len(runs))
    sxc = sum(map(mul, xs, passed_by_run))
    sxm = sum(map(mul, xs, total_by_run))
    sxxm = sum(map(mul, map(mul, xs, xs), total_by_run))
    numerator = total * (total * sxc - passed * sxm) ** 2
    denominator = passed * (total - passed) * (total * sxxm - sxm * sxm)
    if denominator > 0:
        if 10 * numerator < 38 * denominator:
            return False
        if 10 * numerator > 39 * denominator:
            return True
    return _trending_float(runs)


def _trending_float(runs: Sequence[tuple[int, int]]) -> bool:
    """``_trending`` in floats: the decision near the cut-off."""
    passed = sum(c for c, _ in runs)
    total = sum(m for _, m in runs)
    if passed in (0, total):
        return False
    p = passed / total
    x_mean = sum(x * m for x, (_, m) in enumerate(runs)) / total
    score = sum((x - x_mean) * c for x, (c, _) in enumerate(runs))
    variance = p * (1 - p) * sum(m * (x - x_mean) ** 2 for x, (_, m) in enumerate(runs))
    if variance <= 0:
        return False
    z = score / math.sqrt(variance)
    return 2 * stats.normal_lower_tail(-abs(z)) <= TREND_LEVEL


@lru_cache(maxsize=65536)
def _stale(c: int, m: int, passed: int, total: int) -> bool:
    """Whether an older run (c of m) differs from the pooled later runs (two-sided Fisher).

    ``stats.two_sided_at_most`` at ``STALE_RUN_LEVEL`` for counts known to be valid (a
    run's, and sums of them): the same integer weights and comparison, without the
    checks (issue 14: thousands of distinct tests per window).
    """
    if c * total == passed * m:
        return False  # the same rate: the two-sided p-value is at least 1/2
    return fisher.within_level(c, m, passed, total, _STALE_NUMERATOR, _STALE_DENOMINATOR)


_STALE_NUMERATOR, _STALE_DENOMINATOR = STALE_RUN_LEVEL.as_integer_ratio()


#: One-sided level of the over-dispersion check, and the one-sided confidence of the upper
#: bound used once the check finds it (see _dispersion).
DISPERSION_LEVEL = 0.05
_Z_DISPERSION = 1.6448536269514722  # Phi^-1(0.95)


@dataclass(frozen=True, slots=True)
class _Dispersion:
    """Between-run variation of per-scenario pass rates, estimated from the window.

    ``phi`` is the over-dispersion factor of per-scenario run counts (1: binomial)
    and ``rho`` the intra-run correlation it implies for runs of ``per_run``
    trials (phi = 1 + (per_run - 1) rho, the beta-binomial design effect).
    """

    phi: float = 1.0
    rho: float = 0.0

    def design_effect(self, trials: float) -> float:
        return 1.0 + max(0.0, trials - 1.0) * self.rho


def _dispersion(runs_by_key: Iterable[tuple[tuple[int, int], ...]]) -> _Dispersion:
    """Pearson's X² of each scenario's runs-by-outcome table, pooled over scenarios.

    phi-hat = sum X² / sum df. When it is not significantly above 1 (one-sided
    ``DISPERSION_LEVEL`` against its null standard error sqrt(2/df)), the runs
    are taken as binomial: i.i.d. windows keep every trial. When it is, phi is
    its upper ``1 - DISPERSION_LEVEL`` confidence bound, with the standard
    error estimated from the scenarios' own X² (a ratio estimator; heavy-tailed
    under over-dispersion, so the null sqrt(2/df) would understate it). An
    upper bound, not the point estimate: under-estimating the spread is what
    fails unchanged PRs (with runs drawn at intra-class correlation 0.1, the
    point estimate less one standard error read ~0.07 and 6.7% of unchanged
    PRs failed at N = 5, K = 10); over-estimating it costs a little power.
    """
    contributions: list[tuple[float, int]] = []
    trials = runs = 0
    # Once per distinct window, counted as often as it occurs: the integer sums are
    # the same, and so are the float ones (fsum is exact in any order).
    for runs_, count in Counter(runs_by_key).items():
        if len(runs_) < 2:
            continue
        passed = sum(c for c, _ in runs_)
        total = sum(m for _, m in runs_)
        trials += total * count
        runs += len(runs_) * count
        if passed in (0, total) or total < 2:
            continue  # no failure (or no pass) anywhere: no information about spread
        p = passed / total
        # p(1-p) M/(M-1): the unbiased binomial variance, so X² averages its df.
        var = p * (1 - p) * total / (total - 1)
        x2 = sum((c - m * p) ** 2 / (m * var) for c, m in runs_)
        contributions.extend([(x2, len(runs_) - 1)] * count)
    df = sum(d for _, d in contributions)
    if df == 0 or runs == 0:
        return _Dispersion()
    estimate = math.fsum(x for x, _ in contributions) / df
    if estimate - 1.0 <= _Z_DISPERSION * math.sqrt(2.0 / df):
        return _Dispersion()
    spread = math.sqrt(math.fsum((x - estimate * d) ** 2 for x, d in contributions)) / df
    phi = estimate + _Z_DISPERSION * max(spread, math.sqrt(2.0 / df))
    per_run = trials / runs
    if per_run <= 1.0:
        return _Dispersion(phi=phi)
    return _Dispersion(phi=phi, rho=min(1.0, (phi - 1.0) / (per_run - 1.0)))


def _effective(
    c: int, m: int, used: int, n: int, dispersion: _Dispersion
) -> tuple[int | None, int | None]:
    """The pooled baseline at the size that carries the PR-vs-window variance, or (None, None).

    With intra-run correlation rho, a run of t trials carries the information
    of t / deff(t) independent ones, and the PR is one more run: the variance
    of PR rate minus pooled rate is p(1-p) (deff(n)/n + deff(m/used)/m). All
    of the excess is charged to the baseline side, whose effective size m'
    solves 1/n + 1/m' = deff(n)/n + deff(m/used)/m, so Fisher's exact test
    still runs on whole counts (the pooled rate kept, rounded to m').
    """
    if dispersion.rho <= 0.0 or m == 0 or n == 0:
        return None, None
    inverse = dispersion.design_effect(m / used) / m + (dispersion.design_effect(n) - 1.0) / n
    size = max(1, math.floor(1.0 / inverse))
    if size >= m:
        return None, None
    return (2 * c * size + m) // (2 * m), size
