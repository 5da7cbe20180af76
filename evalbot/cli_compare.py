"""``evalbot compare``: a PR experiment against a baseline, from files or LangSmith.

Options -> :func:`evalbot.settings.assemble` (the same assembler as the
Action) -> :mod:`evalbot.pipeline` -> the requested format on standard output
or ``--output``. Exits 0 when the gate passes, 1 when it fails, 2 on bad input.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evalbot.cli_common import FILE, OneOf, live_options, option, raw_from, write, write_pieces
from evalbot.errors import EXIT_GATE_FAILED, EXIT_PASS, InputError

if TYPE_CHECKING:
    from evalbot.config import Settings
    from evalbot.pipeline import Result
    from evalbot.settings import Assembled

# Options that carry secrets are never echoed into the reproduce line.
_SECRET_OPTIONS = frozenset({"--langsmith-api-key"})


def format_output(result: Result, *, settings: Settings, fmt: str, reproduce: str) -> str:
    """The requested output format as text."""
    from evalbot.core.models import NothingCompared, Ok
    from evalbot.output.csv_export import comparison_csv
    from evalbot.output.render import render_comment
    from evalbot.output.text_format import render_text

    if fmt == "json":
        return result.report.text()
    if fmt == "text":
        return render_text(result.outcome, result.gate)
    if fmt == "csv":
        # No comparison, no rows: an empty output (compare() says why on stderr).
        # With nothing compared the rows still say what each side held.
        if not isinstance(result.outcome, Ok | NothingCompared):
            return ""
        return comparison_csv(result.outcome.comparison)
    return render_comment(
        result.outcome,
        result.gate,
        comment_key=settings.comment_key,
        reproduce=reproduce,
        template=settings.template,
        selection=result.selection,
    )


def reproduce_command(argv: Sequence[str]) -> str:
    """The command line that reproduces this run, without secrets (an endpoint's
    password included)."""
    from evalbot.sources.langsmith.connection import redact_url

    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _SECRET_OPTIONS:
            skip = "=" not in arg
            continue
        kept.append(redact_url(arg))
    import shlex  # here, not at the top: `evalbot --help` never needs it

    return shlex.join(["evalbot", *kept])


@click.command()
@option("--pr-file", type=FILE, help="The PR experiment, as an experiment file (JSON).")
@option("--baseline-file", type=FILE, help="The baseline experiment, as an experiment file (JSON).")
@option("--pr", help="The PR experiment in LangSmith: name or id.")
@option(
    "--pr-metadata",
    help='Or: the newest experiment on --dataset with this metadata, e.g. {"pr_number": 123}.',
)
@option("--dataset", help="Dataset name or id (with --pr-metadata).")
@option("--baseline", help="Baseline experiment: name or id.")
@option("--baseline-prefix", help="Or: the newest complete experiment whose name starts with this.")
@option(
    "--baseline-metadata",
    help='Or: the newest complete experiment with this metadata (default {"branch": "main"}).',
)
@option(
    "--allow-dataset-mismatch",
    is_flag=True,
    help="Allow a baseline that ran on another dataset (config key allow_dataset_mismatch).",
)
@live_options
@option(
    "--format",
    "fmt",
    type=OneOf(["markdown", "json", "text", "csv"]),
    default="markdown",
    show_default=True,
    help="markdown: the PR comment; json: the versioned report; text: a terminal table; "
    "csv: one row per scenario with both sides.",
)
@option("--fail-on", help="hard_regression (default), soft_regression or never.")
@option(
    "--config",
    type=FILE,
    help="A YAML config file (thresholds, fail_on, …); flags override it.",
)
@option("--comment-key", help="Marker key that tells several evalbot comments apart.")
@option(
    "--template",
    type=FILE,
    help="A Jinja template to render the comment with instead of the built-in one.",
)
@option("--output", "-o", type=FILE, help="Write to this file instead of standard output.")
@option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Print each LangSmith request, failed attempt and cause, and the timings.",
)
@option(
    "--history-file",
    multiple=True,
    type=FILE,
    help="An older baseline experiment file (repeatable, oldest first) to pool with the baseline.",
)
@option(
    "--history",
    metavar="N",
    help="Baseline runs to pool, the baseline included (default 10; 0 or 1: baseline only).",
)
@option(
    "--alpha",
    metavar="NUMBER",
    help="False-alarm budget: P(check fails | no change) <= alpha (default 0.05).",
)
@option(
    "--correction",
    help="bh (default): control false alarms across scenarios; none: the per-scenario classifier.",
)
@option(
    "--trend-threshold",
    metavar="NUMBER",
    help="Slope per run beyond which the baseline trend counts (default 0.01).",
)
@option(
    "--sensitivity",
    help="low | normal (default) | high: the effect sizes that count (see docs/statistics.md).",
)
def compare(**params: Any) -> int:
    """Compare a PR experiment with a baseline and report regressions.

    Either two experiment files (--pr-file, --baseline-file) or LangSmith
    (--pr or --pr-metadata, and a baseline strategy). Exits 0 when the gate
    passes, 1 when it fails, 2 on bad input.
    """
    from evalbot.pipeline import run_files, run_live

    pr_file: Path | None = params["pr_file"]
    baseline_file: Path | None = params["baseline_file"]
    history_files: tuple[Path, ...] = params["history_file"]
    fmt: str = params["fmt"]
    output: Path | None = params["output"]
    assembled = _assemble(params)
    settings = assembled.settings
    argv = (click.get_current_context().obj or {}).get("argv", sys.argv[1:])
    reproduce = reproduce_command(argv)
    if assembled.live is None:
        assert pr_file is not None and baseline_file is not None
        with _without_cyclic_gc():
            result = run_files(
                pr_file,
                baseline_file,
                settings,
                history_files=history_files,
                pass_keys=params["pass_key"],
            )
            _emit(result, settings=settings, fmt=fmt, reproduce=reproduce, output=output)
    else:
        live_config = assembled.live
        if params["verbose"]:
            # Each request and each failed attempt as it happens (stderr).
            import dataclasses

            connection = dataclasses.replace(live_config.connection, log=_log_line)
            live_config = dataclasses.replace(live_config, connection=connection)
        result = run_live(live_config, settings)
        if params["verbose"]:
            _print_fetch(result)
        _emit(result, settings=settings, fmt=fmt, reproduce=reproduce, output=output)
    return EXIT_GATE_FAILED if result.gate.failed else EXIT_PASS


def _emit(
    result: Result, *, settings: Settings, fmt: str, reproduce: str, output: Path | None
) -> None:
    """Write ``compare``'s output (the JSON report in pieces: it can be large)."""
    from evalbot.core.models import NothingCompared, Ok

    if fmt == "csv" and isinstance(result.outcome, NothingCompared):
        # Rows, but no verdicts: say so where a script's log will show it.
        write(format_output(result, settings=settings, fmt=fmt, reproduce=reproduce), output)
        click.echo(
            f"evalbot: --format csv: no verdicts, {result.gate.reason}; the rows show "
            "each side's scenarios; --format json or text says more",
            err=True,
        )
    elif fmt == "csv" and not isinstance(result.outcome, Ok):
        # The exit code still follows the gate (a missing baseline passes, an outage
        # follows on_fetch_failure): only the rows are missing, not the verdict.
        click.echo(
            f"evalbot: --format csv: no rows, nothing was compared ({result.outcome.kind}: "
            f"{result.gate.reason}); --format json or text says more",
            err=True,
        )
    elif fmt == "json":
        write_pieces(result.report.json_chunks(), output)
    else:
        write(format_output(result, settings=settings, fmt=fmt, reproduce=reproduce), output)


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a local computation.

    Loading and comparing a large suite allocates millions of small objects
    (scenarios, rows, report dicts) that all live until the command ends, so
    every collection the allocation count triggers walks an ever larger heap
    for cycles that are not there: 21 % of the CPU time at 100,000 scenarios
    (issue 14), with the same peak memory without it (bench/bench_compare.py).
    Reference counting still frees everything acyclic; the collector is
    restored (and catches up) afterwards. Not used while talking to
    LangSmith, whose SDK objects may well form cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # Re-enabled as is, the collector's first run would walk every object the
            # pause allocated (the youngest generation holds them all: 0.25 s at
            # 100,000 scenarios, just before the command ends). Frozen first, they are
            # out of that count; unfrozen, they join the oldest generation uncollected,
            # as objects that survived collections would be.
            gc.freeze()
            gc.enable()
            gc.unfreeze()


