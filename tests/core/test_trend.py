"""evalbot.core.trend: slopes, directions, sparklines and the rendered tables, on known series."""

from __future__ import annotations

import json

import pytest

from evalbot.core.trend import (
    Direction,
    TrendPoint,
    compute_trend,
    least_squares_slope,
    points_from_buckets,
    render_trend_line,
    render_trend_markdown,
    render_trend_text,
    sparkline,
    trend_report,
)

from helpers import make_bucket


def series(*counts: tuple[int, int]) -> list[TrendPoint]:
    """Points run-0, run-1, … from (passed, total), one day apart."""
    return [
        TrendPoint(f"run-{i}", f"2026-11-{10 + i:02d}T12:00:00+00:00", passed, total)
        for i, (passed, total) in enumerate(counts)
    ]


# --- least_squares_slope ------------------------------------------------------------------


def test_slope_of_a_steady_decline() -> None:
    assert least_squares_slope([0.9, 0.8, 0.7]) == pytest.approx(-0.1)
    assert least_squares_slope([0.0, 0.5, 1.0]) == 0.5


def test_slope_of_a_constant_series_is_zero() -> None:
    assert least_squares_slope([0.8, 0.8, 0.8, 0.8]) == 0.0


def test_slope_of_two_points_is_their_difference() -> None:
    assert least_squares_slope([1.0, 0.75]) == -0.25


def test_missing_values_keep_their_index() -> None:
    # 1.0 at x=0 and 0.8 at x=2: 0.1 per run, not 0.2 as if the gap were not there.
    assert least_squares_slope([1.0, None, 0.8]) == pytest.approx(-0.1)
    assert least_squares_slope([None, 0.5, None, 0.5]) == 0.0


def test_slope_of_a_noisy_series() -> None:
    # x = 0..4, y = 1, 3, 2, 5, 4 (tenths): sxy = 8, sxx = 10.
    assert least_squares_slope([0.1, 0.3, 0.2, 0.5, 0.4]) == pytest.approx(0.08)


@pytest.mark.parametrize("values", [[], [0.5], [None, None], [None, 0.5, None]])
def test_fewer_than_two_values_have_no_slope(values: list[float | None]) -> None:
    assert least_squares_slope(values) is None


# --- compute_trend ------------------------------------------------------------------------


def test_a_steady_decline_is_worsening_and_a_regression() -> None:
    trend = compute_trend(series((9, 10), (8, 10), (7, 10)))
    assert trend.slope == pytest.approx(-0.1)
    assert trend.direction == "worsening"
    assert trend.regression is True
    assert trend.threshold == 0.01


def test_a_rise_is_improving_and_not_a_regression() -> None:
    trend = compute_trend(series((5, 10), (9, 10)))
    assert trend.slope == pytest.approx(0.4)
    assert (trend.direction, trend.regression) == (Direction.IMPROVING, False)


@pytest.mark.parametrize("threshold", [0.01, 0.0])
def test_a_constant_series_is_stable_even_at_threshold_zero(threshold: float) -> None:
    trend = compute_trend(series((3, 4), (6, 8), (3, 4)), threshold=threshold)
    assert trend.slope == 0.0
    assert (trend.direction, trend.regression) == ("stable", False)


def test_exactly_minus_threshold_is_worsening() -> None:
    # 50/100 -> 49/100 is exactly -1 pp per run; in floats 0.49 - 0.5 is -0.010000000000000009
    # and 0.29 - 0.3 is -0.009999999999999953, so both must be decided exactly.
    assert compute_trend(series((50, 100), (49, 100))).direction == "worsening"
    assert compute_trend(series((30, 100), (29, 100))).direction == "worsening"
    assert compute_trend(series((29, 100), (30, 100))).direction == "improving"


def test_just_inside_the_threshold_is_stable() -> None:
    trend = compute_trend(series((500, 1000), (491, 1000)))  # -0.9 pp per run
    assert (trend.direction, trend.regression) == ("stable", False)
    assert compute_trend(series((500, 1000), (491, 1000)), threshold=0.009).regression


