"""Per-trial measurements beyond pass/fail, and their document form.

The document form (a JSON object of non-empty arrays) is what an experiment
file's scenario carries and what the report writes for each side, so the one
mapping lives here, below both (issue 12).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "COUNT_MEASURES",
    "NO_MEASURES",
    "NUMBER_MEASURES",
    "Measures",
    "checked_measures",
    "measures_document",
]


@dataclass(frozen=True, slots=True)
class Measures:
    """Per-trial measurements of one scenario beyond pass/fail (issue 6).

    Each tuple holds one value per trial that had the measurement, in trial
    order; a trial without it (no cost reported, an errored run with no
    output) is simply absent, so the tuples may be shorter than the trial
    count and differ in length. ``scores`` maps a numeric feedback key (not a
    pass key) to its per-trial scores. ``output_chars`` is the length of the
    trial's output text; ``tool_calls`` how many tool calls the output made,
    recorded only when the source says (an empty tuple means "unknown", not
    "none").
    """

    scores: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    latency_ms: tuple[float, ...] = ()
    tokens: tuple[float, ...] = ()
    cost: tuple[float, ...] = ()
    output_chars: tuple[int, ...] = ()
    tool_calls: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # Read-only, so a frozen value cannot change under a caller.
        object.__setattr__(self, "scores", MappingProxyType(dict(self.scores)))

    def __bool__(self) -> bool:
        return bool(
            self.scores
            or self.latency_ms
            or self.tokens
            or self.cost
            or self.output_chars
            or self.tool_calls
        )


NO_MEASURES = Measures()


# Measures' slots, written directly by checked_measures (see there).
_new_measures = object.__new__
_set_scores, _set_latency, _set_tokens, _set_cost, _set_chars, _set_tools = (
    vars(Measures)[name].__set__
    for name in ("scores", "latency_ms", "tokens", "cost", "output_chars", "tool_calls")
)
_NO_SCORES: Mapping[str, tuple[float, ...]] = MappingProxyType({})


def checked_measures(
    scores: Mapping[str, tuple[float, ...]],
    latency_ms: tuple[float, ...],
    tokens: tuple[float, ...],
    cost: tuple[float, ...],
    output_chars: tuple[int, ...],
    tool_calls: tuple[int, ...],
) -> Measures:
    """``Measures(...)`` of these values, without the dataclass's per-field overhead.

    For a loader building one per scenario (issue 14): a frozen dataclass's
    __init__ sets each field through object.__setattr__ and then runs
    __post_init__. The same value as the constructor gives (``scores`` copied
    into a read-only mapping), or NO_MEASURES when every field is empty.
    """
    if not (scores or latency_ms or tokens or cost or output_chars or tool_calls):
        return NO_MEASURES
    measures: Measures = _new_measures(Measures)
    _set_scores(measures, MappingProxyType(dict(scores)) if scores else _NO_SCORES)
    _set_latency(measures, latency_ms)
    _set_tokens(measures, tokens)
    _set_cost(measures, cost)
    _set_chars(measures, output_chars)
    _set_tools(measures, tool_calls)
    return measures


# The measurement arrays of the document form besides ``scores``, by value type.
NUMBER_MEASURES = ("latency_ms", "tokens", "cost")
COUNT_MEASURES = ("output_chars", "tool_calls")


def measures_document(measures: Measures) -> dict[str, object]:
    """The document form of ``measures``: only the non-empty arrays, as JSON lists.

    An experiment file's scenario entry and each side's ``measures`` object in
    the JSON report.
    """
    document: dict[str, object] = {}
    if measures.scores:
        document["scores"] = {key: list(values) for key, values in measures.scores.items()}
    for name in (*NUMBER_MEASURES, *COUNT_MEASURES):
        values = getattr(measures, name)
        if values:
            document[name] = list(values)
    return document
