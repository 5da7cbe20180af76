"""The false-alarm budget's parts, and thresholds read as the decimals users wrote.

Rates and deltas are compared as exact Fractions against thresholds read as
decimals (``Fraction("0.30")``), so a drop from 7/10 to 4/10 is exactly 30 pp
and meets a 30 pp threshold, instead of missing it by float rounding.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from evalbot.core.models import (
    Thresholds,
)


@lru_cache(maxsize=256)
def _dec(value: float) -> Fraction:
    """A threshold as the decimal the user wrote (0.3 means 3/10, not 0.2999…).

    Cached: a handful of thresholds are read once per scenario.
    """
    return Fraction(str(value))


def scenario_alpha(thresholds: Thresholds) -> float:
    """The part of the false-alarm budget spent on the per-scenario family."""
    return thresholds.alpha - thresholds.aggregate_alpha
