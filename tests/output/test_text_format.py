"""The terminal format (output.text_format): the verdict first, names unescaped but inert."""

from __future__ import annotations

from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.models import Bucket, FailOn, Ok, OnFetchFailure, Scenario, Thresholds
from evalbot.output.text_format import render_text
from evalbot.sources.experiment_file import load_experiment

from helpers import EXAMPLES, assert_golden


def ok(pr: Bucket, baseline: Bucket) -> Ok:
    return Ok(compare_buckets(pr, baseline, Thresholds()))


def examples() -> Ok:
    return ok(load_experiment(EXAMPLES / "pr.json"), load_experiment(EXAMPLES / "baseline.json"))


def test_text_format_golden() -> None:
    outcome = examples()
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert_golden("examples.txt", render_text(outcome, gate))


def test_text_format_strips_terminal_escapes() -> None:
    pr = Bucket(
        name="\x1b[31mred",
        scenarios={"a": Scenario(key="a", passed=0, total=3, label="\x1b]0;title\x07x")},
    )
    base = Bucket(name="base", scenarios={"a": Scenario(key="a", passed=3, total=3)})
    outcome = ok(pr, base)
    gate = decide_gate(outcome, fail_on=FailOn.NEVER, on_fetch_failure=OnFetchFailure.NEUTRAL)
    text = render_text(outcome, gate)
    assert "\x1b" not in text and "\x07" not in text


def test_text_format_verdict_first_and_names_unescaped() -> None:
    outcome = examples()
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    text = render_text(outcome, gate)
    assert text.splitlines()[0] == (
        "evalbot fails: 1 hard regression — Refund within 30 days 100% → 0%"
    )
    assert "hallucinated_policy" in text and "\\_" not in text
