"""Tests for the offline experiment-file format (evalbot.sources.experiment_file, history_file)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalbot.core.compare import compare_buckets
from evalbot.core.models import NO_MEASURES, Bucket, Measures, Scenario, Thresholds
from evalbot.errors import InputError
from evalbot.sources.experiment_file import bucket_to_document, load_experiment, parse_experiment
from evalbot.sources.history_file import load_history, window_view

SCHEMA_PATH = Path(__file__).parents[2] / "evalbot" / "schemas" / "experiment.schema.json"

SCENARIO_DOC: dict[str, Any] = {
    "name": "pr-1234",
    "id": "exp-42",
    "url": "https://example.com/exp/42",
    "metadata": {"commit": "abc123", "nested": {"k": [1, 2]}},
    "scenarios": {
        "refund-policy": {
            "passed": 2,
            "total": 3,
            "categories": {"timeout": 1},
            "label": "Refund policy",
        },
        "greeting": {"passed": 5, "total": 5},
    },
}

TRIAL_DOC: dict[str, Any] = {
    "name": "pr-1234",
    "trials": [
        {"scenario": "b", "passed": False, "category": "timeout"},
        {"scenario": "a", "passed": True, "label": "Scenario A"},
        {"scenario": "b", "passed": True, "label": ""},
        {"scenario": "b", "passed": False, "category": "timeout", "label": "Scenario B"},
        {"scenario": "b", "passed": True, "category": "slow", "label": "ignored"},
        {"scenario": "a", "passed": False, "category": "wrong-answer"},
    ],
}


def write(tmp_path: Path, content: str, name: str = "pr.json") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def load_doc(tmp_path: Path, doc: object) -> Bucket:
    return load_experiment(write(tmp_path, json.dumps(doc)))


def with_change(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``value`` set at a path like "scenarios.a.passed"."""
    doc = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


def without(base: dict[str, Any], dotted: str) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    del target[last]
    return doc


# --- Valid files --------------------------------------------------------------


def test_scenario_form_loads(tmp_path: Path) -> None:
    bucket = load_doc(tmp_path, SCENARIO_DOC)
    assert bucket.name == "pr-1234"
    assert bucket.id == "exp-42"
    assert bucket.url == "https://example.com/exp/42"
    assert dict(bucket.metadata) == {"commit": "abc123", "nested": {"k": [1, 2]}}
    assert list(bucket.scenarios) == ["refund-policy", "greeting"]
    assert bucket.scenarios["refund-policy"] == Scenario(
        "refund-policy", 2, 3, label="Refund policy", categories={"timeout": 1}
    )
    assert bucket.scenarios["greeting"] == Scenario("greeting", 5, 5)


def test_minimal_scenario_form(tmp_path: Path) -> None:
    bucket = load_doc(tmp_path, {"name": "n", "scenarios": {"s": {"passed": 0, "total": 0}}})
    assert bucket == Bucket("n", {"s": Scenario("s", 0, 0)})
    assert bucket.url is None and bucket.id is None and dict(bucket.metadata) == {}


def test_trial_form_buckets_per_scenario(tmp_path: Path) -> None:
    bucket = load_doc(tmp_path, TRIAL_DOC)
    assert list(bucket.scenarios) == ["b", "a"]  # first-seen order
    # Categories count every trial that carries one, passed or not.
    assert bucket.scenarios["b"] == Scenario(
        "b", 2, 4, label="Scenario B", categories={"timeout": 2, "slow": 1}
    )
    assert bucket.scenarios["a"] == Scenario(
        "a", 1, 2, label="Scenario A", categories={"wrong-answer": 1}
    )
    assert bucket.total_trials == 6


@pytest.mark.parametrize("key", ["scenarios", "trials"])
def test_empty_forms_give_an_empty_bucket(tmp_path: Path, key: str) -> None:
    empty: object = {} if key == "scenarios" else []
    assert load_doc(tmp_path, {"name": "n", key: empty}) == Bucket("n", {})


def test_utf8_and_bom(tmp_path: Path) -> None:
    doc = {"name": "café", "scenarios": {"naïve": {"passed": 1, "total": 1, "label": "ü"}}}
    path = tmp_path / "pr.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    bucket = load_experiment(path)
    assert bucket.name == "café"
    assert bucket.scenarios["naïve"] == Scenario("naïve", 1, 1, label="ü")


@pytest.mark.parametrize("doc", [SCENARIO_DOC, TRIAL_DOC], ids=["scenarios", "trials"])
def test_round_trip(doc: dict[str, Any]) -> None:
    bucket = parse_experiment(doc, source="pr.json")
    document = bucket_to_document(bucket)
    assert parse_experiment(document, source="again.json") == bucket
    # It also survives a trip through JSON text.
    assert parse_experiment(json.loads(json.dumps(document)), source="x") == bucket


