"""The sandboxed Jinja environment: built-in and user templates, loads kept in their folder."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.sandbox import ImmutableSandboxedEnvironment

from evalbot.errors import InputError
from evalbot.local_files import read_limited_text
from evalbot.output import formatting
from evalbot.output.markdown import code_span, escape_text
from evalbot.text import one_line, truncate

COMMENT_TEMPLATE = "comment.md.j2"

FILTERS: dict[str, Callable[..., str | None]] = {
    "md": escape_text,
    "code": code_span,
    "pct": formatting.pct,
    "pp": formatting.pp,
    "pvalue": formatting.pvalue,
    "num": formatting.num,
    "count": formatting.count,
    "signed": formatting.signed,
    "trials": formatting.trials,
    "md_row": formatting.md_row,
    "md_rule": formatting.md_rule,
    "safe_url": formatting.safe_url,
}


# --- Jinja --------------------------------------------------------------------
#
# Every template, built-in or the user's, runs in Jinja's immutable sandbox. A
# user's template is untrusted code: in GitHub Actions its path may come from
# .github/evalbot.yml, which a pull request can edit, and the rendered comment
# is posted publicly. Without the sandbox `{{ cycler.__init__.__globals__.os
# .environ }}` prints the job's secrets. The sandbox refuses underscore and
# internal attributes (function globals, frames, code objects, mro), str.format
# tricks, and any method that mutates a list, dict or set; `range` is capped at
# 100,000 items; `*` and `**` may not build huge values. The loader (below)
# keeps a user's includes inside the template's own directory.

_MAX_ERROR = 300  # characters of a template's exception text shown in the one-line error
# `*` and `**` are the two operators that can build a huge value from a short
# template ({{ "x" * 10**12 }}): bounded far above anything a comment needs
# (the job summary, the largest output, is 1 MiB).
_MAX_REPEAT = 2**21
_MAX_POWER_BITS = 2**20


MAX_TEMPLATE_BYTES = 2**20


def _builtin_dir() -> str:
    return str(resources.files("evalbot.templates"))


class _TemplateDirLoader(jinja2.FileSystemLoader):
    """A user's template directory: what the template loads must stay inside it.

    FileSystemLoader already refuses ``..``; this also refuses names whose file
    (symlinks followed) lies outside the directory — a committed symlink to
    ``/proc/self/environ`` would otherwise be included verbatim — and hidden
    paths such as ``.git/config`` (where actions/checkout keeps the job's
    token), except ``entry``, the template the user named.
    """

    def __init__(self, root: str, entry: str) -> None:
        super().__init__(root)
        self.root = os.path.realpath(root)
        self.entry = entry

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # TemplateNotFound for ".."
        if template != self.entry and any(piece.startswith(".") for piece in pieces):
            raise SecurityError(f"{template!r} is a hidden path; templates may not load it")
        real = os.path.realpath(os.path.join(self.root, *pieces))
        if os.path.commonpath([real, self.root]) != self.root:
            raise SecurityError(
                f"{template!r} resolves outside the template's directory; "
                "templates may only load files beside them"
            )
        if not os.path.exists(real):
            raise jinja2.TemplateNotFound(template)
        # Read like every user-named file: a FIFO would block open() forever and
        # a device never ends (local_files); a template is a few kilobytes.
        source = read_limited_text(real, limit=MAX_TEMPLATE_BYTES, kind="template")
        mtime = os.path.getmtime(real)
        return source, real, lambda: os.path.getmtime(real) == mtime


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with ``*`` and ``**`` bounded in the size they build."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and right > 0
                and abs(left).bit_length() * right > _MAX_POWER_BITS
            ):
                raise SecurityError(f"'**' would make a number of over {_MAX_POWER_BITS:,} bits")
            return left**right
        for items, count in ((left, right), (right, left)):
            if (
                isinstance(items, str | list | tuple)
                and isinstance(count, int)
                and len(items) * count > _MAX_REPEAT
            ):
                raise SecurityError(f"'*' would make a value of over {_MAX_REPEAT:,} items")
        return left * right


def _make_environment(loader: jinja2.BaseLoader) -> jinja2.Environment:
    """The one place the Jinja environment is built (sandbox, options and filters)."""
    env = _Sandbox(
        loader=loader,
        # Undefined variables are template bugs, not empty strings.
        undefined=jinja2.StrictUndefined,
        # Markdown, not HTML: escaping is explicit through the `md` and
        # `code` filters on every untrusted value.
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=8)
def _environment(user_dir: str | None, entry: str | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(_builtin_dir())]
    if user_dir is not None and entry is not None:
        loaders.insert(0, _TemplateDirLoader(user_dir, entry))
    return _make_environment(jinja2.ChoiceLoader(loaders))


def _problem(name: str, text: str) -> InputError:
    """One line naming the template: its messages may quote the template's own text."""
    return InputError(f"template: {one_line(name)}: {truncate(one_line(text), _MAX_ERROR)}")


def load_template(template: Path | None) -> jinja2.Template:
    """The built-in comment template, or the user's (InputError naming it when unusable)."""
    if template is None:
        return _environment(None).get_template(COMMENT_TEMPLATE)
    try:
        env = _environment(str(template.parent.resolve()), template.name)
        return env.get_template(template.name)
    except jinja2.TemplateNotFound:
        raise InputError(f"template: file not found: {one_line(str(template))}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise _problem(str(template), f"line {exc.lineno}: {exc.message}") from None
    except SecurityError as exc:
        raise _problem(str(template), f"refused: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _problem(str(template), f"cannot read it ({exc})") from None


_BLANK_RUNS = re.compile(r"\n{3,}")


def render_template(
    template: jinja2.Template, context: dict[str, Any], name: str, *, user: bool
) -> str:
    """``template`` rendered; a user's template's every failure is one-line InputError."""
    try:
        text = template.render(context)
        # The built-in template's blocks leave runs of blank lines; one is enough
        # in Markdown (it has no code block with blank lines; a user's might).
        return text if user else _BLANK_RUNS.sub("\n\n", text)
    except jinja2.UndefinedError as exc:
        raise _problem(name, exc.message or "undefined") from None
    except SecurityError as exc:
        if not user:
            raise  # the built-in template broke the sandbox's rules: a bug, exit 3
        raise _problem(name, f"refused by the sandbox: {exc}") from None
    except jinja2.TemplateNotFound as exc:
        if not user:
            raise
        raise _problem(name, f"loads {exc.name!r}, which does not exist") from None
    except Exception as exc:
        if not user:
            raise  # a bug in the built-in template: exit 3 with a traceback
        # Anything a user's template raises ({{ 1 / 0 }}, a bad filter
        # argument, a missing include) is an input error in that template,
        # not an evalbot bug.
        raise _problem(name, str(exc) or type(exc).__name__) from None
