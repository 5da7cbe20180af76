"""The typed report (output.report.Report): what the shells read, and its document on demand."""

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
    Thresholds,
    Verdict,
)
from evalbot.output.report import Report, build_report, dumps

from helpers import make_bucket

THRESHOLDS = Thresholds()
PR = make_bucket("pr", {"a": (0, 5), "b": (5, 5), "only-pr": (1, 1)})
BASE = make_bucket("base", {"a": (5, 5), "b": (5, 5)})


def report(outcome: Outcome) -> Report:
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    return Report(
        outcome,
        gate,
        THRESHOLDS,
        fetch={"source": "langsmith", "requests": 3},
        policy={"fail_on": "hard_regression"},
    )


OUTCOMES = {
    "ok": Ok(compare_buckets(PR, BASE, THRESHOLDS)),
    "fetch_failed": FetchFailed(error="LangSmith: 503"),
    "no_baseline": NoBaseline(pr=PR, searched='metadata {"branch": "main"}'),
}


@pytest.mark.parametrize("outcome", OUTCOMES.values(), ids=OUTCOMES.keys())
def test_counts_are_the_documents_counts(outcome: Outcome) -> None:
    value = report(outcome)
    document = value.document()
    assert {v.value: n for v, n in value.counts.items()} == document["counts"]
    assert set(value.counts) == set(Verdict)


@pytest.mark.parametrize("outcome", OUTCOMES.values(), ids=OUTCOMES.keys())
def test_text_is_the_document_dumped(outcome: Outcome) -> None:
    value = report(outcome)
    assert value.text() == dumps(value.document()) == "".join(value.json_chunks())
    assert value.document() == build_report(
        value.outcome,
        value.gate,
        thresholds=THRESHOLDS,
        fetch=value.fetch,
        policy=value.policy,
    )


def test_fetch_and_policy_are_read_as_given() -> None:
    value = report(OUTCOMES["ok"])
    assert value.counts[Verdict.HARD_REGRESSION] == 1
    assert value.fetch == {"source": "langsmith", "requests": 3}
    document = json.loads(value.text())
    assert document["fetch"] == {"source": "langsmith", "requests": 3}
    assert document["policy"] == {"fail_on": "hard_regression"}
