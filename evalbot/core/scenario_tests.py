"""Per-scenario tests: exact tables, the multiplicity-controlled families, the tier verdict.

Pure: counts in, exact p-values and verdicts out (issue 2 §4, issue 11 §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from evalbot.core import stats
from evalbot.core.budget import scenario_alpha
from evalbot.core.decimals import decimal as _dec
from evalbot.core.models import (
    Correction,
    Thresholds,
    Verdict,
)


@dataclass(frozen=True, slots=True)
class _TableStats:
    p_worse: Fraction
    p_better: Fraction
    delta: Fraction | None
    base_rate: Fraction | None
    min_p: Fraction
    min_p_better: Fraction


@lru_cache(maxsize=65536)
def _table_stats(
    pr_passed: int,
    pr_total: int,
    base_passed: int,
    base_total: int,
    eff_passed: int | None = None,
    eff_total: int | None = None,
) -> _TableStats:
    """Exact p-values, delta, baseline rate and minimum attainable p for one 2x2 table.

    The delta and baseline rate come from the real counts; the p-values from
    the baseline side at its *effective* size (``eff_passed``/``eff_total``,
    see ``_effective``) when the window is over-dispersed, else from the real
    counts. Cached: real suites repeat the same few tables (3 trials a side
    gives at most 16 of them), which keeps 100,000 scenarios cheap.
    """
    if pr_total == 0 or base_total == 0:
        one = Fraction(1)
        return _TableStats(one, one, None, None, one, one)
    base_rate = Fraction(base_passed, base_total)
    c, m = (base_passed, base_total) if eff_total is None else (eff_passed or 0, eff_total)
    # fisher_worse, fisher_better, min_attainable_worse and min_attainable_better, at once.
    p_worse, p_better, min_p, min_p_better = stats.fisher_tails(pr_passed, pr_total, c, m)
    return _TableStats(
        p_worse=p_worse,
        p_better=p_better,
        delta=Fraction(pr_passed, pr_total) - base_rate,
        base_rate=base_rate,
        min_p=min_p,
        min_p_better=min_p_better,
    )


@lru_cache(maxsize=65536)
def _favourable(recent: _TableStats, whole: _TableStats) -> _TableStats:
    """One scenario judged against two plausible baseline levels: significant only
    against both.

    Each p-value (worse and better) is the larger of the two, and so is each
    minimum attainable p (the family filter stays a function of the margins);
    the delta and baseline rate are those of the lower level (the smaller
    drop: the one more favourable to the PR; the recent one on a tie). Whichever
    level is main's true one, its test is valid, and the larger p is at least
    its p: the combination keeps the size of each (an intersection-union test).
    """
    assert recent.delta is not None and whole.delta is not None
    favoured = whole if whole.delta > recent.delta else recent
    return _TableStats(
        p_worse=max(recent.p_worse, whole.p_worse),
        p_better=max(recent.p_better, whole.p_better),
        delta=favoured.delta,
        base_rate=favoured.base_rate,
        min_p=max(recent.min_p, whole.min_p),
        min_p_better=max(recent.min_p_better, whole.min_p_better),
    )


@dataclass(frozen=True, slots=True)
class _Flags:
    """Which tests of one scenario are significant for the tiers that use them."""

    hard: bool  # a drop, for the hard tier
    soft: bool  # a drop, for the soft tier
    better: bool  # a gain, for the improvement label


def _verdict(table: _TableStats, thresholds: Thresholds, flags: _Flags) -> Verdict:
    """The tier a scenario falls in, given which of its tests are significant.

    Evaluation order is part of the spec (issue 2 §4): improvement, hard,
    unreliable_baseline, soft, watch, stable. With correction "bh" the hard
    and soft flags both come from the one multiplicity-controlled family
    (everything that can fail the check is inside the false-alarm budget) and
    the improvement flag from its mirror family; with "none" each tier uses
    its own raw p-value (the core classifier). ``unreliable_baseline`` and
    ``watch`` never fail the check and keep raw values.
    """
    if table.delta is None or table.base_rate is None:
        return Verdict.INSUFFICIENT_DATA
    delta, base_rate = table.delta, table.base_rate
    hard, soft = thresholds.hard, thresholds.soft
    if flags.better and delta >= _dec(hard.min_delta):
        return Verdict.IMPROVEMENT
    if -delta >= _dec(hard.min_delta):
        if base_rate >= _dec(hard.min_baseline_rate):
            if flags.hard:
                return Verdict.HARD_REGRESSION
        elif stats.significant(table.p_worse, hard.max_p):
            # A hard-sized drop on a baseline that was already failing often is
            # not evidence about this PR: flag the baseline, don't fail the gate.
            return Verdict.UNRELIABLE_BASELINE
    if flags.soft and -delta >= _dec(soft.min_delta) and base_rate >= _dec(soft.min_baseline_rate):
        return Verdict.SOFT_REGRESSION
    if abs(delta) >= _dec(thresholds.watch_delta):
        return Verdict.WATCH
    return Verdict.STABLE


def _families(
    tables: Sequence[_TableStats], counts: Sequence[int], thresholds: Thresholds
) -> tuple[list[_Flags], list[float | None], int]:
    """Each table's significance flags, its q-value (gains family for an improvement,
    drops family otherwise) and the drop family's size.

    ``tables`` are the distinct tables of the shared scenarios, ``counts[i]``
    how many scenarios have ``tables[i]``: a scenario's flags and q depend on
    its table alone, and suites repeat a few tables (issue 14).

    correction "none": each tier at its own raw level (hard.max_p, soft.max_p,
    and hard.max_p for improvements) — the core classifier.
    correction "bh": one Tarone-filtered Benjamini-Hochberg family of drops
    (stats.tarone_bh) at alpha - aggregate_alpha over every shared scenario
    with trials on both sides decides both the hard and the soft tier, so
    whatever ``fail_on`` says, every scenario verdict that can fail the check
    comes out of the same budget; improvements come from the mirror family of
    gains at the same level, so an unchanged PR rarely shows one. Families
    are chosen from the tables' margins alone, never from the baseline's pass
    rate: selecting on the observed baseline rate would favour scenarios whose
    baseline ran lucky, and those have p-values biased low — the false-fail
    simulation in bench/bench_stats.py showed exactly that. The tiers'
    baseline-rate and minimum-drop conditions stay a veto in _verdict,
    applied after the test.
    """
    if thresholds.correction is Correction.NONE:
        hard, soft = thresholds.hard, thresholds.soft
        flags = [
            _Flags(
                hard=stats.significant(table.p_worse, hard.max_p),
                soft=stats.significant(table.p_worse, soft.max_p),
                better=stats.significant(table.p_better, hard.max_p),
            )
            for table in tables
        ]
        return flags, [None] * len(tables), sum(counts)
    eligible = [i for i, table in enumerate(tables) if table.base_rate is not None]
    chosen = [tables[i] for i in eligible]
    weights = [counts[i] for i in eligible]
    level = scenario_alpha(thresholds)
    worse, qvalues, size = stats.tarone_bh_grouped(
        [t.p_worse for t in chosen], [t.min_p for t in chosen], weights, level
    )
    better, better_q, _ = stats.tarone_bh_grouped(
        [t.p_better for t in chosen], [t.min_p_better for t in chosen], weights, level
    )
    # Four possible flag sets, built once (not one object per table).
    shared = {
        (w, b): _Flags(hard=w, soft=w, better=b) for w in (False, True) for b in (False, True)
    }
    flags = [shared[False, False]] * len(tables)
    q_out: list[float | None] = [None] * len(tables)
    rows = zip(eligible, worse, better, qvalues, better_q, strict=True)
    for i, is_worse, is_better, q_worse, q_better in rows:
        flags[i] = shared[is_worse, is_better]
        # The q of the family that decided: an improvement shows its gains-family q.
        q_out[i] = q_better if is_better else q_worse
    return flags, q_out, size
