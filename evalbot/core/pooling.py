"""Each shared scenario's 2x2 table and the baseline side it was tested against.

Without history the baseline side is the latest run; with it, the latest run
pooled with the older runs consistent with it (window.py), at the effective
size the window's spread allows. Pure, like compare.py, which calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter

from evalbot.core.buckets import Scenario, checked_scenario
from evalbot.core.measures import NO_MEASURES
from evalbot.core.scenario_tests import _favourable, _table_stats, _TableStats
from evalbot.core.window import _Dispersion, _effective, _recent_pool

__all__ = ["flakiness", "latest_only", "pool_window"]


def latest_only(
    keys: Sequence[str], sides: Sequence[Scenario], bases: Sequence[Scenario]
) -> tuple[list[_TableStats], list[Scenario]]:
    """Each scenario's table and pooled side when the window is the latest run alone.

    Nothing to pool and nothing to inflate (what _recent_pool and _effective
    return then, without their calls): the table of the PR's counts against
    the baseline's (``_table_stats`` is cached: one object per distinct table).
    """
    tables = [
        _table_stats(side.passed, side.total, base.passed, base.total, None, None)
        for side, base in zip(sides, bases, strict=True)
    ]
    pooled = [
        # Nothing but counts on it: the very Scenario a fresh one would equal (a new
        # object per row cost more than its tests).
        base
        if base.measures is NO_MEASURES and not base.categories and not base.unscored
        else _pooled_side(key, base.passed, base.total, base)
        for key, base in zip(keys, bases, strict=True)
    ]
    return tables, pooled


def pool_window(
    keys: Sequence[str],
    sides: Sequence[Scenario],
    bases: Sequence[Scenario],
    runs: Mapping[str, tuple[tuple[int, int], ...]],
    dispersion: _Dispersion,
    *,
    keep: int,
    trusted: bool,
) -> tuple[list[_TableStats], list[Scenario], int]:
    """Each scenario's table and pooled side over the baseline window, and the most runs
    any scenario pooled (see compare_buckets for ``keep`` and ``trusted``)."""
    tables: list[_TableStats] = []
    pooled: list[Scenario] = []
    most_runs = 1
    for key, side, base in zip(keys, sides, bases, strict=True):
        window_runs = runs[key]
        if len(window_runs) == 1 and not dispersion.rho:
            # One run and binomial spread: nothing to pool, nothing to inflate.
            (c, m), used = window_runs[0], 1
            table = _table_stats(side.passed, side.total, c, m, None, None)
        else:
            c, m, used = _recent_pool(window_runs, keep)
            eff_c, eff_m = _effective(c, m, used, side.total, dispersion)
            table = _table_stats(side.passed, side.total, c, m, eff_c, eff_m)
        if not trusted and used < len(window_runs) and table.delta is not None:
            wc = sum(r[0] for r in window_runs)
            wm = sum(r[1] for r in window_runs)
            w_eff_c, w_eff_m = _effective(wc, wm, len(window_runs), side.total, dispersion)
            whole = _table_stats(side.passed, side.total, wc, wm, w_eff_c, w_eff_m)
            if whole.delta is not None and whole.delta > table.delta:
                c, m, used = wc, wm, len(window_runs)  # shown: the level that decided
            table = _favourable(table, whole)
        pooled.append(_pooled_side(key, c, m, base))
        if used > most_runs:
            most_runs = used
        tables.append(table)
    return tables, pooled, most_runs


def flakiness(passed: int, total: int) -> float | None:
    """2p(1-p) of a pass rate: the chance two trials disagree."""
    if not total:
        return None
    rate = passed / total
    return 2 * rate * (1 - rate)


_passed = attrgetter("passed")
_total = attrgetter("total")


def _pooled_side(key: str, passed: int, total: int, base: Scenario) -> Scenario:
    """The baseline side the tests used: ``base`` itself when it equals a fresh one."""
    if passed == base.passed and total == base.total and _bare(base):
        return base
    # Counts summed from checked scenarios (0 <= passed <= total): no check to repeat.
    return checked_scenario(key, passed, total, base.label, _NO_CATEGORIES, 0, NO_MEASURES)


_NO_CATEGORIES: dict[str, int] = {}


def _bare(scenario: Scenario) -> bool:
    """Whether the scenario carries counts and a label only (equal to a fresh one)."""
    return (
        not scenario.categories
        and not scenario.unscored
        and (scenario.measures is NO_MEASURES or scenario.measures == NO_MEASURES)
    )
