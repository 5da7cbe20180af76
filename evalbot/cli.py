"""The command line: a thin shell over :mod:`evalbot.pipeline`.

Exit codes are a contract (brief: rule 4): 0 the gate passed, 1 it failed,
2 a usage/config/input error (one sentence, no traceback), 3 an unexpected
internal error (traceback and a "please report" line).

Every option can also be set through an environment variable (shown in
``--help``); the LangSmith key and endpoint use the SDK's own
``LANGSMITH_API_KEY`` / ``LANGSMITH_ENDPOINT``.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from evalbot import __version__
from evalbot.errors import (
    EXIT_GATE_FAILED,
    EXIT_INTERNAL,
    EXIT_PASS,
    EXIT_USAGE,
    EvalbotError,
    InputError,
)

# Everything else is imported inside the command that needs it: `evalbot --help`
# and `--version` load only click (issue 14: 0.1 s, not 0.4 s for jinja2, yaml,
# the statistics and the SDKs), and each command pays only for its own modules.
if TYPE_CHECKING:
    from evalbot.config import Settings
    from evalbot.pipeline import LiveConfig, Result

ISSUES_URL = "https://github.com/evalbot/evalbot/issues"
# Options that carry secrets are never echoed into the reproduce line.
_SECRET_OPTIONS = frozenset({"--langsmith-api-key"})

F = TypeVar("F", bound=Callable[..., Any])


def format_output(result: Result, *, settings: Settings, fmt: str, reproduce: str) -> str:
    """The requested output format as text."""
    from evalbot.core.models import NothingCompared, Ok
    from evalbot.output.csv_export import comparison_csv
    from evalbot.output.render import render_comment, render_text
    from evalbot.output.report import dumps

    if fmt == "json":
        return dumps(result.report)
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
    from evalbot.sources.langsmith.source import redact_url

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
    return shlex.join(["evalbot", *kept])


def _env(name: str) -> str:
    return f"EVALBOT_{name.upper()}"


def live_options(func: F) -> F:
    """The LangSmith options shared by ``compare`` and ``export``."""
    options = [
        click.option(
            "--langsmith-api-key",
            envvar="LANGSMITH_API_KEY",
            show_envvar=True,
            help="LangSmith API key (never printed).",
        ),
        click.option(
            "--langsmith-endpoint",
            envvar="LANGSMITH_ENDPOINT",
            show_envvar=True,
            help="LangSmith API URL (default the public API; EU and self-hosted work).",
        ),
        click.option(
            "--pass-key",
            "pass_keys",
            multiple=True,
            envvar=_env("pass_key"),
            show_envvar=True,
            help="Feedback key that decides pass/fail (repeatable: all must pass). "
            "Default: the only feedback key present.",
        ),
        click.option(
            "--pass-threshold",
            type=float,
            envvar=_env("pass_threshold"),
            show_envvar=True,
            help="A trial passes when the key's score >= this (default 1.0).",
        ),
        click.option(
            "--scenario-key",
            envvar=_env("scenario_key"),
            show_envvar=True,
            help="example (default), metadata.<field> or inputs.<field>.",
        ),
        click.option(
            "--category-key",
            envvar=_env("category_key"),
            show_envvar=True,
            help="Categorical feedback key whose label names a failed trial's category.",
        ),
        click.option(
            "--timeout",
            type=float,
            envvar=_env("timeout"),
            show_envvar=True,
            help="Seconds one HTTP attempt may take, connect to last byte (default 30).",
        ),
        click.option(
            "--retry-budget",
            type=float,
            envvar=_env("retry_budget"),
            show_envvar=True,
            help="Total seconds one request may spend retrying 408/429/5xx and connection "
            "errors (default 60).",
        ),
        click.option(
            "--fetch-deadline",
            type=float,
            envvar=_env("fetch_deadline"),
            show_envvar=True,
            help="Seconds the whole LangSmith fetch may take (default 300; config key "
            "fetch_deadline).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evalbot")
def cli() -> None:
    """evalbot: catch LLM evaluation regressions on pull requests."""


@cli.command()
@click.option(
    "--pr-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The PR experiment, as an experiment file (JSON).",
)
@click.option(
    "--baseline-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The baseline experiment, as an experiment file (JSON).",
)
@click.option(
    "--pr", envvar=_env("pr"), show_envvar=True, help="The PR experiment in LangSmith: name or id."
)
@click.option(
    "--pr-metadata",
    envvar=_env("pr_metadata"),
    show_envvar=True,
    help='Or: the newest experiment on --dataset with this metadata, e.g. {"pr_number": 123}.',
)
@click.option(
    "--dataset",
    envvar=_env("dataset"),
    show_envvar=True,
    help="Dataset name or id (with --pr-metadata).",
)
@click.option(
    "--baseline", envvar=_env("baseline"), show_envvar=True, help="Baseline experiment: name or id."
)
@click.option(
    "--baseline-prefix",
    envvar=_env("baseline_prefix"),
    show_envvar=True,
    help="Or: the newest complete experiment whose name starts with this.",
)
@click.option(
    "--baseline-metadata",
    envvar=_env("baseline_metadata"),
    show_envvar=True,
    help='Or: the newest complete experiment with this metadata (default {"branch": "main"}).',
)
@click.option(
    "--allow-dataset-mismatch",
    is_flag=True,
    envvar=_env("allow_dataset_mismatch"),
    help="Allow a baseline that ran on another dataset.",
)
@live_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "text", "csv"]),
    default="markdown",
    show_default=True,
    envvar=_env("format"),
    help="markdown: the PR comment; json: the versioned report; text: a terminal table; "
    "csv: one row per scenario with both sides.",
)
@click.option(
    "--fail-on", envvar=_env("fail_on"), help="hard_regression (default), soft_regression or never."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("config"),
    help="A YAML config file (thresholds, fail_on, …); flags override it.",
)
@click.option(
    "--comment-key",
    envvar=_env("comment_key"),
    help="Marker key that tells several evalbot comments apart.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("template"),
    help="A Jinja template to render the comment with instead of the built-in one.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Print each LangSmith request, failed attempt and cause, and the timings.",
)
@click.option(
    "--history-file",
    "history_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="An older baseline experiment file (repeatable, oldest first) to pool with the baseline.",
)
@click.option(
    "--history",
    type=int,
    envvar=_env("history"),
    help="Baseline runs to pool, the baseline included (default 10; 0 or 1: baseline only).",
)
@click.option(
    "--alpha",
    type=float,
    envvar=_env("alpha"),
    help="False-alarm budget: P(check fails | no change) <= alpha (default 0.05).",
)
@click.option(
    "--correction",
    envvar=_env("correction"),
    help="bh (default): control false alarms across scenarios; none: the per-scenario classifier.",
)
@click.option(
    "--trend-threshold",
    type=float,
    envvar=_env("trend_threshold"),
    help="Slope per run beyond which the baseline trend counts (default 0.01).",
)
@click.option(
    "--sensitivity",
    envvar=_env("sensitivity"),
    help="low | normal (default) | high: the effect sizes that count (see README).",
)
def compare(
    pr_file: Path | None,
    baseline_file: Path | None,
    fmt: str,
    fail_on: str | None,
    config_path: Path | None,
    comment_key: str | None,
    template: Path | None,
    output: Path | None,
    verbose: bool,
    history_files: tuple[Path, ...],
    history: int | None,
    alpha: float | None,
    correction: str | None,
    trend_threshold: float | None,
    sensitivity: str | None,
    **live: Any,
) -> int:
    """Compare a PR experiment with a baseline and report regressions.

    Either two experiment files (--pr-file, --baseline-file) or LangSmith
    (--pr or --pr-metadata, and a baseline strategy). Exits 0 when the gate
    passes, 1 when it fails, 2 on bad input.
    """
    from evalbot.config import (
        load_config,
        override,
        override_statistics,
        parse_comment_key,
        parse_enum,
        parse_history,
    )
    from evalbot.core.models import FailOn, Sensitivity
    from evalbot.pipeline import run_files, run_live

    settings = load_config(
        config_path,
        sensitivity=None
        if sensitivity is None
        else parse_enum(Sensitivity, sensitivity, name="--sensitivity"),
    )
    settings = override(
        settings,
        fail_on=None if fail_on is None else parse_enum(FailOn, fail_on, name="--fail-on"),
        comment_key=None
        if comment_key is None
        else parse_comment_key(comment_key, name="--comment-key"),
        template=template,
        history=None if history is None else parse_history(history, name="--history"),
    )
    settings = override_statistics(
        settings,
        alpha=alpha,
        correction=correction,
        trend_threshold=trend_threshold,
        name=lambda key: "--" + key.replace("_", "-"),
    )
    live_config = _mode(pr_file, baseline_file, live)
    if history_files and live_config is not None:
        raise InputError("--history-file: only with --pr-file/--baseline-file")
    argv = (click.get_current_context().obj or {}).get("argv", sys.argv[1:])
    reproduce = reproduce_command(argv)
    if live_config is None:
        assert pr_file is not None and baseline_file is not None
        with _without_cyclic_gc():
            result = run_files(
                pr_file,
                baseline_file,
                settings,
                history_files=history_files,
                pass_keys=live.get("pass_keys") or (),
            )
            _emit(result, settings=settings, fmt=fmt, reproduce=reproduce, output=output)
    else:
        if verbose:
            # Each request and each failed attempt as it happens (stderr).
            connection = dataclasses.replace(live_config.connection, log=_log_line)
            live_config = dataclasses.replace(live_config, connection=connection)
        result = run_live(live_config, settings)
        if verbose:
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
        _write(format_output(result, settings=settings, fmt=fmt, reproduce=reproduce), output)
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
        _write_pieces(result.report_json(), output)
    else:
        _write(format_output(result, settings=settings, fmt=fmt, reproduce=reproduce), output)


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
            gc.enable()


_LIVE_ONLY = ("pr", "pr_metadata", "dataset", "baseline", "baseline_prefix", "baseline_metadata")


def _mode(
    pr_file: Path | None, baseline_file: Path | None, live: dict[str, Any]
) -> LiveConfig | None:
    """Files or LangSmith: validated up front, before any file is read or request made."""
    from evalbot.pipeline import parse_live

    if pr_file is not None or baseline_file is not None:
        if pr_file is None or baseline_file is None:
            missing = "--pr-file" if pr_file is None else "--baseline-file"
            raise InputError(f"{missing}: required with experiment files (both sides)")
        clash = [f"--{k.replace('_', '-')}" for k in _LIVE_ONLY if live.get(k) is not None]
        if clash:
            raise InputError(f"{clash[0]}: cannot be combined with --pr-file/--baseline-file")
        return None
    if live.get("pr") is None and live.get("pr_metadata") is None:
        raise InputError(
            "--pr-file/--baseline-file or --pr/--pr-metadata: say which experiments to compare"
        )
    return parse_live(**live)


def _log_line(line: str) -> None:
    click.echo(f"evalbot: LangSmith: {line}", err=True)


def _print_fetch(result: Result) -> None:
    fetch = result.report.get("fetch") or {}
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


def _neutralise(text: str) -> str:
    """``text`` that no workflow-command line can come out of (imported on use: --help
    loads only click)."""
    from evalbot.github.runtime import neutralise

    return neutralise(text)


def _write(text: str, output: Path | None) -> None:
    _write_pieces((text,), output)


def _write_pieces(pieces: Iterable[str], output: Path | None) -> None:
    if output is None:
        # On stdout in a workflow step, a line starting with "::" would be run
        # as a workflow command; a CSV cell may hold a newline (RFC 4180), so
        # a scenario name could start such a line. --output files stay exact.
        # (Pieces of the JSON report start at a row boundary, never mid-line.)
        for piece in pieces:
            click.echo(_neutralise(piece), nl=False)
        return
    try:
        with output.open("w", encoding="utf-8") as handle:
            for piece in pieces:
                handle.write(piece)
    except OSError as exc:
        raise InputError(f"--output: cannot write {output}: {exc.strerror}") from None


@cli.command()
@click.argument("experiment", required=False)
@click.option(
    "--experiment-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead of EXPERIMENT: an experiment file (JSON) to convert, no LangSmith needed.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="json: an experiment file; csv: one row per scenario, for spreadsheets.",
)
@live_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the experiment file here instead of standard output.",
)
def export(
    experiment: str | None,
    experiment_file: Path | None,
    fmt: str,
    output: Path | None,
    **live: Any,
) -> int:
    """Snapshot a LangSmith EXPERIMENT (name or id) as an experiment file or CSV.

    Comparing two exports offline gives the same report as the live
    comparison (apart from its ``fetch`` section). With --experiment-file,
    converts a file instead (e.g. to CSV) without LangSmith.
    """
    from evalbot.output.csv_export import experiment_csv
    from evalbot.pipeline import parse_live
    from evalbot.sources.experiment_file import bucket_to_document, load_experiment

    if (experiment is None) == (experiment_file is None):
        raise InputError(
            "EXPERIMENT: give exactly one of a LangSmith experiment or --experiment-file"
        )
    if experiment_file is not None:
        bucket = load_experiment(experiment_file)
    else:
        assert experiment is not None  # exactly one of the two, checked above
        from evalbot.sources.langsmith.source import LangSmithSource
        from evalbot.sources.langsmith.source import export as export_bucket

        config = parse_live(
            pr=experiment, pr_metadata=None, dataset=None, baseline=None, baseline_prefix=None,
            baseline_metadata=None, allow_dataset_mismatch=False, **live,
        )  # fmt: skip
        bucket = export_bucket(LangSmithSource(config.connection), experiment, rules=config.rules)
    if fmt == "csv":
        document = experiment_csv(bucket)
    else:
        document = json.dumps(bucket_to_document(bucket), indent=2, ensure_ascii=False) + "\n"
    _write(document, output)
    return EXIT_PASS


@cli.command("trend")
@click.option(
    "--dataset",
    envvar=_env("dataset"),
    show_envvar=True,
    help="Trend the runs on this LangSmith dataset (name or id).",
)
@click.option(
    "--baseline-metadata",
    envvar=_env("baseline_metadata"),
    show_envvar=True,
    help='Which runs form the series: metadata to match (default {"branch": "main"}).',
)
@click.option(
    "--baseline-prefix",
    envvar=_env("baseline_prefix"),
    show_envvar=True,
    help="Or: runs whose name starts with this.",
)
@click.option(
    "--history-file",
    "history_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Or: experiment files, repeatable, OLDEST FIRST in the order given "
    "(the newest --window of them are used).",
)
@click.option(
    "--window",
    type=int,
    default=20,
    show_default=True,
    help="How many of the newest complete runs to trend over (at least 2).",
)
@click.option(
    "--threshold",
    type=float,
    default=0.01,
    show_default=True,
    help="Slope (pass rate per run) that counts as worsening or improving; 0.01 = 1 pp/run.",
)
@live_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text: a terminal table; json: the trend as data; markdown: a table for a comment.",
)
def trend_command(
    dataset: str | None,
    baseline_metadata: str | None,
    baseline_prefix: str | None,
    history_files: tuple[Path, ...],
    window: int,
    threshold: float,
    fmt: str,
    **live: Any,
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
    from evalbot.core.trend import (
        compute_trend,
        points_from_buckets,
        render_trend_markdown,
        render_trend_text,
        trend_report,
    )
    from evalbot.pipeline import parse_live
    from evalbot.sources.experiment_file import load_experiment

    if (dataset is None) == (not history_files):
        raise InputError("--dataset / --history-file: give exactly one (the runs to trend)")
    if dataset == "":
        raise InputError("--dataset: must not be empty")
    if window < 2:
        raise InputError(f"--window: must be an integer of at least 2; got {window}")
    if not math.isfinite(threshold) or threshold < 0:
        raise InputError(f"--threshold: must be a non-negative number; got {threshold}")
    skipped = 0
    if history_files:
        for name, value in (
            ("--baseline-metadata", baseline_metadata),
            ("--baseline-prefix", baseline_prefix),
        ):
            if value is not None:
                raise InputError(f"{name}: cannot be combined with --history-file")
        # Files are given oldest first, so the newest window is the tail.
        buckets = tuple(load_experiment(path) for path in history_files[-window:])
        found = len(buckets)
    else:
        from evalbot.sources.langsmith.source import LangSmithSource, history_buckets

        config = parse_live(
            pr=dataset, pr_metadata=None, dataset=dataset, baseline=None,
            baseline_prefix=baseline_prefix, baseline_metadata=baseline_metadata,
            allow_dataset_mismatch=False, **live,
        )  # fmt: skip
        assert dataset is not None
        history = history_buckets(
            LangSmithSource(config.connection),
            dataset,
            config.baseline,
            limit=window,
            rules=config.rules,
        )
        buckets, found, skipped = history.buckets, history.found, history.skipped_incomplete
    skipped_text = f"{skipped} incomplete experiment{'s' if skipped != 1 else ''} skipped"
    if found < 2:
        detail = f" ({skipped_text})" if skipped else ""
        raise InputError(f"trend: need at least 2 runs, found {found}{detail}")
    if skipped:
        # On stderr, so --format json stays parseable; a run still going is not a gap.
        click.echo(f"evalbot: trend: {skipped_text}", err=True)
    trend = compute_trend(points_from_buckets(buckets), threshold=threshold)
    if fmt == "json":
        text = json.dumps(trend_report(trend), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "markdown":
        text = render_trend_markdown(trend)
    else:
        text = render_trend_text(trend)
    _write(text, None)
    return EXIT_GATE_FAILED if trend.regression else EXIT_PASS


@cli.command("action")
def action_command() -> int:
    """Run as the GitHub Action: settings from INPUT_* and the runner's environment."""
    from evalbot.action import main as action_main

    return action_main()


