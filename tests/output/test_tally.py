"""Rows per verdict, counted once (output.tally), agree with Comparison.count/of/compared."""

from __future__ import annotations

import pytest

from evalbot.core.compare import compare_buckets
from evalbot.core.models import Comparison, Thresholds, Verdict
from evalbot.output.tally import Recent, tally
from evalbot.sources.experiment_file import load_experiment

from helpers import EXAMPLES, make_bucket


def examples() -> Comparison:
    return compare_buckets(
        load_experiment(EXAMPLES / "pr.json"),
        load_experiment(EXAMPLES / "baseline.json"),
        Thresholds(),
    )


def low_coverage() -> Comparison:
    # Two shared scenarios, one without trials on the PR side, of ten in the baseline.
    pr = make_bucket("pr", {"a": (0, 3), "b": (0, 0)})
    base = make_bucket("base", {f"{k}": (3, 3) for k in "abcdefghij"})
    return compare_buckets(pr, base, Thresholds())


@pytest.mark.parametrize("comparison", [examples(), low_coverage()], ids=["examples", "low"])
def test_tally_agrees_with_the_comparison(comparison: Comparison) -> None:
    counted = tally(comparison)
    for verdict in Verdict:
        assert counted.of(verdict) == comparison.of(verdict)
        assert counted.count(verdict) == comparison.count(verdict)
    assert counted.compared == comparison.compared
    assert counted.low_coverage is comparison.low_coverage


def test_low_coverage_case_is_low() -> None:
    assert tally(low_coverage()).low_coverage


def test_a_comparison_is_tallied_once_and_another_gets_its_own() -> None:
    first, second = examples(), low_coverage()
    assert tally(first) is tally(first)
    assert tally(second).count(Verdict.HARD_REGRESSION) == second.count(Verdict.HARD_REGRESSION)
    # An equal but distinct comparison is tallied again, never confused by identity.
    again = examples()
    assert tally(again) == tally(first) and tally(again) is not tally(first)


def test_recent_keeps_the_last_few_objects_by_identity() -> None:
    calls: list[list[int]] = []

    def total(values: list[int]) -> int:
        calls.append(values)
        return sum(values)

    recent = Recent(total, size=2)
    a, b, c = [1], [2], [1]  # a and c are equal, not the same object
    assert [recent(a), recent(b), recent(a), recent(c)] == [1, 2, 1, 1]
    assert calls == [a, b, c]  # a came from memory; c was computed for itself
    assert recent(a) == 1 and calls == [a, b, c, a]  # b and c pushed a out (size 2)
