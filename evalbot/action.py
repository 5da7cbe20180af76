"""``evalbot action``: the GitHub Action's one entry function (issue 4 §3).

settings (validated once, before any request) -> the same pipeline as
``evalbot compare`` -> the one publish flow shared with ``evalbot publish``
(:mod:`evalbot.publish`: report, job summary and outputs always written;
comment and status best effort, a GitHub refusal is a warning) -> exit code
of the gate.

The check always reports (issue 10 §4): once the event is read, every ending
writes the job summary and the outputs and sets the status. An input error
found mid-run (no such experiment, a broken template, an unreadable config)
sets the status to ``error`` naming the input and exits 2; a report, summary
or outputs file that cannot be written is a warning that loses nothing else.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from evalbot.action_report import endpoint_masks, reporting_from_env
from evalbot.action_settings import ActionSettings, parse_action_settings
from evalbot.errors import InputError
from evalbot.github import runtime
from evalbot.output.render import RunLinks
from evalbot.pipeline import run_live
from evalbot.publish import (
    Reporting,
    publish_result,
    report_input_error,
    report_internal_error,
)

# Every input of action.yml; tests keep this, action.yml and docs/action.md in sync.
INPUTS = (
    "langsmith_api_key",
    "langsmith_endpoint",
    "experiment",
    "experiment_metadata",
    "dataset",
    "baseline",
    "baseline_prefix",
    "baseline_metadata",
    "pass_key",
    "pass_threshold",
    "scenario_key",
    "category_key",
    "timeout",
    "retry_budget",
    "fetch_deadline",
    "history",
    "alpha",
    "correction",
    "trend_threshold",
    "sensitivity",
    "config",
    "fail_on",
    "on_fetch_failure",
    "comment",
    "comment_key",
    "comment_when",
    "status_context",
    "github_token",
    "bot_login",
    "template",
    "report_path",
)
OUTPUTS = (
    "outcome",
    "gate",
    "hard_regressions",
    "soft_regressions",
    "improvements",
    "report_path",
    "comment_url",
)


def parse_settings(env: Mapping[str, str]) -> ActionSettings:
    """Validate every input and runner variable (:mod:`evalbot.action_settings`)."""
    return parse_action_settings(env)


def reporting_of(settings: ActionSettings) -> Reporting:
    """The reporting half of valid settings."""
    secrets: tuple[str, ...] = (settings.live.connection.api_key,)
    if settings.github is not None:
        secrets += (settings.github.token,)
    return Reporting(
        github=settings.github,
        pr_number=settings.event.pr_number,
        head_sha=settings.event.head_sha,
        status_context=settings.status_context,
        run_url=settings.run_url,
        output_path=settings.output_path,
        summary_path=settings.summary_path,
        secrets=secrets,
    )


def run(settings: ActionSettings, *, stdout: TextIO, client: Any | None = None) -> int:
    """Run the pipeline and publish; returns the exit code of the gate.

    An input error found on the way (no such experiment, a broken template) is
    still reported: ``::error``, job summary, outputs and an ``error`` status; exit 2.
    """
    reporting = reporting_of(settings)
    try:
        return _run(settings, stdout=stdout, client=client)
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout)
    except Exception:
        report_internal_error(reporting, stdout=stdout)
        raise


def _run(settings: ActionSettings, *, stdout: TextIO, client: Any | None) -> int:
    result = run_live(settings.live, settings.settings, client=client)
    return publish_result(
        result,
        reporting_of(settings),
        settings=settings.settings,
        comment=settings.comment,
        reproduce=_reproduce(settings),
        links=RunLinks(
            repository_url=settings.repository_url,
            run_url=settings.run_url,
            head_sha=settings.event.head_sha,
            report_path=settings.report_name,
        ),
        report_path=settings.report_path,
        stdout=stdout,
    )


def _reproduce(settings: ActionSettings) -> str:
    """The ``evalbot compare`` command that gives the same answer locally."""
    live = settings.live
    args = ["evalbot", "compare"]
    if live.pr.ref is not None:
        args += ["--pr", live.pr.ref]
    else:
        args += [
            "--pr-metadata",
            json.dumps(dict(live.pr.metadata or {})),
            "--dataset",
            str(live.pr.dataset),
        ]
    value = live.baseline.value
    flag = {
        "explicit": "--baseline",
        "prefix": "--baseline-prefix",
        "metadata": "--baseline-metadata",
    }[live.baseline.strategy.value]
    args += [flag, value if isinstance(value, str) else json.dumps(dict(value))]
    for key in live.rules.pass_keys:
        args += ["--pass-key", key]
    if live.rules.pass_threshold != 1.0:
        args += ["--pass-threshold", f"{live.rules.pass_threshold:g}"]
    if str(live.rules.scenario_key) != "example":
        args += ["--scenario-key", str(live.rules.scenario_key)]
    if live.rules.category_key:
        args += ["--category-key", live.rules.category_key]
    if settings.settings.fail_on.value != "hard_regression":
        args += ["--fail-on", settings.settings.fail_on.value]
    return shlex.join(args)


def main(env: Mapping[str, str] | None = None, *, stdout: TextIO | None = None) -> int:
    """Entry point for ``evalbot action``: input errors become ``::error`` and exit 2."""
    env = os.environ if env is None else env
    out = stdout or sys.stdout
    # First, before anything can print them: the runner hides these values
    # from the rest of the job's log (the key, the token, an endpoint's password).
    runtime.emit(out, [*runtime.mask_commands(env), *endpoint_masks(env)])
    try:
        settings = parse_settings(env)
    except InputError as exc:
        # The check still reports: status error naming the input, summary, outputs.
        return report_input_error(reporting_from_env(env), exc, stdout=out)
    except Exception:
        report_internal_error(reporting_from_env(env), stdout=out)
        raise
    # run() reports input errors found mid-run (no such experiment) the same way.
    return run(settings, stdout=out)
