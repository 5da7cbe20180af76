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

A scenario may also carry per-trial measurements (issue 6), all optional, each
an array with one value per trial that had the measurement, in trial order::

    "refund-policy": {"passed": 2, "total": 3,
                      "scores": {"correctness": [0.9, 0.8, 0.4]},
                      "latency_ms": [1200, 1350.5, 980], "tokens": [812, 790, 901],
                      "cost": [0.0021, 0.0019, 0.0024],
                      "output_chars": [412, 0, 388], "tool_calls": [2, 0, 1]}

Each array holds at most ``total + unscored`` values (a trial without the
measurement is simply left out, so arrays may be shorter and differ in
length); ``scores`` maps each non-empty feedback key to such an array. The
fields and their values are those of the trial form below.

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

A trial may also carry its measurements, all optional (absent = not
measured; the pass/fail comparison ignores them):

- ``scores``: an object mapping a non-empty feedback key (a numeric
  evaluator, not the pass key) to the trial's score, any finite number on
  the evaluator's own scale (e.g. 0-1 or 1-5);
- ``latency_ms``: the trial's latency in milliseconds, a number ``>= 0``;
- ``tokens``: tokens the trial used (prompt plus completion), a number ``>= 0``;
- ``cost``: what the trial cost, a number ``>= 0`` in the currency of the
  source (e.g. USD; keep one currency across the files compared);
- ``output_chars``: the length of the trial's output in characters, an
  integer ``>= 0``; an empty output is ``0``, a trial with no output at all
  (e.g. it errored) leaves it out;
- ``tool_calls``: how many tool calls the output made, an integer ``>= 0``;
  leave it out when the source does not say: absent means *unknown*, not zero.

Per scenario they accumulate in trial order, each over the trials that carry
it (``scores`` per feedback key), exactly like the scenario form's arrays.
Numbers (``scores``, ``latency_ms``, ``tokens``, ``cost``) may be written as
integers or decimals and are kept as floats; ``true``/``false`` are not numbers.

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
are errors; counts (including ``output_chars`` and ``tool_calls``) must be JSON
integers (``2.0`` and ``true`` are not counts);
``NaN``, ``Infinity`` and numbers too large for a float are rejected; so are
duplicate keys within one JSON object. An empty ``scenarios`` object or
``trials`` array is valid and gives an experiment with no scenarios. The file is
read as UTF-8 (a leading byte order mark is tolerated).

Every problem raises :class:`~evalbot.errors.InputError` with one line naming
the file and the offending field as a JSON path, for example
``pr.json: scenarios["refund-policy"].passed: must be an integer between 0 and
total (3), got 4``. The JSON Schema in ``evalbot/schemas/experiment.schema.json``
describes the same format; the loader additionally checks what a schema cannot
express (``passed <= total``, category counts ``<= total``, at most ``total +
unscored`` measurement values, duplicate keys, ``2.0``).
"""

from __future__ import annotations

import codecs
import copy
import io
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from evalbot.core.models import NO_MEASURES, Bucket, Measures, Scenario
from evalbot.errors import InputError
from evalbot.local_files import read_limited

__all__ = [
    "bucket_to_document",
    "load_experiment",
    "measures_document",
    "parse_experiment",
    "parse_measures",
    "read_json_file",
]

# The largest JSON file evalbot reads (experiment, history and report files),
# checked before the file is read into memory. An exported 100,000-scenario
# suite with 3-10 trials a side is about 16 MB, or about 110 MB with every
# per-trial measure; 256 MiB leaves room for more than twice that, while
# refusing what would take gigabytes of memory to decode.
MAX_FILE_BYTES = 256 * 2**20

_COMMON_FIELDS = ("name", "id", "url", "metadata", "started_at", "notes")
_TOP_FIELDS = (*_COMMON_FIELDS, "scenarios", "trials")
# Per-trial measurements (issue 6), in Measures' field order: the same names in
# both forms, a value per trial in the trial form, an array in the scenario form.
_NUMBER_MEASURES = ("latency_ms", "tokens", "cost")
_COUNT_MEASURES = ("output_chars", "tool_calls")
_MEASURE_FIELDS = ("scores", *_NUMBER_MEASURES, *_COUNT_MEASURES)
_SCENARIO_FIELDS = ("passed", "total", "categories", "unscored", "label", *_MEASURE_FIELDS)
_TRIAL_FIELDS = ("scenario", "passed", "category", "label", *_MEASURE_FIELDS)
_TOP_LEVEL_SHAPE = 'top level must be an object with "name" and either "scenarios" or "trials"'


class _Invalid(Exception):
    """A problem at ``path`` (a JSON path, or "" for the document itself)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)


