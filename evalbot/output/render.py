"""The PR comment and the job summary: the view through the template, cut to GitHub's limits.

Pure: an Outcome, a Gate and a few facts about the run (:class:`RunLinks`) in,
text out; no environment, no network. The Python side builds a *view model*
(:mod:`evalbot.output.view`: the headline, the "what next" line, and sections of
pre-escaped table cells in priority order); the template lays it out. Row text
comes from one filter, ``md_row``, used both by the template and by the size
budget, so the budget is exact rather than estimated.

The comment is built for a ten-second read (issue 13): the gate's verdict
first (an alert whose type follows the gate, not the verdict counts), one
table of what needs attention, links into LangSmith, everything else folded.
The job summary is the same view with every section unfolded.

Size: GitHub rejects an issue-comment body over 65,536 characters with a 422
(REST API, "body is too long"); a job summary over 1 MiB is refused by the
runner. When the full comment would exceed the limit, rows are cut from the
lowest-priority sections up, each with an "…and N more" line saying where the
rows are; hard regressions are cut last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jinja2

from evalbot.core.models import Gate, Outcome, Verdict
from evalbot.errors import InputError
from evalbot.output.formatting import md_row
from evalbot.output.headline import headline
from evalbot.output.jinja_env import COMMENT_TEMPLATE, load_template, render_template
from evalbot.output.provenance import RunLinks
from evalbot.output.sections import Section
from evalbot.output.view import comment_context
from evalbot.text import starts_with_marker

__all__ = ["GITHUB_COMMENT_LIMIT", "RunLinks", "is_notable", "render_comment"]

GITHUB_COMMENT_LIMIT = 65_536

# Cut order when the comment is too long: first entry goes first. Hard
# regressions are what the reader must see, so they are cut last.
_CUT_ORDER = (
    "evidence",
    "baseline_only",
    "pr_only",
    "insufficient_data",
    "stable",
    "unreliable_baseline",
    "categories",
    "signals",
    "costs",
    "metrics",
    "watch",
    "improvement",
    "soft_regression",
    "hard_regression",
)


def _shrink(
    sections: dict[str, Section], overshoot: int, size: Callable[[str], int] = len
) -> dict[str, Section]:
    """Cut ``overshoot`` characters of rows, lowest-priority sections first."""
    out = dict(sections)
    for section_id in _CUT_ORDER:
        if overshoot <= 0:
            break
        section = out.get(section_id)
        if section is None or not section.rows:
            continue
        rows = list(section.rows)
        while rows and overshoot > 0:
            overshoot -= size(md_row(rows.pop()))
        out[section_id] = replace(
            section,
            rows=tuple(rows),
            omitted=section.omitted + section.unbuilt + section.shown - len(rows),
            lead=min(section.lead, len(rows)),
            unbuilt=0,
        )
    return out


def render_comment(
    outcome: Outcome,
    gate: Gate,
    *,
    comment_key: str,
    reproduce: str,
    template: Path | None = None,
    selection: str | None = None,
    links: RunLinks | None = None,
    summary: bool = False,
    max_chars: int = GITHUB_COMMENT_LIMIT,
    size: Callable[[str], int] = len,
) -> str:
    """The PR comment as Markdown, at most ``max_chars`` as measured by ``size``.

    ``size`` is ``len`` for GitHub's comment limit (characters); the job
    summary passes a UTF-8 byte count, since its 1 MiB limit is in bytes.
    With ``summary`` the view is the job summary's: every section unfolded,
    and rows cut for size point to the JSON report rather than to itself.

    The first line is the hidden marker for ``comment_key``; it is checked
    after rendering so a custom template cannot silently break in-place
    updates.
    """
    compiled = load_template(template)
    name = str(template or COMMENT_TEMPLATE)
    user = template is not None

    def fit(row_budget: int | None) -> tuple[str, dict[str, Any]]:
        context = comment_context(
            outcome,
            gate,
            comment_key=comment_key,
            reproduce=reproduce,
            selection=selection,
            links=links,
            folded=not summary,
            row_budget=row_budget,
            size=size,
        )
        return _fit(compiled, context, name, user=user, max_chars=max_chars, size=size), context

    # The built-in template prints each row as md_row(cells), so rows beyond
    # max_chars of the stable table cannot change the cut: the cut is the same
    # with them unbuilt, as long as it reaches that table (then the first pass
    # had cut every section before it). When it does not — or with a user's
    # template, which may print rows otherwise — every row is built after all.
    body, context = fit(None if user else max_chars)
    if any(s.unbuilt for s in context["sections"].values()):
        body, context = fit(None)
    if size(body) > max_chars:
        raise InputError(
            f"template: {name}: the comment is {size(body)} characters even with every table "
            f"cut; GitHub accepts at most {max_chars}"
        )
    if not starts_with_marker(body, context["marker"]):
        raise InputError(f"template: {name}: the first line must be {{{{ marker }}}}")
    return body


def _fit(
    compiled: jinja2.Template,
    context: dict[str, Any],
    name: str,
    *,
    user: bool,
    max_chars: int,
    size: Callable[[str], int],
) -> str:
    """The comment rendered from ``context``, its tables cut until it fits ``max_chars``.

    Updates ``context`` (sections, truncated) as it cuts.
    """
    body = render_template(compiled, context, name, user=user)
    # Each pass cuts at least the overshoot plus room for the "…and N more"
    # lines; the loop only repeats if a template adds text per omitted row.
    reserve = 200
    while size(body) > max_chars and context["sections"]:
        collapsed = {
            k: replace(s, collapsed=s.collapsed or k not in _NEVER_COLLAPSED)
            for k, s in context["sections"].items()
        }
        context["sections"] = _shrink(collapsed, size(body) - max_chars + reserve, size)
        context["truncated"] = True
        body = render_template(compiled, context, name, user=user)
        reserve *= 2
        if all(not s.rows for s in context["sections"].values()):
            break
    return body


_NEVER_COLLAPSED = frozenset({Verdict.HARD_REGRESSION.value, Verdict.SOFT_REGRESSION.value})


def is_notable(outcome: Outcome, gate: Gate) -> bool:
    """False only for a clean pass (the TIP comment): ``comment_when: notable`` skips it."""
    return headline(outcome, gate).alert != "TIP"
