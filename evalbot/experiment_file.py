"""Offline experiment files: an experiment as JSON, instead of fetched from LangSmith.

A file holds one experiment in one of two forms. Both share the top-level fields

- ``name`` (required): a non-empty string naming the experiment;
- ``id`` (optional): a string, the experiment's id in its source system;
- ``url`` (optional): a string, a link to the experiment;
- ``metadata`` (optional): any JSON object, kept as is;
- ``started_at`` (optional): when the experiment started, an ISO 8601 string;
- ``notes`` (optional): an array of strings, completeness remarks from the
  source (e.g. ``"partial: 27 of 30 runs"``), shown in the report;

and have exactly one of ``scenarios`` or ``trials``. No other top-level field is
accepted.

Scenario form: per-scenario counts, already bucketed::

    {"name": "pr-1234",
     "scenarios": {"refund-policy": {"passed": 2, "total": 3,
                                     "categories": {"timeout": 1},
                                     "label": "Refund policy"}}}

``passed`` and ``total`` are required integers with ``0 <= passed <= total``.
``categories`` (optional) maps a non-empty category name to a non-negative
integer count of trials, each at most ``total`` (a trial may carry several
categories, e.g. ``target_error`` and a label). ``unscored`` (optional, a
non-negative integer) counts trials left out of ``passed``/``total`` because
their evaluator crashed or gave no score. ``label`` (optional) is a display
name. Scenario keys are non-empty strings.

Trial form: one entry per trial, bucketed on load::

    {"name": "pr-1234",
     "trials": [{"scenario": "refund-policy", "passed": true},
                {"scenario": "refund-policy", "passed": false, "category": "timeout",
                 "label": "Refund policy"}]}

``scenario`` (a non-empty string) and ``passed`` (``true`` or ``false``) are
required; ``category`` (a non-empty string) and ``label`` (a string) are
optional. Per scenario key, ``passed`` counts the trials that passed, ``total``
counts all its trials, ``categories`` counts the ``category`` of *every* trial
that carries one (passed or failed: a category describes a trial, not only a
failure), and ``label`` is the first non-empty label seen. Scenarios keep the
order in which their keys first appear.

Strictness, so that typos are never silently ignored: unknown fields anywhere
are errors; counts must be JSON integers (``2.0`` and ``true`` are not counts);
``NaN``, ``Infinity`` and numbers too large for a float are rejected; so are
duplicate keys within one JSON object. An empty ``scenarios`` object or
``trials`` array is valid and gives an experiment with no scenarios. The file is
read as UTF-8 (a leading byte order mark is tolerated).

Every problem raises :class:`~evalbot.errors.InputError` with one line naming
the file and the offending field as a JSON path, for example
``pr.json: scenarios["refund-policy"].passed: must be an integer between 0 and
total (3), got 4``. The JSON Schema in ``evalbot/schemas/experiment.schema.json``
describes the same format; the loader additionally checks what a schema cannot
express (``passed <= total``, category counts ``<= total``, duplicate keys, ``2.0``).
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from evalbot.errors import InputError
from evalbot.models import Bucket, Scenario

__all__ = ["bucket_to_document", "load_experiment", "parse_experiment"]

_COMMON_FIELDS = ("name", "id", "url", "metadata", "started_at", "notes")
_TOP_FIELDS = (*_COMMON_FIELDS, "scenarios", "trials")
_SCENARIO_FIELDS = ("passed", "total", "categories", "unscored", "label")
_TRIAL_FIELDS = ("scenario", "passed", "category", "label")
_TOP_LEVEL_SHAPE = 'top level must be an object with "name" and either "scenarios" or "trials"'


class _Invalid(Exception):
    """A problem at ``path`` (a JSON path, or "" for the document itself)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)


# --- Public API -------------------------------------------------------------