# --- Public API -------------------------------------------------------------


def load_experiment(path: str | os.PathLike[str]) -> Bucket:
    """Read the experiment file at ``path`` (UTF-8 JSON) and return its Bucket.

    Raises InputError, with a one-line message starting with the path, when the
    file cannot be read, is larger than ``MAX_FILE_BYTES``, is not valid JSON
    (nested too deeply included), or does not follow the format.
    """
    source = os.fspath(path)
    return parse_experiment(read_json_file(source), source=source)


def read_json_file(path: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES) -> object:
    """The JSON document in the file at ``path``, decoded strictly.

    Strict: no ``NaN``/``Infinity``, no number too large for a float, no
    duplicate key in any object, UTF-8 (a leading byte order mark is
    tolerated). Raises InputError with one line starting with the path when
    the file cannot be read, holds more than ``limit`` bytes (checked before
    it is read into memory) or is not such a document.
    """
    source = os.fspath(path)
    raw = read_limited(source, limit=limit)
    data = _fast_decode(raw)
    return data if data is not None else _decode_exactly(raw, source)


# A bytes.translate table: every ASCII digit becomes "0", every other byte a space.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
# orjson reads an integer outside [-2**63, 2**64 - 1] as a float, where the
# stdlib keeps it exact; such a literal has at least 19 digits in a row.
_LONG_DIGIT_RUN = b"0" * 19


def _fast_decode(raw: bytes) -> dict[str, Any] | None:
    """``raw`` decoded by orjson when that gives what the stdlib path gives, else None.

    The stdlib decoder with the duplicate-key hook (``_decode_exactly``) is the
    reference; it is about 3 times slower, so it runs only when orjson cannot vouch
    for the result: orjson rejects the text (the stdlib path then words the
    error exactly as before, or accepts what orjson is stricter about, such as
    a lone surrogate escape), an integer literal may be too long for orjson to
    keep exact, or an object may hold a duplicate key (orjson keeps the last).

    The duplicate check counts colons. In JSON text a ``:`` byte is either the
    separator of one key/value pair or a literal character inside a string
    (UTF-8 never uses 0x3A inside a multi-byte character), and only the
    escape ``\\u003a`` decodes to a colon without being one. orjson's own
    output writes one separator per pair it kept and every string's colons
    as they are. So, with no ``\\u003a`` escape in the text, both counts are
    equal exactly when no pair was dropped; a dropped duplicate loses at least
    its separator. Only a top-level object is taken: every other document is
    an error for the callers, which the reference path words.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    if b"\\u003a" in raw or b"\\u003A" in raw:
        return None
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS_AS_ZERO):
        return None
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or raw.count(b":") != orjson.dumps(data).count(b":"):
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None
    return data


def _decode_exactly(raw: bytes, source: str) -> object:
    """The reference decoder: the stdlib's, with the strictness hooks and exact messages."""
    try:
        # Exactly what reading the file in text mode gives (BOM and newlines included).
        text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig").read()
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
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
    except RecursionError:
        # The stdlib decoder recurses per nesting level (issue 10: a 100,000-deep
        # array was a traceback); nothing in the format nests more than a few levels.
        raise InputError(f"{source}: not valid JSON (nested too deeply)") from None


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

    The inverse of ``parse_experiment`` on the scenario form, so that parsing
    the result gives back an equal bucket: ``id``, ``url``, ``metadata``,
    ``started_at`` and ``notes`` appear only when set; a scenario's
    ``categories``, ``unscored`` and ``label`` only when non-empty, and so
    do its measurements (``scores``, ``latency_ms``, ``tokens``, ``cost``,
    ``output_chars``, ``tool_calls``), each written as an array of its
    per-trial values (``scores`` as an object of such arrays).
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
    entry.update(measures_document(scenario.measures))
    return entry


