"""evalbot.output.trend_text: sparklines and the rendered trend tables, on known series."""

from __future__ import annotations

from evalbot.core.trend import compute_trend
from evalbot.core.verdicts import TrendPoint
from evalbot.output.trend_text import (
    render_trend_line,
    render_trend_markdown,
    render_trend_text,
    sparkline,
)


def series(*counts: tuple[int, int]) -> list[TrendPoint]:
    """Points run-0, run-1, … from (passed, total), one day apart."""
    return [
        TrendPoint(f"run-{i}", f"2026-11-{10 + i:02d}T12:00:00+00:00", passed, total)
        for i, (passed, total) in enumerate(counts)
    ]


# --- sparkline -------------------------------------------------------------------------------


def test_sparkline_levels_are_absolute() -> None:
    assert sparkline([0.0, 1 / 7, 2 / 7, 3 / 7, 4 / 7, 5 / 7, 6 / 7, 1.0]) == "▁▂▃▄▅▆▇█"
    assert sparkline([0.0, 0.0]) == "▁▁"  # a flat line at 0 is not drawn at mid-height
    assert sparkline([1.0, None, 0.9, 0.5]) == "█·▇▅"
    assert sparkline([]) == ""


def test_sparkline_rounds_halves_up_and_clamps() -> None:
    assert sparkline([0.5]) == "▅"  # 3.5 -> level 4
    assert sparkline([13 / 14, 0.92, 1.5, -0.2]) == "█▇█▁"


# --- rendering -----------------------------------------------------------------------------


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
