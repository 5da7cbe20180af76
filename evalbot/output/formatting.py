"""Numbers and links for people: rates, p-values, counts, table rows, safe URLs."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction

from evalbot.core.models import (
    Scenario,
)
from evalbot.text import one_line, truncate

# --- numbers for people (issue 13 §5) -------------------------------------------


def pct(rate: float | None, digits: int = 0) -> str:
    """0.873 -> '87%' (or '87.3%' with digits=1); None -> 'n/a'."""
    return "n/a" if rate is None else f"{rate * 100:.{digits}f}%"


def pp(delta: float | None, digits: int = 0) -> str:
    """A pass-rate difference in percentage points: -1.0 -> '-100 pp'."""
    if delta is None:
        return "n/a"
    points = round(delta * 100, digits)
    if points == 0:
        return "±0 pp"
    return f"{points:+.{digits}f} pp"


def pvalue(p: Fraction | float | None) -> str:
    """A p-value with three decimals, '< 0.001' below that: never an exponent."""
    if p is None:
        return "n/a"
    value = float(p)
    return "< 0.001" if value < 0.0005 else f"{value:.3f}"


def p_is(p: Fraction | float | None) -> str:
    """'p = 0.107' or 'p < 0.001'."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def count(n: int) -> str:
    """A count with thousands separators: 5000 -> '5,000'."""
    return f"{n:,}"


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 scenario', '2 scenarios', '5,000 scenarios'."""
    return f"{count(n)} {one if n == 1 else (many or one + 's')}"


def trials(scenario: Scenario) -> str:
    """'2/3 (67%)', thousands separated."""
    return f"{scenario.passed:,}/{scenario.total:,} ({pct(scenario.rate)})"


def num(value: float | None) -> str:
    """A measurement for people: 3 significant digits, thousands separated, no exponent."""
    if value is None:
        return "n/a"
    return fixed(value, decimals_for((value,)))


def decimals_for(values: Iterable[float | None]) -> int:
    """Decimals that show the largest of ``values`` to 3 significant digits.

    One count per table row, so the PR, baseline and change of a row line up
    ("3.96 s" beside "3.20 s", not "3.2 s").
    """
    largest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if largest == 0:
        return 0
    return max(0, min(6, 2 - math.floor(math.log10(largest))))


def fixed(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals and thousands separators."""
    return f"{value:,.{decimals}f}"


def signed(value: float | None, decimals: int | None = None) -> str:
    """A change with its sign: +0.12, -3, ±0."""
    if value is None:
        return "n/a"
    if value == 0:
        return "±0"
    digits = decimals_for((value,)) if decimals is None else decimals
    return ("+" if value > 0 else "-") + fixed(abs(value), digits)


def md_row(cells: Sequence[str]) -> str:
    """One Markdown table row, newline included: cells must be escaped already."""
    return "| " + " | ".join(cells) + " |\n"


def md_rule(align: Sequence[str]) -> str:
    """The delimiter row: ``---`` for text columns, ``--:`` for numbers (right-aligned)."""
    return md_row(["--:" if a == "r" else "---" for a in align])


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for a Markdown link target, or None.

    URLs come from experiment files and metadata, so anything but http(s) is
    refused (no ``javascript:``), and characters that end a link target or a
    table cell are percent-encoded.
    """
    if not url or not re.match(r"https?://[^\s]+$", url):
        return None
    return re.sub(r"[()<>|\[\]`\"' ]", lambda m: f"%{ord(m.group()):02X}", url)


def link(text: str, url: str | None) -> str:
    """``[text](url)`` when the URL is safe, else just ``text`` (already escaped)."""
    target = safe_url(url)
    return f"[{text}]({target})" if target else text


def plain(text: str, max_len: int = 60) -> str:
    """Untrusted text for a terminal: no control characters (no escape sequences)."""
    return truncate(one_line(text), max_len)
