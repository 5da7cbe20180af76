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

import copy
import os
from collections.abc import Mapping

from evalbot.core.buckets import checked_scenario
from evalbot.core.measures import measures_document
from evalbot.core.models import NO_MEASURES, Bucket, Measures, Scenario
from evalbot.errors import InputError
from evalbot.sources.file_fields import (
    COUNT_MEASURES,
    MEASURE_FIELDS,
    NUMBER_MEASURES,
    SCENARIO_FIELDS,
    TRIAL_FIELDS,
    Invalid,
    check_array_of,
    check_boolean,
    check_categories_of,
    check_count,
    check_fields,
    check_key,
    check_non_empty_string,
    check_number,
    check_object,
    check_passed_of,
    check_score_arrays_of,
    check_scores,
    check_string,
    check_strings,
    index_path,
    optional,
    required,
    show,
)
from evalbot.sources.file_quick import quick_columns, quick_scenario, quick_trial
from evalbot.sources.json_file import MAX_FILE_BYTES, read_json_file

__all__ = [
    "MAX_FILE_BYTES",
    "bucket_to_document",
    "load_experiment",
    "parse_experiment",
    "parse_measures",
    "read_json_file",
]

_COMMON_FIELDS = ("name", "id", "url", "metadata", "started_at", "notes")
_TOP_FIELDS = (*_COMMON_FIELDS, "scenarios", "trials")
_TOP_LEVEL_SHAPE = 'top level must be an object with "name" and either "scenarios" or "trials"'


# --- Public API -------------------------------------------------------------


def load_experiment(path: str | os.PathLike[str]) -> Bucket:
    """Read the experiment file at ``path`` (UTF-8 JSON) and return its Bucket.

    Raises InputError, with a one-line message starting with the path, when the
    file cannot be read, is larger than ``MAX_FILE_BYTES``, is not valid JSON
    (nested too deeply included), or does not follow the format.
    """
    source = os.fspath(path)
    return parse_experiment(read_json_file(source), source=source)


def parse_experiment(data: object, *, source: str) -> Bucket:
    """Turn an already-decoded experiment document into a Bucket.

    Pure: ``data`` is what ``json.load`` returned and ``source`` names the file
    in error messages. Accepts the scenario form and the trial form (see the
    module docstring); raises InputError naming ``source`` and the field.
    """
    try:
        return _parse_document(data)
    except Invalid as exc:
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


def parse_measures(data: object, *, source: str, limit: int) -> Measures:
    """Read back ``measures_document``'s output, at most ``limit`` values per array.

    Raises InputError naming ``source`` and the field.
    """
    try:
        if not isinstance(data, dict):
            raise Invalid("", f"must be an object, got {show(data)}")
        check_fields(data, MEASURE_FIELDS, "measures")
        return _scenario_measures(data, "measures", limit)
    except Invalid as exc:
        raise InputError(f"{source}{exc}") from None


# --- The two forms ----------------------------------------------------------


def _parse_document(data: object) -> Bucket:
    if not isinstance(data, dict):
        raise Invalid("", _TOP_LEVEL_SHAPE)
    check_fields(data, _TOP_FIELDS, "")
    name = required(data, "name", "", check_non_empty_string)
    id_ = optional(data, "id", "", check_string)
    url = optional(data, "url", "", check_string)
    metadata = optional(data, "metadata", "", check_object)
    started_at = optional(data, "started_at", "", check_string)
    notes = optional(data, "notes", "", check_strings)
    if ("scenarios" in data) == ("trials" in data):
        detail = ", not both" if "scenarios" in data else ""
        raise Invalid("", f'top level must have either "scenarios" or "trials"{detail}')
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
        raise Invalid(
            "scenarios", f"must be an object of scenario key to counts, got {show(value)}"
        )
    quick = quick_columns(value, extras=True)
    if quick is not None:
        return quick
    # Some entry in doubt (measurements, or a problem to word): entry by entry.
    scenarios: dict[str, Scenario] = {}
    for key, entry in value.items():
        scenario = quick_scenario(key, entry)
        scenarios[key] = _checked_scenario(key, entry) if scenario is None else scenario
    return scenarios


