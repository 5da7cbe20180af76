"""What the check could have caught, for the design actually used (issue 11 §4).

Exact enumeration over binomial outcomes with the p-values compare_buckets uses.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache

from evalbot.core import stats
from evalbot.core.aggregate import _aggregate_test, _AggregateDesign
from evalbot.core.budget import scenario_alpha
from evalbot.core.decimals import decimal as _dec
from evalbot.core.models import (
    AggregateTest,
    Bucket,
    Correction,
    Power,
    PowerDrop,
    ScenarioComparison,
    Thresholds,
    Verdict,
)
from evalbot.core.suite_sums import _Tally
from evalbot.core.window import _Dispersion, _effective

# --- power: what the check could have caught, for the design actually used (§4) -----------

#: The power the suggestion aims for, for a drop from 100% of hard.min_delta plus
#: ``SUGGESTION_EXTRA_DROP``. Not hard.min_delta itself: the hard tier also needs the
#: *observed* drop to reach it, and a scenario whose true rate fell exactly 30 pp shows
#: a smaller drop about half the time, so no design reaches 80% there (at most about
#: 50-60% however many trials: 100% -> 70% at 5 trials is observed at <= 70% 47% of the time).
POWER_TARGET = 0.8
SUGGESTION_EXTRA_DROP = Fraction(1, 10)
MAX_SUGGESTED_REPETITIONS = 50
MAX_SUGGESTED_HISTORY = 100  # the config's limit for ``history``
#: Binomial outcomes less likely than this are left out of the enumeration.
_NEGLIGIBLE = 1e-12


def _median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0


def _pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


@lru_cache(maxsize=4096)
def _drop_outcomes(
    n: int,
    m: int,
    used: int,
    before: float,
    after: float,
    rho: float,
    min_delta: Fraction,
    min_base: Fraction,
) -> tuple[tuple[Fraction, ...], tuple[float, ...]]:
    """Every outcome of one scenario dropping ``before`` -> ``after`` that the hard tier's
    size conditions admit: their exact p-values, ascending, and cumulative probabilities.

    The baseline has m trials over ``used`` runs (rate ``before``), the PR n
    trials (rate ``after``); the p-value is the one compare_buckets computes,
    on the same effective table. P(fails) at a threshold is then one bisection.
    """
    dispersion = _Dispersion(rho=rho)
    items: list[tuple[Fraction, float]] = []
    for c in range(m + 1):
        weight_c = _pmf(c, m, before)
        if weight_c < _NEGLIGIBLE or Fraction(c, m) < min_base:
            continue
        eff_c, eff_m = _effective(c, m, used, n, dispersion)
        for a in range(n + 1):
            weight = weight_c * _pmf(a, n, after)
            if weight < _NEGLIGIBLE or Fraction(c, m) - Fraction(a, n) < min_delta:
                continue
            if eff_m is None:
                p = stats.fisher_worse(a, n, c, m)
            else:
                p = stats.fisher_worse(a, n, eff_c or 0, eff_m)
            items.append((p, weight))
    items.sort(key=lambda item: item[0])
    cumulative: list[float] = []
    total = 0.0
    for _, weight in items:
        total += weight
        cumulative.append(min(1.0, total))
    return tuple(p for p, _ in items), tuple(cumulative)


def _suite_fails_on_one(
    keys: Sequence[str],
    pr: Bucket,
    baseline: Bucket,
    history: Sequence[Bucket],
    thresholds: Thresholds,
) -> bool:
    """Would the suite-wide test fail the check if one scenario alone failed every trial?

    In a small suite one scenario is a large share of the trials, so the
    aggregate test can fail the check on a drop no per-scenario test reaches
    (a one-scenario suite: 0/3 against 3/3 is p = 0.05 as a scenario but a
    100 pp suite drop). The power statement must not say "no single scenario
    can fail the check" then (issue 11 §4). Decided by the real test, not an
    approximation: an unchanged PR (each scenario at the latest baseline's
    rate, with the PR's trial counts) in which the scenario that weighs most
    fails every trial.
    """
    shared = [k for k in keys if pr.scenarios[k].total and baseline.scenarios[k].total]
    if not shared or thresholds.correction is not Correction.BH:
        return False

    # Only pass counts, as plain tuples: copying 100,000 Scenario objects to change
    # one field cost more than the whole comparison (issue 14).
    hypothetical: dict[str, _Tally] = {}
    for key in shared:
        base = baseline.scenarios[key]
        total = pr.scenarios[key].total
        hypothetical[key] = _Tally(_round_half_even(base.passed * total, base.total), total)
    worst = max(shared, key=lambda k: (hypothetical[k].passed, k))
    hypothetical[worst] = _Tally(0, hypothetical[worst].total)
    test, _ = _aggregate_test(shared, hypothetical, baseline, history, thresholds)
    return test.gating and test.significant


def _round_half_even(numerator: int, denominator: int) -> int:
    """``round(Fraction(numerator, denominator))`` in integers: ties go to the even neighbour."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        return quotient + 1
    return quotient


def _drop_power(
    n: int,
    m: int,
    used: int,
    before: float,
    after: float,
    rho: float,
    *,
    threshold: Fraction,
    thresholds: Thresholds,
) -> float:
    """P(one scenario dropping ``before`` -> ``after`` is a hard regression at ``threshold``)."""
    if n == 0 or m == 0:
        return 0.0
    pvalues, cumulative = _drop_outcomes(
        n,
        m,
        used,
        before,
        after,
        rho,
        _dec(thresholds.hard.min_delta),
        _dec(thresholds.hard.min_baseline_rate),
    )
    index = bisect.bisect_right(pvalues, threshold)
    return cumulative[index - 1] if index else 0.0


def _design_threshold(thresholds: Thresholds, family: int) -> Fraction:
    """The p a scenario needs to fail the check alone in a family of ``family`` tests."""
    if thresholds.correction is Correction.NONE:
        return _dec(thresholds.hard.max_p)
    return Fraction(str(scenario_alpha(thresholds))) / max(1, family)


def _design_power(n: int, per_run: int, runs: int, scenarios: int, thresholds: Thresholds) -> float:
    """Power for a drop from 100% of hard.min_delta + 10 pp on one scenario, from design inputs.

    Deterministic in the trial count, the runs in the window and the suite
    size — never in the observed data — so a suggestion computed from it,
    once followed, is met and not replaced by another (issue 11 §4). The
    family is the whole suite (the most a scenario can share the budget with).
    """
    kept = float(1 - _dec(thresholds.hard.min_delta) - SUGGESTION_EXTRA_DROP)
    return _drop_power(
        n,
        per_run * runs,
        runs,
        1.0,
        kept,
        0.0,
        threshold=_design_threshold(thresholds, scenarios),
        thresholds=thresholds,
    )


@lru_cache(maxsize=1024)
def _design_ceiling(n: int, thresholds: Thresholds) -> float:
    """The most ``_design_power`` can be with ``n`` PR trials, however long the baseline.

    Its baseline passes every trial (rate 1.0), so the outcomes the hard tier's
    size conditions admit — a PR rate at least hard.min_delta below 100% — and
    their probabilities depend on ``n`` alone; power is the part of that mass
    whose p-value is small enough. When the mass is short of the target no
    baseline length reaches it, and the search below skips the exact p-values
    (issue 14: a search to the longest history took 47 ms for a suggestion of
    None). The slack covers the float sums' order; nothing near the target is skipped.
    """
    if n == 0:
        return 0.0  # _drop_power's answer for no PR trials
    kept = float(1 - _dec(thresholds.hard.min_delta) - SUGGESTION_EXTRA_DROP)
    min_delta = _dec(thresholds.hard.min_delta)
    mass = 0.0
    for a in range(n + 1):
        weight = _pmf(a, n, kept)
        if weight >= _NEGLIGIBLE and 1 - Fraction(a, n) >= min_delta:
            mass += weight
    return mass


# Far more than a float sum of at most a few hundred terms can be off by.
_CEILING_SLACK = 1e-9


def _reachable(n: int, thresholds: Thresholds) -> bool:
    """Whether some baseline could give ``n`` PR trials the target power (``_design_ceiling``)."""
    return _design_ceiling(n, thresholds) >= POWER_TARGET - _CEILING_SLACK


# Cached: every comparison with the same design asks the same search.
@lru_cache(maxsize=1024)
def _suggestion(
    n: int, per_run: int, window: int, scenarios: int, thresholds: Thresholds
) -> tuple[int | None, int | None]:
    """The fewest repetitions, and the shortest history, whose design power reaches the target.

    Candidates ``_design_ceiling`` rules out are skipped: the same answer, without
    their exact p-values.
    """
    reps = next(
        (
            r
            for r in range(n + 1, MAX_SUGGESTED_REPETITIONS + 1)
            if _reachable(r, thresholds)
            and _design_power(r, r, window, scenarios, thresholds) >= POWER_TARGET
        ),
        None,
    )
    history = (
        next(
            (
                k
                for k in range(window + 1, MAX_SUGGESTED_HISTORY + 1)
                if _design_power(n, per_run, k, scenarios, thresholds) >= POWER_TARGET
            ),
            None,
        )
        if _reachable(n, thresholds)
        else None
    )
    return reps, history


def power(
    rows: Sequence[ScenarioComparison],
    thresholds: Thresholds,
    *,
    family_size: int,
    runs: int = 1,
    dispersion: _Dispersion | None = None,
    aggregate_test: tuple[AggregateTest, _AggregateDesign | None] | None = None,
    suite_fails_on_one: Callable[[], bool] | bool = False,
) -> Power:
    """The chance the check fails for named drops, with this comparison's design (issue 11 §4).

    For the typical (median) PR trials n and pooled baseline trials m over
    the runs used: the probability that one scenario dropping 100% -> 70%,
    or 97% -> 10%, fails the check, summed exactly over every binomial
    outcome of both sides with the same p-values compare_buckets uses. Under
    BH the scenario must clear alpha_s (R + 1) / (F + 1): the step-up with the
    R scenarios already rejected and the family as observed plus this one —
    so when a table has hard regressions, another drop is never called
    impossible. A 5 pp drop across the suite is the aggregate test's power
    (normal approximation). When a 30 pp drop from 100% is caught less than
    80% of the time, suggest the repetitions or history that would reach it
    (``_design_power``: design inputs only, so following it settles it).
    """
    dispersion = dispersion or _Dispersion()
    # One pass over the rows (there is one per scenario, issue 14).
    pr_totals: list[int] = []
    base_totals: list[int] = []
    rejected = 0
    hard = Verdict.HARD_REGRESSION
    for r in rows:
        pr_total, base_total = r.pr.total, (r.pooled or r.baseline).total
        if pr_total and base_total:
            pr_totals.append(pr_total)
            base_totals.append(base_total)
        if r.verdict is hard:
            rejected += 1
    n = _median(pr_totals)
    m = _median(base_totals)
    if n == 0 or m == 0:
        return Power(n, m, 0.0, family_size)
    if thresholds.correction is Correction.NONE:
        threshold = _dec(thresholds.hard.max_p)
    else:
        threshold = Fraction(str(scenario_alpha(thresholds))) * (rejected + 1) / (family_size + 1)
    used = max(1, min(runs, m))
    per_run = max(1, m // used)
    rho = dispersion.rho

    def scenario(before: float, after: float) -> PowerDrop:
        probability = _drop_power(
            n, m, used, before, after, rho, threshold=threshold, thresholds=thresholds
        )
        return PowerDrop(
            "scenario",
            before,
            after,
            probability,
            True,
        )

    drops = [scenario(1.0, 0.7), scenario(0.97, 0.1)]
    suite_drop = 0.05
    test, design = aggregate_test if aggregate_test is not None else (None, None)
    if test is not None and design is not None and test.gating and design.se > 0:
        shift = (suite_drop - design.margin) / design.se
        drops.append(
            PowerDrop(
                "suite",
                0.0,
                -suite_drop,
                stats.normal_lower_tail(design.quantile + shift),
                False,
            )
        )
    # Can one scenario fail the check at all? The most extreme table: 0/n against m/m.
    eff_c, eff_m = _effective(m, m, used, n, dispersion)
    extreme = (
        stats.fisher_worse(0, n, m, m)
        if eff_m is None
        else stats.fisher_worse(0, n, eff_c or 0, eff_m)
    )
    alone = rejected > 0 or extreme <= threshold
    # Only through the suite-wide test: a small suite (see _suite_fails_on_one).
    only_through_suite = not alone and (
        suite_fails_on_one() if callable(suite_fails_on_one) else suite_fails_on_one
    )
    can_fail = alone or only_through_suite
    scenarios = len(pr_totals)
    window = max(1, runs)
    reps = history = None
    if _design_power(n, per_run, window, scenarios, thresholds) < POWER_TARGET:
        reps, history = _suggestion(n, per_run, window, scenarios, thresholds)
    return Power(
        pr_trials=n,
        baseline_trials=m,
        threshold=float(threshold),
        family_size=family_size,
        baseline_runs=used,
        dispersion=dispersion.phi,
        can_fail_alone=can_fail,
        drops=tuple(drops),
        suggested_repetitions=reps,
        suggested_history=history,
        rejected=rejected,
        extreme_p=float(extreme),
        only_through_suite=only_through_suite,
        target_rate=float(1 - _dec(thresholds.hard.min_delta) - SUGGESTION_EXTRA_DROP),
    )