def measures_document(measures: Measures) -> dict[str, object]:
    """The scenario form's measurement arrays for ``measures`` (only the non-empty ones).

    Also the ``measures`` object of each side in the JSON report.
    """
    document: dict[str, object] = {}
    if measures.scores:
        document["scores"] = {key: list(values) for key, values in measures.scores.items()}
    for name in (*_NUMBER_MEASURES, *_COUNT_MEASURES):
        values = getattr(measures, name)
        if values:
            document[name] = list(values)
    return document


def parse_measures(data: object, *, source: str, limit: int) -> Measures:
    """Read back ``measures_document``'s output, at most ``limit`` values per array.

    Raises InputError naming ``source`` and the field.
    """
    try:
        if not isinstance(data, dict):
            raise _Invalid("", f"must be an object, got {_show(data)}")
        _check_fields(data, _MEASURE_FIELDS, "measures")
        return _scenario_measures(data, "measures", limit)
    except _Invalid as exc:
        raise InputError(f"{source}{exc}") from None


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
        scenario = _quick_scenario(key, entry)
        scenarios[key] = _checked_scenario(key, entry) if scenario is None else scenario
    return scenarios


def _checked_scenario(key: object, entry: object) -> Scenario:
    """The scenario of one scenario-form entry, or _Invalid naming the first problem."""
    path = _index("scenarios", key)
    _check_key(key, path, "scenario key")
    assert isinstance(key, str)  # checked just above
    if not isinstance(entry, dict):
        raise _Invalid(path, f'must be an object with "passed" and "total", got {_show(entry)}')
    _check_fields(entry, _SCENARIO_FIELDS, path)
    total = _required(entry, "total", path, _count)
    passed = _required(entry, "passed", path, _passed_of(total))
    categories = _optional(entry, "categories", path, _categories_of(total)) or {}
    unscored = _optional(entry, "unscored", path, _count) or 0
    label = _optional(entry, "label", path, _string) or ""
    measures = _scenario_measures(entry, path, total + unscored)
    return Scenario(
        key,
        passed,
        total,
        label=label,
        categories=categories,
        unscored=unscored,
        measures=measures,
    )


# --- The fast path ------------------------------------------------------------
#
# Building each field's JSON path (a json.dumps of the scenario key) and a
# checker closure per value cost more than the rest of loading (issue 14: 312k
# json.dumps calls at 100,000 scenarios). The _quick_* functions accept only
# what the checked functions accept, without building anything for messages,
# and return None whenever in doubt; the checked function then runs on that
# entry and either raises the exact message or returns the same value.

_SCENARIO_FIELD_SET = frozenset(_SCENARIO_FIELDS)
_MEASURE_FIELD_SET = frozenset(_MEASURE_FIELDS)
_PLAIN_TRIAL_FIELD_SET = frozenset(("scenario", "passed", "category", "label"))
_NUMBER_TYPES = frozenset((int, float))
_INT_TYPE = frozenset((int,))


def _quick_scenario(key: object, entry: object) -> Scenario | None:
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
    for name in _NUMBER_MEASURES:
        array = _quick_numbers(entry.get(name, []), limit, non_negative=True)
        if array is None:
            return None
        numbers[name] = array
    counts: dict[str, tuple[int, ...]] = {}
    for name in _COUNT_MEASURES:
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


def _scenario_measures(entry: Mapping[str, object], path: str, limit: int) -> Measures:
    """The measurement arrays of one scenario-form entry, at most ``limit`` values each."""
    numbers = _array_of(_number, limit)
    counts = _array_of(_count, limit)
    measures = Measures(
        scores=_optional(entry, "scores", path, _score_arrays_of(limit)) or {},
        latency_ms=tuple(_optional(entry, "latency_ms", path, numbers) or ()),
        tokens=tuple(_optional(entry, "tokens", path, numbers) or ()),
        cost=tuple(_optional(entry, "cost", path, numbers) or ()),
        output_chars=tuple(_optional(entry, "output_chars", path, counts) or ()),
        tool_calls=tuple(_optional(entry, "tool_calls", path, counts) or ()),
    )
    return measures if measures else NO_MEASURES


def _quick_trial(trial: object) -> tuple[str, bool, str | None, str | None] | None:
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