def _checked_scenario(key: object, entry: object) -> Scenario:
    """The scenario of one scenario-form entry, or Invalid naming the first problem."""
    path = index_path("scenarios", key)
    check_key(key, path, "scenario key")
    assert isinstance(key, str)  # checked just above
    if not isinstance(entry, dict):
        raise Invalid(path, f'must be an object with "passed" and "total", got {show(entry)}')
    check_fields(entry, SCENARIO_FIELDS, path)
    total = required(entry, "total", path, check_count)
    passed = required(entry, "passed", path, check_passed_of(total))
    categories = optional(entry, "categories", path, check_categories_of(total)) or {}
    unscored = optional(entry, "unscored", path, check_count) or 0
    label = optional(entry, "label", path, check_string) or ""
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


def _scenario_measures(entry: Mapping[str, object], path: str, limit: int) -> Measures:
    """The measurement arrays of one scenario-form entry, at most ``limit`` values each."""
    numbers = check_array_of(check_number, limit)
    counts = check_array_of(check_count, limit)
    measures = Measures(
        scores=optional(entry, "scores", path, check_score_arrays_of(limit)) or {},
        latency_ms=tuple(optional(entry, "latency_ms", path, numbers) or ()),
        tokens=tuple(optional(entry, "tokens", path, numbers) or ()),
        cost=tuple(optional(entry, "cost", path, numbers) or ()),
        output_chars=tuple(optional(entry, "output_chars", path, counts) or ()),
        tool_calls=tuple(optional(entry, "tool_calls", path, counts) or ()),
    )
    return measures if measures else NO_MEASURES


def _parse_trials(value: object) -> dict[str, Scenario]:
    if not isinstance(value, list):
        raise Invalid("trials", f"must be an array of trials, got {show(value)}")
    passed: dict[str, int] = {}
    total: dict[str, int] = {}
    categories: dict[str, dict[str, int]] = {}
    labels: dict[str, str] = {}
    measures: dict[str, _TrialMeasures] = {}
    for i, trial in enumerate(value):
        quick = quick_trial(trial)
        if quick is not None:
            key, ok, category, label = quick
        else:
            path = f"trials[{i}]"
            if not isinstance(trial, dict):
                raise Invalid(
                    path, f'must be an object with "scenario" and "passed", got {show(trial)}'
                )
            check_fields(trial, TRIAL_FIELDS, path)
            key = required(trial, "scenario", path, check_non_empty_string)
            ok = required(trial, "passed", path, check_boolean)
            category = optional(trial, "category", path, check_non_empty_string)
            label = optional(trial, "label", path, check_string)
        total[key] = total.get(key, 0) + 1
        passed[key] = passed.get(key, 0) + int(ok)
        counts = categories.setdefault(key, {})
        if category is not None:
            counts[category] = counts.get(category, 0) + 1
        if label and key not in labels:
            labels[key] = label
        if quick is None:
            measures.setdefault(key, _TrialMeasures()).add(trial, path)
    # Counted above, so 0 <= passed <= total holds: no constructor check needed.
    return {
        key: checked_scenario(
            key,
            passed[key],
            total[key],
            labels.get(key, ""),
            categories[key],
            0,
            measures[key].build() if key in measures else NO_MEASURES,
        )
        for key in total
    }


class _TrialMeasures:
    """One scenario's measurements, gathered trial by trial in trial order."""

    def __init__(self) -> None:
        self.scores: dict[str, list[float]] = {}
        self.numbers: dict[str, list[float]] = {name: [] for name in NUMBER_MEASURES}
        self.counts: dict[str, list[int]] = {name: [] for name in COUNT_MEASURES}

    def add(self, trial: Mapping[str, object], path: str) -> None:
        """Check the measurements of ``trial`` (at ``path``) and append them."""
        for feedback, score in (optional(trial, "scores", path, check_scores) or {}).items():
            self.scores.setdefault(feedback, []).append(score)
        for name, numbers in self.numbers.items():
            number = optional(trial, name, path, check_number)
            if number is not None:
                numbers.append(number)
        for name, counts in self.counts.items():
            count = optional(trial, name, path, check_count)
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
