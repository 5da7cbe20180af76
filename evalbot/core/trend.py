"""Trends over runs: is the base branch's pass rate drifting, run after run? Pure data.

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

No I/O, no environment, no network, no text: the values (Trend, TrendPoint,
Direction) live in core/verdicts.py with the Comparison that carries them, and
evalbot/output/trend_text.py draws them for a terminal or Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from operator import attrgetter
from typing import Final

from evalbot.core.buckets import Bucket
from evalbot.core.decimals import decimal
from evalbot.core.verdicts import Direction, Trend, TrendPoint

__all__ = [
    "DEFAULT_THRESHOLD",
    "compute_trend",
    "least_squares_slope",
    "points_from_buckets",
    "trend_report",
]

DEFAULT_THRESHOLD: Final = 0.01


_passed = attrgetter("passed")
_total = attrgetter("total")


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
            # attrgetter: the sums in C (issue 14: 11 runs of 10,000 scenarios).
            passed = sum(map(_passed, bucket.scenarios.values()))
            total = sum(map(_total, bucket.scenarios.values()))
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
    return decimal(float(threshold))


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
