"""The JSON report written in pieces (report.json_chunks) is exactly report.dumps(build_report)."""

from __future__ import annotations

import json

import pytest

from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.models import (
    FailOn,
    FetchFailed,
    NoBaseline,
    Ok,
    OnFetchFailure,
    Outcome,
    Scenario,
    SelfBaseline,
    Thresholds,
)
from evalbot.output.report import PRETTY_MAX_SCENARIOS, build_report, dumps, json_chunks

from helpers import make_bucket

THRESHOLDS = Thresholds()


def _comparison(n: int) -> Ok:
    pr = {f"s{i:05d}": (i % 4, 3, {"timeout": 3 - i % 4} if i % 4 < 3 else {}) for i in range(n)}
    base = {f"s{i:05d}": (3 - i % 2, 3) for i in range(n)}
    pr["only-pr"] = (1, 1)
    base["only-base"] = (0, 2)
    return Ok(compare_buckets(make_bucket("pr", pr), make_bucket("base", base), THRESHOLDS))


@pytest.mark.parametrize(
    "outcome",
    [
        _comparison(PRETTY_MAX_SCENARIOS - 10),  # one pretty piece
        _comparison(PRETTY_MAX_SCENARIOS + 10),  # compact, in pieces
        _comparison(2_500),  # several pieces of rows
        FetchFailed(error="LangSmith: 503"),
        NoBaseline(pr=make_bucket("pr", {"a": (1, 1)}), searched='metadata {"branch": "main"}'),
        SelfBaseline(pr=make_bucket("pr", {"a": (1, 1)})),
    ],
    ids=["small", "large", "larger", "fetch_failed", "no_baseline", "self_baseline"],
)
def test_pieces_join_to_the_report_text(outcome: Outcome) -> None:
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    kwargs = {"thresholds": THRESHOLDS, "fetch": {"source": "x"}, "policy": {"fail_on": "never"}}
    whole = dumps(build_report(outcome, gate, **kwargs))  # type: ignore[arg-type]
    pieces = list(json_chunks(outcome, gate, **kwargs))  # type: ignore[arg-type]
    assert "".join(pieces) == whole
    assert json.loads(whole)["schema_version"]
    if isinstance(outcome, Ok) and len(outcome.comparison.scenarios) > 2 * 1000:
        assert len(pieces) >= 3  # rows are written a thousand at a time


def test_rows_false_leaves_only_the_scenario_rows_out() -> None:
    outcome = _comparison(20)
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    full = build_report(outcome, gate, thresholds=THRESHOLDS)
    partial = build_report(outcome, gate, thresholds=THRESHOLDS, rows=False)
    assert len(full["scenarios"]) == 20 and partial["scenarios"] == []
    assert {**full, "scenarios": []} == partial


def test_scenarios_share_no_state_between_pieces() -> None:
    # The same p-value object serves many rows; every row still gets its own value.
    scenarios = {f"s{i}": Scenario(f"s{i}", i % 2, 1) for i in range(PRETTY_MAX_SCENARIOS + 5)}
    bucket = make_bucket("x", {})
    pr = type(bucket)(name="pr", scenarios=scenarios)
    base = type(bucket)(name="base", scenarios={k: Scenario(k, 1, 1) for k in scenarios})
    outcome = Ok(compare_buckets(pr, base, THRESHOLDS))
    gate = decide_gate(outcome, fail_on=FailOn.NEVER, on_fetch_failure=OnFetchFailure.NEUTRAL)
    text = "".join(json_chunks(outcome, gate, thresholds=THRESHOLDS))
    rows = json.loads(text)["scenarios"]
    assert {row["key"]: row["p_worse"] for row in rows} == {
        row.key: float(row.p_worse) for row in outcome.comparison.scenarios
    }
