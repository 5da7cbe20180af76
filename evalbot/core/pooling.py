"""Each shared scenario's 2x2 table and the baseline side it was tested against.

Without history the baseline side is the latest run; with it, the latest run
pooled with the older runs consistent with it (window.py), at the effective
size the window's spread allows. Pure, like compare.py, which calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import cast

from evalbot.core.buckets import Scenario, counts_scenario
from evalbot.core.measures import NO_MEASURES
from evalbot.core.scenario_tests import _favourable, _table_stats, _TableStats
from evalbot.core.window import _Dispersion, _effective, _recent_pool

__all__ = ["flakiness", "latest_only", "pool_window", "window_runs"]


#: One scenario's window: (passed, total) of each run with trials, oldest first.
Runs = tuple[tuple[int, int], ...]


def window_runs(
    keys: Sequence[str], older: Sequence[Mapping[str, Scenario]], latest: Sequence[Scenario]
) -> tuple[list[Runs], list[tuple[float | None, ...]]]:
    """Each scenario's runs with trials and its pass-rate series (None: absent, or no
    trials), over the ``older`` runs' scenarios then ``latest`` (aligned with ``keys``).

    Read a run at a time, each a column in C (map, zip): a scenario at a time,
    the same tuples took a sixth of a 10-run comparison (issue 14).
    """
    by_run: list[list[tuple[int, int] | None]] = []
    rates_by_run: list[list[float | None]] = []
    gaps = False
    for column in [*(list(map(scenarios.get, keys)) for scenarios in older), latest]:
        pairs = [None if s is None or not s.total else (s.passed, s.total) for s in column]
        # Scenario.rate, inline.
        rates_by_run.append([None if pair is None else pair[0] / pair[1] for pair in pairs])
        gaps = gaps or None in pairs
        by_run.append(pairs)
    rows = list(zip(*by_run, strict=True))
    if not gaps:  # every scenario in every run, with trials: the rows as they are
        return cast(list[Runs], rows), list(zip(*rates_by_run, strict=True))
    runs: list[Runs] = [tuple([pair for pair in row if pair is not None]) for row in rows]
    return runs, list(zip(*rates_by_run, strict=True))


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
    runs: Sequence[Runs],
    dispersion: _Dispersion,
    *,
    keep: int,
    trusted: bool,
) -> tuple[list[_TableStats], list[Scenario], int]:
    """Each scenario's table and pooled side over the baseline window (``runs``: each
    scenario's, from window_runs), and the most runs any scenario pooled (see
    compare_buckets for ``keep`` and ``trusted``)."""
    tables: list[_TableStats] = []
    pooled: list[Scenario] = []
    most_runs = 1
    binomial = not dispersion.rho
    for key, side, base, window in zip(keys, sides, bases, runs, strict=True):
        if len(window) == 1 and binomial:
            # One run and binomial spread: nothing to pool, nothing to inflate.
            (c, m), used = window[0], 1
            table = _table_stats(side.passed, side.total, c, m, None, None)
        elif binomial:
            # Binomial spread: nothing to inflate (what _effective returns then).
            c, m, used = _recent_pool(window, keep)
            table = _table_stats(side.passed, side.total, c, m, None, None)
        else:
            c, m, used = _recent_pool(window, keep)
            eff_c, eff_m = _effective(c, m, used, side.total, dispersion)
            table = _table_stats(side.passed, side.total, c, m, eff_c, eff_m)
        if not trusted and used < len(window) and table.delta is not None:
            wc = sum(r[0] for r in window)
            wm = sum(r[1] for r in window)
            w_eff_c, w_eff_m = _effective(wc, wm, len(window), side.total, dispersion)
            whole = _table_stats(side.passed, side.total, wc, wm, w_eff_c, w_eff_m)
            if whole.delta is not None and whole.delta > table.delta:
                c, m, used = wc, wm, len(window)  # shown: the level that decided
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
    return counts_scenario(key, passed, total, base.label)


def _bare(scenario: Scenario) -> bool:
    """Whether the scenario carries counts and a label only (equal to a fresh one)."""
    return (
        not scenario.categories
        and not scenario.unscored
        and (scenario.measures is NO_MEASURES or scenario.measures == NO_MEASURES)
    )
