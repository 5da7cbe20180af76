"""``evalbot action``: the GitHub Action's one entry function (issue 4 §3).

settings (validated once, before any request) -> the same pipeline as
``evalbot compare`` -> report, job summary and outputs (always written) ->
comment and status (best effort: a GitHub refusal is a warning) -> exit code
of the gate.
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

from evalbot import actions_runtime as runtime
from evalbot.config import (
    Settings,
    load_config,
    override,
    override_statistics,
    parse_comment_key,
    parse_enum,
    parse_history,
)
from evalbot.errors import EXIT_GATE_FAILED, EXIT_PASS, EXIT_USAGE, InputError
from evalbot.github_publish import (
    BOT_LOGIN,
    DEFAULT_API_URL,
    CommentMode,
    GitHubTarget,
    Published,
    StatusState,
    make_github,
    publish,
)
from evalbot.models import (
    FailOn,
    FetchFailed,
    NoBaseline,
    Ok,
    OnFetchFailure,
    Outcome,
    Sensitivity,
    Verdict,
)
from evalbot.pipeline import LiveConfig, Result, parse_live, run_live
from evalbot.render import marker, pct, render_comment
from evalbot.report import dumps

DEFAULT_CONFIG = ".github/evalbot.yml"
MAX_ANNOTATIONS = 5

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
        )
    except InputError as exc:
        raise _named(exc) from None
    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    config_input = get("config")
    config_path = workspace / (config_input or DEFAULT_CONFIG)
    sensitivity = get("sensitivity")
    settings = load_config(
        None if config_input is None and not config_path.is_file() else config_path,
        sensitivity=None
        if sensitivity is None
        else parse_enum(Sensitivity, sensitivity, name="sensitivity"),
    )
    fail_on, on_fetch = get("fail_on"), get("on_fetch_failure")
    comment_key, template = get("comment_key"), get("template")
    settings = override(
        settings,
        fail_on=None if fail_on is None else parse_enum(FailOn, fail_on, name="fail_on"),
        on_fetch_failure=None
        if on_fetch is None
        else parse_enum(OnFetchFailure, on_fetch, name="on_fetch_failure"),
        comment_key=None if comment_key is None else parse_comment_key(comment_key),
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
        if not history.isdigit():
            raise InputError(f"history: must be a whole number from 0 to 100; got {history!r}")
        settings = override(settings, history=parse_history(int(history)))
    comment = parse_enum(CommentMode, get("comment") or "update", name="comment")
    status_context = get("status_context") or "evalbot"
    if len(status_context) > 100:
        raise InputError("status_context: must be at most 100 characters")
    event = runtime.read_event(env)
    repository = env.get("GITHUB_REPOSITORY")
    token = get("github_token")
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
    )


def status_description(outcome: Outcome, gate_failed: bool) -> str:
    """The one-line commit-status text (trimmed to 140 by the GitHub module)."""
    if isinstance(outcome, FetchFailed):
        return f"Regression detection did not run: {outcome.error}"
    if isinstance(outcome, NoBaseline):
        return "No baseline experiment found: regression detection did not run"
    if not isinstance(outcome, Ok):
        return "This run is the baseline: nothing to compare"
    comparison = outcome.comparison
    hard = comparison.count(Verdict.HARD_REGRESSION)
    soft = comparison.count(Verdict.SOFT_REGRESSION)
    parts = []
    if hard:
        parts.append(f"{hard} hard regression{'s' if hard != 1 else ''}")
    if soft:
        parts.append(f"{soft} soft")
    if not parts:
        parts.append("No regressions")
    agg = comparison.aggregate
    return f"{', '.join(parts)} · {pct(agg.pr.rate)} vs {pct(agg.baseline.rate)}"


def status_state(result: Result) -> StatusState:
    """failure when the gate fails, error when detection could not run and that fails it."""
    if not result.gate.failed:
        return StatusState.SUCCESS
    if isinstance(result.outcome, FetchFailed):
        return StatusState.ERROR
    return StatusState.FAILURE


def workflow_annotations(result: Result) -> list[str]:
    """::error / ::warning / ::notice lines: a few, then a summary of the rest."""
    lines: list[str] = []
    outcome = result.outcome
    if isinstance(outcome, FetchFailed):
        lines.append(
            runtime.command(
                "warning", f"Regression detection did not run: {outcome.error}", title="evalbot"
            )
        )
    elif isinstance(outcome, NoBaseline):
        lines.append(
            runtime.command(
                "warning", f"No baseline: nothing matched {outcome.searched}", title="evalbot"
            )
        )
    elif isinstance(outcome, Ok):
        for verdict, kind, word in (
            (Verdict.HARD_REGRESSION, "error", "Hard regression"),
            (Verdict.SOFT_REGRESSION, "warning", "Soft regression"),
            (Verdict.IMPROVEMENT, "notice", "Improvement"),
        ):
            rows = outcome.comparison.of(verdict)
            for row in rows[:MAX_ANNOTATIONS]:
                text = (
                    f"{word}: {row.label or row.key}: {row.pr.passed}/{row.pr.total} vs "
                    f"{row.baseline.passed}/{row.baseline.total}"
                )
                lines.append(runtime.command(kind, text[:300], title="evalbot"))
            if len(rows) > MAX_ANNOTATIONS:
                more = len(rows) - MAX_ANNOTATIONS
                lines.append(
                    runtime.command(
                        kind,
                        f"…and {more} more {word.lower()}s: see the job summary",
                        title="evalbot",
                    )
                )
    return lines


def run(settings: ActionSettings, *, stdout: TextIO, client: Any | None = None) -> int:
    """Run the pipeline and publish; returns the exit code of the gate."""
    result = run_live(settings.live, settings.settings, client=client)
    key = settings.settings.comment_key
    common: dict[str, Any] = {
        "comment_key": key,
        "reproduce": _reproduce(settings),
        "template": settings.settings.template,
        "selection": result.selection,
    }
    comment = render_comment(result.outcome, result.gate, **common)
    # The summary holds the full report: rows cut from the comment for size.
    summary = render_comment(
        result.outcome, result.gate, **common,
        max_chars=runtime.SUMMARY_LIMIT_BYTES,
        size=lambda text: len(text.encode("utf-8")),
    )  # fmt: skip
    # Nothing lost: report, summary and outputs are written before GitHub is asked.
    settings.report_path.parent.mkdir(parents=True, exist_ok=True)
    settings.report_path.write_text(dumps(result.report), encoding="utf-8")
    runtime.write_summary(settings.summary_path, summary)
    runtime.emit(stdout, workflow_annotations(result))
    published = _publish(settings, result, comment)
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])
    counts = result.report["counts"]
    runtime.write_outputs(
        settings.output_path,
        {
            "outcome": result.outcome.kind.value,
            "gate": "fail" if result.gate.failed else "pass",
            "hard_regressions": str(counts[Verdict.HARD_REGRESSION.value]),
            "soft_regressions": str(counts[Verdict.SOFT_REGRESSION.value]),
            "improvements": str(counts[Verdict.IMPROVEMENT.value]),
            "report_path": str(settings.report_path),
            "comment_url": published.comment_url or "",
        },
    )
    runtime.say(
        stdout,
        f"evalbot: {result.outcome.kind.value}; gate {'failed' if result.gate.failed else 'passed'}"
        f": {result.gate.reason}",
    )
    return EXIT_GATE_FAILED if result.gate.failed else EXIT_PASS


def _publish(settings: ActionSettings, result: Result, comment: str) -> Published:
    if settings.github is None:
        return Published()
    client = make_github(settings.github)
    return publish(
        client,
        settings.github,
        pr_number=settings.event.pr_number,
        head_sha=settings.event.head_sha,
        comment_body=comment,
        marker=marker(settings.settings.comment_key),
        mode=settings.comment,
        status=(
            status_state(result),
            status_description(result.outcome, result.gate.failed),
            settings.status_context,
            settings.run_url,
        ),
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
    # from the rest of the job's log.
    runtime.emit(out, runtime.mask_commands(env))
    try:
        return run(parse_settings(env), stdout=out)
    except InputError as exc:
        # Also for errors found mid-run (no such experiment): name the input.
        message = f"Invalid input: {_named(exc)}"
        runtime.emit(out, [runtime.command("error", message, title="evalbot")])
        return EXIT_USAGE


# --- evalbot publish: the second phase of the fork-PR pattern ----------------------


def publish_report(
    report_path: Path,
    *,
    pr_number: int,
    head_sha: str | None,
    target: GitHubTarget,
    comment: CommentMode,
    status_context: str,
    env: Mapping[str, str],
    stdout: TextIO,
) -> int:
    """Post the comment and status for a report made by a ``comment: off`` run.

    Runs in a ``workflow_run`` job with a write token and no PR code. The
    report is untrusted data: the outcome is rebuilt from its counts and the
    comment re-rendered by evalbot; the PR's head commit must match the
    commit the triggering workflow ran on.
    """
    from evalbot.compare import decide_gate
    from evalbot.report import outcome_from_report

    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        outcome = outcome_from_report(report)
        policy = report.get("policy") or {}
        fail_on = parse_enum(
            FailOn, policy.get("fail_on", "hard_regression"), name="policy.fail_on"
        )
        on_fetch = parse_enum(
            OnFetchFailure,
            policy.get("on_fetch_failure", "neutral"),
            name="policy.on_fetch_failure",
        )
        key = parse_comment_key(policy.get("comment_key", "default"), name="policy.comment_key")
    except (OSError, ValueError, InputError) as exc:
        raise InputError(f"--report: {report_path}: {exc}") from None
    event = runtime.read_event(env)
    run = event.payload.get("workflow_run")
    if head_sha is None and isinstance(run, dict):
        head_sha = run.get("head_sha") if isinstance(run.get("head_sha"), str) else None
    if not head_sha:
        raise InputError("--head-sha: required outside a workflow_run event")
    client = make_github(target)
    verified = _verify_head(client, target, pr_number, head_sha)
    if verified is not None:
        raise InputError(verified)
    gate = decide_gate(outcome, fail_on=fail_on, on_fetch_failure=on_fetch)
    result = Result(outcome=outcome, gate=gate, report=report)
    run_url = run.get("html_url") if isinstance(run, dict) else None
    body = render_comment(outcome, gate, comment_key=key, reproduce="evalbot publish")
    runtime.write_summary(env.get("GITHUB_STEP_SUMMARY"), body)
    published = publish(
        client,
        target,
        pr_number=pr_number,
        head_sha=head_sha,
        comment_body=body,
        marker=marker(key),
        mode=comment,
        status=(
            status_state(result),
            status_description(outcome, gate.failed),
            status_context,
            run_url if isinstance(run_url, str) else None,
        ),
    )
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])
    print(f"evalbot: published {outcome.kind.value} for PR #{pr_number}", file=stdout)
    return EXIT_GATE_FAILED if gate.failed else EXIT_PASS


def _verify_head(client: Any, target: GitHubTarget, pr_number: int, head_sha: str) -> str | None:
    """None when PR ``pr_number``'s head is ``head_sha``, else why not (one line)."""
    import requests
    from github import GithubException

    try:
        pull = client.get_repo(target.repository).get_pull(pr_number)
        actual = pull.head.sha
    except (GithubException, requests.RequestException) as exc:
        return f"--pr-number: cannot read PR #{pr_number} ({getattr(exc, 'status', '')})"
    if actual != head_sha:
        return (
            f"--pr-number: PR #{pr_number}'s head is {actual[:12]}, not the commit the "
            f"workflow ran on ({head_sha[:12]}); refusing to publish"
        )
    return None