@cli.command("publish")
@click.option(
    "--dataset",
    envvar=_env("dataset"),
    show_envvar=True,
    help="Dataset name or id the PR's experiment ran on (required).",
)
@click.option(
    "--commit-key",
    default="commit",
    show_default=True,
    envvar=_env("commit_key"),
    help="Experiment metadata key that holds the commit the evals ran on.",
)
@click.option("--baseline", envvar=_env("baseline"), help="Baseline experiment: name or id.")
@click.option(
    "--baseline-prefix",
    envvar=_env("baseline_prefix"),
    help="Or: the newest complete experiment whose name starts with this.",
)
@click.option(
    "--baseline-metadata",
    envvar=_env("baseline_metadata"),
    help='Or: the newest complete experiment with this metadata (default {"branch": "main"}).',
)
@live_options
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("config"),
    help="A YAML config file from the base branch (never from the pull request).",
)
@click.option(
    "--fail-on", envvar=_env("fail_on"), help="hard_regression (default), soft_regression or never."
)
@click.option("--comment-key", envvar=_env("comment_key"), help="Marker key of the comment.")
@click.option(
    "--when-missing",
    default="pending",
    show_default=True,
    envvar=_env("when_missing"),
    help="Status when no experiment ran for the head commit: pending or failure.",
)
@click.option(
    "--pr-number",
    type=int,
    envvar=_env("pr_number"),
    help="The pull request (default: the open PR whose head is the commit); its head "
    "must be the commit.",
)
@click.option(
    "--head-sha",
    envvar=_env("head_sha"),
    help="The commit (default: workflow_run.head_sha or pull_request.head.sha of the event).",
)
@click.option(
    "--github-token",
    envvar="GITHUB_TOKEN",
    show_envvar=True,
    help="Token with pull-requests: write and statuses: write (never printed).",
)
@click.option("--repository", envvar="GITHUB_REPOSITORY", show_envvar=True, help="owner/name.")
@click.option(
    "--api-url",
    envvar="GITHUB_API_URL",
    show_envvar=True,
    help="GitHub API URL (GitHub Enterprise Server).",
)
@click.option(
    "--comment", "comment_mode", default="update", show_default=True, help="update, new or off."
)
@click.option(
    "--status-context", default="evalbot", show_default=True, help="Name of the commit status."
)
@click.option(
    "--bot-login",
    default="github-actions[bot]",
    show_default=True,
    help="Login of the account that posts the comment.",
)
def publish_command(
    dataset: str | None,
    commit_key: str,
    baseline: str | None,
    baseline_prefix: str | None,
    baseline_metadata: str | None,
    config_path: Path | None,
    fail_on: str | None,
    comment_key: str | None,
    when_missing: str,
    pr_number: int | None,
    head_sha: str | None,
    github_token: str | None,
    repository: str | None,
    api_url: str | None,
    comment_mode: str,
    status_context: str,
    bot_login: str,
    **live: Any,
) -> int:
    """Comment and set the status for a PR from a fork, trusting nothing from the fork.

    Run it with a write token where no PR code runs (a workflow_run or
    pull_request_target job). The commit comes from the event; the PR is the
    open one whose head is that commit; the experiment is read from LangSmith
    (the one on --dataset whose metadata --commit-key is the commit). No
    experiment: the status is --when-missing, never success.
    """
    import os

    from evalbot.config import load_config, override, parse_comment_key, parse_enum, parse_secret
    from evalbot.core.models import FailOn
    from evalbot.fork_publish import PublishSettings, event_head, publish_live
    from evalbot.github.api import DEFAULT_API_URL, CommentMode, GitHubTarget, StatusState
    from evalbot.pipeline import parse_live
    from evalbot.publish import Reporting, report_input_error

    if not github_token:
        raise InputError("--github-token: required (or set GITHUB_TOKEN)")
    parse_secret(github_token, name="--github-token")
    if not repository or "/" not in repository:
        raise InputError("--repository: required as owner/name (or set GITHUB_REPOSITORY)")
    if pr_number is not None and pr_number < 1:
        raise InputError("--pr-number: must be a positive integer")
    if not dataset:
        raise InputError("--dataset: required (the dataset the PR's evals ran on)")
    if not commit_key.strip():
        raise InputError("--commit-key: must not be empty")
    missing = parse_enum(StatusState, when_missing, name="--when-missing")
    if missing not in (StatusState.PENDING, StatusState.FAILURE):
        raise InputError(f"--when-missing: must be pending or failure; got {when_missing!r}")
    mode = parse_enum(CommentMode, comment_mode, name="--comment")
    if not status_context or len(status_context) > 100:
        raise InputError("--status-context: must be 1 to 100 characters")
    head, label, run_url = event_head(os.environ, head_sha)
    target = GitHubTarget(
        token=github_token,
        repository=repository,
        api_url=api_url or DEFAULT_API_URL,
        bot_login=bot_login,
    )
    try:
        config = parse_live(
            pr=None,
            pr_metadata=json.dumps({commit_key: head}),
            dataset=dataset,
            baseline=baseline,
            baseline_prefix=baseline_prefix,
            baseline_metadata=baseline_metadata,
            allow_dataset_mismatch=False,
            **live,
        )
        settings = load_config(config_path)
        settings = override(
            settings,
            fail_on=None if fail_on is None else parse_enum(FailOn, fail_on, name="--fail-on"),
            comment_key=None
            if comment_key is None
            else parse_comment_key(comment_key, name="--comment-key"),
        )
    except InputError as exc:
        # The commit is known: the check still reports (status error naming the option).
        reporting = Reporting(
            github=target,
            pr_number=pr_number,
            head_sha=head,
            status_context=status_context,
            run_url=run_url,
            output_path=os.environ.get("GITHUB_OUTPUT"),
            summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
            secrets=(github_token, live.get("langsmith_api_key") or ""),
        )
        return report_input_error(reporting, exc, stdout=sys.stdout)
    return publish_live(
        PublishSettings(
            live=config,
            settings=settings,
            target=target,
            head_sha=head,
            head_label=label,
            pr_number=pr_number,
            when_missing=missing,
            comment=mode,
            status_context=status_context,
            run_url=run_url,
            summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
            output_path=os.environ.get("GITHUB_OUTPUT"),
            repository_url=f"{server}/{repository}"
            if (server := os.environ.get("GITHUB_SERVER_URL"))
            else None,
        ),
        stdout=sys.stdout,
    )


