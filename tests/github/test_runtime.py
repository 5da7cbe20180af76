"""evalbot.github.runtime.neutralise: its one-line fast path gives the per-line rule's text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evalbot.github.runtime import neutralise
from evalbot.text import ZWSP


def per_line(text: str) -> str:
    """The rule as the module docstring states it, line by line, without shortcuts."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("::"):
            at = line.index("::")
            lines[i] = line[: at + 1] + ZWSP + line[at + 1 :]
    return "".join(lines).replace("##[", "#" + ZWSP + "#[")


# Every character the rule looks at: colons, hashes and brackets, whitespace that is
# and is not a line break (Unicode's included), and plain text.
_ALPHABET = ":#[ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u00a0\u2028\u2029\u3000ae"


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=12))
def test_neutralise_is_the_per_line_rule(text: str) -> None:
    assert neutralise(text) == per_line(text)


@given(st.text(alphabet=_ALPHABET, max_size=6), st.sampled_from(["", " ", "\u3000\t"]))
def test_a_one_line_text_starting_a_command_is_defused(tail: str, space: str) -> None:
    # No line break: the fast path decides at the start of the text alone.
    text = space + "::error::" + tail.replace("\n", "").replace("\r", "")
    assert neutralise(text) == per_line(text)
    assert not neutralise(text).lstrip().startswith("::")


def test_long_one_line_texts_keep_every_later_colon_pair() -> None:
    row = '{"key":"a::b","label":"x ##[y"}'
    assert neutralise(row * 1000) == (row * 1000).replace("##[", "#" + ZWSP + "#[")
    assert neutralise(" ::" + row) == " :" + ZWSP + ":" + row.replace("##[", "#" + ZWSP + "#[")


# Every character str.splitlines ends a line at, found by trying them all.
LINE_BREAKS = [chr(c) for c in range(0x110000) if len(f"a{chr(c)}b".splitlines()) == 2]


def test_every_line_break_starts_a_line_that_is_checked() -> None:
    assert len(LINE_BREAKS) >= 10
    for mark in LINE_BREAKS:
        text = f"key{mark} ::error::x"
        assert neutralise(text) == f"key{mark} :{ZWSP}:error::x", repr(mark)
