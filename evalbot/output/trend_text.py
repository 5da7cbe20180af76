"""A pass-rate trend drawn for people: a terminal table, Markdown, the comment's sparkline line.

core/trend.py computes the Trend; this module only draws it. Experiment and
scenario names are untrusted: control characters go, lengths are capped and
Markdown goes through evalbot.output.markdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Final

from evalbot.core.verdicts import Direction, Trend, TrendPoint
from evalbot.output.markdown import code_span, escape_text
from evalbot.text import one_line, truncate

__all__ = [
    "render_trend_line",
    "render_trend_markdown",
    "render_trend_text",
    "sparkline",
]

# Experiment names are untrusted and table columns must stay aligned.
MAX_EXPERIMENT: Final = 40
SPARK_LEVELS: Final = "▁▂▃▄▅▆▇█"
SPARK_MISSING: Final = "·"
_NO_VALUE: Final = "-"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value on an absolute scale: 0 -> ``▁``, 1 -> ``█``, None -> ``·``.

    Eight levels; a rate r gets level round(r × 7) (halves round up), so only
    rates of at least 13/14 (≈ 93%) draw a full block and 100% is told apart
    from 90%. Values outside [0, 1] are clamped.
    """
    chars = []
    for value in values:
        if value is None:
            chars.append(SPARK_MISSING)
            continue
        level = math.floor(min(max(value, 0.0), 1.0) * 7 + 0.5)
        chars.append(SPARK_LEVELS[level])
    return "".join(chars)


def _plain(text: str, max_len: int = MAX_EXPERIMENT) -> str:
    """Untrusted text for a terminal: no control characters, capped."""
    # C0/C1 controls, whitespace runs and bidi marks: in a terminal they could
    # move the cursor or reorder text, in a table they would break the row.
    return truncate(one_line(text), max_len) or _NO_VALUE


def _date(started_at: str | None) -> str | None:
    """'2026-11-20 12:00' (UTC; naive times are taken as UTC), or None when unparseable."""
    if not started_at:
        return None
    try:
        value = datetime.fromisoformat(started_at)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M")


def _rate_text(point: TrendPoint) -> str:
    if point.rate is None:
        return f"{_NO_VALUE} (0/0)"
    return f"{point.rate * 100:.1f}% ({point.passed}/{point.total})"


def _arrows(points: Sequence[TrendPoint]) -> list[str]:
    """↑ ↓ → against the previous run that had trials; blank without one.

    Compared exactly (as fractions), so 2/3 and 4/6 are level.
    """
    arrows = []
    previous: Fraction | None = None
    for point in points:
        rate = point.exact_rate
        if rate is None or previous is None:
            arrows.append("")
        else:
            arrows.append("↑" if rate > previous else "↓" if rate < previous else "→")
        if rate is not None:
            previous = rate
    return arrows


def _slope_text(slope: float | None) -> str:
    if slope is None:
        return "n/a"
    points = slope * 100
    # Avoid "-0.0": a slope that rounds to nothing reads as level.
    return "±0.0 pp/run" if round(points, 1) == 0 else f"{points:+.1f} pp/run"


def _verdict_text(trend: Trend) -> str:
    """'worsening (threshold 1.0 pp/run) — regression', or why it is unknown."""
    if trend.direction is Direction.UNKNOWN:
        return "unknown (fewer than 2 runs with trials)"
    text = f"{trend.direction.value} (threshold {trend.threshold * 100:.1f} pp/run)"
    return text + " — regression" if trend.regression else text


def _spark(trend: Trend) -> str:
    return sparkline([p.rate for p in trend.points])


def render_trend_text(trend: Trend) -> str:
    """A terminal table of the runs (oldest first), then the slope and direction.

    Columns: run index, experiment (control characters removed, at most 40
    characters), start date (UTC), pass rate with counts, and an arrow against
    the previous run with trials (blank for the first).
    """
    names = [_plain(p.name) for p in trend.points]
    width = max([len("experiment"), *(len(n) for n in names)])
    index_width = max(1, len(str(len(trend.points))))
    lines = [
        f"Trend over {len(trend.points)} runs (oldest first)",
        "",
        f"{'#':>{index_width}}  {'experiment':<{width}}  {'started':<16}  pass rate",
    ]
    for index, (point, name, arrow) in enumerate(
        zip(trend.points, names, _arrows(trend.points), strict=True), start=1
    ):
        date = _date(point.started_at) or _NO_VALUE
        rate = _rate_text(point)
        row = f"{index:>{index_width}}  {name:<{width}}  {date:<16}  {rate:<17}  {arrow}"
        lines.append(row.rstrip())
    lines.append("")
    lines.append(f"{_spark(trend)}  slope {_slope_text(trend.slope)}: {_verdict_text(trend)}")
    return "\n".join(lines) + "\n"


def render_trend_markdown(trend: Trend) -> str:
    """The same table as Markdown: experiment names as code spans, then a summary line.

    Names are untrusted and go through :func:`evalbot.output.markdown.code_span`;
    dates are re-formatted from the parsed time, so nothing else from the
    input reaches the Markdown unescaped.
    """
    lines = [
        f"### Trend over {len(trend.points)} runs",
        "",
        "| # | experiment | started (UTC) | pass rate | vs previous |",
        "| ---: | --- | --- | ---: | :---: |",
    ]
    for index, (point, arrow) in enumerate(
        zip(trend.points, _arrows(trend.points), strict=True), start=1
    ):
        name = code_span(point.name, MAX_EXPERIMENT)
        date = _date(point.started_at) or _NO_VALUE
        lines.append(f"| {index} | {name} | {date} | {_rate_text(point)} | {arrow} |")
    lines.append("")
    lines.append(
        f"**Trend:** {_spark(trend)} · {_slope_text(trend.slope)} · **{_verdict_text(trend)}**"
    )
    return "\n".join(lines) + "\n"


def render_trend_line(
    branch: str, aggregate: Trend, scenarios: Sequence[tuple[str, Trend]] = ()
) -> str:
    """The comment's compact line: 'Trend on `main`' with a sparkline per series.

    ``aggregate`` is the whole suite's trend; ``scenarios`` pairs a flagged
    scenario's display name (untrusted, escaped here) with its trend. One line,
    no trailing newline, safe to drop into the comment as is.
    """
    runs = len(aggregate.points)
    parts = [
        f"**Trend on {code_span(branch, MAX_EXPERIMENT)}** (last {runs} runs): "
        f"{_spark(aggregate)} {_slope_text(aggregate.slope)}, {aggregate.direction.value}"
    ]
    for name, trend in scenarios:
        parts.append(f"{escape_text(name, MAX_EXPERIMENT)} {_spark(trend)} {trend.direction.value}")
    return " · ".join(parts)
