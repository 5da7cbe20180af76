"""Per-trial measurements beyond pass/fail, and their document form.

The document form (a JSON object of non-empty arrays) is what an experiment
file's scenario carries and what the report writes for each side, so the one
mapping lives here, below both (issue 12).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["COUNT_MEASURES", "NO_MEASURES", "NUMBER_MEASURES", "Measures", "measures_document"]


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
