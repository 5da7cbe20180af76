"""The GitHub Actions runtime: inputs, outputs, job summary, workflow commands.

The only module that knows the runner's file and environment conventions
(brief: rule 2). Sources: "Workflow commands for GitHub Actions" (escaping of
``%``, CR, LF, and ``:``/``,`` in properties; multi-line outputs with a random
delimiter; ``::add-mask::``) and "Metadata syntax" (inputs reach a Docker
action as ``INPUT_<NAME>``, upper-cased; hyphens are kept, which is why
evalbot's inputs use snake_case).

Output hygiene. The runner reads a step's stdout and stderr line by line
(CR, LF or CRLF end a line) and runs a line as a workflow command when, after
leading whitespace is trimmed, it starts with ``::`` (``::error::``,
``::add-mask::``, ``::stop-commands::`` …), or when it contains ``##[`` followed
by a command name anywhere (the legacy form; actions/runner,
``ActionCommand.TryParseV2`` / ``TryParse``). Scenario and experiment names,
server messages and a user's template errors are untrusted, so every line of
text evalbot prints goes through :func:`neutralise`: a line that would start
with ``::`` gets a zero-width space between the two colons and every ``##[``
becomes ``#``-ZWSP-``#[``. Commands evalbot means to send are built by
:func:`command`, whose message is escaped onto one line. The alternative,
wrapping untrusted output in ``::stop-commands::<token>`` … ``::<token>::``,
was not chosen: evalbot's own annotations are interleaved with that output and
would have to toggle command processing around every line, while a
per-line rule keeps each line self-contained (and also applies to the CLI's
stdout in a ``run:`` step).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from evalbot.errors import InputError
from evalbot.local_files import read_limited_text
from evalbot.text import ZWSP, one_line

# GITHUB_STEP_SUMMARY accepts at most 1 MiB per step; larger uploads are
# dropped with an error annotation ("Job summaries" docs).
SUMMARY_LIMIT_BYTES = 1024 * 1024


# Inputs that hold secrets: masked in the log before anything else is printed.
SECRET_INPUTS = ("langsmith_api_key", "github_token")

# Annotations are one line of plain text: control characters (ANSI escape
# sequences, BEL, bidi overrides) would reach the runner's log and the checks UI.
_ANNOTATIONS = frozenset({"error", "warning", "notice", "debug"})

# A line the runner takes for a command starts with "::" after leading
# whitespace (.NET's String.TrimStart; Python's str.isspace covers the same
# characters and more), or holds "##[" anywhere.
_LEGACY_COMMAND = "##["
_LEGACY_SEARCH = re.compile(re.escape(_LEGACY_COMMAND))
# Where str.splitlines ends a line (the Python docs' table of line boundaries).
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A line that starts a command: str.isspace characters (what str.lstrip strips, and
# what \s matches in a str pattern), then "::".
_LEADING_COMMAND = re.compile(r"\s*::")

# GitHub caps webhook payloads at 25 MB ("Webhook events and payloads"); the
# event file is that payload. Anything larger is not an event: refused, not read.
MAX_EVENT_BYTES = 32 * 1024 * 1024
# Issue and PR numbers are GraphQL `Int`s (32-bit signed) on GitHub.
MAX_PR_NUMBER = 2**31 - 1

# Git object ids: SHA-1 (40 hex) or SHA-256 (64 hex) repositories.
_SHA = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
# A commit SHA as GitHub writes it (lowercase): what evalbot puts on a status itself.
LOWER_SHA: Final = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


# Workflow-command encoding: the runner decodes these escapes (actions/toolkit command.ts).
_WORKFLOW_DATA_TABLE: Final = str.maketrans({"%": "%25", "\r": "%0D", "\n": "%0A"})
_WORKFLOW_PROPERTY_TABLE: Final = str.maketrans(
    {"%": "%25", "\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"}
)


def escape_workflow_data(text: str) -> str:
    """Escape a GitHub Actions workflow command message (``::warning::<message>``).

    The runner decodes ``%25``, ``%0D`` and ``%0A``; escaping them keeps an untrusted
    message on one line so it cannot start a new ``::command::`` of its own.
    """
    return text.translate(_WORKFLOW_DATA_TABLE)


def escape_workflow_property(text: str) -> str:
    """Escape a GitHub Actions workflow command property value (``::error title=<value>::``).

    Like :func:`escape_workflow_data`, plus ``:`` -> ``%3A`` and ``,`` -> ``%2C``, which
    would otherwise end the property list or the value.
    """
    return text.translate(_WORKFLOW_PROPERTY_TABLE)


def read_input(env: Mapping[str, str], name: str) -> str | None:
    """An action input as the runner passes it, stripped; None when empty."""
    value = env.get(f"INPUT_{name.upper()}", "").strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Event:
    """What the triggering event says about where to publish."""

    name: str
    pr_number: int | None
    head_sha: str | None
    payload: Mapping[str, Any]


def commit_sha(value: object, *, source: str) -> str:
    """``value`` if it is a full commit SHA (40 or 64 hex characters), else InputError.

    The SHA goes into API URLs (``/statuses/{sha}``) and messages: an event
    payload is data, so it is checked before it is used.
    """
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        shown = one_line(str(value))[:80]
        raise InputError(
            f"{source}: must be a commit SHA of 40 or 64 hexadecimal characters; got {shown!r}"
        )
    return value


def read_event(env: Mapping[str, str]) -> Event:
    """The event name, PR number and head SHA (validated: see :func:`commit_sha`).

    On ``pull_request`` events ``GITHUB_SHA`` is the temporary merge commit:
    the status must go on ``pull_request.head.sha`` so it shows on the PR.
    """
    name = env.get("GITHUB_EVENT_NAME", "")
    path = env.get("GITHUB_EVENT_PATH")
    payload: dict[str, Any] = {}
    if path:
        try:
            text = read_limited_text(path, limit=MAX_EVENT_BYTES, kind="event payload")
        except InputError as exc:
            raise InputError(f"GITHUB_EVENT_PATH: {exc}") from None
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise InputError(
                f"GITHUB_EVENT_PATH: the event payload is not JSON ({reason})"
            ) from None
        if not isinstance(payload, dict):
            raise InputError("GITHUB_EVENT_PATH: the event payload is not a JSON object")
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        number = pull.get("number")
        head_object = pull.get("head")
        head = head_object.get("sha") if isinstance(head_object, dict) else None
        if not isinstance(head, str) or not head:
            raise InputError("GITHUB_EVENT_PATH: pull_request.head.sha is missing")
        # bool is an int in Python; PR numbers start at 1 and go in URLs.
        if isinstance(number, bool) or not isinstance(number, int):
            raise InputError("GITHUB_EVENT_PATH: pull_request.number is missing")
        if not 1 <= number <= MAX_PR_NUMBER:
            raise InputError(
                f"GITHUB_EVENT_PATH: pull_request.number must be from 1 to {MAX_PR_NUMBER}; "
                f"got {number if abs(number) < 10**12 else 'a huge number'}"
            )
        head = commit_sha(head, source="GITHUB_EVENT_PATH: pull_request.head.sha")
        return Event(name=name, pr_number=number, head_sha=head, payload=payload)
    sha = env.get("GITHUB_SHA") or None
    if sha is not None:
        sha = commit_sha(sha, source="GITHUB_SHA")
    return Event(name=name, pr_number=None, head_sha=sha, payload=payload)


def inside_workspace(workspace: Path, value: str | Path, *, name: str) -> Path:
    """``workspace / value``, refused (InputError naming ``name``) unless it stays inside.

    Symlinks are followed (``os.path.realpath``) before the check, so neither
    ``../x``, an absolute path, nor a link in the workspace pointing elsewhere
    lets a pull request make evalbot write or read outside the checkout.
    """
    path = workspace / value
    root = os.path.realpath(workspace)
    real = os.path.realpath(path)
    if os.path.commonpath([root, real]) != root:
        raise InputError(
            f"{name}: must be a path inside the workspace (GITHUB_WORKSPACE, {workspace}); "
            f"{one_line(str(value))!r} resolves to {one_line(real)}"
        )
    return path


def command(kind: str, message: str, **properties: str) -> str:
    """A workflow command line, e.g. ``::error title=evalbot::text``, escaped.

    Annotation messages (error, warning, notice, debug) are untrusted text made
    one line: control characters and line breaks collapse to single spaces.
    """
    if kind in _ANNOTATIONS:
        message = one_line(message)
    props = ",".join(f"{k}={escape_workflow_property(v)}" for k, v in properties.items())
    return f"::{kind}{' ' + props if props else ''}::{escape_workflow_data(message)}"


def mask_commands(env: Mapping[str, str]) -> list[str]:
    """``::add-mask::`` lines for every non-empty secret input, one per line of its value.

    The runner masks a value only within one log line, so a multi-line value
    is masked line by line (GitHub's advice for multi-line secrets).
    """
    lines = []
    for name in SECRET_INPUTS:
        value = read_input(env, name) or ""
        for part in value.splitlines():
            if part.strip():
                lines.append(command("add-mask", part))
    return lines


def neutralise(text: str) -> str:
    """``text`` with no line the runner would run as a workflow command (module docstring).

    ``str.splitlines`` breaks at CR, LF and more (FF, U+2028 …), so each of the
    runner's lines starts a piece here: a piece that is whitespace and then
    ``::`` gets the zero-width space. Linear, with C-speed scans where it can:
    it runs over whole reports on the CLI's stdout. A text without any line
    break (a piece of the compact JSON report) is one line, decided at its
    start, without searching 400 KB of ``"key":"value"`` for ``::`` (issue 14:
    the scans were 0.12 s of a 100,000-scenario report, 40 MB).
    """
    if any(mark in text for mark in _LINE_BREAKS):
        if "::" in text:
            lines = text.splitlines(keepends=True)
            for i, line in enumerate(lines):
                if "::" in line and line.lstrip().startswith("::"):
                    lines[i] = _defused(line)
            text = "".join(lines)
    elif _LEADING_COMMAND.match(text):
        text = _defused(text)
    if _LEGACY_SEARCH.search(text) is None:  # a regex finds it twice as fast as str.find
        return text
    return text.replace(_LEGACY_COMMAND, "#" + ZWSP + "#[")


def _defused(line: str) -> str:
    """``line`` (whitespace, then ``::``) with a zero-width space between those colons."""
    at = line.index("::")
    return line[: at + 1] + ZWSP + line[at + 1 :]


def say(stream: TextIO, text: str) -> None:
    """Print free text (never a command): each line neutralised."""
    print(neutralise(text), file=stream)


def write_outputs(path: str | None, outputs: Mapping[str, str]) -> None:
    """Append outputs to ``$GITHUB_OUTPUT``, multi-line safe (random delimiter)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def cap_summary(text: str, limit: int = SUMMARY_LIMIT_BYTES) -> str:
    """Text whose UTF-8 encoding fits the job-summary limit (cut with a note)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    note = "\n\n…cut to fit GitHub's 1 MiB job-summary limit; the JSON report has every row.\n"
    keep = data[: limit - len(note.encode("utf-8"))].decode("utf-8", errors="ignore")
    return keep + note


def write_summary(path: str | None, text: str) -> None:
    """Append to ``$GITHUB_STEP_SUMMARY`` (at most 1 MiB)."""
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(cap_summary(text))


def emit(stream: TextIO, lines: Iterable[str]) -> None:
    """Print workflow commands."""
    for line in lines:
        print(line, file=stream)
