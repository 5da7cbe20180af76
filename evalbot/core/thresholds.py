"""The external shape of the thresholds, written once: each key, where Thresholds holds it.

The config file reads these keys (:func:`evalbot.config.parse_config`) and the
JSON report writes them back (``output.report.thresholds_dict``); both walk
:data:`THRESHOLD_KEYS`, so a threshold added here is configurable and
reported in the same shape, and the two cannot drift apart.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalbot.core.models import Levels, Thresholds


class Kind(enum.Enum):
    """What a threshold value is, so the config can check it and the report can write it."""

    PROBABILITY = "a probability in (0, 1]"
    FRACTION = "a fraction in [0, 1]"
    ALPHA = "a false-alarm budget in (0, 0.5]"
    COUNT = "a count in [0, 1e9]"
    NON_NEGATIVE = "a number at least 0"
    INCREASE = "a relative increase in (0, 100]"
    CORRECTION = "bh or none"
    SENSITIVITY = "low, normal or high"
    LEVELS = "{mild, severe}, severe at least mild"
    RATIO_LEVELS = "{mild, severe}, severe at most mild"
    BY_KEY = "{feedback key: number at least 0}"


class Section(enum.Enum):
    """Where the config file takes a key."""

    THRESHOLDS = "thresholds"  # inside the `thresholds:` mapping
    TOP = "top level"  # a key of its own at the top of the file
    NONE = "none"  # derived: reported, not configurable


@dataclass(frozen=True, slots=True)
class ThresholdKey:
    """One threshold: its spelling (config and report), where it lives, what it is."""

    key: tuple[str, ...]  # ("hard", "max_p"): thresholds.hard.max_p in the config
    attr: tuple[str, ...]  # ("hard", "max_p"): Thresholds().hard.max_p
    kind: Kind
    section: Section
    reported: bool = True


def _keys() -> tuple[ThresholdKey, ...]:
    T, TOP = Section.THRESHOLDS, Section.TOP
    keys = [
        *(
            ThresholdKey((tier, field), (tier, field), kind, T)
            for tier in ("hard", "soft")
            for field, kind in (
                ("max_p", Kind.PROBABILITY),
                ("min_delta", Kind.FRACTION),
                ("min_baseline_rate", Kind.FRACTION),
            )
        ),
        ThresholdKey(("watch_delta",), ("watch_delta",), Kind.FRACTION, T),
        ThresholdKey(("category", "min_rate_gap"), ("category_min_rate_gap",), Kind.FRACTION, T),
        ThresholdKey(("category", "min_count_gap"), ("category_min_count_gap",), Kind.COUNT, T),
        ThresholdKey(("alpha",), ("alpha",), Kind.ALPHA, TOP),
        ThresholdKey(("correction",), ("correction",), Kind.CORRECTION, TOP),
        # The report predates trend_threshold there (schema v4): configurable, not reported.
        ThresholdKey(("trend_threshold",), ("trend_threshold",), Kind.FRACTION, TOP, False),
        ThresholdKey(("aggregate_alpha",), ("aggregate_alpha",), Kind.ALPHA, Section.NONE),
        ThresholdKey(("sensitivity",), ("sensitivity",), Kind.SENSITIVITY, TOP),
        ThresholdKey(("metrics", "min_effect"), ("metrics", "min_effect"), Kind.NON_NEGATIVE, TOP),
        ThresholdKey(("metrics", "min_effect_by_key"), ("metrics", "by_key"), Kind.BY_KEY, TOP),
        ThresholdKey(("metrics", "max_p"), ("metrics", "max_p"), Kind.PROBABILITY, TOP),
        *(
            ThresholdKey(("costs", what), ("costs", what), Kind.INCREASE, TOP)
            for what in ("latency", "tokens", "cost")
        ),
        *(
            ThresholdKey((key,), ("costs", key), Kind.INCREASE, TOP)
            for key in (f"fail_on_{what}_increase" for what in ("latency", "tokens", "cost"))
        ),
        *(
            ThresholdKey(("drift", signal), ("drift", signal), kind, TOP)
            for signal, kind in (
                ("error_rate", Kind.LEVELS),
                ("empty_output", Kind.LEVELS),
                ("output_length", Kind.RATIO_LEVELS),
                ("tool_silence", Kind.LEVELS),
            )
        ),
        ThresholdKey(("drift", "max_p"), ("drift", "max_p"), Kind.PROBABILITY, TOP),
    ]
    return tuple(keys)


THRESHOLD_KEYS: tuple[ThresholdKey, ...] = _keys()
"""Every threshold, in the report's document order."""


def key_tree(section: Section) -> Mapping[str, Any]:
    """The keys the config takes in ``section``, nested: {"hard": {"max_p": ThresholdKey}}."""
    tree: dict[str, Any] = {}
    for entry in THRESHOLD_KEYS:
        if entry.section is not section:
            continue
        node = tree
        for part in entry.key[:-1]:
            node = node.setdefault(part, {})
        node[entry.key[-1]] = entry
    return tree


def value_of(thresholds: Thresholds, attr: tuple[str, ...]) -> Any:
    """The value at ``attr`` in ``thresholds``."""
    value: Any = thresholds
    for part in attr:
        value = getattr(value, part)
    return value


def thresholds_document(thresholds: Thresholds) -> dict[str, Any]:
    """``thresholds`` in the config file's shape, every reported key (the report's section)."""
    document: dict[str, Any] = {}
    for entry in THRESHOLD_KEYS:
        if not entry.reported:
            continue
        node = document
        for part in entry.key[:-1]:
            node = node.setdefault(part, {})
        node[entry.key[-1]] = _external(value_of(thresholds, entry.attr))
    return document


def _external(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Levels):
        return {"mild": value.mild, "severe": value.severe}
    if isinstance(value, tuple):  # metrics.by_key: ((key, effect), ...)
        return dict(value)
    return value
