"""Text rules every layer shares: one line, a length cap, and the comment marker.

The one place for the control-character rule and for "the first line is the marker", so
the comment the renderer draws and the comment the GitHub client looks for agree.
"""

from __future__ import annotations

import re
from typing import Final

ZWSP: Final = "\u200b"
_ELLIPSIS: Final = "…"

# C0/C1 controls, every Unicode whitespace (\s covers \t \n \r \v \f, U+0085, U+2028,
# U+2029, NBSP ...) and bidi embedding/override/isolate marks.  Runs collapse to one space.
_CONTROL_RE: Final = re.compile(
    r"[\x00-\x1f\x7f-\x9f\s\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+"
)


def truncate(text: str, max_len: int) -> str:
    """Cap ``text`` to ``max_len`` characters, ending with ``…`` when it was cut.

    The ellipsis counts toward ``max_len``; whitespace left in front of it is dropped.
    Raises :class:`ValueError` when ``max_len`` is smaller than 1.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if len(text) <= max_len:
        return text
    return text[: max_len - 1].rstrip() + _ELLIPSIS


def one_line(text: str) -> str:
    """Untrusted text on one line: control characters collapsed to single spaces, stripped.

    The one rule for control characters (C0/C1, ANSI escape sequences' ESC, BEL, line
    breaks, bidi overrides) wherever evalbot shows untrusted text: table cells, the
    terminal, and workflow-command annotations.
    """
    return _CONTROL_RE.sub(" ", text).strip()


def comment_marker(comment_key: str) -> str:
    """The hidden first line that lets the Action find its own comment again."""
    return f"<!-- evalbot:{comment_key} -->"


def starts_with_marker(body: str, marker: str) -> bool:
    """Whether ``body``'s first line is ``marker`` (surrounding whitespace ignored)."""
    return body.split("\n", 1)[0].strip() == marker
