"""Escaping of untrusted text for the Markdown comment evalbot posts on pull requests.

Scenario names, failure-category names and experiment names come from users' datasets,
so they are untrusted: a hostile or merely unlucky name must not break the comment's
layout, inject HTML, ping people, cross-reference issues or create links.  Every rule
below exists because of a specific behaviour of GitHub's Markdown pipeline (cmark-gfm
followed by GitHub's HTML post-processing filters):

* **Control characters and line breaks** -- a newline ends a table row (GFM tables are
  one row per line) and a blank line ends a ``<details>`` block or a list, so CR, LF,
  tabs, other C0/C1 controls, Unicode line/paragraph separators and bidi overrides
  (which can visually reorder a name, "Trojan Source" style) are collapsed to one space.
* **Truncate before escaping** -- the cap applies to the *visible* text, and cutting
  after escaping could leave half an escape (a lone trailing ``\\`` that would then
  escape whatever the template puts next, or ``&am``).  The output of
  :func:`escape_text` is therefore at most ``5 * max_len`` characters (``&`` ->
  ``&amp;`` is the widest replacement).
* **Backslash escapes** -- CommonMark lets any ASCII punctuation be backslash-escaped.
  We escape ``\\ ` * _ { } [ ] ( ) # + - . ! | ~ $`` so that emphasis, code, links
  (``[x](javascript:...)``), images, headings, list markers, ordered-list ``1.``,
  strikethrough and GitHub math (``$...$``) cannot start inside a name.
* **``|`` -> ``\\|``** -- GFM's table extension splits a row on every pipe that is not
  backslash-escaped *before* inline parsing, even inside code spans; it then removes the
  backslash.  An escaped pipe therefore keeps the row's cell count equal to the header's.
* **``<``, ``>``, ``&`` -> entities** -- GitHub passes a sanitised subset of raw HTML
  through (``<img>``, ``<details>``, ``</details>``, ``<!-- -->``, ``<sub>`` ...), so a
  name such as ``</details>`` could close our collapsible section or hide the rest of
  the comment in a comment.  ``&`` is escaped so an input like ``&lt;`` shows literally.
* **Zero-width space (U+200B) after every ``@`` and ``#``** -- GitHub resolves
  ``@user``, ``@org/team``, ``#123``, ``owner/repo#123`` and ``user@sha`` in a filter
  that runs on the *rendered* HTML text, i.e. after backslash escapes and entities have
  been decoded, so escaping alone does not stop a mention from notifying a team or a
  reference from back-linking an issue.  A ZWSP between the sigil and the name breaks
  the match while rendering invisibly.  The same applies to ``GH-123`` (a ZWSP goes
  after ``GH-``) and to e-mail autolinks (``a@b.example``).
* **Bare URLs** -- GFM's autolink extension turns ``http://``, ``https://``, ``ftp://``
  and ``www.`` into links without any brackets.  A ZWSP after the ``:`` of ``://`` and
  after ``www`` stops that, so no clickable link can be smuggled in.
* **Trailing backslash** -- for the table splitter *any* backslash directly before a
  ``|`` escapes it, so text ending in ``\\\\`` followed by a cell delimiter without a
  space (``|{{ name }}|``) would merge two cells; a trailing ZWSP separates them.
* **Empty names** -- an empty cell collapses visually and ``||`` is easy to misread,
  so empty (or all-whitespace) text becomes ``∅``.

:func:`code_span` is for names shown as inline code (experiment names).  The content of
a code span is literal, so only the fence and the table pipe matter: the fence is one
backtick longer than the longest run inside (CommonMark), padded with a space when the
text starts or ends with a backtick, and ``|`` becomes ``\\|`` because the table
splitter runs before code spans are recognised.  No ZWSP is inserted there: GitHub's
mention and reference filters skip ``<code>`` elements and autolinking does not happen
inside code spans, and leaving the name byte-exact keeps it copy-pasteable.  Because
of the ``\\|`` rule, :func:`code_span` output is meant for table cells; outside a table
a pipe would show as ``\\|``.

Limitations: repository-configured custom autolinks (e.g. ``JIRA-123``) and commit SHA
links cannot be known here and are not neutralised; they only ever link within the
repository's own configuration.

All functions are pure and use ``str.translate`` / precompiled regexes, because a
single render may escape tens of thousands of names.
"""

from __future__ import annotations

import re
from typing import Final

from evalbot.text import ZWSP, one_line, truncate

__all__ = [
    "MAX_NAME",
    "ZWSP",
    "code_span",
    "escape_text",
    "one_line",
    "truncate",
]

MAX_NAME: Final = 80
_EMPTY: Final = "∅"

# Zero-width insertion points that break GitHub autolinks and GH-123 references.  Applied
# to the truncated, *unescaped* text (after escaping, '.' and '-' carry a backslash).
_AUTOLINK_RE: Final = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=gh-)(?=\d)", re.IGNORECASE)

_TEXT_TABLE: Final = str.maketrans(
    {
        **{c: "\\" + c for c in "\\`*_{}[]()+-.!|~$"},
        "#": "\\#" + ZWSP,
        "@": "@" + ZWSP,
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)

_BACKTICK_RUN_RE: Final = re.compile(r"`+")


def _clean(text: str, max_len: int) -> str:
    """Collapse control characters to single spaces, strip, then truncate."""
    return truncate(one_line(text), max_len)


def escape_text(text: str, max_len: int = MAX_NAME) -> str:
    """Make untrusted text safe as inline Markdown inside a GitHub table cell or a sentence.

    Control characters collapse to single spaces, the text is stripped and truncated to
    ``max_len`` visible characters, Markdown punctuation is backslash-escaped, ``<``,
    ``>`` and ``&`` become entities, and a zero-width space is inserted after every
    ``@``/``#``, after ``GH-`` before digits, after the ``:`` of ``://`` and after
    ``www`` before ``.`` so that no mention, reference, HTML or link survives (and after
    a trailing backslash, so the next ``|`` stays a cell delimiter).  Empty results
    become ``∅``.  The output has no line breaks and is at most ``5 * max_len``
    characters long.  See the module docstring for the GitHub behaviour behind each rule.
    """
    cleaned = _clean(text, max_len)
    if not cleaned:
        return _EMPTY
    escaped = _AUTOLINK_RE.sub(ZWSP, cleaned).translate(_TEXT_TABLE)
    if escaped[-1] == "\\":
        # A trailing "\\" would make a directly following "|" an escaped pipe for the GFM
        # table splitter (any backslash right before a pipe escapes it), merging two cells.
        escaped += ZWSP
    return escaped


def code_span(text: str, max_len: int = MAX_NAME) -> str:
    """Show untrusted text as an inline code span that is safe inside a GitHub table cell.

    Control characters collapse to single spaces, the text is stripped and truncated to
    ``max_len`` characters, and ``|`` becomes ``\\|`` (the GFM table splitter runs before
    code spans are parsed and removes that backslash again).  The fence is one backtick
    longer than the longest backtick run inside, with a space of padding when the text
    starts or ends with a backtick.  No zero-width spaces are added: GitHub does not
    resolve mentions, references or autolinks inside code.  Empty results become ``∅``.
    """
    cleaned = _clean(text, max_len)
    if not cleaned:
        return _EMPTY
    longest = max((len(run) for run in _BACKTICK_RUN_RE.findall(cleaned)), default=0)
    fence = "`" * (longest + 1)
    body = cleaned.replace("|", "\\|")
    if cleaned[0] == "`" or cleaned[-1] == "`":
        body = f" {body} "
    return f"{fence}{body}{fence}"