def _cancel_on_sigterm() -> Callable[[], None]:
    """SIGTERM ends the run like Ctrl-C: one line on stderr, exit 2, no traceback.

    A cancelled GitHub Actions job gets SIGINT, then SIGTERM 7.5 s later (the
    runner's cancellation); without a handler SIGTERM kills Python silently.
    A cancelled run sets no status: the required check stays unreported (never
    green) and the workflow run shows "cancelled" (README "Failure handling").
    """
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and map every ending to the exit-code contract."""
    restore = _cancel_on_sigterm()
    try:
        args = list(sys.argv[1:] if argv is None else argv)
        result = cli.main(args=args, prog_name="evalbot", standalone_mode=False, obj={"argv": args})
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("evalbot: cancelled (interrupted); no status was set", err=True)
        return EXIT_USAGE
    except EvalbotError as exc:
        click.echo(_neutralise(f"evalbot: error: {exc}"), err=True)
        return exc.exit_code
    except Exception:
        import traceback

        # The traceback may quote untrusted text (names, server answers).
        click.echo(_neutralise(traceback.format_exc()), err=True, nl=False)
        click.echo(
            f"evalbot {__version__}: internal error — this is a bug in evalbot, "
            f"please report it with the traceback above: {ISSUES_URL}",
            err=True,
        )
        return EXIT_INTERNAL
    finally:
        restore()
    return result if isinstance(result, int) else EXIT_PASS
