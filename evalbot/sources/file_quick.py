"""The fast path for experiment files: well-formed entries read without building any message.

Building each field's JSON path (a json.dumps of the scenario key) and a
checker closure per value cost more than the rest of loading (issue 14: 312k
json.dumps calls at 100,000 scenarios). These functions accept only what the
checked functions of :mod:`.experiment_file` accept, without building anything
for messages, and return None whenever in doubt; the checked function then runs
on that entry and either raises the exact message or returns the same value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from evalbot.core.models import NO_MEASURES, Measures, Scenario
from evalbot.sources.file_fields import (
    COUNT_MEASURES,
    MEASURE_FIELDS,
    NUMBER_MEASURES,
    SCENARIO_FIELDS,
)

_SCENARIO_FIELD_SET = frozenset(SCENARIO_FIELDS)
_MEASURE_FIELD_SET = frozenset(MEASURE_FIELDS)
_PLAIN_TRIAL_FIELD_SET = frozenset(("scenario", "passed", "category", "label"))
_NUMBER_TYPES = frozenset((int, float))
_INT_TYPE = frozenset((int,))


def quick_scenario(key: object, entry: object) -> Scenario | None:
    """The Scenario for a well-formed scenario-form entry, or None (see above)."""
    if type(key) is not str or not key or type(entry) is not dict:
        return None
    if not entry.keys() <= _SCENARIO_FIELD_SET:
        return None
    total = entry.get("total")
    passed = entry.get("passed")
    if type(total) is not int or type(passed) is not int or not 0 <= passed <= total:
        return None
    categories: dict[str, int] = {}
    if "categories" in entry:
        given = entry["categories"]
        if type(given) is not dict:
            return None
        for name, count in given.items():
            if type(name) is not str or not name or type(count) is not int:
                return None
            if not 0 <= count <= total:
                return None
        categories = given
    unscored = entry.get("unscored", 0)
    label = entry.get("label", "")
    if type(unscored) is not int or unscored < 0 or type(label) is not str:
        return None
    measures = NO_MEASURES
    if not entry.keys().isdisjoint(_MEASURE_FIELD_SET):
        quick = _quick_measures(entry, total + unscored)
        if quick is None:
            return None
        measures = quick
    return Scenario(
        key,
        passed,
        total,
        label=label,
        categories=categories,
        unscored=unscored,
        measures=measures,
    )


def _quick_measures(entry: Mapping[str, object], limit: int) -> Measures | None:
    """``_scenario_measures`` for well-formed arrays, or None."""
    scores: dict[str, tuple[float, ...]] = {}
    if "scores" in entry:
        given = entry["scores"]
        if type(given) is not dict:
            return None
        for feedback, values in given.items():
            per_trial = _quick_numbers(values, limit, non_negative=False)
            if type(feedback) is not str or not feedback or per_trial is None:
                return None
            scores[feedback] = per_trial
    numbers: dict[str, tuple[float, ...]] = {}
    for name in NUMBER_MEASURES:
        array = _quick_numbers(entry.get(name, []), limit, non_negative=True)
        if array is None:
            return None
        numbers[name] = array
    counts: dict[str, tuple[int, ...]] = {}
    for name in COUNT_MEASURES:
        whole = _quick_counts(entry.get(name, []), limit)
        if whole is None:
            return None
        counts[name] = whole
    measures = Measures(
        scores=scores,
        latency_ms=numbers["latency_ms"],
        tokens=numbers["tokens"],
        cost=numbers["cost"],
        output_chars=counts["output_chars"],
        tool_calls=counts["tool_calls"],
    )
    return measures if measures else NO_MEASURES


def _quick_numbers(value: object, limit: int, *, non_negative: bool) -> tuple[float, ...] | None:
    """An array of finite JSON numbers (``>= 0`` if asked) as floats, or None."""
    if type(value) is not list or len(value) > limit:
        return None
    if not _NUMBER_TYPES.issuperset(map(type, value)):  # bool is not a number here
        return None
    try:
        numbers = tuple(map(float, value))
    except OverflowError:  # an integer too large for a float
        return None
    if not all(map(math.isfinite, numbers)):
        return None
    if non_negative and numbers and min(numbers) < 0:
        return None
    return numbers


def _quick_counts(value: object, limit: int) -> tuple[int, ...] | None:
    """An array of non-negative JSON integers, or None."""
    if type(value) is not list or len(value) > limit:
        return None
    if not _INT_TYPE.issuperset(map(type, value)) or (value and min(value) < 0):
        return None
    return tuple(value)


def quick_trial(trial: object) -> tuple[str, bool, str | None, str | None] | None:
    """(scenario, passed, category, label) of a well-formed trial without measures, or None."""
    if type(trial) is not dict or not trial.keys() <= _PLAIN_TRIAL_FIELD_SET:
        return None
    key = trial.get("scenario")
    ok = trial.get("passed")
    category = trial.get("category")
    label = trial.get("label")
    if type(key) is not str or not key or type(ok) is not bool:
        return None
    if "category" in trial and (type(category) is not str or not category):
        return None
    if "label" in trial and type(label) is not str:
        return None
    return key, ok, category, label