def _parse_trials(value: object) -> dict[str, Scenario]:
    if not isinstance(value, list):
        raise _Invalid("trials", f"must be an array of trials, got {_show(value)}")
    passed: dict[str, int] = {}
    total: dict[str, int] = {}
    categories: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    measures: dict[str, _TrialMeasures] = {}
    for i, trial in enumerate(value):
        quick = _quick_trial(trial)
        if quick is not None:
            key, ok, category, label = quick
        else:
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
        if quick is None:
            measures.setdefault(key, _TrialMeasures()).add(trial, path)
    return {
        key: Scenario(
            key,
            passed[key],
            total[key],
            labels.get(key, ""),
            categories[key],
            measures=measures[key].build() if key in measures else NO_MEASURES,
        )
        for key in total
    }


class _TrialMeasures:
    """One scenario's measurements, gathered trial by trial in trial order."""

    def __init__(self) -> None:
        self.scores: dict[str, list[float]] = {}
        self.numbers: dict[str, list[float]] = {name: [] for name in _NUMBER_MEASURES}
        self.counts: dict[str, list[int]] = {name: [] for name in _COUNT_MEASURES}

    def add(self, trial: Mapping[str, object], path: str) -> None:
        """Check the measurements of ``trial`` (at ``path``) and append them."""
        for feedback, score in (_optional(trial, "scores", path, _scores) or {}).items():
            self.scores.setdefault(feedback, []).append(score)
        for name, numbers in self.numbers.items():
            number = _optional(trial, name, path, _number)
            if number is not None:
                numbers.append(number)
        for name, counts in self.counts.items():
            count = _optional(trial, name, path, _count)
            if count is not None:
                counts.append(count)

    def build(self) -> Measures:
        measures = Measures(
            scores={key: tuple(values) for key, values in self.scores.items()},
            latency_ms=tuple(self.numbers["latency_ms"]),
            tokens=tuple(self.numbers["tokens"]),
            cost=tuple(self.numbers["cost"]),
            output_chars=tuple(self.counts["output_chars"]),
            tool_calls=tuple(self.counts["tool_calls"]),
        )
        return measures if measures else NO_MEASURES


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
        raise _Invalid(path, f"must be a finite number, got {_show(value)}")
    return number


def _number(value: object, path: str) -> float:
    """A latency, token count or cost: a finite number >= 0, kept as a float."""
    number = _as_float(value)
    if number is None or number < 0:
        raise _Invalid(path, f"must be a non-negative number, got {_show(value)}")
    return number


def _scores(value: object, path: str) -> dict[str, float]:
    """One trial's ``scores``: feedback key to a finite number."""
    if not isinstance(value, dict):
        raise _Invalid(path, f"must be an object of feedback key to score, got {_show(value)}")
    scores: dict[str, float] = {}
    for key, score in value.items():
        item = _index(path, key)
        _check_key(key, item, "feedback key")
        scores[key] = _score(score, item)
    return scores


def _array_of(check: _Check[_T], limit: int) -> _Check[list[_T]]:
    """An array of per-trial values, each passing ``check``, at most ``limit`` long."""

    def check_array(value: object, path: str) -> list[_T]:
        if not isinstance(value, list):
            raise _Invalid(path, f"must be an array of per-trial values, got {_show(value)}")
        if len(value) > limit:
            raise _Invalid(
                path, f"must hold at most total + unscored ({limit}) values, got {len(value)}"
            )
        return [check(item, f"{path}[{i}]") for i, item in enumerate(value)]

    return check_array


def _score_arrays_of(limit: int) -> _Check[dict[str, tuple[float, ...]]]:
    """A scenario's ``scores``: feedback key to an array of per-trial scores."""
    check_array = _array_of(_score, limit)

    def check(value: object, path: str) -> dict[str, tuple[float, ...]]:
        if not isinstance(value, dict):
            raise _Invalid(
                path, f"must be an object of feedback key to an array of scores, got {_show(value)}"
            )
        scores: dict[str, tuple[float, ...]] = {}
        for key, values in value.items():
            item = _index(path, key)
            _check_key(key, item, "feedback key")
            scores[key] = tuple(check_array(values, item))
        return scores

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
