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
from itertools import repeat
from operator import itemgetter, le, ne
from typing import Any

from evalbot.core.buckets import checked_scenario, counts_scenario
from evalbot.core.measures import checked_measures
from evalbot.core.models import NO_MEASURES, Measures, Scenario
from evalbot.sources.file_fields import (
    MEASURE_FIELDS,
    SCENARIO_FIELDS,
)

_SCENARIO_FIELD_SET = frozenset(SCENARIO_FIELDS)
_PLAIN_SCENARIO_FIELD_SET = _SCENARIO_FIELD_SET - frozenset(MEASURE_FIELDS)
_NO_CATEGORIES: dict[str, int] = {}
_PLAIN_TRIAL_FIELD_SET = frozenset(("scenario", "passed", "category", "label"))
_NUMBER_TYPES = frozenset((int, float))
_INT_TYPE = frozenset((int,))
_NO_VALUES: list[object] = []
# A label's absence (dict.get's default): no JSON value is this object.
_MISSING = object()
_LABEL_TYPES = frozenset((str, object))
_passed = itemgetter("passed")
_total = itemgetter("total")


def quick_columns(scenarios: dict[Any, Any], *, extras: bool) -> dict[str, Scenario] | None:
    """Every entry of a file's ``scenarios`` at once, when each is one :func:`quick_scenario`
    accepts without measurements; else None (the entry-by-entry path then decides).

    Checked a column at a time (every total, then every passed count...), in C
    where it can be: per entry in Python the checks and calls took 3 µs, most
    of an experiment file's loading (issue 14). ``extras``: keep each entry's
    categories and unscored count (an experiment file); without it they are
    checked and dropped (a history file: the window reads counts and labels).
    """
    keys = list(scenarios)
    entries = list(scenarios.values())
    if not entries or "" in scenarios or set(map(type, keys)) != {str}:
        return None
    if set(map(type, entries)) != {dict}:
        return None
    try:
        totals = list(map(_total, entries))
        passed = list(map(_passed, entries))
    except KeyError:
        return None
    # type() is, not isinstance: a JSON true is no count.
    if set(map(type, totals)) != {int} or set(map(type, passed)) != {int}:
        return None
    if min(passed) < 0 or not all(map(le, passed, totals)):
        return None
    found = list(map(dict.get, entries, repeat("label"), repeat(_MISSING)))
    if not set(map(type, found)) <= _LABEL_TYPES:
        return None
    unlabelled = found.count(_MISSING)
    labels = [label if type(label) is str else "" for label in found] if unlabelled else found
    # Each entry has "passed" and "total" (found above), and "label" or not: when the
    # fields number that many in all, no entry has another (counted in C). Otherwise the
    # others may also carry categories and an unscored count (checked before anything is
    # built: a suite with measurements goes entry by entry, as before).
    others: list[int] = []
    extra: list[tuple[dict[str, int], int]] = []
    if sum(map(len, entries)) != 3 * len(entries) - unlabelled:
        plain_sizes = [2 if label is _MISSING else 3 for label in found]
        others = [i for i, odd in enumerate(map(ne, map(len, entries), plain_sizes)) if odd]
        checked = _quick_extras([entries[i] for i in others], [totals[i] for i in others])
        if checked is None:
            return None
        extra = checked
    built = list(map(counts_scenario, keys, passed, totals, labels))
    if extras:
        for index, (categories, unscored) in zip(others, extra, strict=True):
            built[index] = checked_scenario(
                keys[index],
                passed[index],
                totals[index],
                labels[index],
                categories,
                unscored,
                NO_MEASURES,
            )
    return dict(zip(keys, built, strict=True))