def test_a_custom_threshold() -> None:
    points = series((9, 10), (8, 10), (7, 10))
    assert compute_trend(points, threshold=0.1).direction == "worsening"
    assert compute_trend(points, threshold=0.11).direction == "stable"


def test_runs_without_trials_are_gaps_not_failures() -> None:
    trend = compute_trend(series((10, 10), (0, 0), (8, 10)))
    assert trend.slope == pytest.approx(-0.1)
    assert trend.direction == "worsening"
    assert [p.rate for p in trend.points] == [1.0, None, 0.8]


@pytest.mark.parametrize(
    "counts", [(), ((3, 4),), ((3, 4), (0, 0)), ((0, 0), (0, 0), (0, 0))], ids=len
)
def test_fewer_than_two_rated_runs_are_unknown(counts: tuple[tuple[int, int], ...]) -> None:
    trend = compute_trend(series(*counts))
    assert trend.slope is None
    assert (trend.direction, trend.regression) == ("unknown", False)


@pytest.mark.parametrize("threshold", [-0.01, float("nan"), float("inf")])
def test_a_bad_threshold_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        compute_trend(series((1, 1), (1, 1)), threshold=threshold)


def test_a_point_needs_passed_within_total() -> None:
    with pytest.raises(ValueError, match="passed <= total"):
        TrendPoint("x", None, 3, 2)


# --- points_from_buckets ------------------------------------------------------------------


def test_points_are_micro_averaged_or_per_scenario() -> None:
    buckets = [
        make_bucket("main-1", {"a": (3, 3), "b": (1, 1)}, started_at="2026-11-01T00:00:00Z"),
        make_bucket("main-2", {"a": (1, 3), "c": (0, 6)}),
    ]
    aggregate = points_from_buckets(buckets)
    assert aggregate == (
        TrendPoint("main-1", "2026-11-01T00:00:00Z", 4, 4),
        TrendPoint("main-2", None, 1, 9),
    )
    assert [p.rate for p in points_from_buckets(buckets, key="a")] == [1.0, pytest.approx(1 / 3)]
    assert [(p.passed, p.total) for p in points_from_buckets(buckets, key="b")] == [(1, 1), (0, 0)]


# --- sparkline -------------------------------------------------------------------------------


def test_sparkline_levels_are_absolute() -> None:
    assert sparkline([0.0, 1 / 7, 2 / 7, 3 / 7, 4 / 7, 5 / 7, 6 / 7, 1.0]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0.0, 0.0]) == "▁▁"  # a flat line at 0 is not drawn at mid-height
    assert sparkline([1.0, None, 0.9, 0.5]) == "█·▇▅"
    assert sparkline([]) == ""


def test_sparkline_rounds_halves_up_and_clamps() -> None:
    assert sparkline([0.5]) == "▅"  # 3.5 -> level 4
    assert sparkline([13 / 14, 0.92, 1.5, -0.2]) == "█▇█▁"


# --- report and rendering --------------------------------------------------------------------


def test_trend_report_is_json_ready() -> None:
    report = trend_report(compute_trend(series((9, 10), (8, 10), (0, 0), (6, 10))))
    assert json.loads(json.dumps(report)) == report
    assert report["direction"] == "worsening"
    assert report["regression"] is True
    assert report["threshold"] == 0.01
    assert report["slope"] == pytest.approx(-0.1)
    points = report["points"]
    assert isinstance(points, list)
    assert points[0] == {
        "index": 1,
        "name": "run-0",
        "started_at": "2026-11-10T12:00:00+00:00",
        "passed": 9,
        "total": 10,
        "rate": 0.9,
    }
    assert points[2]["rate"] is None and points[2]["index"] == 3


