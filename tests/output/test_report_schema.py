"""Tests for the JSON report: schema, round trip and documented fields."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from evalbot.core.compare import compare_buckets, decide_gate, settle
from evalbot.core.models import (
    Bucket,
    FailOn,
    FetchFailed,
    NoBaseline,
    Ok,
    OnFetchFailure,
    Outcome,
    OutcomeKind,
    Scenario,
    SelfBaseline,
    Thresholds,
    Verdict,
)
from evalbot.output.report import SCHEMA_VERSION, build_report, dumps
from evalbot.sources.experiment_file import load_experiment

jsonschema = pytest.importorskip("jsonschema")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
THRESHOLDS = Thresholds()

Report = dict[str, Any]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = resources.files("evalbot").joinpath("schemas/report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def pr() -> Bucket:
    return load_experiment(EXAMPLES / "pr.json")


@pytest.fixture(scope="module")
def baseline() -> Bucket:
    return load_experiment(EXAMPLES / "baseline.json")


def report_for(
    outcome: Outcome,
    *,
    fail_on: FailOn = FailOn.HARD_REGRESSION,
    on_fetch_failure: OnFetchFailure = OnFetchFailure.NEUTRAL,
) -> Report:
    """The report as a consumer reads it: built, dumped to text and parsed back."""
    gate = decide_gate(outcome, fail_on=fail_on, on_fetch_failure=on_fetch_failure)
    parsed: Report = json.loads(dumps(build_report(outcome, gate, thresholds=THRESHOLDS)))
    return parsed


@pytest.fixture(scope="module")
def reports(pr: Bucket, baseline: Bucket) -> dict[str, Report]:
    """One report per outcome kind (plus gate variants), keyed by a readable name."""
    ok = Ok(compare_buckets(pr, baseline, THRESHOLDS))
    fetch_failed = FetchFailed(error="LangSmith: 503 Service Unavailable")
    return {
        "ok": report_for(ok),
        "ok_soft": report_for(ok, fail_on=FailOn.SOFT_REGRESSION),
        "ok_never": report_for(ok, fail_on=FailOn.NEVER),
        "no_baseline": report_for(NoBaseline(pr=pr, searched="metadata.branch == 'main'")),
        "self_baseline": report_for(SelfBaseline(pr=pr)),
        "fetch_failed": report_for(fetch_failed),
        "fetch_failed_fail": report_for(fetch_failed, on_fetch_failure=OnFetchFailure.FAIL),
        "nothing_compared": report_for(nothing_compared(pr, baseline)),
        "nothing_compared_fail": report_for(
            nothing_compared(pr, baseline), on_fetch_failure=OnFetchFailure.FAIL
        ),
    }


def nothing_compared(pr: Bucket, baseline: Bucket) -> Outcome:
    """The examples with every PR trial unscored: shared scenarios, nothing compared."""
    unscored = {
        key: Scenario(key, 0, 0, label=s.label, unscored=s.total) for key, s in pr.scenarios.items()
    }
    outcome = settle(compare_buckets(replace(pr, scenarios=unscored), baseline, THRESHOLDS))
    assert outcome.kind is OutcomeKind.NOTHING_COMPARED
    return outcome


def errors(validator: Any, instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://evalbot.dev/schemas/report.schema.json"
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "name",
    [
        "ok",
        "ok_soft",
        "ok_never",
        "no_baseline",
        "self_baseline",
        "fetch_failed",
        "fetch_failed_fail",
        "nothing_compared",
        "nothing_compared_fail",
    ],
)
def test_every_outcome_kind_validates(
    validator: Any, reports: dict[str, Report], name: str
) -> None:
    assert errors(validator, reports[name]) == []


def test_reports_cover_every_outcome_kind(reports: dict[str, Report]) -> None:
    assert {r["outcome"] for r in reports.values()} == {kind.value for kind in OutcomeKind}


def test_ok_report_has_rows_of_every_list(reports: dict[str, Report]) -> None:
    # The bundled examples exercise every row type, so the "ok" validation above
    # covers the row schemas and not just empty lists.
    ok = reports["ok"]
    for key in ("scenarios", "pr_only", "baseline_only", "failure_categories"):
        assert ok[key], key
    # ...and every issue 6 section, so their row schemas are exercised too.
    for key in ("metrics", "costs", "drift"):
        assert ok[key], key
    assert ok["scenarios"][0]["pr"]["measures"]["latency_ms"]
    assert ok["counts"]["hard_regression"] > 0


def test_top_level_keys_identical_across_outcome_kinds(
    schema: dict[str, Any], reports: dict[str, Report]
) -> None:
    key_sets = {name: list(report) for name, report in reports.items()}
    first = key_sets["ok"]
    assert all(keys == first for keys in key_sets.values()), key_sets
    assert set(first) == set(schema["required"]) == set(schema["properties"])


def test_schema_enums_match_the_code(schema: dict[str, Any]) -> None:
    verdicts = {v.value for v in Verdict}
    assert set(schema["$defs"]["verdict"]["enum"]) == verdicts
    assert set(schema["properties"]["counts"]["required"]) == verdicts
    assert set(schema["properties"]["outcome"]["enum"]) == {k.value for k in OutcomeKind}


def test_nullable_fields_validate(validator: Any) -> None:
    """Empty sides give null rates and deltas; a bucket without id/url gives nulls."""
    empty = Bucket(name="empty", scenarios={})
    report = report_for(Ok(compare_buckets(empty, empty, THRESHOLDS)))
    assert report["aggregate"]["delta"] is None
    assert report["aggregate"]["pr"]["rate"] is None
    assert report["pr"]["id"] is None and report["pr"]["url"] is None
    assert errors(validator, report) == []

    pr = Bucket(name="pr", scenarios={"a": Scenario(key="a", passed=0, total=0)})
    base = Bucket(name="base", scenarios={"a": Scenario(key="a", passed=2, total=3)})
    report = report_for(Ok(compare_buckets(pr, base, THRESHOLDS)))
    (row,) = report["scenarios"]
    assert row["verdict"] == Verdict.INSUFFICIENT_DATA.value
    assert row["delta"] is None
    assert errors(validator, report) == []


def _set_verdict(report: Report) -> None:
    report["scenarios"][0]["verdict"] = "catastrophic_regression"


def _drop_top_key(report: Report) -> None:
    del report["failure_categories"]


def _add_top_key(report: Report) -> None:
    report["extra"] = 1


def _add_row_key(report: Report) -> None:
    report["scenarios"][0]["q_value"] = 0.1


def _drop_row_key(report: Report) -> None:
    del report["scenarios"][0]["p_worse"]


def _unknown_outcome(report: Report) -> None:
    report["outcome"] = "partial"


def _wrong_schema_version(report: Report) -> None:
    report["schema_version"] = 1  # a version-1 report is not a version-2 one


def _missing_count(report: Report) -> None:
    del report["counts"]["watch"]


def _null_aggregate_on_ok(report: Report) -> None:
    report["aggregate"] = None


def _p_value_out_of_range(report: Report) -> None:
    report["scenarios"][0]["p_worse"] = 1.5


@pytest.mark.parametrize(
    "mutate",
    [
        _set_verdict,
        _drop_top_key,
        _add_top_key,
        _add_row_key,
        _drop_row_key,
        _unknown_outcome,
        _wrong_schema_version,
        _missing_count,
        _null_aggregate_on_ok,
        _p_value_out_of_range,
    ],
)
def test_invalid_ok_reports_fail(
    validator: Any, reports: dict[str, Report], mutate: Callable[[Report], None]
) -> None:
    report = copy.deepcopy(reports["ok"])
    mutate(report)
    assert errors(validator, report)


def test_non_ok_report_with_rows_fails(validator: Any, reports: dict[str, Report]) -> None:
    report = copy.deepcopy(reports["no_baseline"])
    report["scenarios"] = copy.deepcopy(reports["ok"]["scenarios"])
    assert errors(validator, report)
    report = copy.deepcopy(reports["fetch_failed"])
    report["counts"]["stable"] = 3
    assert errors(validator, report)


def test_large_reports_are_written_compact() -> None:
    from evalbot.output.report import PRETTY_MAX_SCENARIOS, dumps

    small = {"scenarios": [{"key": "a"}]}
    assert dumps(small) == '{\n  "scenarios": [\n    {\n      "key": "a"\n    }\n  ]\n}\n'
    large = {"scenarios": [{"key": str(i)} for i in range(PRETTY_MAX_SCENARIOS + 1)]}
    text = dumps(large)
    assert "\n" not in text[:-1] and text.startswith('{"scenarios":[{"key":"0"},')
    assert json.loads(text) == large