def load_experiment(path: str | os.PathLike[str]) -> Bucket:
    """Read the experiment file at ``path`` (UTF-8 JSON) and return its Bucket.

    Raises InputError, with a one-line message starting with the path, when the
    file cannot be read, is not valid JSON, or does not follow the format.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{source}: cannot read file: {exc.strerror or exc}") from None
    try:
        data = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except ValueError as exc:  # raised by the hooks above
        raise InputError(f"{source}: not valid JSON ({exc})") from None
    return parse_experiment(data, source=source)


def parse_experiment(data: object, *, source: str) -> Bucket:
    """Turn an already-decoded experiment document into a Bucket.

    Pure: ``data`` is what ``json.load`` returned and ``source`` names the file
    in error messages. Accepts the scenario form and the trial form (see the
    module docstring); raises InputError naming ``source`` and the field.
    """
    try:
        return _parse_document(data)
    except _Invalid as exc:
        raise InputError(f"{source}: {exc}") from None


def bucket_to_document(bucket: Bucket) -> dict[str, object]:
    """Write ``bucket`` as a scenario-form document, ready for ``json.dump``.

    The inverse of ``parse_experiment`` on the scenario form: ``id``, ``url``
    and ``metadata`` appear only when set, a scenario's ``label`` and
    ``categories`` only when non-empty. Scenario fields the format does not
    carry (scores, latency, tokens, cost) are not written.
    """
    document: dict[str, object] = {"name": bucket.name}
    if bucket.id is not None:
        document["id"] = bucket.id
    if bucket.url is not None:
        document["url"] = bucket.url
    if bucket.metadata:
        document["metadata"] = copy.deepcopy(dict(bucket.metadata))
    if bucket.started_at is not None:
        document["started_at"] = bucket.started_at
    if bucket.notes:
        document["notes"] = list(bucket.notes)
    document["scenarios"] = {key: _scenario_entry(s) for key, s in bucket.scenarios.items()}
    return document


def _scenario_entry(scenario: Scenario) -> dict[str, object]:
    entry: dict[str, object] = {"passed": scenario.passed, "total": scenario.total}
    if scenario.categories:
        entry["categories"] = dict(scenario.categories)
    if scenario.unscored:
        entry["unscored"] = scenario.unscored
    if scenario.label:
        entry["label"] = scenario.label
    return entry


# --- JSON decoding hooks ----------------------------------------------------


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is too large; numbers must be finite")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {json.dumps(key)} in an object")
        result[key] = value
    return result


# --- The two forms ----------------------------------------------------------


def _parse_document(data: object) -> Bucket:
    if not isinstance(data, dict):
        raise _Invalid("", _TOP_LEVEL_SHAPE)
    _check_fields(data, _TOP_FIELDS, "")
    name = _required(data, "name", "", _non_empty_string)
    id_ = _optional(data, "id", "", _string)
    url = _optional(data, "url", "", _string)
    metadata = _optional(data, "metadata", "", _object)
    started_at = _optional(data, "started_at", "", _string)
    notes = _optional(data, "notes", "", _strings)
    if ("scenarios" in data) == ("trials" in data):
        detail = ", not both" if "scenarios" in data else ""
        raise _Invalid("", f'top level must have either "scenarios" or "trials"{detail}')
    if "scenarios" in data:
        scenarios = _parse_scenarios(data["scenarios"])
    else:
        scenarios = _parse_trials(data["trials"])
    return Bucket(
        name=name,
        scenarios=scenarios,
        url=url,
        id=id_,
        metadata=metadata or {},
        started_at=started_at,
        notes=tuple(notes or ()),
    )


def _parse_scenarios(value: object) -> dict[str, Scenario]:
    if not isinstance(value, dict):
        raise _Invalid(
            "scenarios", f"must be an object of scenario key to counts, got {_show(value)}"
        )
    scenarios: dict[str, Scenario] = {}
    for key, entry in value.items():
        path = _index("scenarios", key)
        _check_key(key, path, "scenario key")
        if not isinstance(entry, dict):
            raise _Invalid(path, f'must be an object with "passed" and "total", got {_show(entry)}')
        _check_fields(entry, _SCENARIO_FIELDS, path)
        total = _required(entry, "total", path, _count)
        passed = _required(entry, "passed", path, _passed_of(total))
        categories = _optional(entry, "categories", path, _categories_of(total)) or {}
        unscored = _optional(entry, "unscored", path, _count) or 0
        label = _optional(entry, "label", path, _string) or ""
        scenarios[key] = Scenario(
            key, passed, total, label=label, categories=categories, unscored=unscored
        )
    return scenarios


def _parse_trials(value: object) -> dict[str, Scenario]:
    if not isinstance(value, list):
        raise _Invalid("trials", f"must be an array of trials, got {_show(value)}")
    passed: dict[str, int] = {}
    total: dict[str, int] = {}
    categories: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    for i, trial in enumerate(value):
        path = f"trials[{i}]"
        if not isinstance(trial, dict):
            raise _Invalid(
                path, f'must be an object with "scenario" and "passed", got {_show(trial)}'
            )
        _check_fields(trial, _TRIAL_FIELDS, path)
        key = _required(trial, "scenario", path, _non_empty_string)
        ok = _required(trial, "passed", path, _boolean)
        category = _optional(trial, "category", path, _non_empty_string)
        label = _optional(trial, "label", path, _string)
        total[key] = total.get(key, 0) + 1
        passed[key] = passed.get(key, 0) + int(ok)
        counts = categories.setdefault(key, {})
        if category is not None:
            counts[category] = counts.get(category, 0) + 1
        if label and key not in labels:
            labels[key] = label
    return {
        key: Scenario(key, passed[key], total[key], labels.get(key, ""), categories[key])
        for key in total
    }


# --- Field helpers ----------------------------------------------------------
#
# A checker takes (value, path) and returns the value, typed, or raises _Invalid.

_T = TypeVar("_T")
_Check = Callable[[object, str], _T]


def _field(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _index(parent: str, key: object) -> str:
    return f"{parent}[{_show(key)}]"


def _required(data: Mapping[str, object], name: str, parent: str, check: _Check[_T]) -> _T:
    path = _field(parent, name)
    if name not in data:
        raise _Invalid(path, "required field is missing")
    return check(data[name], path)


def _optional(data: Mapping[str, object], name: str, parent: str, check: _Check[_T]) -> _T | None:
    if name not in data:
        return None
    return check(data[name], _field(parent, name))


def _check_fields(data: Mapping[str, object], allowed: tuple[str, ...], path: str) -> None:
    for key in data:
        if key not in allowed:
            what = "unknown field" if path else "unknown top-level field"
            raise _Invalid(path, f"{what} {_show(key)} (allowed: {', '.join(allowed)})")


def _check_key(key: object, path: str, what: str) -> None:
    if not isinstance(key, str) or not key:
        raise _Invalid(path, f"{what} must be a non-empty string")


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(path, f"must be a string, got {_show(value)}")
    return value


def _non_empty_string(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _Invalid(path, f"must be a non-empty string, got {_show(value)}")
    return value


def _strings(value: object, path: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Invalid(path, f"must be an array of strings, got {_show(value)}")
    return value


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(path, f"must be true or false, got {_show(value)}")
    return value


def _object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(path, f"must be an object, got {_show(value)}")
    return value


def _int_in(value: object, low: int, high: int | None) -> int | None:
    """``value`` if it is an int (bool excluded) in [low, high], else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value and (high is None or value <= high) else None


def _count(value: object, path: str) -> int:
    count = _int_in(value, 0, None)
    if count is None:
        raise _Invalid(path, f"must be a non-negative integer, got {_show(value)}")
    return count


def _passed_of(total: int) -> _Check[int]:
    def check(value: object, path: str) -> int:
        count = _int_in(value, 0, total)
        if count is None:
            raise _Invalid(
                path, f"must be an integer between 0 and total ({total}), got {_show(value)}"
            )
        return count

    return check


def _categories_of(total: int) -> _Check[dict[str, int]]:
    def check(value: object, path: str) -> dict[str, int]:
        if not isinstance(value, dict):
            raise _Invalid(path, f"must be an object of category to count, got {_show(value)}")
        counts: dict[str, int] = {}
        for name, count in value.items():
            item = _index(path, name)
            _check_key(name, item, "category name")
            counts[name] = _count(count, item)
        for name, count in counts.items():
            if count > total:
                raise _Invalid(_index(path, name), f"must be at most total ({total}), got {count}")
        return counts

    return check


def _show(value: object) -> str:
    """A short, one-line rendering of a JSON value for error messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None or isinstance(value, str | int | float):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:56] + "…" + text[-1]
    return type(value).__name__