def test_bucket_to_document_omits_unset_fields() -> None:
    bucket = Bucket("n", {"s": Scenario("s", 1, 2)})
    assert bucket_to_document(bucket) == {
        "name": "n",
        "scenarios": {"s": {"passed": 1, "total": 2}},
    }
    assert bucket_to_document(parse_experiment(SCENARIO_DOC, source="x")) == SCENARIO_DOC


def test_bucket_to_document_does_not_share_metadata() -> None:
    bucket = parse_experiment(SCENARIO_DOC, source="x")
    document = bucket_to_document(bucket)
    document["metadata"]["nested"]["k"].append(3)  # type: ignore[index]
    assert bucket.metadata["nested"] == {"k": [1, 2]}


# --- Invalid files ------------------------------------------------------------

S = SCENARIO_DOC
T = TRIAL_DOC

INVALID_DOCS: list[tuple[str, object, str]] = [
    ("top-level array", [S], "top level must be an object"),
    ("top-level string", "pr", "top level must be an object"),
    ("missing name", without(S, "name"), "name: required field is missing"),
    ("empty name", with_change(S, "name", ""), "name: must be a non-empty string"),
    ("name not a string", with_change(S, "name", 3), "name: must be a non-empty string"),
    ("both forms", with_change(S, "trials", []), '"scenarios" or "trials", not both'),
    ("neither form", without(S, "scenarios"), 'either "scenarios" or "trials"'),
    (
        "unknown top-level field",
        with_change(S, "scenarioz", {}),
        'unknown top-level field "scenarioz"',
    ),
    ("url not a string", with_change(S, "url", 3), "url: must be a string, got 3"),
    ("url null", with_change(S, "url", None), "url: must be a string, got null"),
    ("id not a string", with_change(S, "id", 42), "id: must be a string, got 42"),
    ("metadata not an object", with_change(S, "metadata", [1]), "metadata: must be an object"),
    ("scenarios not an object", with_change(S, "scenarios", []), "scenarios: must be an object"),
    (
        "empty scenario key",
        with_change(S, "scenarios.", {"passed": 1, "total": 1}),
        'scenarios[""]: scenario key must be a non-empty string',
    ),
    (
        "scenario not an object",
        with_change(S, "scenarios.greeting", 5),
        'scenarios["greeting"]: must be an object',
    ),
    (
        "passed > total",
        with_change(S, "scenarios.refund-policy.passed", 4),
        'scenarios["refund-policy"].passed: must be an integer between 0 and total (3), got 4',
    ),
    (
        "negative passed",
        with_change(S, "scenarios.refund-policy.passed", -1),
        'scenarios["refund-policy"].passed: must be an integer between 0 and total (3), got -1',
    ),
    (
        "negative total",
        with_change(S, "scenarios.greeting.total", -1),
        'scenarios["greeting"].total: must be a non-negative integer, got -1',
    ),
    (
        "passed as bool",
        with_change(S, "scenarios.greeting.passed", True),
        'scenarios["greeting"].passed: must be an integer between 0 and total (5), got true',
    ),
    (
        "total as bool",
        with_change(S, "scenarios.greeting.total", True),
        'scenarios["greeting"].total: must be a non-negative integer, got true',
    ),
    (
        "passed as float",
        with_change(S, "scenarios.greeting.passed", 2.0),
        'scenarios["greeting"].passed: must be an integer between 0 and total (5), got 2.0',
    ),
    (
        "passed as string",
        with_change(S, "scenarios.greeting.passed", "2"),
        'scenarios["greeting"].passed: must be an integer between 0 and total (5), got "2"',
    ),
    (
        "total missing",
        without(S, "scenarios.greeting.total"),
        'scenarios["greeting"].total: required field is missing',
    ),
    (
        "passed missing",
        without(S, "scenarios.greeting.passed"),
        'scenarios["greeting"].passed: required field is missing',
    ),
    (
        "unknown scenario field",
        with_change(S, "scenarios.greeting.pased", 5),
        'scenarios["greeting"]: unknown field "pased"',
    ),
    (
        "categories not an object",
        with_change(S, "scenarios.greeting.categories", ["timeout"]),
        'scenarios["greeting"].categories: must be an object',
    ),
    (
        "negative category count",
        with_change(S, "scenarios.greeting.categories", {"timeout": -1}),
        'scenarios["greeting"].categories["timeout"]: must be a non-negative integer, got -1',
    ),
    (
        "category count as float",
        with_change(S, "scenarios.greeting.categories", {"timeout": 1.5}),
        'scenarios["greeting"].categories["timeout"]: must be a non-negative integer, got 1.5',
    ),
    (
        "empty category name",
        with_change(S, "scenarios.greeting.categories", {"": 1}),
        'scenarios["greeting"].categories[""]: category name must be a non-empty string',
    ),
    (
        "category count > total",
        with_change(S, "scenarios.refund-policy.categories", {"timeout": 2, "slow": 4}),
        'scenarios["refund-policy"].categories["slow"]: must be at most total (3), got 4',
    ),
    (
        "label not a string",
        with_change(S, "scenarios.greeting.label", 1),
        'scenarios["greeting"].label: must be a string, got 1',
    ),
    ("trials not an array", with_change(T, "trials", {}), "trials: must be an array"),
    ("trial not an object", with_change(T, "trials.3", "b"), "trials[3]: must be an object"),
    (
        "trial passed not bool",
        with_change(T, "trials.3.passed", "yes"),
        'trials[3].passed: must be true or false, got "yes"',
    ),
    (
        "trial passed as int",
        with_change(T, "trials.0.passed", 1),
        "trials[0].passed: must be true or false, got 1",
    ),
    (
        "trial passed missing",
        without(T, "trials.1.passed"),
        "trials[1].passed: required field is missing",
    ),
    (
        "trial scenario missing",
        without(T, "trials.2.scenario"),
        "trials[2].scenario: required field is missing",
    ),
    (
        "trial scenario empty",
        with_change(T, "trials.2.scenario", ""),
        'trials[2].scenario: must be a non-empty string, got ""',
    ),
    (
        "trial category empty",
        with_change(T, "trials.0.category", ""),
        "trials[0].category: must be a non-empty string",
    ),
    (
        "trial category null",
        with_change(T, "trials.0.category", None),
        "trials[0].category: must be a non-empty string, got null",
    ),
    (
        "trial label not a string",
        with_change(T, "trials.0.label", ["x"]),
        "trials[0].label: must be a string, got an array",
    ),
    (
        "unknown trial field",
        with_change(T, "trials.4.score", 0.5),
        'trials[4]: unknown field "score"',
    ),
]