def quick_scenario(key: object, entry: object) -> Scenario | None:
    """The Scenario for a well-formed scenario-form entry, or None (see above)."""
    if type(key) is not str or not key or type(entry) is not dict:
        return None
    fields = entry.keys()
    total = entry.get("total")
    passed = entry.get("passed")
    if type(total) is not int or type(passed) is not int or not 0 <= passed <= total:
        return None
    if not extras_valid(entry, total):
        return None
    categories = entry.get("categories", _NO_CATEGORIES)
    unscored = entry.get("unscored", 0)
    label = entry.get("label", "")
    if type(label) is not str:
        return None
    measures = NO_MEASURES
    # One set operation for the common entry, which has no measurements.
    if not fields <= _PLAIN_SCENARIO_FIELD_SET:
        if not fields <= _SCENARIO_FIELD_SET:
            return None
        quick = _quick_measures(entry, total + unscored)
        if quick is None:
            return None
        measures = quick
    return checked_scenario(key, passed, total, label, categories, unscored, measures)


def _quick_extras(
    entries: list[dict[str, Any]], totals: list[int]
) -> list[tuple[dict[str, int], int]] | None:
    """(categories, unscored) of each entry when every one has :func:`extras_valid` ones and
    no other field than a plain entry's; else None. A column at a time, as above."""
    if not all(map(_PLAIN_SCENARIO_FIELD_SET.issuperset, entries)):
        return None
    categories = list(map(dict.get, entries, repeat("categories"), repeat(_NO_CATEGORIES)))
    unscored = list(map(dict.get, entries, repeat("unscored"), repeat(0)))
    if set(map(type, categories)) != {dict} or set(map(type, unscored)) != {int}:
        return None
    if min(unscored) < 0:
        return None
    names = [name for given in categories for name in given]
    if names:
        counts = [count for given in categories for count in given.values()]
        limits = [total for given, total in zip(categories, totals, strict=True) for _ in given]
        if set(map(type, names)) != {str} or "" in names or set(map(type, counts)) != {int}:
            return None
        if min(counts) < 0 or not all(map(le, counts, limits)):
            return None
    return list(zip(categories, unscored, strict=True))


def extras_valid(entry: Mapping[str, object], total: int) -> bool:
    """Whether an entry's optional ``categories`` and ``unscored`` are well formed: each
    category a non-empty name with a count in 0..total, unscored a count."""
    categories = entry.get("categories", _NO_CATEGORIES)
    if type(categories) is not dict:
        return False
    for name, count in categories.items():
        if type(name) is not str or not name or type(count) is not int:
            return False
        if not 0 <= count <= total:
            return False
    unscored = entry.get("unscored", 0)
    return type(unscored) is int and unscored >= 0


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
    latency_ms = _quick_numbers(entry.get("latency_ms", _NO_VALUES), limit, non_negative=True)
    tokens = _quick_numbers(entry.get("tokens", _NO_VALUES), limit, non_negative=True)
    cost = _quick_numbers(entry.get("cost", _NO_VALUES), limit, non_negative=True)
    output_chars = _quick_counts(entry.get("output_chars", _NO_VALUES), limit)
    tool_calls = _quick_counts(entry.get("tool_calls", _NO_VALUES), limit)
    if latency_ms is None or tokens is None or cost is None:
        return None
    if output_chars is None or tool_calls is None:
        return None
    return checked_measures(scores, latency_ms, tokens, cost, output_chars, tool_calls)


def _quick_numbers(value: object, limit: int, *, non_negative: bool) -> tuple[float, ...] | None:
    """An array of finite JSON numbers (``>= 0`` if asked) as floats, or None."""
    if type(value) is not list or len(value) > limit:
        return None
    if not value:
        return ()
    if not _NUMBER_TYPES.issuperset(map(type, value)):  # bool is not a number here
        return None
    try:
        numbers = tuple(map(float, value))
    except OverflowError:  # an integer too large for a float
        return None
    # A finite sum means every value is finite (an inf or NaN makes it inf or
    # NaN); a sum that overflows although every value is finite only sends the
    # entry to the checked path, which accepts it.
    if not math.isfinite(sum(numbers)):
        return None
    if non_negative and min(numbers) < 0:
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
