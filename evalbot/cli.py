"""The command line: the ``evalbot`` group, its commands, and the exit-code contract.

Exit codes are a contract (brief: rule 4): 0 the gate passed, 1 it failed,
2 a usage/config/input error (one line, no traceback), 3 an unexpected
internal error (traceback and a "please report" line). A bad option is one
line too, never click's three-line Usage/Try/Error block.

Every option can also be set through an environment variable (shown in
``--help``): ``EVALBOT_<OPTION>``; the LangSmith key and endpoint use the
SDK's own ``LANGSMITH_API_KEY`` / ``LANGSMITH_ENDPOINT``. Each command lives
in its own module (``cli_compare``, ``cli_export``, ``cli_trend``, ``cli_publish``).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import click

from evalbot import __version__
from evalbot.cli_common import neutralise
from evalbot.cli_compare import compare
from evalbot.cli_export import export
from evalbot.cli_publish import action_command, publish_command
from evalbot.cli_trend import trend_command
from evalbot.errors import EXIT_INTERNAL, EXIT_PASS, EXIT_USAGE, EvalbotError

# Everything else is imported inside the command that needs it: `evalbot --help`
# and `--version` load only click (issue 14: 0.1 s, not 0.4 s for jinja2, yaml,
# the statistics and the SDKs), and each command pays only for its own modules.

ISSUES_URL = "https://github.com/evalbot/evalbot/issues"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="evalbot")
def cli() -> None:
    """evalbot: catch LLM evaluation regressions on pull requests."""


for command in (compare, export, trend_command, action_command, publish_command):
    cli.add_command(command)


def usage_line(exc: click.UsageError) -> str:
    """A click usage error as one sentence naming the option (no Usage/Try/Error block)."""
    where = exc.ctx.command_path if exc.ctx is not None else "evalbot"
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        param = exc.param
        long = [opt for opt in param.opts if opt.startswith("--")]
        label = long[0] if long else param.human_readable_name
        return f"{label}: {exc.message}"
    if isinstance(exc, click.NoSuchOption):
        near = sorted(exc.possibilities or ())
        hint = f" (did you mean {' or '.join(near)}?)" if near else ""
        return f"{exc.option_name}: no such option for {where}{hint}; see {where} --help"
    text = " ".join(exc.format_message().split()).rstrip(".")
    return f"{text}; see {where} --help"


def _cancel_on_sigterm() -> Callable[[], None]:
    """SIGTERM ends the run like Ctrl-C: one line on stderr, exit 2, no traceback.

    A cancelled GitHub Actions job gets SIGINT, then SIGTERM 7.5 s later (the
    runner's cancellation); without a handler SIGTERM kills Python silently.
    A cancelled run sets no status: the required check stays unreported (never
    green) and the workflow run shows "cancelled" (docs/action.md, "Failure handling").
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
    except click.UsageError as exc:
        click.echo(neutralise(f"evalbot: error: {usage_line(exc)}"), err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        message = " ".join(exc.format_message().split())
        click.echo(neutralise(f"evalbot: error: {message}"), err=True)
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("evalbot: cancelled (interrupted); no status was set", err=True)
        return EXIT_USAGE
    except EvalbotError as exc:
        click.echo(neutralise(f"evalbot: error: {exc}"), err=True)
        return exc.exit_code
    except Exception:
        import traceback

        # The traceback may quote untrusted text (names, server answers).
        click.echo(neutralise(traceback.format_exc()), err=True, nl=False)
        click.echo(
            f"evalbot {__version__}: internal error — this is a bug in evalbot, "
            f"please report it with the traceback above: {ISSUES_URL}",
            err=True,
        )
        return EXIT_INTERNAL
    finally:
        restore()
    return result if isinstance(result, int) else EXIT_PASS


def run() -> NoReturn:
    """The ``evalbot`` process (console script, ``python -m evalbot``): main(), then exit.

    Before the interpreter exits, every object still alive is frozen out of the
    cyclic collector: its final collection would otherwise walk them all — the
    output keeps the last comparison cached, every scenario and row of it —
    for nothing, as the process is ending (1.2 s of CPU at 100,000 scenarios,
    issue 14). In-process callers (tests, the Action harness) call main().
    """
    code = main()
    gc.freeze()
    sys.exit(code)
