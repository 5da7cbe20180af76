"""``evalbot trend``: the pass rate over the newest runs (e.g. on main), as a gate.

Options -> :func:`evalbot.settings.parse_trend` -> :func:`evalbot.pipeline.run_trend`
-> a text table, JSON or Markdown. Exits 1 when the pass rate is worsening.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evalbot.cli_common import FILE, Number, OneOf, WholeNumber, live_options, option, raw_from
from evalbot.cli_common import write as write_output
from evalbot.errors import EXIT_GATE_FAILED, EXIT_PASS


@click.command("trend")
@option("--dataset", help="Trend the runs on this LangSmith dataset (name or id).")
@option(
    "--baseline-metadata",
    help='Which runs form the series: metadata to match (default {"branch": "main"}).',
)
@option("--baseline-prefix", help="Or: runs whose name starts with this.")
@option(
    "--history-file",
    multiple=True,
    type=FILE,
    help="Or: experiment files, repeatable, OLDEST FIRST in the order given "
    "(the newest --window of them are used).",
)
@option(
    "--window",
    type=WholeNumber(),
    default=20,
    show_default=True,
    help="How many of the newest complete runs to trend over (at least 2).",
)
@option(
    "--threshold",
    type=Number(),
    default=0.01,
    show_default=True,
    help="Slope (pass rate per run) that counts as worsening or improving; 0.01 = 1 pp/run.",
)
@live_options
@option(
    "--format",
    "fmt",
    type=OneOf(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text: a terminal table; json: the trend as data; markdown: a table for a comment.",
)
def trend_command(
    history_file: tuple[Path, ...], window: int, threshold: float, fmt: str, **params: Any
) -> int:
    """Trend the pass rate over the newest runs (e.g. on main) and gate on it.

    The runs are the newest --window complete experiments on --dataset that
    match --baseline-metadata (default {"branch": "main"}) or
    --baseline-prefix, or the given --history-file experiment files (oldest
    first). Prints one row per run and the least-squares slope per run.
    Exits 1 when the pass rate is worsening by at least --threshold per run,
    0 otherwise, 2 on bad input or fewer than 2 runs (and 1, with a message,
    when LangSmith cannot be read) — a scheduled CI gate on main.
    """
    from evalbot.core.trend import trend_report
    from evalbot.output.trend_text import render_trend_markdown, render_trend_text
    from evalbot.pipeline import run_trend
    from evalbot.settings import parse_trend

    config = parse_trend(raw_from(params), files=history_file, window=window, threshold=threshold)
    result = run_trend(config)
    if skipped := result.skipped_incomplete:
        # On stderr, so --format json stays parseable; a run still going is not a gap.
        plural = "s" if skipped != 1 else ""
        click.echo(f"evalbot: trend: {skipped} incomplete experiment{plural} skipped", err=True)
    trend = result.trend
    if fmt == "json":
        import json  # here, not at the top: `evalbot --help` never needs it

        text = json.dumps(trend_report(trend), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "markdown":
        text = render_trend_markdown(trend)
    else:
        text = render_trend_text(trend)
    write_output(text, None)
    return EXIT_GATE_FAILED if trend.regression else EXIT_PASS
