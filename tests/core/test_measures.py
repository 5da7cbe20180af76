"""evalbot.core.measures: the document form of per-trial measurements."""

from __future__ import annotations

from evalbot.core.measures import NO_MEASURES, Measures, measures_document


def test_document_holds_only_the_non_empty_arrays_as_lists() -> None:
    measures = Measures(
        scores={"c": (0.5, 1.0), "empty": ()}, latency_ms=(2000.0,), tool_calls=(0,)
    )
    assert measures_document(measures) == {
        "scores": {"c": [0.5, 1.0], "empty": []},
        "latency_ms": [2000.0],
        "tool_calls": [0],
    }


def test_no_measures_is_an_empty_document() -> None:
    assert measures_document(NO_MEASURES) == {}
