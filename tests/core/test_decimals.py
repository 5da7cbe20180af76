"""evalbot.core.decimals: a threshold means the decimal the user wrote."""

from __future__ import annotations

from fractions import Fraction

import pytest

from evalbot.core.decimals import at_least, at_most, decimal


def test_decimal_is_the_written_decimal_not_the_binary_float() -> None:
    assert decimal(0.3) == Fraction(3, 10)
    assert decimal(0.05) == Fraction(1, 20)
    assert Fraction(0.3) != Fraction(3, 10)  # what a plain conversion would give


def test_a_drop_exactly_at_the_threshold_reaches_it() -> None:
    drop = Fraction(7, 10) - Fraction(4, 10)
    assert drop >= decimal(0.3)
    assert at_least(drop, 0.3) and at_most(drop, 0.3)
    assert at_least(0.35 - 0.2, 0.15)  # float arithmetic gives 0.1499…
    assert not at_least(Fraction(149, 1000), 0.15)
    assert not at_most(0.16, 0.15)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True])
def test_not_a_decimal_raises(value: float) -> None:
    decimal(1)  # a cached 1 must not answer for True (typed cache)
    with pytest.raises(ValueError):
        decimal(value)