def test_text_table() -> None:
    text = render_trend_text(compute_trend(series((9, 10), (8, 10), (8, 10), (0, 0), (6, 10))))
    assert text == (
        "Trend over 5 runs (oldest first)\n"
        "\n"
        "#  experiment  started           pass rate\n"
        "1  run-0       2026-11-10 12:00  90.0% (9/10)\n"
        "2  run-1       2026-11-11 12:00  80.0% (8/10)       ↓\n"
        "3  run-2       2026-11-12 12:00  80.0% (8/10)       →\n"
        "4  run-3       2026-11-13 12:00  - (0/0)\n"
        "5  run-4       2026-11-14 12:00  60.0% (6/10)       ↓\n"
        "\n"
        "▇▇▇·▅  slope -7.1 pp/run: worsening (threshold 1.0 pp/run) — regression\n"
    )


def test_text_shows_stable_and_unknown_without_regression() -> None:
    stable = render_trend_text(compute_trend(series((2, 3), (4, 6))))
    assert stable.endswith("▆▆  slope ±0.0 pp/run: stable (threshold 1.0 pp/run)\n")
    assert "→" in stable  # 2/3 and 4/6 are level, decided exactly
    unknown = render_trend_text(compute_trend(series((2, 3))))
    assert unknown.endswith("slope n/a: unknown (fewer than 2 runs with trials)\n")


def test_text_strips_control_characters_and_caps_names() -> None:
    hostile = "evil\x1b[31mred\x1b[0m\nname" + "x" * 60
    points = [TrendPoint(hostile, "not a date", 1, 1), TrendPoint("ok", None, 1, 1)]
    text = render_trend_text(compute_trend(points))
    assert "\x1b" not in text
    row = text.splitlines()[3]
    assert row.startswith("1  evil [31mred [0m name" + "x" * 18 + "…  -  ")
    name = row.split("  ")[1]
    assert len(name) == 40


def test_markdown_table() -> None:
    md = render_trend_markdown(compute_trend(series((9, 10), (10, 10))))
    assert md == (
        "### Trend over 2 runs\n"
        "\n"
        "| # | experiment | started (UTC) | pass rate | vs previous |\n"
        "| ---: | --- | --- | ---: | :---: |\n"
        "| 1 | `run-0` | 2026-11-10 12:00 | 90.0% (9/10) |  |\n"
        "| 2 | `run-1` | 2026-11-11 12:00 | 100.0% (10/10) | ↑ |\n"
        "\n"
        "**Trend:** ▇█ · +10.0 pp/run · **improving (threshold 1.0 pp/run)**\n"
    )


def test_markdown_escapes_hostile_names_and_dates() -> None:
    points = [
        TrendPoint("a|b</details>\n@team", "2026-11-10T12:00:00+02:00", 1, 2),
        TrendPoint("x`y", "<img src=x onerror=alert(1)>", 2, 2),
    ]
    md = render_trend_markdown(compute_trend(points))
    rows = md.splitlines()[4:6]
    assert rows[0] == "| 1 | `a\\|b</details> @team` | 2026-11-10 10:00 | 50.0% (1/2) |  |"
    assert rows[1] == "| 2 | ``x`y`` | - | 100.0% (2/2) | ↑ |"
    assert "<img" not in md
    # Every row keeps the header's five cells: the pipe in the name is escaped.
    for row in md.splitlines()[2:6]:
        assert row.replace("\\|", "").count("|") == 6


def test_trend_line_for_the_comment() -> None:
    aggregate = compute_trend(series((9, 10), (8, 10), (7, 10)))
    flagged = compute_trend(series((3, 3), (3, 3), (0, 3)))
    line = render_trend_line("main", aggregate, [("refund @team #1", flagged)])
    assert line == (
        "**Trend on `main`** (last 3 runs): ▇▇▆ -10.0 pp/run, worsening"
        " · refund @\u200bteam \\#\u200b1 ██▁ worsening"
    )
    assert "\n" not in line
