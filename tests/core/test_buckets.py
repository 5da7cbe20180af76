"""Loaders' fast constructors give the constructors' values (checked_ and counts_scenario...)."""

from __future__ import annotations

import dataclasses

import pytest

from evalbot.core.buckets import Scenario, checked_scenario, counts_scenario
from evalbot.core.measures import NO_MEASURES, Measures, checked_measures


def test_checked_scenario_equals_the_constructed_one_and_is_as_frozen() -> None:
    categories = {"timeout": 1}
    measures = Measures(latency_ms=(1.0,))
    fast = checked_scenario("k", 1, 3, "K", categories, 2, measures)
    slow = Scenario("k", 1, 3, label="K", categories=categories, unscored=2, measures=measures)
    assert fast == slow
    assert repr(fast) == repr(slow)
    categories["timeout"] = 3  # copied, as the constructor copies
    assert fast.categories == {"timeout": 1}
    with pytest.raises(TypeError):
        fast.categories["timeout"] = 2  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.passed = 2  # type: ignore[misc]


def test_checked_scenario_without_categories_is_read_only_and_equal() -> None:
    fast = checked_scenario("k", 0, 0, "", {}, 0, NO_MEASURES)
    assert fast == Scenario("k", 0, 0)
    with pytest.raises(TypeError):
        fast.categories["x"] = 1  # type: ignore[index]


def test_counts_scenario_equals_the_constructed_one_and_is_as_frozen() -> None:
    fast = counts_scenario("k", 2, 5, "K")
    slow = Scenario("k", 2, 5, label="K")
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert type(fast) is Scenario
    with pytest.raises(TypeError):
        fast.categories["x"] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.total = 6  # type: ignore[misc]


def test_checked_measures_equals_the_constructed_one() -> None:
    scores = {"c": (0.5,)}
    fast = checked_measures(scores, (1.0,), (), (0.1,), (3,), ())
    slow = Measures(scores=scores, latency_ms=(1.0,), cost=(0.1,), output_chars=(3,))
    assert fast == slow
    scores["d"] = (1.0,)
    assert dict(fast.scores) == {"c": (0.5,)}
    with pytest.raises(TypeError):
        fast.scores["d"] = (1.0,)  # type: ignore[index]


def test_checked_measures_of_nothing_is_no_measures() -> None:
    assert checked_measures({}, (), (), (), (), ()) is NO_MEASURES
