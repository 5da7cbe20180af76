"""Trends over runs: is the base branch's pass rate drifting, run after run? Pure.

A *trend* is a series of runs, oldest first (e.g. the newest 20 complete
experiments on ``main``), each reduced to a :class:`TrendPoint` — passed and
total trials, for the whole suite or for one scenario. Over that series:

- the **slope** is the ordinary least-squares slope of the pass rate against
  the run index (x = 0, 1, …, n-1). A run without trials (rate undefined, e.g.
  a scenario absent from that run) is left out of the fit but *keeps its
  index*, so a gap still counts as a run's worth of time;
- the **direction** compares the slope with a threshold in rate per run
  (default 0.01, i.e. 1 pp per run): ``worsening`` when slope <= -threshold,
  ``improving`` when slope >= +threshold — the boundary itself counts as a
  move — else ``stable``. A zero slope is always ``stable``, so threshold 0
  flags any change at all but never a flat series. With fewer than two runs
  that have trials the slope is undefined and the direction is ``unknown``;
- **regression** is simply ``direction == "worsening"``.

The slope and the threshold decision are computed with exact rational
arithmetic from the passed/total counts (as the scenario verdicts are), and
the threshold is read as the decimal it was written as (0.01 is 1/100), so a
series that drops exactly 1 pp per run is ``worsening`` at the default
threshold regardless of float rounding.

No I/O, no environment, no network: the CLI and the comment renderer feed it.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Final

from evalbot.core.models import Bucket
from evalbot.output.markdown import code_span, escape_text
from evalbot.text import one_line, truncate

__all__ = [
    "DEFAULT_THRESHOLD",
    "Direction",
    "Trend",
    "TrendPoint",
    "compute_trend",
    "least_squares_slope",
    "points_from_buckets",
    "render_trend_line",
    "render_trend_markdown",
    "render_trend_text",
    "sparkline",
    "trend_report",
]

DEFAULT_THRESHOLD: Final = 0.01
# Experiment names are untrusted and table columns must stay aligned.
MAX_EXPERIMENT: Final = 40
SPARK_LEVELS: Final = "▁▂▃▄▅▆▇█"
SPARK_MISSING: Final = "·"
_NO_VALUE: Final = "-"


class Direction(enum.StrEnum):
    """Where the pass rate is heading (see the module docstring for the rule)."""

    IMPROVING = "improving"
    WORSENING = "worsening"
    STABLE = "stable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One run of the series: its name, start time and pass counts."""

    name: str
    started_at: str | None
    passed: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.passed <= self.total:
            raise ValueError(f"trend point {self.name!r}: need 0 <= passed <= total")

    @property
    def rate(self) -> float | None:
        """Pass rate in [0, 1], or None when the run has no trials."""
        return self.passed / self.total if self.total else None

    @property
    def exact_rate(self) -> Fraction | None:
        """The pass rate as an exact fraction, or None when the run has no trials."""
        return Fraction(self.passed, self.total) if self.total else None


@dataclass(frozen=True, slots=True)
class Trend:
    """A series of runs (oldest first) with its slope, direction and regression flag."""

    points: tuple[TrendPoint, ...]
    slope: float | None
    direction: Direction
    threshold: float
    regression: bool


def points_from_buckets(
    buckets: Sequence[Bucket], *, key: str | None = None
) -> tuple[TrendPoint, ...]:
    """One TrendPoint per bucket, in the order given (pass them oldest first).

    With ``key`` None a run's point is its micro-average over *all* its
    scenarios (total passes / total trials, so a scenario with more trials
    weighs more — the same pooling as the comparison's aggregate). With a
    ``key`` it is that scenario's counts, 0/0 when the run lacks it (a gap in
    the series, not a failure).
    """
    points = []
    for bucket in buckets:
        if key is None:
            passed = sum(s.passed for s in bucket.scenarios.values())
            total = sum(s.total for s in bucket.scenarios.values())
        else:
            scenario = bucket.scenarios.get(key)
            passed, total = (0, 0) if scenario is None else (scenario.passed, scenario.total)
        points.append(TrendPoint(bucket.name, bucket.started_at, passed, total))
    return tuple(points)


def _exact_slope(values: Sequence[Fraction | None]) -> Fraction | None:
    """Least-squares slope over (index, value), skipping None but keeping indices."""
    known = [(Fraction(x), y) for x, y in enumerate(values) if y is not None]
    n = len(known)
    if n < 2:
        return None
    mean_x = sum((x for x, _ in known), Fraction(0)) / n
    mean_y = sum((y for _, y in known), Fraction(0)) / n
    sxx = sum(((x - mean_x) ** 2 for x, _ in known), Fraction(0))
    sxy = sum(((x - mean_x) * (y - mean_y) for x, y in known), Fraction(0))
    # Indices are distinct, so sxx > 0 whenever there are two points.
    return sxy / sxx


def least_squares_slope(values: Sequence[float | None]) -> float | None:
    """The least-squares slope of ``values`` per step of the index.

    x is the position in ``values`` (0, 1, …); None entries are left out of the
    fit but keep their position. Fewer than two numbers give None. Computed
    exactly on the floats' binary values and rounded once at the end; a NaN or
    infinity raises ValueError.
    """
    slope = _exact_slope([None if v is None else Fraction(v) for v in values])
    return None if slope is None else float(slope)


def _exact_threshold(threshold: float) -> Fraction:
    if not math.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    # repr() is the shortest decimal that round-trips: 0.01 -> exactly 1/100.
    return Fraction(repr(float(threshold)))


def compute_trend(points: Sequence[TrendPoint], *, threshold: float = DEFAULT_THRESHOLD) -> Trend:
    """The trend of ``points`` (oldest first) at ``threshold`` (rate per run).

    ``worsening`` when slope <= -threshold, ``improving`` when slope >=
    threshold (the boundary counts as a move), ``stable`` otherwise and always
    for a zero slope, ``unknown`` with fewer than two runs that have trials.
    Raises ValueError for a negative or non-finite threshold.
    """
    limit = _exact_threshold(threshold)
    slope = _exact_slope([p.exact_rate for p in points])
    if slope is None:
        direction = Direction.UNKNOWN
    elif slope < 0 and slope <= -limit:
        direction = Direction.WORSENING
    elif slope > 0 and slope >= limit:
        direction = Direction.IMPROVING
    else:
        direction = Direction.STABLE
    return Trend(
        points=tuple(points),
        slope=None if slope is None else float(slope),
        direction=direction,
        threshold=float(threshold),
        regression=direction is Direction.WORSENING,
    )


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


def trend_report(trend: Trend) -> dict[str, object]:
    """The trend as JSON-ready data (rates and slope as fractions, per run)."""
    return {
        "points": [
            {
                "index": index,
                "name": point.name,
                "started_at": point.started_at,
                "passed": point.passed,
                "total": point.total,
                "rate": point.rate,
            }
            for index, point in enumerate(trend.points, start=1)
        ],
        "slope": trend.slope,
        "direction": trend.direction.value,
        "regression": trend.regression,
        "threshold": trend.threshold,
    }


# --- rendering ------------------------------------------------------------------------


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
