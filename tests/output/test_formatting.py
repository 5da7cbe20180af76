"""Numbers and links for people (output.formatting): no exponents, signs, safe links."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from evalbot.core.models import Scenario
from evalbot.output.formatting import (
    count,
    decimals_for,
    link,
    md_row,
    md_rule,
    num,
    p_is,
    pct,
    plain,
    plural,
    pp,
    pvalue,
    safe_url,
    signed,
    trials,
)


def test_rates_and_points() -> None:
    assert [pct(0.873), pct(0.873, 1), pct(None)] == ["87%", "87.3%", "n/a"]
    assert [pp(-1.0), pp(0.0004), pp(0.125, 1), pp(None)] == ["-100 pp", "±0 pp", "+12.5 pp", "n/a"]


def test_p_values_never_use_an_exponent() -> None:
    assert [pvalue(p) for p in (0.004, 0.0004, 0.0833, 1, Fraction(1, 3), None)] == [
        "0.004",
        "< 0.001",
        "0.083",
        "1.000",
        "0.333",
        "n/a",
    ]
    assert [p_is(0.107), p_is(1e-9)] == ["p = 0.107", "p < 0.001"]


def test_counts_and_plurals() -> None:
    assert [count(5000), plural(1, "scenario"), plural(5000, "scenario")] == [
        "5,000",
        "1 scenario",
        "5,000 scenarios",
    ]
    assert plural(2, "loss", "losses") == "2 losses"
    assert trials(Scenario("k", 2, 3)) == "2/3 (67%)"


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.9612, "3.96"), (1239.4, "1,239"), (0.0012345, "0.00123"), (0.0, "0"), (None, "n/a")],
)
def test_measurements_have_three_significant_digits(value: float | None, text: str) -> None:
    assert num(value) == text


def test_signed_changes_and_shared_decimals() -> None:
    assert [signed(0.12), signed(-3.0), signed(0), signed(None)] == ["+0.120", "-3.00", "±0", "n/a"]
    assert decimals_for((3.96, 3.2, None, math.inf)) == 2
    assert signed(0.7712, decimals_for((3.96, 3.2))) == "+0.77"


def test_table_rows() -> None:
    assert md_row(["a", "1"]) == "| a | 1 |\n"
    assert md_rule(["l", "r"]) == "| --- | --: |\n"


def test_safe_url_only_allows_http() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("https://smith.langchain.com/o/x?a=(1)") == (
        "https://smith.langchain.com/o/x?a=%281%29"
    )
    assert safe_url(None) is None
    assert link("name", "javascript:alert(1)") == "name"
    assert link("name", "https://x.test/a|b") == "[name](https://x.test/a%7Cb)"


def test_plain_text_has_no_control_characters() -> None:
    text = plain("\x1b[31mred\nline\x07", 60)
    assert "\x1b" not in text and "\x07" not in text and "\n" not in text
    assert len(plain("x" * 500, 60)) <= 60
