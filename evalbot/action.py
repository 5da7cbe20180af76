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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from evalbot.action_report import endpoint_masks, reporting_from_env
from evalbot.config import (
    CommentWhen,
    Settings,
    load_config,
    override,
    override_statistics,
    parse_comment_key,
    parse_enum,
    parse_history,
    parse_secret,
)
from evalbot.core.models import (
    FailOn,
    OnFetchFailure,
    Sensitivity,
)
from evalbot.errors import InputError
from evalbot.github import runtime
from evalbot.github.api import (
    BOT_LOGIN,
    DEFAULT_API_URL,
    CommentMode,
    GitHubTarget,
)
from evalbot.output.render import RunLinks
from evalbot.pipeline import LiveConfig, parse_live, run_live
from evalbot.publish import (
    Reporting,
    publish_result,
    report_input_error,
    report_internal_error,
)

DEFAULT_CONFIG = ".github/evalbot.yml"

# Every input of action.yml; tests keep this, action.yml and the README in sync.
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


@dataclass(frozen=True, slots=True)
class ActionSettings:
    """Everything the Action needs, parsed from INPUT_* and the runner's variables."""

    live: LiveConfig
    settings: Settings
    comment: CommentMode
    status_context: str
    github: GitHubTarget | None
    event: runtime.Event
    report_path: Path
    run_url: str | None
    output_path: str | None
    summary_path: str | None
    # For links in the comment: https://github.com/owner/repo, and the report
    # path as the user gave it (relative to the workspace).
    repository_url: str | None = None
    report_name: str | None = None


def _float(value: str | None, *, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"{name}: must be a number; got {value!r}") from None


def _list(value: str | None) -> list[str]:
    if value is None:
        return []
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def _named(exc: InputError) -> InputError:
    """Option names in messages become the action's input names (--pass-key -> pass_key)."""
    text = str(exc)
    renames = {
        "--pr-metadata": "experiment_metadata",
        "--pr": "experiment",
        "--langsmith-api-key": "langsmith_api_key",
        "--langsmith-endpoint": "langsmith_endpoint",
        "--baseline-prefix": "baseline_prefix",
        "--baseline-metadata": "baseline_metadata",
        "--baseline": "baseline",
        "--dataset": "dataset",
        "--pass-key": "pass_key",
        "--pass-threshold": "pass_threshold",
        "--scenario-key": "scenario_key",
        "--category-key": "category_key",
        "--fail-on": "fail_on",
        "--comment-key": "comment_key",
        "--timeout": "timeout",
        "--retry-budget": "retry_budget",
        "--fetch-deadline": "fetch_deadline",
    }
    for option, name in renames.items():
        text = text.replace(option, name)
    text = text.replace("(or set LANGSMITH_API_KEY)", "(pass secrets.LANGSMITH_API_KEY)")
    return InputError(text)


