"""Experiments reduced to what the core reads: scenarios with pass counts, in buckets.

Frozen dataclasses with read-only mappings, so the core can pass them around
without copying and no SDK type leaks in (brief: rules 2 and 3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from evalbot.core.measures import NO_MEASURES, Measures

__all__ = ["TARGET_ERROR", "Bucket", "Scenario", "checked_scenario", "counts_scenario"]


# The failure category of a trial whose target raised (langsmith_bucket rule 2;
# experiment files use the same name), which the error-rate drift signal counts.
TARGET_ERROR = "target_error"


# One read-only empty mapping for every value without categories, metadata or
# scenarios: most scenarios have no failure category, and a fresh proxy and
# dict each would be about 100 bytes a scenario (issue 14: peak memory).
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value)) if value else _EMPTY


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario of an experiment: how many trials passed out of how many.

    ``categories`` counts failure categories over the scenario's trials
    (a trial may carry no category). ``measures`` holds the per-trial scores,
    latency, tokens, cost and output facts (issue 6); the pass/fail
    comparison ignores them.
    """

    key: str
    passed: int
    total: int
    label: str = ""
    categories: Mapping[str, int] = field(default_factory=dict)
    # Trials whose evaluator crashed or gave no score: they say nothing about
    # the application, so they are kept out of passed/total (issue 3 §3).
    unscored: int = 0
    measures: Measures = NO_MEASURES

    def __post_init__(self) -> None:
        if not 0 <= self.passed <= self.total:
            raise ValueError(f"scenario {self.key!r}: need 0 <= passed <= total")
        object.__setattr__(self, "categories", _frozen_map(self.categories))

    @property
    def display(self) -> str:
        """The label when the dataset gave one, else the key."""
        return self.label or self.key

    @property
    def rate(self) -> float | None:
        """Pass rate in [0, 1], or None when there are no trials."""
        return self.passed / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Bucket:
    """An experiment reduced to per-scenario pass counts (see issue 2 §2)."""

    name: str
    scenarios: Mapping[str, Scenario]
    url: str | None = None
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # When the experiment started (ISO 8601), for the baseline's age.
    started_at: str | None = None
    # Completeness remarks from the source, e.g. "partial: 27 of 30 runs".
    notes: tuple[str, ...] = ()
    # Where the experiment lives in LangSmith's web app, for links (issue 13
    # §4): the workspace URL (web host + ``/o/<tenant>``), the dataset id, and
    # whether scenario keys are example ids (so each scenario has a page).
    web_url: str | None = None
    dataset_id: str | None = None
    example_links: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenarios", _frozen_map(self.scenarios))
        object.__setattr__(self, "metadata", _frozen_map(self.metadata))

    @property
    def total_trials(self) -> int:
        """Trials over every scenario."""
        return sum(s.total for s in self.scenarios.values())

    @property
    def unscored(self) -> int:
        """Trials left out of every scenario because they were not scored."""
        return sum(s.unscored for s in self.scenarios.values())


class _ScenarioBuilder:
    """Scenario's slots, assignable: builds a scenario, then becomes one.

    A frozen dataclass's ``__init__`` stores each field through
    ``object.__setattr__`` and then runs ``__post_init__``: several times the
    cost of plain attribute stores into the same slot layout followed by one
    ``__class__`` assignment, at 200,000 scenarios a comparison (issue 14: most
    of an experiment file's loading time). Python checks at that assignment
    that the layouts match, so a field added to one class and not the other
    fails loudly.
    """

    __slots__ = Scenario.__slots__

    def __init__(
        self,
        key: str,
        passed: int,
        total: int,
        label: str,
        categories: Mapping[str, int],
        unscored: int,
        measures: Measures,
    ) -> None:
        self.key = key
        self.passed = passed
        self.total = total
        self.label = label
        self.categories = categories
        self.unscored = unscored
        self.measures = measures
        self.__class__ = Scenario  # type: ignore[assignment]


def checked_scenario(
    key: str,
    passed: int,
    total: int,
    label: str,
    categories: Mapping[str, int],
    unscored: int,
    measures: Measures,
) -> Scenario:
    """``Scenario(key, passed, total, label, categories, unscored, measures)``, without its check.

    For a loader that has already checked ``0 <= passed <= total`` (an
    experiment file's fast path): the same value, equal to what the
    constructor gives, built without the constructor's overhead. ``categories``
    is copied into a read-only mapping as the constructor does.
    """
    built: Any = _ScenarioBuilder(
        key,
        passed,
        total,
        label,
        MappingProxyType(dict(categories)) if categories else _EMPTY,
        unscored,
        measures,
    )
    scenario: Scenario = built
    return scenario


class _CountsBuilder:
    """_ScenarioBuilder for a scenario with counts and a label only (the other fields'
    defaults stored as constants: four arguments to pass, not seven)."""

    __slots__ = Scenario.__slots__

    def __init__(self, key: str, passed: int, total: int, label: str) -> None:
        self.key = key
        self.passed = passed
        self.total = total
        self.label = label
        self.categories = _EMPTY
        self.unscored = 0
        self.measures = NO_MEASURES
        self.__class__ = Scenario  # type: ignore[assignment]


#: ``counts_scenario(key, passed, total, label)`` is ``Scenario(key, passed, total,
#: label=label)`` without its check, for counts the caller checked (``0 <= passed <=
#: total``), as ``checked_scenario``. The builder class itself, called (it becomes the
#: Scenario): no function call around it, built ten thousand times per history file and
#: per pooled window (issue 14).
counts_scenario = cast(Callable[[str, int, int, str], Scenario], _CountsBuilder)
