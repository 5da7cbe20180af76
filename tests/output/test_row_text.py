"""The scenario rows written as JSON text (row_text.row_json) are json.dumps of the rows."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from evalbot.core.compare import compare_buckets
from evalbot.core.models import Scenario, ScenarioComparison, Thresholds, Verdict
from evalbot.output.report_parts import Floats, row
from evalbot.output.row_text import FloatTexts, number_json, row_json
from evalbot.sources.experiment_file import load_experiment

from helpers import EXAMPLES


def compact(value: object) -> str:
    """What report.dumps writes for a large report."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Label(str):
    """A str subclass: json treats it as a string, and so must row_json."""


def comparison_row(**changes: object) -> ScenarioComparison:
    fields: dict[str, object] = {
        "key": "refund/eu",
        "label": "Refund (EU)",
        "verdict": Verdict.HARD_REGRESSION,
        "pr": Scenario("refund/eu", 1, 3, categories={"timeout": 2}),
        "baseline": Scenario("refund/eu", 3, 3),
        "delta": -2 / 3,
        "p_worse": Fraction(1, 20),
        "p_better": Fraction(19, 20),
    }
    fields.update(changes)
    return ScenarioComparison(**fields)  # type: ignore[arg-type]


ROWS = {
    "plain": comparison_row(),
    "no delta": comparison_row(delta=None),
    "pooled, q, flakiness, series": comparison_row(
        pooled=Scenario("refund/eu", 14, 15),
        q=0.0123,
        flakiness=0.17999999999999997,
        series=(1.0, None, 2 / 3),
    ),
    "tiny and huge numbers": comparison_row(
        delta=-1e-07, q=5.953798523457966e-05, flakiness=1e300, series=(1e16, 0.1)
    ),
    "NaN and infinity": comparison_row(delta=math.nan, q=math.inf, series=(-math.inf,)),
    "int where a float is expected": comparison_row(delta=0, flakiness=True),
    "untrusted text": comparison_row(
        key='a"b\\c\n\t\x00\x1f\u2028',
        label="@team — naïve 名前 </script>",
        pr=Scenario("k", 0, 2, categories={'quote"d': 1, "ünï\n": 1}),
    ),
    "str subclass": comparison_row(key=Label("sub"), label=Label("class")),
    "huge int": comparison_row(pr=Scenario("k", 2**70, 2**71)),
    "exact p-values": comparison_row(p_worse=Fraction(1, 3), p_better=Fraction(2, 3)),
    "float p-values": comparison_row(p_worse=0.25, p_better=1.0),
}


@pytest.mark.parametrize("scenario_row", ROWS.values(), ids=ROWS.keys())
def test_row_json_is_the_compact_json_of_the_row(scenario_row: ScenarioComparison) -> None:
    assert row_json(scenario_row, FloatTexts()) == compact(row(scenario_row, Floats()))


def test_rows_with_measures_and_categories_match_too() -> None:
    comparison = compare_buckets(
        load_experiment(EXAMPLES / "pr.json"),
        load_experiment(EXAMPLES / "baseline.json"),
        Thresholds(),
    )
    texts, floats = FloatTexts(), Floats()
    assert any(r.pr.measures.scores for r in comparison.scenarios)  # the rows carry measures
    for scenario_row in comparison.scenarios:
        assert row_json(scenario_row, texts) == compact(row(scenario_row, floats))


@pytest.mark.parametrize(
    "value", [0, -3, 2**80, 0.5, 1e-05, 1e16, -0.0, math.nan, math.inf, -math.inf, None, True]
)
def test_numbers_are_written_as_json_writes_them(value: object) -> None:
    assert number_json(value) == compact(value)


def test_one_p_value_object_is_converted_once() -> None:
    texts, p = FloatTexts(), Fraction(1, 7)
    assert texts(p) is texts(p)
    assert texts(p) == compact(float(p))


def test_repeated_counts_are_written_once_and_bools_are_not_ints() -> None:
    # A bool equals 1 as a dict key, but json writes it "true": kept texts never mix them.
    texts, floats = FloatTexts(), Floats()
    rows = [
        comparison_row(pr=Scenario("k", 1, 3), pooled=Scenario("k", 1, 3)),
        comparison_row(pr=Scenario("k", True, 3), pooled=Scenario("k", True, 3)),
        comparison_row(pr=Scenario("k", 1, 3, unscored=True)),
        comparison_row(pr=Scenario("k", 1, 3), pooled=Scenario("k", 1, 3)),
    ]
    for scenario_row in rows:
        assert row_json(scenario_row, texts) == compact(row(scenario_row, floats))
    assert texts.counts(rows[0].pr) is texts.counts(rows[3].pr)


def test_counts_with_categories_are_kept_per_distinct_categories() -> None:
    # Kept texts never mix a bool count with an int one, a name with another order, or
    # a category with none; equal categories are written once.
    texts, floats = FloatTexts(), Floats()
    rows = [
        comparison_row(pr=Scenario("k", 1, 3, categories={"timeout": 1})),
        comparison_row(pr=Scenario("k", 1, 3, categories={"timeout": True})),
        comparison_row(pr=Scenario("k", 1, 3, categories={"a": 1, "b": 2})),
        comparison_row(pr=Scenario("k", 1, 3, categories={"b": 2, "a": 1})),
        comparison_row(pr=Scenario("k", 1, 3)),
        comparison_row(pr=Scenario("j", 1, 3, label="other", categories={"timeout": 1})),
    ]
    for scenario_row in rows:
        assert row_json(scenario_row, texts) == compact(row(scenario_row, floats))
    assert texts.counts(rows[0].pr) is texts.counts(rows[5].pr)
