"""The command line: a thin shell over load -> compare -> gate -> render.

Exit codes are a contract (brief: rule 4): 0 the gate passed, 1 it failed,
2 a usage/config/input error (one sentence, no traceback), 3 an unexpected
internal error (traceback and a "please report" line).
"""

from __future__ import annotations

import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from evalbot import __version__
from evalbot.compare import compare_buckets, decide_gate
from evalbot.config import Settings, load_config, override, parse_comment_key, parse_enum
from evalbot.errors import EXIT_GATE_FAILED, EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE, EvalbotError
from evalbot.experiment_file import load_experiment
from evalbot.models import Bucket, FailOn, Gate, Ok, Outcome, SelfBaseline
from evalbot.render import render_comment, render_text
from evalbot.report import build_report, dumps

ISSUES_URL = "https://github.com/evalbot/evalbot/issues"


def compare_outcome(pr: Bucket, baseline: Bucket, settings: Settings) -> tuple[Outcome, Gate]:
    """The outcome and gate for two loaded buckets (shared by every entry point)."""
    outcome: Outcome
    if pr.id is not None and pr.id == baseline.id:
        outcome = SelfBaseline(pr=pr)
    else:
        outcome = Ok(compare_buckets(pr, baseline, settings.thresholds))
    gate = decide_gate(
        outcome, fail_on=settings.fail_on, on_fetch_failure=settings.on_fetch_failure
    )
    return outcome, gate


def format_output(
    outcome: Outcome, gate: Gate, *, settings: Settings, fmt: str, reproduce: str
) -> str:
    """The requested output format as text."""
    if fmt == "json":
        return dumps(build_report(outcome, gate, thresholds=settings.thresholds))
    if fmt == "text":
        return render_text(outcome, gate)
    return render_comment(
        outcome,
        gate,
        comment_key=settings.comment_key,
        reproduce=reproduce,
        template=settings.template,
    )


def _reproduce(argv: Sequence[str]) -> str:
    return shlex.join(["evalbot", *argv])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evalbot")
def cli() -> None:
    """evalbot: catch LLM evaluation regressions on pull requests."""


@cli.command()
@click.option(
    "--pr-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The PR experiment, as an experiment file (JSON).",
)
@click.option(
    "--baseline-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The baseline experiment, as an experiment file (JSON).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json", "text"]),
    default="markdown",
    show_default=True,
    help="markdown: the PR comment; json: the versioned report; text: a terminal table.",
)
@click.option("--fail-on", help="hard_regression (default), soft_regression or never.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A YAML config file (thresholds, fail_on, …); flags override it.",
)
@click.option("--comment-key", help="Marker key that tells several evalbot comments apart.")
@click.option(
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A Jinja template to render the comment with instead of the built-in one.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def compare(
    pr_file: Path,
    baseline_file: Path,
    fmt: str,
    fail_on: str | None,
    config_path: Path | None,
    comment_key: str | None,
    template: Path | None,
    output: Path | None,
) -> int:
    """Compare a PR experiment with a baseline and report regressions.

    Exits 0 when the gate passes, 1 when it fails, 2 on bad input.
    """
    settings = load_config(config_path) if config_path else Settings()
    settings = override(
        settings,
        fail_on=None if fail_on is None else parse_enum(FailOn, fail_on, name="--fail-on"),
        comment_key=None
        if comment_key is None
        else parse_comment_key(comment_key, name="--comment-key"),
        template=template,
    )
    pr = load_experiment(pr_file)
    baseline = load_experiment(baseline_file)
    outcome, gate = compare_outcome(pr, baseline, settings)
    text = format_output(
        outcome, gate, settings=settings, fmt=fmt, reproduce=_reproduce(sys.argv[1:])
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise EvalbotError(f"--output: cannot write {output}: {exc.strerror}") from None
    return EXIT_GATE_FAILED if gate.failed else EXIT_PASS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and map every ending to the exit-code contract."""
    try:
        result = cli.main(args=argv, prog_name="evalbot", standalone_mode=False)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("evalbot: aborted", err=True)
        return EXIT_USAGE
    except EvalbotError as exc:
        click.echo(f"evalbot: error: {exc}", err=True)
        return exc.exit_code
    except Exception:
        traceback.print_exc()
        click.echo(
            f"evalbot {__version__}: internal error — this is a bug in evalbot, "
            f"please report it with the traceback above: {ISSUES_URL}",
            err=True,
        )
        return EXIT_INTERNAL
    return result if isinstance(result, int) else EXIT_PASS
