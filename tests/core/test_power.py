"""The power statement's suggestion search (evalbot.core.power): its shortcut is exact."""

from __future__ import annotations

import dataclasses

import pytest

from evalbot.core import power
from evalbot.core.threshold_values import Thresholds, Tier

DEFAULT = Thresholds()
# A smaller hard drop: more PR trial counts can reach the target with a long history.
LENIENT = dataclasses.replace(DEFAULT, hard=Tier(max_p=0.05, min_delta=0.20, min_baseline_rate=0.7))


def _searched(
    n: int, per_run: int, window: int, scenarios: int, thresholds: Thresholds
) -> tuple[int | None, int | None]:
    """The suggestion by its definition: every candidate's exact design power, in order."""
    reps = next(
        (
            r
            for r in range(n + 1, power.MAX_SUGGESTED_REPETITIONS + 1)
            if power._design_power(r, r, window, scenarios, thresholds) >= power.POWER_TARGET
        ),
        None,
    )
    history = next(
        (
            k
            for k in range(window + 1, power.MAX_SUGGESTED_HISTORY + 1)
            if power._design_power(n, per_run, k, scenarios, thresholds) >= power.POWER_TARGET
        ),
        None,
    )
    return reps, history


@pytest.mark.parametrize("thresholds", [DEFAULT, LENIENT], ids=["default", "lenient"])
@pytest.mark.parametrize(
    ("n", "per_run", "window", "scenarios"),
    [(3, 3, 1, 20), (7, 7, 1, 10_000), (7, 6, 11, 10_000), (12, 12, 2, 100), (20, 5, 3, 500)],
)
def test_the_suggestion_is_the_first_candidate_reaching_the_target(
    n: int, per_run: int, window: int, scenarios: int, thresholds: Thresholds
) -> None:
    expected = _searched(n, per_run, window, scenarios, thresholds)
    assert power._suggestion.__wrapped__(n, per_run, window, scenarios, thresholds) == expected


def test_both_kinds_of_answer_are_covered() -> None:
    # The cases above include suggestions found and not found, history reachable and not.
    assert not power._reachable(7, DEFAULT)  # 100% -> 60% is seen <= 70% too rarely at 7
    assert power._reachable(20, DEFAULT)
    assert _searched(20, 5, 3, 500, DEFAULT)[1] is not None
    assert _searched(7, 7, 1, 10_000, DEFAULT) == (49, None)


@pytest.mark.parametrize("thresholds", [DEFAULT, LENIENT], ids=["default", "lenient"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 21])
def test_no_baseline_gives_more_than_the_ceiling(n: int, thresholds: Thresholds) -> None:
    ceiling = power._design_ceiling(n, thresholds)
    for per_run, runs in [(1, 1), (n, 1), (n, 4), (3, 30)]:
        assert power._design_power(n, per_run, runs, 10, thresholds) <= ceiling + 1e-12
    # ...and a long enough baseline comes close to it: the ceiling is not loose.
    assert power._design_power(n, 200, 1, 1, thresholds) >= ceiling - 0.05


def test_no_trials_have_no_power() -> None:
    assert power._design_ceiling(0, DEFAULT) == 0.0
