"""Tests for evalbot.output.markdown: escaping of untrusted names for GitHub Markdown comments."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalbot.github.runtime import escape_workflow_data, escape_workflow_property
from evalbot.output.markdown import (
    MAX_NAME,
    ZWSP,
    code_span,
    escape_text,
    truncate,
)

HOSTILE_NAMES = [
    "a|b",
    "</details>",
    "@org/team",
    "[x](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "line1\nline2",
    "`tick`",
    "#123",
    "https://evil.example/x",
    "n" * 300,
    "owner/repo#42",
    "GH-7",
    "www.evil.example",
    "mail me@evil.example",
    "<!-- hide",
    "a\\|b",
    "trailing backslash\\",
    "$\\color{red}{x}$",
    "\u202eevil\u2066",
    "",
    " \t\r\n ",
]

# A '|' is a cell delimiter for GFM's table splitter unless the character directly before
# it is a backslash (cmark-gfm's re2c `table_cell` scanner takes the longest match, so the
# parity of a backslash run does not matter).
_CELL_DELIMITER = re.compile(r"(?<!\\)\|")
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def _cell_count(row: str) -> int:
    parts = _CELL_DELIMITER.split(row)
    assert parts[0] == "" and parts[-1] == "", row  # leading and trailing pipe
    return len(parts) - 2


def _table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _visible(markdown: str) -> str:
    """What a reader sees for escape_text output: escapes and entities decoded, no ZWSP."""
    return html.unescape(_BACKSLASH_ESCAPE.sub(r"\1", markdown)).replace(ZWSP, "")


def _assert_pipes_escaped(text: str) -> None:
    assert _CELL_DELIMITER.search(text) is None, text


def _assert_inert(out: str) -> None:
    """No layout break, raw HTML, link, mention or reference can come out of escape_text."""
    assert "\n" not in out and "\r" not in out
    assert len(out.splitlines()) <= 1
    assert "<" not in out and ">" not in out
    assert "](" not in out
    assert re.search(r"@\w", out) is None
    assert re.search(r"#\d", out) is None
    assert re.search(r"(?i)gh-\d|gh\\-\d", out) is None
    assert "://" not in out
    assert re.search(r"(?i)www\\?\.", out) is None
    # every '&' starts one of our entities, so no other entity can be decoded
    assert re.search(r"&(?!amp;|lt;|gt;)", out) is None


# --- table rows ---------------------------------------------------------------------------


def test_hostile_names_keep_table_shape_and_stay_inert() -> None:
    header = _table_row([f"col{i}" for i in range(len(HOSTILE_NAMES))])
    cells = [escape_text(name) for name in HOSTILE_NAMES]
    row = _table_row(cells)

    assert _cell_count(row) == _cell_count(header) == len(HOSTILE_NAMES)
    _assert_inert(row)
    for cell in cells:
        assert cell.strip(), "cells are never empty"
        _assert_pipes_escaped(cell)
    # Also without spaces around the delimiters (e.g. a template writing "|{{ name }}|").
    assert _cell_count("|" + "|".join(cells) + "|") == len(HOSTILE_NAMES)


def test_hostile_names_keep_table_shape_as_code_spans() -> None:
    header = _table_row([f"col{i}" for i in range(len(HOSTILE_NAMES))])
    row = _table_row([code_span(name) for name in HOSTILE_NAMES])
    assert _cell_count(row) == _cell_count(header)
    assert "\n" not in row and "\r" not in row


# --- escape_text: individual rules --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a|b", "a\\|b"),
        ("</details>", "&lt;/details&gt;"),
        ("<!-- x", "&lt;\\!\\-\\- x"),
        ("&lt;", "&amp;lt;"),
        ("@org/team", f"@{ZWSP}org/team"),
        ("#123", f"\\#{ZWSP}123"),
        ("owner/repo#123", f"owner/repo\\#{ZWSP}123"),
        ("GH-123", f"GH\\-{ZWSP}123"),
        ("https://evil.example/x", f"https:{ZWSP}//evil\\.example/x"),
        ("WWW.evil.example", f"WWW{ZWSP}\\.evil\\.example"),
        ("[x](javascript:alert(1))", "\\[x\\]\\(javascript:alert\\(1\\)\\)"),
        ("`tick`", "\\`tick\\`"),
        ("*a* _b_ ~c~ $d$", "\\*a\\* \\_b\\_ \\~c\\~ \\$d\\$"),
        ("a\\", f"a\\\\{ZWSP}"),
        ("1. + - !", "1\\. \\+ \\- \\!"),
        ("line1\r\n\tline2", "line1 line2"),
        ("  padded  ", "padded"),
        ("a" + "\r\n" * 200 + "b", "a b"),  # collapse first, then truncate
        ("a\u2028b\x00c\x85d\u202ee", "a b c d e"),
        ("plain name", "plain name"),
        ("", "∅"),
        (" \n\t ", "∅"),
    ],
)
def test_escape_text(name: str, expected: str) -> None:
    assert escape_text(name) == expected


def test_escape_text_truncates_visible_text_before_escaping() -> None:
    out = escape_text("x" * 300)
    assert out == "x" * (MAX_NAME - 1) + "…"

    # The cap is on visible characters: escapes are never cut in half.
    hostile = escape_text("|" * 300, 10)
    assert hostile == "\\|" * 9 + "…"
    assert _visible(hostile) == "|" * 9 + "…"
    assert not escape_text("a" * 9 + "\\" * 50, 10).endswith("\\\\\\")
    assert escape_text("a" * 9 + "&" * 50, 10) == "a" * 9 + "…"


def test_escape_text_short_names_are_not_truncated() -> None:
    assert escape_text("x" * MAX_NAME) == "x" * MAX_NAME
    assert escape_text("abc", 3) == "abc"


# --- truncate -----------------------------------------------------------------------------


def test_truncate() -> None:
    cut = truncate("x" * 300, 80)
    assert len(cut) == 80
    assert cut.endswith("…")
    assert truncate("short", 80) == "short"
    assert truncate("x" * 80, 80) == "x" * 80
    assert truncate("abcdef", 1) == "…"
    assert truncate("abc   defgh", 6) == "abc…"  # no space left dangling before the ellipsis


def test_truncate_rejects_non_positive_length() -> None:
    with pytest.raises(ValueError):
        truncate("abc", 0)


# --- code_span ----------------------------------------------------------------------------


def _fence_and_body(span: str) -> tuple[str, str]:
    match = re.fullmatch(r"(`+)(.*?)\1", span)
    assert match is not None, span
    return match.group(1), match.group(2)


def test_code_span_plain() -> None:
    assert code_span("exp-2024-01") == "`exp-2024-01`"
    assert code_span("@org/team #1 https://x <b>") == "`@org/team #1 https://x <b>`"


@pytest.mark.parametrize(
    "name", ["a`b", "a``b", "`tick`", "```", "x ```` y ` z", "`", "ends with`", "`starts"]
)
def test_code_span_fence_longer_than_any_inner_backtick_run(name: str) -> None:
    span = code_span(name)
    fence, body = _fence_and_body(span)
    inner_runs = [len(run) for run in re.findall(r"`+", body)]
    assert all(run < len(fence) for run in inner_runs)
    assert span[len(fence)] != "`" and span[-len(fence) - 1] != "`"
    if name.startswith("`") or name.endswith("`"):
        assert body == f" {name} "  # CommonMark strips exactly one space each side
    else:
        assert body == name


def test_code_span_escapes_pipes_and_cleans_controls() -> None:
    assert code_span("a|b") == "`a\\|b`"
    assert code_span("a\\|b") == "`a\\\\|b`"  # table splitter drops only the added backslash
    assert code_span("l1\nl2\t|") == "`l1 l2 \\|`"
    assert code_span("") == "∅"
    assert code_span("\n") == "∅"
    assert code_span("y" * 300) == "`" + "y" * (MAX_NAME - 1) + "…`"


# --- workflow commands --------------------------------------------------------------------


def test_escape_workflow_data() -> None:
    assert escape_workflow_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert escape_workflow_data("%0A") == "%250A"


def test_escape_workflow_property() -> None:
    assert escape_workflow_property("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext%3A a%2Cb"
    assert escape_workflow_property("%3A") == "%253A"


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=300)
@given(text=st.text(), max_len=st.integers(min_value=1, max_value=200))
def test_escape_text_properties(text: str, max_len: int) -> None:
    out = escape_text(text, max_len)
    assert out
    _assert_inert(out)
    _assert_pipes_escaped(out)
    assert _cell_count(f"|{out}|{out}|") == 2
    assert len(out) <= 5 * max_len  # '&' -> '&amp;' is the widest replacement
    assert len(_visible(out)) <= max_len


# Text that cleaning leaves untouched: no controls, separators, format characters or ZWSP.
_PRINTABLE = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
)


@settings(max_examples=300)
@given(text=_PRINTABLE, max_len=st.integers(min_value=1, max_value=120))
def test_escape_text_shows_exactly_the_truncated_text(text: str, max_len: int) -> None:
    assert _visible(escape_text(text, max_len)) == truncate(text, max_len)


@settings(max_examples=300)
@given(text=st.text(), max_len=st.integers(min_value=1, max_value=200))
def test_code_span_properties(text: str, max_len: int) -> None:
    span = code_span(text, max_len)
    assert "\n" not in span and "\r" not in span
    _assert_pipes_escaped(span)
    if span == "∅":
        return
    fence, body = _fence_and_body(span)
    assert all(len(run) < len(fence) for run in re.findall(r"`+", body))
    content = body.replace("\\|", "|")
    if content.startswith(" ") and content.endswith(" ") and content.strip(" "):
        content = content[1:-1]
    assert len(content) <= max_len


@given(text=st.text())
def test_workflow_escapes_leave_no_line_breaks(text: str) -> None:
    for out in (escape_workflow_data(text), escape_workflow_property(text)):
        assert "\r" not in out and "\n" not in out
    assert ":" not in escape_workflow_property(text)
    assert "," not in escape_workflow_property(text)
