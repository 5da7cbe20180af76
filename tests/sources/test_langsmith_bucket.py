"""Tests for evalbot.sources.langsmith.bucket: LangSmith root runs -> Bucket (no HTTP)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from evalbot.core.models import NO_MEASURES, Bucket, Measures
from evalbot.errors import InputError
from evalbot.sources.langsmith.bucket import (
    TARGET_ERROR,
    BucketRules,
    ExperimentInfo,
    KeySource,
    ScenarioKey,
    bucket_runs,
    infer_pass_keys,
)
from evalbot.sources.langsmith.run_facts import OUTPUT_KEYS

from helpers import flag

PASS = "correct"
CATEGORY = "failure_mode"

_counter = iter(range(1_000_000))


def fb(avg: float | None, *, errors: int = 0, n: int = 1) -> dict[str, Any]:
    """One feedback_stats entry for a score key."""
    return {"n": n, "avg": avg, "stdev": 0.0, "errors": errors, "values": {}, "comments": []}


def cat(values: Mapping[str, int]) -> dict[str, Any]:
    """One feedback_stats entry for a categorical key."""
    return {
        "n": sum(values.values()),
        "avg": None,
        "stdev": None,
        "errors": 0,
        "values": dict(values),
        "comments": [],
    }


_ABSENT: Any = object()


def run(
    example_id: str | None,
    score: float | None = 1.0,
    *,
    error: str | None = None,
    stats: Mapping[str, Any] | None = None,
    start_time: Any = "2024-05-01T10:00:00",
    end_time: Any = "2024-05-01T10:00:02",
    total_tokens: Any = 120,
    total_cost: Any = 0.001,
    outputs: Any = _ABSENT,
) -> dict[str, Any]:
    """A root run as POST /runs/query returns it; ``score`` fills the PASS key.

    ``outputs`` is left out of the run unless given (as when it is not selected).
    """
    feedback = dict(stats) if stats is not None else {PASS: fb(score)}
    data = {
        "id": f"run-{next(_counter)}",
        "reference_example_id": example_id,
        "status": "error" if error else "success",
        "error": error,
        "start_time": start_time,
        "end_time": end_time,
        "feedback_stats": feedback,
        "total_tokens": total_tokens,
        "total_cost": total_cost,
    }
    if outputs is not _ABSENT:
        data["outputs"] = outputs
    return data


def example(
    example_id: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": example_id,
        "inputs": dict(inputs or {}),
        "metadata": dict(metadata or {}),
    }
    if name is not None:
        data["name"] = name
    return data


def examples_of(*items: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def bucket(
    runs: list[dict[str, Any]],
    examples: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    info: ExperimentInfo | None = None,
    pass_keys: tuple[str, ...] = (PASS,),
    **rules: Any,
) -> Bucket:
    return bucket_runs(
        info or ExperimentInfo(name="exp"),
        runs,
        examples or {},
        rules=BucketRules(pass_keys=pass_keys, **rules),
        pass_keys=pass_keys,
    )


# --- default scenario key: example id, one run per trial ---


def test_default_key_is_example_id_and_each_repetition_is_a_trial() -> None:
    runs = [
        run("ex-a", 1.0),
        run("ex-a", 0.0),
        run("ex-a", 1.0),
        run("ex-b", 0.0),
        run("ex-b", 0.0),
        run("ex-b", 0.0),
    ]
    exs = examples_of(example("ex-a"), example("ex-b"))
    b = bucket(runs, exs)
    assert set(b.scenarios) == {"ex-a", "ex-b"}
    a, bb = b.scenarios["ex-a"], b.scenarios["ex-b"]
    assert (a.key, a.passed, a.total, a.unscored) == ("ex-a", 2, 3, 0)
    assert (bb.key, bb.passed, bb.total, bb.unscored) == ("ex-b", 0, 3, 0)
    assert b.total_trials == 6
    assert b.unscored == 0
    assert b.notes == ()


def test_run_of_unknown_example_is_still_keyed_by_its_id() -> None:
    b = bucket([run("ex-missing", 1.0)], {})
    s = b.scenarios["ex-missing"]
    assert (s.passed, s.total, s.label) == (1, 1, "")


# --- ScenarioKey.parse ---


@pytest.mark.parametrize(
    ("text", "source", "field", "shown"),
    [
        ("example", KeySource.EXAMPLE, None, "example"),
        ("metadata.scenario", KeySource.METADATA, "scenario", "metadata.scenario"),
        ("inputs.question", KeySource.INPUTS, "question", "inputs.question"),
    ],
)
def test_scenario_key_parse_valid(
    text: str, source: KeySource, field: str | None, shown: str
) -> None:
    key = ScenarioKey.parse(text, name="--scenario-key")
    assert key.source is source
    assert key.field == field
    assert str(key) == shown


@pytest.mark.parametrize(
    "text", ["metadata.", "inputs.", "foo.bar", "", "examples", "metadata", "example.id"]
)
def test_scenario_key_parse_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        ScenarioKey.parse(text, name="--scenario-key")
    message = str(info.value)
    assert message.startswith("--scenario-key:")
    assert "\n" not in message
    assert repr(text) in message


def test_scenario_key_parse_uses_given_option_name() -> None:
    with pytest.raises(InputError, match=r"^--baseline-scenario-key:"):
        ScenarioKey.parse("nope", name="--baseline-scenario-key")


# --- metadata.<field> / inputs.<field> keys ---


def test_metadata_field_merges_examples_sharing_the_value() -> None:
    exs = examples_of(
        example("ex-1", metadata={"scenario": "refunds"}),
        example("ex-2", metadata={"scenario": "refunds"}),
        example("ex-3", metadata={"scenario": "billing"}),
    )
    runs = [run("ex-1", 1.0), run("ex-1", 0.0), run("ex-2", 1.0), run("ex-3", 0.0)]
    b = bucket(
        runs, exs, scenario_key=ScenarioKey.parse("metadata.scenario", name="--scenario-key")
    )
    assert set(b.scenarios) == {"refunds", "billing"}
    refunds = b.scenarios["refunds"]
    assert (refunds.key, refunds.passed, refunds.total) == ("refunds", 2, 3)
    # The label would equal the key, so it is dropped.
    assert refunds.label == ""
    billing = b.scenarios["billing"]
    assert (billing.passed, billing.total) == (0, 1)


def test_inputs_field_merges_examples_sharing_the_value() -> None:
    exs = examples_of(
        example("ex-1", inputs={"question": "What is 2+2?", "lang": "en"}),
        example("ex-2", inputs={"question": "What is 2+2?", "lang": "fr"}),
        example("ex-3", inputs={"question": "Capital of France?"}),
    )
    runs = [run("ex-1", 1.0), run("ex-2", 1.0), run("ex-3", 0.0)]
    b = bucket(runs, exs, scenario_key=ScenarioKey.parse("inputs.question", name="--scenario-key"))
    assert set(b.scenarios) == {"What is 2+2?", "Capital of France?"}
    merged = b.scenarios["What is 2+2?"]
    assert (merged.passed, merged.total) == (2, 2)
    assert b.scenarios["Capital of France?"].total == 1
    # Merging gives scenarios of different sizes; no example lacked the field.
    assert b.notes == ("uneven: 1–2 trials per scenario",)


def test_non_string_field_value_becomes_string_key() -> None:
    exs = examples_of(
        example("ex-1", metadata={"group": 7}),
        example("ex-2", metadata={"group": 7}),
    )
    b = bucket(
        [run("ex-1"), run("ex-2")],
        exs,
        scenario_key=ScenarioKey.parse("metadata.group", name="--scenario-key"),
    )
    assert set(b.scenarios) == {"7"}
    assert b.scenarios["7"].total == 2


def test_run_whose_example_lacks_the_field_is_keyed_by_example_id_with_note() -> None:
    exs = examples_of(
        example("ex-1", metadata={"scenario": "refunds"}),
        example("ex-2", metadata={"other": "x"}, name="Second example"),
        example("ex-3", metadata={"scenario": ""}),
    )
    runs = [run("ex-1"), run("ex-2"), run("ex-2", 0.0), run("ex-3")]
    b = bucket(
        runs, exs, scenario_key=ScenarioKey.parse("metadata.scenario", name="--scenario-key")
    )
    assert set(b.scenarios) == {"refunds", "ex-2", "ex-3"}
    fallback = b.scenarios["ex-2"]
    assert (fallback.passed, fallback.total) == (1, 2)
    # The fallback scenario keeps the example's own label.
    assert fallback.label == "Second example"
    assert "3 runs had no metadata.scenario and were keyed by example id" in b.notes


def test_missing_inputs_field_note_names_the_inputs_key() -> None:
    exs = examples_of(example("ex-1", inputs={"other": "x"}))
    b = bucket(
        [run("ex-1")], exs, scenario_key=ScenarioKey.parse("inputs.question", name="--scenario-key")
    )
    assert set(b.scenarios) == {"ex-1"}
    assert b.notes == ("1 runs had no inputs.question and were keyed by example id",)


# --- labels ---


def test_label_from_metadata_name_before_scenario_and_example_name() -> None:
    exs = examples_of(
        example("ex-1", metadata={"name": "Meta name", "scenario": "Meta scen"}, name="Ex name")
    )
    assert bucket([run("ex-1")], exs).scenarios["ex-1"].label == "Meta name"


def test_label_from_metadata_scenario_before_example_name() -> None:
    exs = examples_of(example("ex-1", metadata={"scenario": "Meta scen"}, name="Ex name"))
    assert bucket([run("ex-1")], exs).scenarios["ex-1"].label == "Meta scen"


def test_label_from_example_name_when_metadata_has_none() -> None:
    exs = examples_of(
        example("ex-1", metadata={"name": ""}, inputs={"q": "a question"}, name="Ex name")
    )
    assert bucket([run("ex-1")], exs).scenarios["ex-1"].label == "Ex name"


def test_label_is_preview_of_first_string_input() -> None:
    text = "  How   do I\n\treset  my password " + "x" * 100
    exs = examples_of(example("ex-1", inputs={"n": 3, "blank": "   ", "q": text, "r": "later"}))
    label = bucket([run("ex-1")], exs).scenarios["ex-1"].label
    expected = " ".join(text.split())[:60]
    assert label == expected
    assert len(label) == 60
    assert label.startswith("How do I reset my password x")


def test_short_preview_is_kept_whole() -> None:
    exs = examples_of(example("ex-1", inputs={"q": "hello\n  world"}))
    assert bucket([run("ex-1")], exs).scenarios["ex-1"].label == "hello world"


def test_no_label_without_metadata_name_or_string_input() -> None:
    exs = examples_of(example("ex-1", inputs={"n": 1, "items": ["a"]}))
    s = bucket([run("ex-1")], exs).scenarios["ex-1"]
    assert s.label == ""
    assert s.display == "ex-1"


def test_label_equal_to_key_is_dropped() -> None:
    exs = examples_of(example("ex-1", metadata={"name": "ex-1"}))
    assert bucket([run("ex-1")], exs).scenarios["ex-1"].label == ""


# --- target errors ---


def test_target_error_is_failed_trial_with_target_error_category() -> None:
    runs = [
        run("ex-1", 1.0, error="ValueError: boom"),
        run("ex-1", 1.0),
    ]
    s = bucket(runs, examples_of(example("ex-1"))).scenarios["ex-1"]
    assert (s.passed, s.total, s.unscored) == (1, 2, 0)
    assert dict(s.categories) == {TARGET_ERROR: 1}
    assert TARGET_ERROR == "target_error"


def test_target_error_without_any_feedback_still_counts_as_failed() -> None:
    s = bucket([run("ex-1", error="Timeout", stats={})]).scenarios["ex-1"]
    assert (s.passed, s.total, s.unscored) == (0, 1, 0)
    assert dict(s.categories) == {TARGET_ERROR: 1}


def test_target_error_also_gets_categorical_label_when_present() -> None:
    stats = {CATEGORY: cat({"timeout": 1})}
    runs = [
        run("ex-1", error="boom", stats=stats),
        run("ex-1", error="boom", stats={}),
    ]
    s = bucket(runs, category_key=CATEGORY).scenarios["ex-1"]
    assert (s.passed, s.total) == (0, 2)
    assert dict(s.categories) == {TARGET_ERROR: 2, "timeout": 1}


def test_target_error_ignores_label_without_category_key() -> None:
    stats = {CATEGORY: cat({"timeout": 1})}
    s = bucket([run("ex-1", error="boom", stats=stats)]).scenarios["ex-1"]
    assert dict(s.categories) == {TARGET_ERROR: 1}


# --- evaluator errors / unscored ---


def test_evaluator_error_is_unscored_not_failed() -> None:
    runs = [
        run("ex-1", stats={PASS: fb(None, errors=1)}),
        run("ex-1", 1.0),
        run("ex-1", 0.0),
    ]
    s = bucket(runs).scenarios["ex-1"]
    assert (s.passed, s.total, s.unscored) == (1, 2, 1)
    assert dict(s.categories) == {}


def test_run_missing_the_pass_key_is_unscored() -> None:
    runs = [run("ex-1", stats={"other": fb(1.0)}), run("ex-1", stats={}), run("ex-1", 1.0)]
    runs.append({**run("ex-1"), "feedback_stats": None})
    s = bucket(runs).scenarios["ex-1"]
    assert (s.passed, s.total, s.unscored) == (1, 1, 3)


def test_bucket_unscored_sums_scenarios() -> None:
    runs = [
        run("ex-1", stats={PASS: fb(None, errors=2)}),
        run("ex-1", 1.0),
        run("ex-2", stats={}),
        run("ex-2", stats={PASS: fb(None, errors=1)}),
        run("ex-2", 0.0),
        run("ex-3", 1.0),
    ]
    b = bucket(runs)
    assert [b.scenarios[k].unscored for k in ("ex-1", "ex-2", "ex-3")] == [1, 2, 0]
    assert b.unscored == 3
    assert b.total_trials == 3


def test_all_unscored_scenario_has_no_rate() -> None:
    s = bucket([run("ex-1", stats={PASS: fb(None, errors=1)})]).scenarios["ex-1"]
    assert (s.passed, s.total, s.unscored) == (0, 0, 1)
    assert s.rate is None


# --- pass threshold ---


@pytest.mark.parametrize(
    ("avg", "passed"),
    [(1.0, 1), (1, 1), (0.99, 0), (0.0, 0)],
)
def test_default_threshold_is_one(avg: float, passed: int) -> None:
    s = bucket([run("ex-1", avg)]).scenarios["ex-1"]
    assert (s.passed, s.total) == (passed, 1)


@pytest.mark.parametrize(("avg", "passed"), [(0.5, 1), (0.75, 1), (0.49, 0), (0.0, 0)])
def test_threshold_half(avg: float, passed: int) -> None:
    s = bucket([run("ex-1", avg)], pass_threshold=0.5).scenarios["ex-1"]
    assert (s.passed, s.total) == (passed, 1)


@pytest.mark.parametrize(("avg", "passed"), [(5, 1), (4, 1), (4.0, 1), (3.99, 0), (1, 0)])
def test_threshold_on_one_to_five_scale(avg: float, passed: int) -> None:
    s = bucket([run("ex-1", avg)], pass_threshold=4).scenarios["ex-1"]
    assert (s.passed, s.total) == (passed, 1)


def test_multiple_pass_keys_must_all_pass() -> None:
    keys = ("correct", "grounded")
    runs = [
        run("ex-1", stats={"correct": fb(1.0), "grounded": fb(1.0)}),
        run("ex-1", stats={"correct": fb(1.0), "grounded": fb(0.0)}),
        run("ex-1", stats={"correct": fb(0.0), "grounded": fb(1.0)}),
        run("ex-1", stats={"correct": fb(1.0)}),  # one key missing: unscored
        run("ex-1", stats={"correct": fb(1.0), "grounded": fb(None, errors=1)}),
    ]
    s = bucket(runs, pass_keys=keys).scenarios["ex-1"]
    assert (s.passed, s.total, s.unscored) == (1, 3, 2)


def test_other_feedback_keys_do_not_affect_pass() -> None:
    runs = [run("ex-1", stats={PASS: fb(1.0), "style": fb(0.0)})]
    s = bucket(runs).scenarios["ex-1"]
    assert (s.passed, s.total) == (1, 1)


# --- category_key ---


def test_failed_trial_gets_most_frequent_label() -> None:
    stats = {PASS: fb(0.0), CATEGORY: cat({"hallucination": 2, "refusal": 5, "format": 1})}
    s = bucket([run("ex-1", stats=stats)], category_key=CATEGORY).scenarios["ex-1"]
    assert dict(s.categories) == {"refusal": 1}


def test_category_ties_broken_by_name() -> None:
    stats = {PASS: fb(0.0), CATEGORY: cat({"zeta": 2, "alpha": 2, "mid": 2, "low": 1})}
    s = bucket([run("ex-1", stats=stats)], category_key=CATEGORY).scenarios["ex-1"]
    assert dict(s.categories) == {"alpha": 1}


def test_passed_trials_get_no_category_and_counts_accumulate() -> None:
    runs = [
        run("ex-1", stats={PASS: fb(1.0), CATEGORY: cat({"refusal": 1})}),
        run("ex-1", stats={PASS: fb(0.0), CATEGORY: cat({"refusal": 1})}),
        run("ex-1", stats={PASS: fb(0.0), CATEGORY: cat({"refusal": 1})}),
        run("ex-1", stats={PASS: fb(0.0), CATEGORY: cat({"format": 1})}),
        run("ex-1", stats={PASS: fb(0.0)}),  # failed, but no label
    ]
    s = bucket(runs, category_key=CATEGORY).scenarios["ex-1"]
    assert (s.passed, s.total) == (1, 5)
    assert dict(s.categories) == {"refusal": 2, "format": 1}


def test_unscored_trials_get_no_category() -> None:
    runs = [run("ex-1", stats={PASS: fb(None, errors=1), CATEGORY: cat({"refusal": 1})})]
    s = bucket(runs, category_key=CATEGORY).scenarios["ex-1"]
    assert (s.total, s.unscored) == (0, 1)
    assert dict(s.categories) == {}


def test_no_categories_without_category_key() -> None:
    runs = [run("ex-1", stats={PASS: fb(0.0), CATEGORY: cat({"refusal": 1})})]
    assert dict(bucket(runs).scenarios["ex-1"].categories) == {}


# --- infer_pass_keys ---


def test_infer_pass_keys_returns_explicit_keys_as_is() -> None:
    runs = [run("ex-1", stats={"a": fb(1.0), "b": fb(1.0)})]
    rules = BucketRules(pass_keys=("zz", "b"))
    assert infer_pass_keys(runs, rules, name=flag) == ("zz", "b")


def test_infer_pass_keys_single_feedback_key() -> None:
    runs = [run("ex-1", stats={"accuracy": fb(1.0)}), run("ex-2", stats={}), run("ex-3")]
    runs[2]["feedback_stats"] = {"accuracy": fb(0.0)}
    assert infer_pass_keys(runs, BucketRules(), name=flag) == ("accuracy",)


def test_infer_pass_keys_excludes_category_key() -> None:
    runs = [
        run("ex-1", stats={"accuracy": fb(1.0)}),
        run("ex-2", stats={"accuracy": fb(0.0), CATEGORY: cat({"x": 1})}),
    ]
    assert infer_pass_keys(runs, BucketRules(category_key=CATEGORY), name=flag) == ("accuracy",)
    with pytest.raises(InputError):
        infer_pass_keys(runs, BucketRules(), name=flag)


def test_infer_pass_keys_several_keys_is_an_error_listing_them_sorted() -> None:
    runs = [
        run("ex-1", stats={"zeta": fb(1.0), "alpha": fb(1.0)}),
        run("ex-2", stats={"mid": fb(1.0)}),
    ]
    with pytest.raises(InputError) as info:
        infer_pass_keys(runs, BucketRules(), name=flag)
    message = str(info.value)
    assert message.startswith("--pass-key:")
    assert "(alpha, mid, zeta)" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "runs",
    [
        [],
        [run("ex-1", stats={})],
        [{**run("ex-1"), "feedback_stats": None}],
        [run("ex-1", stats={CATEGORY: cat({"x": 1})})],
    ],
)
def test_infer_pass_keys_none_is_an_error(runs: list[dict[str, Any]]) -> None:
    with pytest.raises(InputError, match=r"^--pass-key:"):
        infer_pass_keys(runs, BucketRules(category_key=CATEGORY), name=flag)


# --- notes ---


def _reps(n_examples: int, reps: int) -> list[dict[str, Any]]:
    return [run(f"ex-{i}") for i in range(n_examples) for _ in range(reps)]


def test_partial_note_with_metadata_repetitions() -> None:
    runs = _reps(10, 3)[:27]
    info = ExperimentInfo(name="exp", metadata={"num_repetitions": 3}, example_count=10)
    b = bucket(runs, info=info)
    assert "partial: 27 of 30 runs" in b.notes


def test_complete_experiment_has_no_partial_note() -> None:
    info = ExperimentInfo(name="exp", metadata={"num_repetitions": 3}, example_count=10)
    b = bucket(_reps(10, 3), info=info)
    assert b.notes == ()


def test_metadata_repetitions_take_precedence_over_observed() -> None:
    # Every example ran twice, but the experiment asked for 3 repetitions.
    info = ExperimentInfo(name="exp", metadata={"num_repetitions": 3}, example_count=4)
    b = bucket(_reps(4, 2), info=info)
    assert b.notes == ("partial: 8 of 12 runs",)


def test_repetitions_inferred_from_max_runs_per_example() -> None:
    runs = [*_reps(3, 2), run("ex-3")]  # ex-0..2 twice, ex-3 once; 5 examples expected
    info = ExperimentInfo(name="exp", example_count=5)
    b = bucket(runs, info=info)
    assert "partial: 7 of 10 runs" in b.notes
    assert "uneven: 1–2 trials per scenario" in b.notes


@pytest.mark.parametrize("bad", [0, -1, "3", True, None])
def test_invalid_metadata_repetitions_fall_back_to_observed(bad: Any) -> None:
    info = ExperimentInfo(name="exp", metadata={"num_repetitions": bad}, example_count=3)
    b = bucket(_reps(2, 2), info=info)
    assert b.notes == ("partial: 4 of 6 runs",)


def test_no_partial_note_without_example_count() -> None:
    b = bucket(_reps(2, 1), info=ExperimentInfo(name="exp", metadata={"num_repetitions": 5}))
    assert b.notes == ()


def test_uneven_trials_note_counts_unscored_trials() -> None:
    runs = [
        run("ex-1"),
        run("ex-1"),
        run("ex-1", stats={PASS: fb(None, errors=1)}),
        run("ex-2"),
        run("ex-2"),
        run("ex-2"),
    ]
    # Same number of trials per scenario once unscored ones are counted: not uneven.
    assert bucket(runs).notes == ()
    b = bucket([*runs, run("ex-2")])
    assert b.notes == ("uneven: 3–4 trials per scenario",)


def test_runs_without_reference_example_are_skipped_with_note() -> None:
    runs = [run("ex-1", 1.0), run(None, 0.0), run("", 0.0), run("ex-1", 0.0)]
    b = bucket(runs)
    assert set(b.scenarios) == {"ex-1"}
    s = b.scenarios["ex-1"]
    assert (s.passed, s.total) == (1, 2)
    assert b.notes == ("2 runs without a dataset example were skipped",)


def test_skipped_runs_do_not_count_towards_completeness() -> None:
    info = ExperimentInfo(name="exp", example_count=3)
    b = bucket([run("ex-0"), run(None), run(None)], info=info)
    assert "partial: 1 of 3 runs" in b.notes


def test_notes_order() -> None:
    exs = examples_of(example("ex-0", metadata={"s": "x"}), example("ex-1"))
    runs = [run("ex-0"), run("ex-0"), run("ex-1"), run(None)]
    info = ExperimentInfo(name="exp", example_count=3)
    b = bucket(
        runs, exs, info=info, scenario_key=ScenarioKey.parse("metadata.s", name="--scenario-key")
    )
    # expected = 3 examples * 2 observed repetitions = 6 > 3 runs with an example.
    assert b.notes == (
        "partial: 3 of 6 runs",
        "uneven: 1–2 trials per scenario",
        "1 runs without a dataset example were skipped",
        "1 runs had no metadata.s and were keyed by example id",
    )


# --- experiment info ---


def test_bucket_carries_experiment_info() -> None:
    info = ExperimentInfo(
        name="my-experiment-abc123",
        id="0b1c-uuid",
        url="https://smith.langchain.com/o/x/datasets/y/compare?selectedSessions=0b1c-uuid",
        metadata={"git_sha": "deadbeef", "num_repetitions": 1},
        started_at="2024-05-01T10:00:00Z",
        example_count=1,
    )
    b = bucket([run("ex-1")], info=info)
    assert b.name == "my-experiment-abc123"
    assert b.id == "0b1c-uuid"
    assert b.url == info.url
    assert dict(b.metadata) == {"git_sha": "deadbeef", "num_repetitions": 1}
    assert b.started_at == "2024-05-01T10:00:00Z"
    assert b.notes == ()


def test_bucket_defaults_without_experiment_details() -> None:
    b = bucket([run("ex-1")], info=ExperimentInfo(name="bare"))
    assert (b.name, b.id, b.url, b.started_at) == ("bare", None, None, None)
    assert dict(b.metadata) == {}


# --- measures (rules 5-8, issue 6 §1-§3) ---


def measures(*runs: dict[str, Any], **rules: Any) -> Measures:
    """The measures of scenario ex-1 built from ``runs``."""
    return bucket(list(runs), **rules).scenarios["ex-1"].measures


def test_default_run_measures_latency_tokens_and_cost() -> None:
    m = measures(run("ex-1"))
    assert m == Measures(latency_ms=(2000.0,), tokens=(120.0,), cost=(0.001,))


def test_run_without_any_measurement_has_empty_measures() -> None:
    m = measures(run("ex-1", start_time=None, total_tokens=None, total_cost=None))
    assert m == NO_MEASURES
    assert not m


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-05-01T10:00:00", "2024-05-01T10:00:02", (2000.0,)),
        ("2024-05-01T10:00:00.123456", "2024-05-01T10:00:01.500000", (1376.544,)),
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00.250Z", (250.0,)),
        ("2024-05-01T10:00:00+00:00", "2024-05-01T10:00:01.5+00:00", (1500.0,)),
        # A naive time is UTC, so it mixes with an explicit offset.
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:03", (3000.0,)),
        ("2024-05-01T10:00:00", "2024-05-01T10:00:01Z", (1000.0,)),
        ("2024-05-01T23:59:59.5", "2024-05-02T00:00:00.5", (1000.0,)),
        ("2024-05-01T10:00:00", "2024-05-01T10:00:00", (0.0,)),
    ],
)
def test_latency_is_end_minus_start_in_ms(start: str, end: str, expected: tuple[float]) -> None:
    assert measures(run("ex-1", start_time=start, end_time=end)).latency_ms == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-05-01T10:00:00", None),  # still running / not reported
        (None, "2024-05-01T10:00:02"),
        ("2024-05-01T10:00:02", "2024-05-01T10:00:01"),  # negative
        ("2024-05-01T10:00:00", "yesterday"),
        ("2024-05-01T10:00:00", ""),
        (1714557600, 1714557602),  # not ISO 8601 text
    ],
)
def test_latency_absent_when_times_missing_invalid_or_negative(start: Any, end: Any) -> None:
    m = measures(run("ex-1", start_time=start, end_time=end))
    assert m.latency_ms == ()
    # The run's other measures are unaffected.
    assert (m.tokens, m.cost) == ((120.0,), (0.001,))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (120, (120.0,)),
        (0, (0.0,)),
        (12.5, (12.5,)),
        (-1, ()),
        (True, ()),
        ("120", ()),
        (None, ()),
        (float("nan"), ()),
        (float("inf"), ()),
    ],
)
def test_tokens_only_when_non_negative_number(value: Any, expected: tuple[float, ...]) -> None:
    assert measures(run("ex-1", total_tokens=value)).tokens == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.001, (0.001,)),
        (0, (0.0,)),
        (2, (2.0,)),
        ("0.000123", (0.000123,)),
        ("0", (0.0,)),
        ("1e-5", (1e-05,)),
        (-0.5, ()),
        ("-0.1", ()),
        ("abc", ()),
        ("", ()),
        ("nan", ()),
        ("inf", ()),
        (float("nan"), ()),
        (True, ()),
        (None, ()),
        ({"usd": 1}, ()),
    ],
)
def test_cost_from_number_or_decimal_string(value: Any, expected: tuple[float, ...]) -> None:
    assert measures(run("ex-1", total_cost=value)).cost == expected


def test_errored_unscored_and_scored_runs_all_cost_time_and_money() -> None:
    m = measures(
        run(
            "ex-1", error="boom", end_time="2024-05-01T10:00:01", total_tokens=10, total_cost="0.1"
        ),
        run("ex-1", stats={}, end_time="2024-05-01T10:00:03", total_tokens=30, total_cost=0.3),
        run("ex-1", 0.0, end_time="2024-05-01T10:00:05", total_tokens=50, total_cost=0.5),
    )
    assert m.latency_ms == (1000.0, 3000.0, 5000.0)
    assert m.tokens == (10.0, 30.0, 50.0)
    assert m.cost == (0.1, 0.3, 0.5)


def test_scores_for_numeric_keys_except_pass_and_category_keys() -> None:
    stats = {
        PASS: fb(1.0),
        "style": fb(0.5),
        "helpfulness": fb(4),
        CATEGORY: {**cat({"refusal": 1}), "avg": 0.7},  # numeric, but the category key
        "pending": fb(None),
        "flag": {"n": 1, "avg": True},
        "textual": {"n": 1, "avg": "0.5"},
        "broken": fb(float("nan")),
        "not_stats": 0.9,
    }
    m = measures(run("ex-1", stats=stats), category_key=CATEGORY)
    assert dict(m.scores) == {"style": (0.5,), "helpfulness": (4.0,)}


def test_category_key_is_a_score_when_not_configured_as_category() -> None:
    stats = {PASS: fb(1.0), CATEGORY: {**cat({"refusal": 1}), "avg": 0.7}}
    assert dict(measures(run("ex-1", stats=stats)).scores) == {CATEGORY: (0.7,)}


def test_every_pass_key_is_excluded_from_scores() -> None:
    stats = {"correct": fb(1.0), "grounded": fb(0.0), "style": fb(0.25)}
    m = measures(run("ex-1", stats=stats), pass_keys=("correct", "grounded"))
    assert dict(m.scores) == {"style": (0.25,)}


def test_scores_from_errored_and_unscored_runs_too() -> None:
    m = measures(
        run("ex-1", error="boom", stats={"style": fb(0.2)}),
        run("ex-1", stats={"style": fb(0.4), "tone": fb(1.0)}),  # no PASS: unscored
        run("ex-1", stats={PASS: fb(None, errors=1), "style": fb(0.6)}),  # unscored
        run("ex-1", stats={PASS: fb(1.0), "style": fb(0.8)}),
        run("ex-1", error="boom", stats={}),
    )
    assert dict(m.scores) == {"style": (0.2, 0.4, 0.6, 0.8), "tone": (1.0,)}


def test_errored_run_counts_latency_but_has_no_output_facts() -> None:
    outputs = {"output": "partial answer", "tool_calls": [{"name": "search"}]}
    m = measures(run("ex-1", error="ValueError: boom", outputs=outputs))
    assert m == Measures(latency_ms=(2000.0,), tokens=(120.0,), cost=(0.001,))
    assert (m.output_chars, m.tool_calls) == ((), ())


def test_run_without_outputs_field_has_no_output_facts() -> None:
    m = measures(run("ex-1"))
    assert (m.output_chars, m.tool_calls) == ((), ())


@pytest.mark.parametrize("key", OUTPUT_KEYS)
def test_output_text_under_each_output_key(key: str) -> None:
    outputs = {"other": "not this one", key: "four"}
    assert measures(run("ex-1", outputs=outputs)).output_chars == (4,)


def test_output_keys_order() -> None:
    assert OUTPUT_KEYS == ("output", "answer", "response", "content", "text", "result")


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        # (a) a string output is its own text; None and {} are empty outputs.
        ("hello", (5,)),
        ("", (0,)),
        (None, (0,)),
        ({}, (0,)),
        # (b) the first output key (in OUTPUT_KEYS order) holding a string.
        ({"result": "r", "answer": "ab", "output": 3}, (2,)),
        ({"text": "", "summary": "abc"}, (0,)),
        # ... before any chat message under an earlier key.
        ({"output": {"content": "a long message"}, "text": "abc"}, (3,)),
        # (c) the string content of a chat message under an output key.
        ({"output": {"role": "assistant", "content": "hi there"}}, (8,)),
        ({"output": {"content": [{"type": "text"}]}, "response": {"content": "abc"}}, (3,)),
        # (d) the string content of the last message.
        ({"messages": [{"content": "question?"}, {"content": "answer!"}]}, (7,)),
        ({"messages": [{"content": "q"}, {"content": "a"}], "output": {"content": "abcd"}}, (4,)),
        # (e) else the first string value.
        ({"messages": [{"content": [{"type": "text"}]}], "note": "abcde"}, (5,)),
        ({"messages": [{"content": "x"}, "not a message"], "note": "abcde"}, (5,)),
        ({"n": 3, "summary": "abcdef", "other": "x"}, (6,)),
        ({"output": {"content": None}, "label": "ab"}, (2,)),
        # nothing to find: no output_chars at all.
        ({"n": 3, "items": ["a"]}, ()),
        ({"messages": []}, ()),
        ({"output": {"content": 5}}, ()),
        (["a", "list"], ()),
        (42, ()),
    ],
)
def test_output_text_rules(outputs: Any, expected: tuple[int, ...]) -> None:
    assert measures(run("ex-1", outputs=outputs)).output_chars == expected


CALL = {"name": "search", "args": {"q": "x"}, "id": "call-1"}


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({"output": "x", "tool_calls": [CALL, CALL]}, (2,)),
        ({"output": "x", "tool_calls": []}, (0,)),
        ({"content": "", "additional_kwargs": {"tool_calls": [CALL]}}, (1,)),
        ({"output": {"content": "", "tool_calls": [CALL]}}, (1,)),
        ({"output": {"content": "", "additional_kwargs": {"tool_calls": [CALL, CALL]}}}, (2,)),
        # LangChain keeps the same calls in both places: never added up.
        (
            {
                "output": {
                    "content": "",
                    "tool_calls": [CALL],
                    "additional_kwargs": {"tool_calls": [CALL]},
                }
            },
            (1,),
        ),
        # The first output-key dict that carries tool calls.
        ({"output": {"content": "a"}, "result": {"tool_calls": [CALL, CALL, CALL]}}, (3,)),
        # outputs itself before a message under an output key, before the messages.
        ({"tool_calls": [CALL], "output": {"tool_calls": [CALL, CALL]}}, (1,)),
        ({"tool_calls": [CALL], "messages": [{"tool_calls": [CALL, CALL]}]}, (1,)),
        ({"output": {"tool_calls": []}, "messages": [{"tool_calls": [CALL, CALL]}]}, (0,)),
        # Summed over every message that has a list (tool messages have none).
        (
            {
                "messages": [
                    {"type": "human", "content": "q"},
                    {"type": "ai", "content": "", "tool_calls": [CALL, CALL]},
                    {"type": "tool", "content": "result"},
                    {"type": "ai", "content": "", "additional_kwargs": {"tool_calls": [CALL]}},
                    {"type": "ai", "content": "done", "tool_calls": []},
                ]
            },
            (3,),
        ),
        ({"messages": [{"content": "q"}, {"content": "done", "tool_calls": []}]}, (0,)),
        # No tool-call list anywhere: unknown, not zero.
        ({"output": "x"}, ()),
        ({"messages": [{"content": "q"}, {"content": "a"}]}, ()),
        ({"output": "x", "tool_calls": None}, ()),
        ({"output": "x", "tool_calls": "3"}, ()),
        ({"output": "x", "additional_kwargs": {"tool_calls": None}}, ()),
        ({"output": "x", "extra": {"tool_calls": [CALL]}}, ()),
        ({"messages": [["tool_calls"], {"content": "a"}]}, ()),
        ("plain text", ()),
        (None, ()),
        ({}, ()),
    ],
)
def test_tool_calls_only_when_outputs_carry_them(outputs: Any, expected: tuple[int, ...]) -> None:
    assert measures(run("ex-1", outputs=outputs)).tool_calls == expected


def test_measures_keep_run_order_within_each_scenario() -> None:
    exs = examples_of(
        example("ex-1", metadata={"s": "one"}),
        example("ex-2", metadata={"s": "one"}),
        example("ex-3", metadata={"s": "two"}),
    )
    runs = [
        run("ex-2", stats={PASS: fb(1.0), "style": fb(0.9)}, total_tokens=9, outputs="nine....."),
        run("ex-3", stats={PASS: fb(1.0), "style": fb(0.1)}, total_tokens=1, outputs="x"),
        run("ex-1", stats={PASS: fb(0.0), "style": fb(0.3)}, total_tokens=3, outputs="thr"),
        run(None, stats={PASS: fb(1.0), "style": fb(0.5)}, total_tokens=5, outputs="five!"),
        run("ex-1", error="boom", total_tokens=None, total_cost="0.7", outputs="ignored"),
        run(
            "ex-2",
            stats={},
            total_tokens=2,
            end_time=None,
            outputs={"output": "", "tool_calls": [CALL]},
        ),
    ]
    b = bucket(runs, exs, scenario_key=ScenarioKey.parse("metadata.s", name="--scenario-key"))
    one, two = b.scenarios["one"].measures, b.scenarios["two"].measures
    assert one == Measures(
        scores={"style": (0.9, 0.3)},
        latency_ms=(2000.0, 2000.0, 2000.0),
        tokens=(9.0, 3.0, 2.0),
        cost=(0.001, 0.001, 0.7, 0.001),
        output_chars=(9, 3, 0),
        tool_calls=(1,),
    )
    assert two == Measures(
        scores={"style": (0.1,)},
        latency_ms=(2000.0,),
        tokens=(1.0,),
        cost=(0.001,),
        output_chars=(1,),
    )
