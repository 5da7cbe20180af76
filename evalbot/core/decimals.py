"""Thresholds read as the decimal the user wrote: 0.3 is exactly 3/10, not 0.2999….

Counts give exact rates (Fractions); a threshold from the config or a flag is
a float. Comparing the two as floats lets binary rounding decide boundary
cases (a drop from 7/10 to 4/10 would miss a 0.3 threshold). Reading the
threshold as its shortest round-tripping decimal, ``str(value)``, makes a
change that sits exactly on the threshold reach it, as the user means.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

__all__ = ["at_least", "at_most", "decimal"]


# typed=True: 1, 1.0 and True hash alike but stringify differently ("1", "1.0",
# "True"), so they must not share a cache slot. Cached: a handful of thresholds
# are read once per scenario.
@lru_cache(maxsize=256, typed=True)
def decimal(value: float) -> Fraction:
    """``value`` as the decimal the user wrote (``str()`` round-trips: 0.05 is 1/20).

    Raises:
        ValueError: if ``value`` is NaN or infinite (or not a number's text).
    """
    return Fraction(str(value))


def at_least(value: float | Fraction, level: float) -> bool:
    """``value >= level`` as the user means it (issue 6 review: boundaries).

    Counts give exact Fractions, compared with the level as the decimal the
    user wrote (a 35/100 vs 20/100 rise is exactly 0.15). Float arithmetic
    (0.35 - 0.2 = 0.1499…) is given a relative 1e-9 of slack, far below any
    meaningful difference, so a change exactly at a threshold reaches it.
    """
    if isinstance(value, Fraction):
        return value >= decimal(level)
    return value >= level - 1e-9 * max(1.0, abs(level))


def at_most(value: float | Fraction, level: float) -> bool:
    """``value <= level``, with the same exactness rules as ``at_least``."""
    if isinstance(value, Fraction):
        return value <= decimal(level)
    return value <= level + 1e-9 * max(1.0, abs(level))