def assert_one_line_error(exc: pytest.ExceptionInfo[InputError], source: str, part: str) -> None:
    message = str(exc.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{source}: "), message
    assert part in message, message


@pytest.mark.parametrize(
    ("doc", "part"), [(d, p) for _, d, p in INVALID_DOCS], ids=[i for i, _, _ in INVALID_DOCS]
)
def test_invalid_documents(tmp_path: Path, doc: object, part: str) -> None:
    path = write(tmp_path, json.dumps(doc))
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert_one_line_error(exc, str(path), part)
    # The pure parser gives the same message with the given source name.
    with pytest.raises(InputError) as exc:
        parse_experiment(doc, source="pr.json")
    assert_one_line_error(exc, "pr.json", part)


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ('{"name": "n",\n  "scenarios": {}\n  "x": 1}', "not valid JSON (line 3, column 3: "),
        ("", "not valid JSON (line 1, column 1: Expecting value)"),
        ('{"name": "n", "scenarios": {"a": {"passed": NaN, "total": 1}}}', "NaN is not allowed"),
        ('{"name": "n", "metadata": {"x": -Infinity}, "scenarios": {}}', "-Infinity is not"),
        ('{"name": "n", "metadata": {"x": 1e999}, "scenarios": {}}', "1e999 is too large"),
        ('{"name": "n", "scenarios": {"a": {"passed": 1, "passed": 2}}}', 'duplicate key "passed"'),
    ],
    ids=["syntax", "empty", "nan", "infinity", "overflow", "duplicate-key"],
)
def test_invalid_json(tmp_path: Path, text: str, part: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert_one_line_error(exc, str(path), part)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "pr.json"
    path.write_bytes(b'{"name": "\xff"}')
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert_one_line_error(exc, str(path), "not valid UTF-8")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert_one_line_error(exc, str(path), "cannot read file: No such file or directory")


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_experiment(str(tmp_path))
    assert_one_line_error(exc, str(tmp_path), "cannot read file: ")


def test_long_values_are_shortened() -> None:
    doc = with_change(S, "scenarios.greeting.passed", "x" * 500)
    with pytest.raises(InputError) as exc:
        parse_experiment(doc, source="pr.json")
    assert len(str(exc.value)) < 200


# --- The JSON Schema agrees with the loader -------------------------------------

# Documents the loader rejects but a JSON Schema cannot: cross-field rules,
# 2.0 (an "integer" to JSON Schema) and the like.
LOADER_ONLY = {
    "passed > total",
    "category count > total",
    "passed as float",
    "latency_ms: too many values",
    "latency_ms: more values than total",
    "scores: too many values",
    "output_chars: too many values",
    "output_chars: 2.0",
    "trial output_chars: 2.0",
    "trial tool_calls: 2.0",
}


def test_schema_is_well_formed() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/experiment.schema.json")
    for name, definition in schema["$defs"].items():
        assert "description" in definition, name
        for field, spec in definition.get("properties", {}).items():
            assert "description" in spec or "$ref" in spec, f"{name}.{field}"


def test_schema_agrees_with_loader() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    valid = [
        SCENARIO_DOC,
        TRIAL_DOC,
        {"name": "n", "scenarios": {}},
        {"name": "n", "trials": []},
        {
            "name": "n",
            "id": "",
            "url": "",
            "metadata": {},
            "scenarios": {"s": {"passed": 0, "total": 0}},
        },
        MEASURED_SCENARIO_DOC,
        MEASURED_TRIAL_DOC,
    ]
    for doc in valid:
        parse_experiment(doc, source="pr.json")
        assert validator.is_valid(doc), doc

    for case, bad, _ in [*INVALID_DOCS, *INVALID_MEASURES]:
        with pytest.raises(InputError):
            parse_experiment(bad, source="pr.json")
        assert validator.is_valid(bad) == (case in LOADER_ONLY), case


# --- Fields the LangSmith export carries (issue 3) --------------------------------


def test_export_fields_round_trip() -> None:
    doc = {
        "name": "main-8c41e07",
        "id": "0c9f",
        "started_at": "2026-11-20T10:00:00+00:00",
        "notes": ["partial: 27 of 30 runs"],
        "scenarios": {
            "a": {"passed": 1, "total": 2, "unscored": 1, "categories": {"target_error": 1}}
        },
    }
    bucket = parse_experiment(doc, source="x.json")
    assert bucket.started_at == "2026-11-20T10:00:00+00:00"
    assert bucket.notes == ("partial: 27 of 30 runs",)
    assert bucket.scenarios["a"].unscored == 1
    assert bucket.unscored == 1
    assert bucket_to_document(bucket) == doc


def test_a_trial_may_carry_several_categories() -> None:
    doc = {
        "name": "n",
        "scenarios": {
            "a": {"passed": 0, "total": 1, "categories": {"target_error": 1, "timeout": 1}}
        },
    }
    assert parse_experiment(doc, source="x.json").scenarios["a"].categories == {
        "target_error": 1,
        "timeout": 1,
    }


@pytest.mark.parametrize(
    ("doc", "part"),
    [
        ({"name": "n", "started_at": 5, "scenarios": {}}, "started_at: must be a string"),
        ({"name": "n", "notes": "partial", "scenarios": {}}, "notes: must be an array of strings"),
        ({"name": "n", "notes": [1], "scenarios": {}}, "notes: must be an array of strings"),
        (
            {"name": "n", "scenarios": {"a": {"passed": 0, "total": 1, "unscored": -1}}},
            'scenarios["a"].unscored: must be a non-negative integer',
        ),
    ],
)
def test_invalid_export_fields(doc: object, part: str) -> None:
    with pytest.raises(InputError, match=re.escape(f"x.json: {part}")):
        parse_experiment(doc, source="x.json")


# --- Per-trial measurements (issue 6) ----------------------------------------------

MEASURED_TRIAL_DOC: dict[str, Any] = {
    "name": "pr-1234",
    "trials": [
        {
            "scenario": "a",
            "passed": True,
            "scores": {"correctness": 1, "helpfulness": 4.5},
            "latency_ms": 1200,
            "tokens": 812,
            "cost": 0.0021,
            "output_chars": 412,
            "tool_calls": 2,
        },
        {"scenario": "quiet", "passed": True},
        # An errored trial: no output, no scores, but latency and cost.
        {"scenario": "a", "passed": False, "latency_ms": 30000.5, "cost": 0},
        {
            "scenario": "a",
            "passed": True,
            "scores": {"helpfulness": -2, "correctness": 0.25},
            "tokens": 790.0,
            "output_chars": 0,
            "tool_calls": 0,
        },
        {"scenario": "a", "passed": True, "scores": {"tone": 3}, "latency_ms": 0},
    ],
}

MEASURED_SCENARIO_DOC: dict[str, Any] = {
    "name": "pr-1234",
    "scenarios": {
        "a": {
            "passed": 1,
            "total": 2,
            "unscored": 1,
            "scores": {"correctness": [0.9, 1, 0.4], "tone": [-1]},
            "latency_ms": [1200, 1350.5, 0],
            "tokens": [812, 790.0],
            "cost": [0.0021, 0, 0.0024],
            "output_chars": [412, 0, 388],
            "tool_calls": [2],
        },
        "quiet": {"passed": 1, "total": 1},
    },
}

EVERY_MEASURE = Measures(
    scores={"correctness": (0.9, 1.0, 0.4), "tone": (-1.0,)},
    latency_ms=(1200.0, 1350.5, 0.0),
    tokens=(812.0, 790.0),
    cost=(0.0021, 0.0, 0.0024),
    output_chars=(412, 0, 388),
    tool_calls=(2,),
)


def assert_value_types(measures: Measures) -> None:
    """Numbers are floats (even when written as integers); counts are ints."""
    for values in (*measures.scores.values(), measures.latency_ms, measures.tokens, measures.cost):
        assert all(type(v) is float for v in values), values
    for counts in (measures.output_chars, measures.tool_calls):
        assert all(type(v) is int for v in counts), counts


def test_trial_form_measures_accumulate_in_trial_order() -> None:
    bucket = parse_experiment(MEASURED_TRIAL_DOC, source="pr.json")
    a = bucket.scenarios["a"]
    assert (a.passed, a.total) == (3, 4)
    assert a.measures == Measures(
        # Per key, in the order of the trials that carry it.
        scores={"correctness": (1.0, 0.25), "helpfulness": (4.5, -2.0), "tone": (3.0,)},
        latency_ms=(1200.0, 30000.5, 0.0),
        tokens=(812.0, 790.0),
        cost=(0.0021, 0.0),
        output_chars=(412, 0),
        tool_calls=(2, 0),
    )
    assert list(a.measures.scores) == ["correctness", "helpfulness", "tone"]
    assert_value_types(a.measures)


def test_trial_without_measures_leaves_them_absent() -> None:
    bucket = parse_experiment(MEASURED_TRIAL_DOC, source="pr.json")
    quiet = bucket.scenarios["quiet"]
    assert quiet.measures == NO_MEASURES
    assert not quiet.measures
    # Unmeasured trials are skipped, not filled in: "a" has 4 trials but 2 tool counts.
    assert len(bucket.scenarios["a"].measures.tool_calls) == 2
    assert bucket.scenarios["a"].measures.tool_calls == (2, 0)


def test_scenario_form_measures() -> None:
    bucket = parse_experiment(MEASURED_SCENARIO_DOC, source="pr.json")
    assert bucket.scenarios["a"] == Scenario("a", 1, 2, unscored=1, measures=EVERY_MEASURE)
    assert_value_types(bucket.scenarios["a"].measures)
    assert bucket.scenarios["quiet"].measures == NO_MEASURES
    assert not bucket.scenarios["quiet"].measures


def test_scenario_form_measures_load_from_a_file(tmp_path: Path) -> None:
    bucket = load_doc(tmp_path, MEASURED_SCENARIO_DOC)
    assert bucket.scenarios["a"].measures == EVERY_MEASURE
    assert_value_types(bucket.scenarios["a"].measures)


def test_scenario_form_arrays_may_hold_total_plus_unscored_values() -> None:
    doc = with_change(MEASURED_SCENARIO_DOC, "scenarios.a.tool_calls", [1, 2, 3])
    assert parse_experiment(doc, source="x").scenarios["a"].measures.tool_calls == (1, 2, 3)
    doc = with_change(doc, "scenarios.a.scores", {"c": [0, 0, 0]})
    assert parse_experiment(doc, source="x").scenarios["a"].measures.scores == {"c": (0, 0, 0)}


def test_scenario_form_empty_arrays_are_no_values() -> None:
    doc = {
        "name": "n",
        "scenarios": {"a": {"passed": 0, "total": 1, "latency_ms": [], "scores": {"c": []}}},
    }
    measures = parse_experiment(doc, source="x").scenarios["a"].measures
    assert measures == Measures(scores={"c": ()})
    assert measures.latency_ms == ()


def test_measures_round_trip_exactly() -> None:
    bucket = Bucket(
        "main",
        {
            "a": Scenario("a", 1, 2, label="A", unscored=1, measures=EVERY_MEASURE),
            "b": Scenario("b", 1, 1, measures=Measures(cost=(0.5,))),
            "c": Scenario("c", 0, 1),
        },
    )
    document = bucket_to_document(bucket)
    assert document["scenarios"] == {
        "a": {
            "passed": 1,
            "total": 2,
            "unscored": 1,
            "label": "A",
            "scores": {"correctness": [0.9, 1.0, 0.4], "tone": [-1.0]},
            "latency_ms": [1200.0, 1350.5, 0.0],
            "tokens": [812.0, 790.0],
            "cost": [0.0021, 0.0, 0.0024],
            "output_chars": [412, 0, 388],
            "tool_calls": [2],
        },
        # Only the non-empty measures are written.
        "b": {"passed": 1, "total": 1, "cost": [0.5]},
        "c": {"passed": 0, "total": 1},
    }
    assert parse_experiment(document, source="x") == bucket
    again = parse_experiment(json.loads(json.dumps(document)), source="x")
    assert again == bucket
    assert_value_types(again.scenarios["a"].measures)


def test_trial_form_measures_survive_export() -> None:
    bucket = parse_experiment(MEASURED_TRIAL_DOC, source="pr.json")
    document = json.loads(json.dumps(bucket_to_document(bucket)))
    assert "trials" not in document
    assert parse_experiment(document, source="again.json") == bucket


MS = MEASURED_SCENARIO_DOC  # scenario "a": total 2 + unscored 1 = at most 3 values
MT = MEASURED_TRIAL_DOC

INVALID_MEASURES: list[tuple[str, object, str]] = [
    (
        "latency_ms: too many values",
        with_change(MS, "scenarios.a.latency_ms", [1, 2, 3, 4]),
        'scenarios["a"].latency_ms: must hold at most total + unscored (3) values, got 4',
    ),
    (
        "latency_ms: more values than total",
        with_change(MS, "scenarios.quiet.latency_ms", [1, 2]),
        'scenarios["quiet"].latency_ms: must hold at most total + unscored (1) values, got 2',
    ),
    (
        "scores: too many values",
        with_change(MS, "scenarios.a.scores.tone", [1, 2, 3, 4]),
        'scenarios["a"].scores["tone"]: must hold at most total + unscored (3) values, got 4',
    ),
    (
        "output_chars: too many values",
        with_change(MS, "scenarios.a.output_chars", [0, 0, 0, 0, 0]),
        'scenarios["a"].output_chars: must hold at most total + unscored (3) values, got 5',
    ),
    (
        "latency_ms: not an array",
        with_change(MS, "scenarios.a.latency_ms", 1200),
        'scenarios["a"].latency_ms: must be an array of per-trial values, got 1200',
    ),
    (
        "cost: negative",
        with_change(MS, "scenarios.a.cost", [0.1, -1]),
        'scenarios["a"].cost[1]: must be a non-negative number, got -1',
    ),
    (
        "tokens: bool",
        with_change(MS, "scenarios.a.tokens", [True]),
        'scenarios["a"].tokens[0]: must be a non-negative number, got true',
    ),
    (
        "latency_ms: string",
        with_change(MS, "scenarios.a.latency_ms", [1, "5"]),
        'scenarios["a"].latency_ms[1]: must be a non-negative number, got "5"',
    ),
    (
        "output_chars: 2.0",
        with_change(MS, "scenarios.a.output_chars", [1, 2.0]),
        'scenarios["a"].output_chars[1]: must be a non-negative integer, got 2.0',
    ),
    (
        "output_chars: negative",
        with_change(MS, "scenarios.a.output_chars", [-3]),
        'scenarios["a"].output_chars[0]: must be a non-negative integer, got -3',
    ),
    (
        "tool_calls: bool",
        with_change(MS, "scenarios.a.tool_calls", [False]),
        'scenarios["a"].tool_calls[0]: must be a non-negative integer, got false',
    ),
    (
        "scores: not an object",
        with_change(MS, "scenarios.a.scores", [0.9]),
        'scenarios["a"].scores: must be an object of feedback key to an array of scores, '
        "got an array",
    ),
    (
        "scores: empty key",
        with_change(MS, "scenarios.a.scores", {"": [0.9]}),
        'scenarios["a"].scores[""]: feedback key must be a non-empty string',
    ),
    (
        "scores: not an array",
        with_change(MS, "scenarios.a.scores.tone", 0.9),
        'scenarios["a"].scores["tone"]: must be an array of per-trial values, got 0.9',
    ),
    (
        "scores: bool",
        with_change(MS, "scenarios.a.scores.correctness", [0.9, False]),
        'scenarios["a"].scores["correctness"][1]: must be a finite number, got false',
    ),
    (
        "scores: null",
        with_change(MS, "scenarios.a.scores.correctness", [None]),
        'scenarios["a"].scores["correctness"][0]: must be a finite number, got null',
    ),
    (
        "trial latency_ms: negative",
        with_change(MT, "trials.2.latency_ms", -0.5),
        "trials[2].latency_ms: must be a non-negative number, got -0.5",
    ),
    (
        "trial cost: bool",
        with_change(MT, "trials.0.cost", True),
        "trials[0].cost: must be a non-negative number, got true",
    ),
    (
        "trial tokens: string",
        with_change(MT, "trials.0.tokens", "812"),
        'trials[0].tokens: must be a non-negative number, got "812"',
    ),
    (
        "trial output_chars: 2.0",
        with_change(MT, "trials.0.output_chars", 2.0),
        "trials[0].output_chars: must be a non-negative integer, got 2.0",
    ),
    (
        "trial output_chars: fraction",
        with_change(MT, "trials.0.output_chars", 1.5),
        "trials[0].output_chars: must be a non-negative integer, got 1.5",
    ),
    (
        "trial tool_calls: 2.0",
        with_change(MT, "trials.3.tool_calls", 2.0),
        "trials[3].tool_calls: must be a non-negative integer, got 2.0",
    ),
    (
        "trial tool_calls: negative",
        with_change(MT, "trials.3.tool_calls", -1),
        "trials[3].tool_calls: must be a non-negative integer, got -1",
    ),
    (
        "trial tool_calls: bool",
        with_change(MT, "trials.0.tool_calls", True),
        "trials[0].tool_calls: must be a non-negative integer, got true",
    ),
    (
        "trial scores: not an object",
        with_change(MT, "trials.0.scores", 0.9),
        "trials[0].scores: must be an object of feedback key to score, got 0.9",
    ),
    (
        "trial scores: empty key",
        with_change(MT, "trials.0.scores", {"": 1}),
        'trials[0].scores[""]: feedback key must be a non-empty string',
    ),
    (
        "trial scores: bool",
        with_change(MT, "trials.3.scores.correctness", True),
        'trials[3].scores["correctness"]: must be a finite number, got true',
    ),
    (
        "trial scores: array",
        with_change(MT, "trials.3.scores.correctness", [0.5]),
        'trials[3].scores["correctness"]: must be a finite number, got an array',
    ),
]


@pytest.mark.parametrize(
    ("doc", "message"),
    [(d, m) for _, d, m in INVALID_MEASURES],
    ids=[i for i, _, _ in INVALID_MEASURES],
)
def test_invalid_measures(tmp_path: Path, doc: object, message: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_experiment(doc, source="pr.json")
    assert str(exc.value) == f"pr.json: {message}"
    path = write(tmp_path, json.dumps(doc))
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert str(exc.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            with_change(MT, "trials.0.latency_ms", math.nan),
            "trials[0].latency_ms: must be a non-negative number, got NaN",
        ),
        (
            with_change(MS, "scenarios.a.cost", [math.inf]),
            'scenarios["a"].cost[0]: must be a non-negative number, got Infinity',
        ),
        (
            with_change(MT, "trials.0.scores.correctness", -math.inf),
            'trials[0].scores["correctness"]: must be a finite number, got -Infinity',
        ),
        (
            # An integer too large for a float.
            with_change(MS, "scenarios.a.tokens", [10**400]),
            'scenarios["a"].tokens[0]: must be a non-negative number, got 1' + "0" * 55 + "…0",
        ),
    ],
    ids=["nan", "infinity", "minus-infinity-score", "huge-int"],
)
def test_non_finite_measures_are_rejected_by_the_parser(doc: object, message: str) -> None:
    # load_experiment rejects these while decoding JSON; parse_experiment may be
    # handed them directly, and must not let them through either.
    with pytest.raises(InputError) as exc:
        parse_experiment(doc, source="pr.json")
    assert str(exc.value) == f"pr.json: {message}"


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "n", "trials": [{"scenario": "a", "passed": true, "latency_ms": NaN}]}',
        '{"name": "n", "scenarios": {"a": {"passed": 0, "total": 1, "cost": [Infinity]}}}',
        '{"name": "n", "trials": [{"scenario": "a", "passed": true, "scores": {"c": 1e999}}]}',
    ],
    ids=["nan", "infinity", "overflow"],
)
def test_non_finite_measures_are_rejected_when_loading(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_experiment(path)
    assert_one_line_error(exc, str(path), "not valid JSON (")


# --- History files: checked the same, kept as the window reads them (issue 14) -----------

BAD_HISTORY = (
    [(i, d, p) for i, d, p in INVALID_DOCS if isinstance(d, dict)]
    + INVALID_MEASURES
    + [
        ("passed above total", with_change(S, "scenarios.greeting.passed", 6), "greeting"),
        ("passed a bool", with_change(S, "scenarios.greeting.passed", True), "greeting"),
        ("total missing", without(S, "scenarios.greeting.total"), "greeting"),
        ("label null", with_change(S, "scenarios.greeting.label", None), "label"),
        ("category over total", with_change(S, "scenarios.refund-policy.categories.x", 4), "x"),
        (
            "category empty name",
            with_change(S, "scenarios.refund-policy.categories", {"": 1}),
            '""',
        ),
        ("categories an array", with_change(S, "scenarios.greeting.categories", []), "categories"),
        ("unscored negative", with_change(S, "scenarios.greeting.unscored", -1), "unscored"),
        ("entry an array", with_change(S, "scenarios.greeting", [5, 5]), "greeting"),
        ("empty key", with_change(S, "scenarios", {"": {"passed": 1, "total": 1}}), "key"),
    ]
)


@pytest.mark.parametrize(
    ("doc", "part"), [(d, p) for _, d, p in BAD_HISTORY], ids=[i for i, _, _ in BAD_HISTORY]
)
def test_a_bad_history_file_gets_the_experiment_files_message(
    tmp_path: Path, doc: object, part: str
) -> None:
    path = write(tmp_path, json.dumps(doc))
    with pytest.raises(InputError) as full:
        load_experiment(path)
    with pytest.raises(InputError) as light:
        load_history(path)
    assert str(light.value) == str(full.value)
    assert_one_line_error(light, str(path), part)


@pytest.mark.parametrize(
    "doc",
    [SCENARIO_DOC, TRIAL_DOC, MEASURED_SCENARIO_DOC, MEASURED_TRIAL_DOC],
    ids=["scenarios", "trials", "measured-scenarios", "measured-trials"],
)
def test_a_history_file_keeps_counts_and_labels(tmp_path: Path, doc: dict[str, Any]) -> None:
    path = write(tmp_path, json.dumps({**doc, "started_at": "2026-01-02", "notes": ["n"]}))
    full, light = load_experiment(path), load_history(path)
    assert light == window_view(full)
    assert (light.name, light.id, light.url, light.started_at, light.notes) == (
        full.name,
        full.id,
        full.url,
        full.started_at,
        full.notes,
    )
    assert light.metadata == full.metadata
    assert list(light.scenarios) == list(full.scenarios)
    for key, scenario in light.scenarios.items():
        assert scenario == Scenario(
            key, full.scenarios[key].passed, full.scenarios[key].total, full.scenarios[key].label
        )


def test_a_window_of_history_files_compares_as_the_full_files(tmp_path: Path) -> None:
    # Categories, unscored trials and measurements in the history files: the window
    # reads none of them, so every verdict, test and trend is the same.
    rng = random.Random(14)
    keys = [f"s{i}" for i in range(60)]

    def bucket(name: str) -> Bucket:
        scenarios = {}
        for key in keys:
            total = rng.randint(3, 8)
            passed = rng.randint(0, total)
            scenarios[key] = Scenario(
                key,
                passed,
                total,
                label=key.upper(),
                categories={"timeout": total - passed} if passed < total else {},
                unscored=rng.randint(0, 1),
                measures=Measures(latency_ms=tuple(float(i) for i in range(total))),
            )
        return Bucket(name=name, scenarios=scenarios, id=name)

    pr, baseline = bucket("pr"), bucket("main")
    paths = []
    for i in range(5):
        path = tmp_path / f"old{i}.json"
        path.write_text(json.dumps(bucket_to_document(bucket(f"old{i}"))), encoding="utf-8")
        paths.append(path)
    full = compare_buckets(pr, baseline, Thresholds(), history=[load_experiment(p) for p in paths])
    light = compare_buckets(pr, baseline, Thresholds(), history=[load_history(p) for p in paths])
    assert dataclasses.replace(light, history=()) == dataclasses.replace(full, history=())
    assert [b.total_trials for b in light.history] == [b.total_trials for b in full.history]


_COUNT = st.one_of(st.integers(-1, 6), st.booleans(), st.none(), st.just(2.0))
_ENTRY = st.fixed_dictionaries(
    {"passed": _COUNT, "total": _COUNT},
    optional={
        "label": st.one_of(st.text(max_size=3), st.none(), st.integers()),
        "categories": st.one_of(
            st.dictionaries(st.text(max_size=2), _COUNT, max_size=2), st.lists(_COUNT)
        ),
        "unscored": _COUNT,
        "latency_ms": st.lists(st.floats(-1, 5), max_size=4),
        "lable": st.just(1),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=2), st.one_of(_ENTRY, _COUNT), max_size=4))
def test_any_history_file_is_checked_as_an_experiment_file(scenarios: dict[str, Any]) -> None:
    doc = {"name": "old", "scenarios": scenarios}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        try:
            full = load_experiment(path)
        except InputError as exc:
            with pytest.raises(InputError) as light:
                load_history(path)
            assert str(light.value) == str(exc)
        else:
            assert load_history(path) == window_view(full)
