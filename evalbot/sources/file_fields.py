"""Checking one field of an experiment file: its typed value, or a message with its JSON path.

A checker takes (value, path) and returns the value, typed, or raises
:class:`Invalid`; paths are built only when a field is checked this way (the
fast path in :mod:`.file_quick` builds none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from evalbot.core.measures import COUNT_MEASURES, NUMBER_MEASURES

__all__ = [
    "COUNT_MEASURES",
    "MEASURE_FIELDS",
    "NUMBER_MEASURES",
    "SCENARIO_FIELDS",
    "TRIAL_FIELDS",
    "Check",
    "Invalid",
    "check_array_of",
    "check_boolean",
    "check_categories_of",
    "check_count",
    "check_fields",
    "check_key",
    "check_non_empty_string",
    "check_number",
    "check_object",
    "check_passed_of",
    "check_score_arrays_of",
    "check_scores",
    "check_string",
    "check_strings",
    "index_path",
    "optional",
    "required",
    "show",
]

# Per-trial measurements (issue 6), in Measures' field order: the same names in
# both forms, a value per trial in the trial form, an array in the scenario form
# (the measurement names themselves are core's, shared with the report).
MEASURE_FIELDS = ("scores", *NUMBER_MEASURES, *COUNT_MEASURES)
SCENARIO_FIELDS = ("passed", "total", "categories", "unscored", "label", *MEASURE_FIELDS)
TRIAL_FIELDS = ("scenario", "passed", "category", "label", *MEASURE_FIELDS)


class Invalid(Exception):
    """A problem at ``path`` (a JSON path, or "" for the document itself)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)


_T = TypeVar("_T")
Check = Callable[[object, str], _T]


def _field(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def index_path(parent: str, key: object) -> str:
    """The path of ``key`` inside the object at ``parent``."""
    return f"{parent}[{show(key)}]"


def required(data: Mapping[str, object], name: str, parent: str, check: Check[_T]) -> _T:
    """The field ``name`` of ``data`` checked by ``check``; missing is a problem."""
    path = _field(parent, name)
    if name not in data:
        raise Invalid(path, "required field is missing")
    return check(data[name], path)


def optional(data: Mapping[str, object], name: str, parent: str, check: Check[_T]) -> _T | None:
    """The field ``name`` of ``data`` checked by ``check``, or None when absent."""
    if name not in data:
        return None
    return check(data[name], _field(parent, name))


def check_fields(data: Mapping[str, object], allowed: tuple[str, ...], path: str) -> None:
    """A problem for the first field of ``data`` not in ``allowed``."""
    for key in data:
        if key not in allowed:
            what = "unknown field" if path else "unknown top-level field"
            raise Invalid(path, f"{what} {show(key)} (allowed: {', '.join(allowed)})")


def check_key(key: object, path: str, what: str) -> None:
    """A problem unless ``key`` is a non-empty string."""
    if not isinstance(key, str) or not key:
        raise Invalid(path, f"{what} must be a non-empty string")


def check_string(value: object, path: str) -> str:
    """A string."""
    if not isinstance(value, str):
        raise Invalid(path, f"must be a string, got {show(value)}")
    return value


def check_non_empty_string(value: object, path: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise Invalid(path, f"must be a non-empty string, got {show(value)}")
    return value


def check_strings(value: object, path: str) -> list[str]:
    """An array of strings."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(path, f"must be an array of strings, got {show(value)}")
    return value


def check_boolean(value: object, path: str) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise Invalid(path, f"must be true or false, got {show(value)}")
    return value


def check_object(value: object, path: str) -> dict[str, Any]:
    """An object (kept as is)."""
    if not isinstance(value, dict):
        raise Invalid(path, f"must be an object, got {show(value)}")
    return value


def _int_in(value: object, low: int, high: int | None) -> int | None:
    """``value`` if it is an int (bool excluded) in [low, high], else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value and (high is None or value <= high) else None


def check_count(value: object, path: str) -> int:
    """A non-negative integer (``2.0`` and ``true`` are not counts)."""
    count = _int_in(value, 0, None)
    if count is None:
        raise Invalid(path, f"must be a non-negative integer, got {show(value)}")
    return count


def check_passed_of(total: int) -> Check[int]:
    """The checker of ``passed``: an integer between 0 and ``total``."""

    def check(value: object, path: str) -> int:
        count = _int_in(value, 0, total)
        if count is None:
            raise Invalid(
                path, f"must be an integer between 0 and total ({total}), got {show(value)}"
            )
        return count

    return check


def check_categories_of(total: int) -> Check[dict[str, int]]:
    """The checker of ``categories``: names to counts of at most ``total``."""

    def check(value: object, path: str) -> dict[str, int]:
        if not isinstance(value, dict):
            raise Invalid(path, f"must be an object of category to count, got {show(value)}")
        counts: dict[str, int] = {}
        for name, count in value.items():
            item = index_path(path, name)
            check_key(name, item, "category name")
            counts[name] = check_count(count, item)
        for name, count in counts.items():
            if count > total:
                raise Invalid(
                    index_path(path, name), f"must be at most total ({total}), got {count}"
                )
        return counts

    return check


def _as_float(value: object) -> float | None:
    """``value`` as a finite float if it is a JSON number (bool excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer literal too large for a float
        return None
    return number if math.isfinite(number) else None


def _score(value: object, path: str) -> float:
    number = _as_float(value)
    if number is None:
        raise Invalid(path, f"must be a finite number, got {show(value)}")
    return number


def check_number(value: object, path: str) -> float:
    """A latency, token count or cost: a finite number >= 0, kept as a float."""
    number = _as_float(value)
    if number is None or number < 0:
        raise Invalid(path, f"must be a non-negative number, got {show(value)}")
    return number


def check_scores(value: object, path: str) -> dict[str, float]:
    """One trial's ``scores``: feedback key to a finite number."""
    if not isinstance(value, dict):
        raise Invalid(path, f"must be an object of feedback key to score, got {show(value)}")
    scores: dict[str, float] = {}
    for key, score in value.items():
        item = index_path(path, key)
        check_key(key, item, "feedback key")
        scores[key] = _score(score, item)
    return scores


def check_array_of(check: Check[_T], limit: int) -> Check[list[_T]]:
    """An array of per-trial values, each passing ``check``, at most ``limit`` long."""

    def check_array(value: object, path: str) -> list[_T]:
        if not isinstance(value, list):
            raise Invalid(path, f"must be an array of per-trial values, got {show(value)}")
        if len(value) > limit:
            raise Invalid(
                path, f"must hold at most total + unscored ({limit}) values, got {len(value)}"
            )
        return [check(item, f"{path}[{i}]") for i, item in enumerate(value)]

    return check_array


def check_score_arrays_of(limit: int) -> Check[dict[str, tuple[float, ...]]]:
    """A scenario's ``scores``: feedback key to an array of per-trial scores."""
    check_array = check_array_of(_score, limit)

    def check(value: object, path: str) -> dict[str, tuple[float, ...]]:
        if not isinstance(value, dict):
            raise Invalid(
                path, f"must be an object of feedback key to an array of scores, got {show(value)}"
            )
        scores: dict[str, tuple[float, ...]] = {}
        for key, values in value.items():
            item = index_path(path, key)
            check_key(key, item, "feedback key")
            scores[key] = tuple(check_array(values, item))
        return scores

    return check


def show(value: object) -> str:
    """A short, one-line rendering of a JSON value for error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None or isinstance(value, str | int | float):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:56] + "…" + text[-1]
    return type(value).__name__