_LIVE_ONLY = ("pr", "pr_metadata", "dataset", "baseline", "baseline_prefix", "baseline_metadata")


def _assemble(params: dict[str, Any]) -> Assembled:
    """Files or LangSmith, and the settings: validated up front, before any file is read
    or request made."""
    from evalbot.settings import assemble, cli_name

    pr_file, baseline_file = params["pr_file"], params["baseline_file"]
    files = pr_file is not None or baseline_file is not None
    if files:
        if pr_file is None or baseline_file is None:
            missing = "--pr-file" if pr_file is None else "--baseline-file"
            raise InputError(f"{missing}: required with experiment files (both sides)")
        clash = [cli_name(k) for k in _LIVE_ONLY if params.get(k) is not None]
        if clash:
            raise InputError(f"{clash[0]}: cannot be combined with --pr-file/--baseline-file")
    elif params.get("pr") is None and params.get("pr_metadata") is None:
        raise InputError(
            "--pr-file/--baseline-file or --pr/--pr-metadata: say which experiments to compare"
        )
    elif params["history_file"]:
        raise InputError("--history-file: only with --pr-file/--baseline-file")
    return assemble(raw_from(params), name=cli_name, live=not files)


def _log_line(line: str) -> None:
    click.echo(f"evalbot: LangSmith: {line}", err=True)


def _print_fetch(result: Result) -> None:
    fetch = result.report.fetch or {}
    for name, part in (fetch.get("parts") or {}).items():
        click.echo(
            f"evalbot: {name}: {part['requests']} requests, {part['seconds']:.2f} s"
            + (f", {part['runs']} runs" if part["runs"] else ""),
            err=True,
        )
    if "requests" in fetch:
        click.echo(
            f"evalbot: LangSmith total: {fetch['requests']} requests, {fetch['seconds']:.2f} s",
            err=True,
        )
