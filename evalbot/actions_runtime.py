"""The GitHub Actions runtime: inputs, outputs, job summary, workflow commands.

The only module that knows the runner's file and environment conventions
(brief: rule 2). Sources: "Workflow commands for GitHub Actions" (escaping of
``%``, CR, LF, and ``:``/``,`` in properties; multi-line outputs with a random
delimiter) and "Metadata syntax" (inputs reach a Docker action as
``INPUT_<NAME>``, upper-cased; hyphens are kept, which is why evalbot's inputs
use snake_case).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from evalbot.errors import InputError
from evalbot.markdown import escape_workflow_data, escape_workflow_property

# GITHUB_STEP_SUMMARY accepts at most 1 MiB per step; larger uploads are
# dropped with an error annotation ("Job summaries" docs).
SUMMARY_LIMIT_BYTES = 1024 * 1024


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


def read_event(env: Mapping[str, str]) -> Event:
    """The event name, PR number and head SHA.

    On ``pull_request`` events ``GITHUB_SHA`` is the temporary merge commit:
    the status must go on ``pull_request.head.sha`` so it shows on the PR.
    """
    name = env.get("GITHUB_EVENT_NAME", "")
    path = env.get("GITHUB_EVENT_PATH")
    payload: dict[str, Any] = {}
    if path:
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"GITHUB_EVENT_PATH: cannot read the event payload ({exc})") from None
        if not isinstance(payload, dict):
            raise InputError("GITHUB_EVENT_PATH: the event payload is not a JSON object")
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        number = pull.get("number")
        head = (pull.get("head") or {}).get("sha")
        if not isinstance(number, int) or not isinstance(head, str) or not head:
            raise InputError("GITHUB_EVENT_PATH: pull_request.number or head.sha is missing")
        return Event(name=name, pr_number=number, head_sha=head, payload=payload)
    return Event(name=name, pr_number=None, head_sha=env.get("GITHUB_SHA") or None, payload=payload)


def command(kind: str, message: str, **properties: str) -> str:
    """A workflow command line, e.g. ``::error title=evalbot::text``, escaped."""
    props = ",".join(f"{k}={escape_workflow_property(v)}" for k, v in properties.items())
    return f"::{kind}{' ' + props if props else ''}::{escape_workflow_data(message)}"


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
