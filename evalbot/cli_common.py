"""What every command of the command line shares: options with their environment variables,
value types whose errors are one sentence, the LangSmith options, writing the output.

Imports only click at the top: ``evalbot --help`` loads nothing else (issue 14).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from evalbot.errors import InputError

if TYPE_CHECKING:
    from evalbot.settings import Raw

F = TypeVar("F", bound=Callable[..., Any])


def env_name(option: str) -> str:
    """The environment variable an option reads: ``--pr-file`` -> ``EVALBOT_PR_FILE``."""
    return "EVALBOT_" + option.lstrip("-").replace("-", "_").upper()


class EnvOption(click.Option):
    """An option that also reads ``EVALBOT_<OPTION>`` (every option does), shown in --help.

    Options with a variable of their own (``LANGSMITH_API_KEY``, ``GITHUB_TOKEN``)
    name it explicitly; click's ``auto_envvar_prefix`` would add the command's
    name (``EVALBOT_COMPARE_PR_FILE``), not the documented spelling.
    """

    def __init__(self, param_decls: list[str], **attrs: Any) -> None:
        if attrs.get("envvar") is None:
            long = next(d for d in param_decls if d.startswith("--"))
            attrs["envvar"] = env_name(long)
        attrs.setdefault("show_envvar", True)
        super().__init__(param_decls, **attrs)


def option(*param_decls: str, **attrs: Any) -> Callable[[F], F]:
    """``click.option`` for an :class:`EnvOption`."""
    return click.option(*param_decls, cls=EnvOption, **attrs)


# Not subscripted: click before 8.2 (pyproject allows 8.1) has no generic types at runtime.
class OneOf(click.Choice):  # type: ignore[type-arg]
    """A choice whose error is one sentence: "must be one of a, b; got 'c'"."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value in self.choices:
            return value
        self.fail(f"must be one of {', '.join(map(str, self.choices))}; got {value!r}", param, ctx)


class FileArg(click.ParamType):  # type: ignore[type-arg]
    """A path to a file (it may not exist yet): a directory is refused in one sentence."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path):
            return value
        if os.path.isdir(value):
            self.fail(f"must be a file, not a directory; got {value!r}", param, ctx)
        return Path(value)


class WholeNumber(click.ParamType):  # type: ignore[type-arg]
    """An integer, or one sentence saying so."""

    name = "integer"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return int(value)
        except (TypeError, ValueError):
            self.fail(f"must be a whole number; got {value!r}", param, ctx)


class Number(click.ParamType):  # type: ignore[type-arg]
    """A number, or one sentence saying so."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return float(value)
        except (TypeError, ValueError):
            self.fail(f"must be a number; got {value!r}", param, ctx)


FILE = FileArg()


def live_options(func: F) -> F:
    """The LangSmith options shared by ``compare``, ``export``, ``trend`` and ``publish``.

    Numbers stay text here: :mod:`evalbot.settings` checks them, with the same
    message as the Action's inputs.
    """
    options = [
        option(
            "--langsmith-api-key",
            envvar="LANGSMITH_API_KEY",
            help="LangSmith API key (never printed).",
        ),
        option(
            "--langsmith-endpoint",
            envvar="LANGSMITH_ENDPOINT",
            help="LangSmith API URL (default the public API; EU and self-hosted work).",
        ),
        option(
            "--pass-key",
            multiple=True,
            help="Feedback key that decides pass/fail (repeatable: all must pass). "
            "Default: the only feedback key present.",
        ),
        option(
            "--pass-threshold",
            metavar="NUMBER",
            help="A trial passes when the key's score >= this (default 1.0).",
        ),
        option("--scenario-key", help="example (default), metadata.<field> or inputs.<field>."),
        option(
            "--category-key",
            help="Categorical feedback key whose label names a failed trial's category.",
        ),
        option(
            "--timeout",
            metavar="SECONDS",
            help="Seconds one HTTP attempt may take, connect to last byte (default 30).",
        ),
        option(
            "--retry-budget",
            metavar="SECONDS",
            help="Total seconds one request may spend retrying 408/429/5xx and connection "
            "errors (default 60).",
        ),
        option(
            "--fetch-deadline",
            metavar="SECONDS",
            help="Seconds the whole LangSmith fetch may take (default 300; config key "
            "fetch_deadline).",
        ),
    ]
    for decorate in reversed(options):
        func = decorate(func)
    return func


def raw_from(params: Mapping[str, Any], **extra: Any) -> Raw:
    """The settings a command's options give, unchecked (:class:`evalbot.settings.Raw`)."""
    from evalbot.settings import RAW_KEYS, Raw

    given = {key: value for key, value in params.items() if key in RAW_KEYS}
    return Raw(**{**given, **extra})


def neutralise(text: str) -> str:
    """``text`` that no workflow-command line can come out of (imported on use)."""
    from evalbot.github.runtime import neutralise as neutralise_text

    return neutralise_text(text)


def write(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (standard output when None)."""
    write_pieces((text,), output)


def write_pieces(pieces: Iterable[str], output: Path | None) -> None:
    """Write ``pieces`` to ``output`` (standard output when None); an unwritable file is an
    input error naming --output."""
    if output is None:
        # On stdout in a workflow step, a line starting with "::" would be run
        # as a workflow command; a CSV cell may hold a newline (RFC 4180), so
        # a scenario name could start such a line. --output files stay exact.
        # (Pieces of the JSON report start at a row boundary, never mid-line.)
        for piece in pieces:
            click.echo(neutralise(piece), nl=False)
        return
    try:
        with output.open("w", encoding="utf-8") as handle:
            for piece in pieces:
                handle.write(piece)
    except OSError as exc:
        raise InputError(f"--output: cannot write {output}: {exc.strerror}") from None