def parse_settings(env: Mapping[str, str]) -> ActionSettings:
    """Validate every input and runner variable; InputError names the input."""

    def get(name: str) -> str | None:
        return runtime.read_input(env, name)

    try:
        live = parse_live(
            langsmith_api_key=get("langsmith_api_key"),
            langsmith_endpoint=get("langsmith_endpoint"),
            pr=get("experiment"),
            pr_metadata=get("experiment_metadata"),
            dataset=get("dataset"),
            baseline=get("baseline"),
            baseline_prefix=get("baseline_prefix"),
            baseline_metadata=get("baseline_metadata"),
            allow_dataset_mismatch=False,
            pass_keys=_list(get("pass_key")),
            pass_threshold=_float(get("pass_threshold"), name="pass_threshold"),
            scenario_key=get("scenario_key"),
            category_key=get("category_key"),
            timeout=_float(get("timeout"), name="timeout"),
            retry_budget=_float(get("retry_budget"), name="retry_budget"),
            fetch_deadline=_float(get("fetch_deadline"), name="fetch_deadline"),
        )
    except InputError as exc:
        raise _named(exc) from None
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    config_input = get("config")
    # The config is data a pull request can change (.github/evalbot.yml, even a
    # symlink to /proc/self/environ): read only from inside the workspace.
    config_path = runtime.inside_workspace(
        workspace, config_input or DEFAULT_CONFIG, name="config" if config_input else DEFAULT_CONFIG
    )
    sensitivity = get("sensitivity")
    settings = load_config(
        None if config_input is None and not config_path.is_file() else config_path,
        sensitivity=None
        if sensitivity is None
        else parse_enum(Sensitivity, sensitivity, name="sensitivity"),
    )
    fail_on, on_fetch = get("fail_on"), get("on_fetch_failure")
    comment_key, template = get("comment_key"), get("template")
    comment_when = get("comment_when")
    settings = override(
        settings,
        fail_on=None if fail_on is None else parse_enum(FailOn, fail_on, name="fail_on"),
        on_fetch_failure=None
        if on_fetch is None
        else parse_enum(OnFetchFailure, on_fetch, name="on_fetch_failure"),
        comment_key=None if comment_key is None else parse_comment_key(comment_key),
        comment_when=None
        if comment_when is None
        else parse_enum(CommentWhen, comment_when, name="comment_when"),
    )
    # The template is code a pull request can change (the input, or the config
    # file's `template:`): it must be a file inside the workspace, symlinks
    # followed; render.py runs it sandboxed and keeps its includes beside it.
    if template is not None:
        settings = override(
            settings, template=runtime.inside_workspace(workspace, template, name="template")
        )
    elif settings.template is not None:
        where = f"{config_input or DEFAULT_CONFIG}: template"
        settings = override(
            settings,
            template=runtime.inside_workspace(workspace, settings.template, name=where),
        )
    settings = override_statistics(
        settings,
        alpha=_float(get("alpha"), name="alpha"),
        correction=get("correction"),
        trend_threshold=_float(get("trend_threshold"), name="trend_threshold"),
        name=str,
    )
    if (history := get("history")) is not None:
        if not (history.isascii() and history.isdigit()):
            raise InputError(f"history: must be a whole number from 0 to 100; got {history!r}")
        settings = override(settings, history=parse_history(int(history)))
    comment = parse_enum(CommentMode, get("comment") or "update", name="comment")
    status_context = get("status_context") or "evalbot"
    if len(status_context) > 100:
        raise InputError("status_context: must be at most 100 characters")
    event = runtime.read_event(env)
    repository = env.get("GITHUB_REPOSITORY")
    token = get("github_token")
    if token is not None:
        parse_secret(token, name="github_token")
    github = None
    if repository and token:
        github = GitHubTarget(
            token=token,
            repository=repository,
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            bot_login=get("bot_login") or BOT_LOGIN,
        )
    default_report = (
        "evalbot-report.json"
        if settings.comment_key == "default"
        else f"evalbot-report-{settings.comment_key}.json"
    )
    server, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
    run_url = f"{server}/{repository}/actions/runs/{run_id}" if server and run_id else None
    return ActionSettings(
        live=live,
        settings=settings,
        comment=comment,
        status_context=status_context,
        github=github,
        event=event,
        report_path=runtime.inside_workspace(
            workspace, get("report_path") or default_report, name="report_path"
        ),
        run_url=run_url,
        output_path=env.get("GITHUB_OUTPUT"),
        summary_path=env.get("GITHUB_STEP_SUMMARY"),
        repository_url=f"{server}/{repository}" if server and repository else None,
        report_name=get("report_path") or default_report,
    )


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
        return report_input_error(reporting, _named(exc), stdout=stdout)
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
        return report_input_error(reporting_from_env(env), _named(exc), stdout=out)
    except Exception:
        report_internal_error(reporting_from_env(env), stdout=out)
        raise
    # run() reports input errors found mid-run (no such experiment) the same way.
    return run(settings, stdout=out)
