"""``evalbot action``: the GitHub Action's one entry function (issue 4 §3).

settings (validated once, before any request) -> the same pipeline as
``evalbot compare`` -> report, job summary and outputs (always written) ->
comment and status (best effort: a GitHub refusal is a warning) -> exit code
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
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

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
    FetchFailed,
    NoBaseline,
    NothingCompared,
    Ok,
    OnFetchFailure,
    Outcome,
    Sensitivity,
    Verdict,
)
from evalbot.errors import EXIT_GATE_FAILED, EXIT_PASS, EXIT_USAGE, InputError
from evalbot.github import runtime
from evalbot.github.api import (
    BOT_LOGIN,
    DEFAULT_API_URL,
    CommentMode,
    GitHubTarget,
    Published,
    StatusState,
    make_github,
    publish,
)
from evalbot.output.markdown import code_span, escape_text
from evalbot.output.render import RunLinks, is_notable, pct, render_comment
from evalbot.output.report import dumps
from evalbot.pipeline import LiveConfig, Result, parse_live, run_live
from evalbot.text import comment_marker as marker

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


def status_description(outcome: Outcome, gate_failed: bool) -> str:
    """The one-line commit-status text (trimmed to 140 by the GitHub module)."""
    if isinstance(outcome, FetchFailed):
        return f"Regression detection did not run: {outcome.error}"
    if isinstance(outcome, NoBaseline):
        return "No baseline experiment found: regression detection did not run"
    if isinstance(outcome, NothingCompared):
        shared = len(outcome.comparison.scenarios)
        return (
            "Regression detection did not run: nothing compared "
            f"({shared} shared scenarios, none with trials on both sides)"
        )
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
    text = f"{', '.join(parts)} · {pct(agg.pr.rate)} vs {pct(agg.baseline.rate)}"
    if comparison.low_coverage:
        text += f" · only {comparison.compared}/{len(comparison.baseline.scenarios)} compared"
    return text


def status_state(result: Result) -> StatusState:
    """failure when the gate fails, error when detection did not run and that fails it."""
    if not result.gate.failed:
        return StatusState.SUCCESS
    if isinstance(result.outcome, FetchFailed | NothingCompared):
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
    elif isinstance(outcome, NothingCompared):
        lines.append(
            runtime.command(
                "warning",
                f"Regression detection did not run: {result.gate.reason}",
                title="evalbot",
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


@dataclass(frozen=True, slots=True)
class Reporting:
    """Where a run reports, known as soon as the event is read: enough to report an
    error even when the rest of the settings are invalid."""

    github: GitHubTarget | None
    pr_number: int | None
    head_sha: str | None
    status_context: str
    run_url: str | None
    output_path: str | None
    summary_path: str | None
    secrets: tuple[str, ...] = ()


_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


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


def reporting_from_env(env: Mapping[str, str]) -> Reporting:
    """Where to report when ``parse_settings`` failed: read leniently, never raises.

    An unreadable event or an invalid head SHA leaves no commit for the status
    (the summary and outputs are still written); an invalid ``status_context``
    falls back to ``evalbot``.
    """
    try:
        event: runtime.Event | None = runtime.read_event(env)
    except InputError:
        event = None
    head = event.head_sha if event is not None else None
    if head is not None and not _SHA_RE.fullmatch(head):
        head = None
    repository = env.get("GITHUB_REPOSITORY") or ""
    token = runtime.read_input(env, "github_token")
    try:
        usable = token is not None and parse_secret(token, name="github_token") == token
    except InputError:
        usable = False  # it cannot go into a header; its error would quote it
    github = None
    if usable and token and re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        github = GitHubTarget(
            token=token,
            repository=repository,
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
        )
    context = runtime.read_input(env, "status_context") or "evalbot"
    server, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
    secrets = tuple(
        value
        for value in (token, runtime.read_input(env, "langsmith_api_key"))
        if value is not None
    )
    return Reporting(
        github=github,
        pr_number=event.pr_number if event is not None else None,
        head_sha=head,
        status_context=context if len(context) <= 100 else "evalbot",
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if server and run_id else None,
        output_path=env.get("GITHUB_OUTPUT"),
        summary_path=env.get("GITHUB_STEP_SUMMARY"),
        secrets=secrets,
    )


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``***``.

    Secrets shorter than 3 characters are left alone: no real key or token is
    that short, and replacing them would garble ordinary text and make it
    longer (past the comment or status limits); from 3 up it never grows.
    """
    for secret in secrets:
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _write_safely(stdout: TextIO, what: str, write: Callable[[], None]) -> bool:
    """Run ``write``; a file that cannot be written is a warning, not the end of the run."""
    try:
        write()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        runtime.emit(
            stdout,
            [
                runtime.command(
                    "warning", f"evalbot could not write the {what}: {reason}", title="evalbot"
                )
            ],
        )
        return False
    return True


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
    # Everything published is redacted once more, whatever it came from: the
    # LangSmith module scrubs its own key from its messages, but not the GitHub
    # token (say, an experiment input set to it by mistake, quoted in a fetch error).
    secrets = reporting_of(settings).secrets
    key = settings.settings.comment_key
    common: dict[str, Any] = {
        "comment_key": key,
        "reproduce": _reproduce(settings),
        "template": settings.settings.template,
        "selection": result.selection,
        "links": RunLinks(
            repository_url=settings.repository_url,
            run_url=settings.run_url,
            head_sha=settings.event.head_sha,
            report_path=settings.report_name,
        ),
    }
    comment = _redact(render_comment(result.outcome, result.gate, **common), secrets)
    # The summary holds the full report: every row, every section unfolded.
    summary = _redact(render_comment(
        result.outcome, result.gate, **common, summary=True,
        max_chars=runtime.SUMMARY_LIMIT_BYTES,
        size=lambda text: len(text.encode("utf-8")),
    ), secrets)  # fmt: skip
    # Nothing lost: report, summary and outputs are written before GitHub is asked,
    # and one that cannot be written is a warning that loses none of the others.
    path = settings.report_path

    def write_report() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_redact(dumps(result.report), secrets), encoding="utf-8")

    wrote_report = _write_safely(stdout, f"report to {path} (report_path)", write_report)
    _write_safely(
        stdout,
        "job summary (GITHUB_STEP_SUMMARY)",
        lambda: runtime.write_summary(settings.summary_path, summary),
    )
    runtime.emit(stdout, [_redact(line, secrets) for line in workflow_annotations(result)])
    published = _publish(settings, result, comment, secrets)
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])
    counts = result.report["counts"]
    outputs = {
        "outcome": result.outcome.kind.value,
        "gate": "fail" if result.gate.failed else "pass",
        "hard_regressions": str(counts[Verdict.HARD_REGRESSION.value]),
        "soft_regressions": str(counts[Verdict.SOFT_REGRESSION.value]),
        "improvements": str(counts[Verdict.IMPROVEMENT.value]),
        "report_path": str(path) if wrote_report else "",
        "comment_url": published.comment_url or "",
    }
    _write_safely(
        stdout,
        "outputs (GITHUB_OUTPUT)",
        lambda: runtime.write_outputs(settings.output_path, outputs),
    )
    runtime.say(
        stdout,
        _redact(
            f"evalbot: {result.outcome.kind.value}; gate "
            f"{'failed' if result.gate.failed else 'passed'}: {result.gate.reason}",
            secrets,
        ),
    )
    return EXIT_GATE_FAILED if result.gate.failed else EXIT_PASS


def _publish(
    settings: ActionSettings, result: Result, comment: str, secrets: tuple[str, ...]
) -> Published:
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
        # comment_when: notable: a clean pass creates no comment, but an existing
        # one is still updated so it never shows a stale failure (issue 13 §12).
        create=settings.settings.comment_when is CommentWhen.ALWAYS
        or is_notable(result.outcome, result.gate),
        status=(
            status_state(result),
            _redact(status_description(result.outcome, result.gate.failed), secrets),
            settings.status_context,
            settings.run_url,
        ),
    )


ERROR_OUTPUTS = {
    "outcome": "error",
    "gate": "fail",
    "hard_regressions": "",
    "soft_regressions": "",
    "improvements": "",
    "report_path": "",
    "comment_url": "",
}
"""The outputs when evalbot could not run: no outcome, no counts, no report."""


def _report_failure(
    reporting: Reporting, *, stdout: TextIO, headline: str, detail: str, description: str
) -> None:
    """Job summary, outputs and an ``error`` status for a run that could not finish.

    Best effort by design: each part that fails is a warning, never an exception.
    """
    summary = (
        f"## evalbot could not run\n\n**{headline}:** {code_span(detail, 2000)}\n\n"
        f"The `{escape_text(reporting.status_context, 100)}` status is set to `error`; "
        "no comparison was made, so there is no report.\n"
    )
    _write_safely(
        stdout,
        "job summary (GITHUB_STEP_SUMMARY)",
        lambda: runtime.write_summary(reporting.summary_path, summary),
    )
    _write_safely(
        stdout,
        "outputs (GITHUB_OUTPUT)",
        lambda: runtime.write_outputs(reporting.output_path, ERROR_OUTPUTS),
    )
    if reporting.github is None or reporting.head_sha is None:
        return
    try:
        published = publish(
            make_github(reporting.github),
            reporting.github,
            pr_number=reporting.pr_number,
            head_sha=reporting.head_sha,
            comment_body=None,
            marker="",
            mode=CommentMode.OFF,
            status=(StatusState.ERROR, description, reporting.status_context, reporting.run_url),
        )
    except Exception as exc:
        message = f"evalbot could not set the status: {type(exc).__name__}"
        runtime.emit(stdout, [runtime.command("warning", message, title="evalbot")])
        return
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])


def report_input_error(
    reporting: Reporting, exc: InputError, *, stdout: TextIO, cli: bool = False
) -> int:
    """``::error`` naming the input, then summary, outputs and an ``error`` status; 2.

    ``cli``: keep option names (``--dataset``) instead of the action's input names.
    """
    detail = _redact(str(exc if cli else _named(exc)), reporting.secrets)
    runtime.emit(stdout, [runtime.command("error", f"Invalid input: {detail}", title="evalbot")])
    _report_failure(
        reporting,
        stdout=stdout,
        headline="Invalid input",
        detail=detail,
        description=f"Invalid input: {detail}",
    )
    return EXIT_USAGE


def report_internal_error(reporting: Reporting, *, stdout: TextIO) -> None:
    """Summary, outputs and an ``error`` status before a bug's traceback (exit 3)."""
    _report_failure(
        reporting,
        stdout=stdout,
        headline="Internal error",
        detail="evalbot hit a bug; the traceback is in the job log.",
        description="evalbot internal error: see the job log",
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


def endpoint_masks(env: Mapping[str, str]) -> list[str]:
    """``::add-mask::`` lines for the password in ``langsmith_endpoint``, if it has one.

    First thing the action prints, before the input is even validated: the
    runner then hides the password in every later log line, whatever prints it.
    (Messages, links and reports also redact the userinfo themselves.)
    """
    from urllib.parse import unquote

    endpoint = runtime.read_input(env, "langsmith_endpoint")
    if not endpoint or "@" not in endpoint:
        return []
    # Userinfo is what comes before the last "@" of the authority, "user:password".
    authority = endpoint.split("://", 1)[-1].split("/", 1)[0]
    userinfo = authority.rsplit("@", 1)[0] if "@" in authority else ""
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    secrets = {password, unquote(password)} - {""}
    return [runtime.command("add-mask", secret) for secret in sorted(secrets)]


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


# --- evalbot publish: the privileged phase of the fork-PR flow ---------------------------


@dataclass(frozen=True, slots=True)
class PublishSettings:
    """``evalbot publish``: what to read from LangSmith and where to report it.

    Nothing here comes from the pull request: the head commit comes from the
    trusted event (``workflow_run.head_sha``, or ``pull_request.head.sha`` of a
    ``pull_request_target`` event), the experiment is the one on ``dataset``
    whose metadata ``commit_key`` is that commit, read with the repository's key.
    """

    live: LiveConfig
    settings: Settings
    target: GitHubTarget
    head_sha: str
    head_label: str | None  # "owner:branch" of the PR head, from the event
    pr_number: int | None  # given explicitly (then verified), else found by commit
    when_missing: StatusState
    comment: CommentMode
    status_context: str
    run_url: str | None
    summary_path: str | None
    output_path: str | None
    # https://github.com/owner/repo, for commit links in the comment.
    repository_url: str | None = None


def event_head(env: Mapping[str, str], head_sha: str | None) -> tuple[str, str | None, str | None]:
    """(head SHA, "owner:branch" of the head, run URL) from the trusted event.

    ``workflow_run``: its ``head_sha`` (its ``pull_requests`` list is empty for
    PRs from forks, so the PR is found through the API); ``pull_request_target``:
    ``pull_request.head``. ``head_sha`` (``--head-sha``) overrides both.
    """
    event = runtime.read_event(env)
    payload = event.payload
    label = run_url = None
    run = payload.get("workflow_run")
    if isinstance(run, dict):
        repo = run.get("head_repository")
        owner = (repo.get("owner") or {}).get("login") if isinstance(repo, dict) else None
        branch = run.get("head_branch")
        if isinstance(owner, str) and isinstance(branch, str):
            label = f"{owner}:{branch}"
        run_url = run.get("html_url") if isinstance(run.get("html_url"), str) else None
        if head_sha is None and isinstance(run.get("head_sha"), str):
            head_sha = run["head_sha"]
    pull = payload.get("pull_request")
    if isinstance(pull, dict):
        head = pull.get("head") or {}
        if isinstance(head.get("label"), str):
            label = head["label"]
        if head_sha is None:
            head_sha = event.head_sha
    if not head_sha:
        raise InputError("--head-sha: required outside workflow_run and pull_request_target events")
    if not _SHA_RE.fullmatch(head_sha):
        raise InputError(f"--head-sha: must be 40 or 64 hex characters; got {head_sha[:80]!r}")
    return head_sha, label, run_url


def _missing_body(key: str, head_sha: str, state: StatusState) -> str:
    return (
        f"{marker(key)}\n## evalbot: no eval results for `{head_sha[:12]}` yet\n\n"
        "No LangSmith experiment ran for this commit. Evals for pull requests from forks "
        "run only after a maintainer approves them (see the repository's evalbot workflow); "
        f"until then the `evalbot` check is `{state.value}`.\n"
    )


def publish_live(settings: PublishSettings, *, stdout: TextIO, client: Any | None = None) -> int:
    """Find the PR of the trusted head commit, read its experiment from LangSmith,
    compare, then comment and set the status; returns the gate's exit code.

    No experiment for the head (evals never ran for a fork's commit): the status
    is ``when_missing`` (pending or failure, never success) and the exit code 0
    for pending, 1 for failure. Input errors set an ``error`` status and exit 2.
    """
    from evalbot.errors import ExperimentNotFound
    from evalbot.github.api import (
        find_pull_for_commit,
        github_errors,
        github_problem,
        pull_head,
    )

    target, head = settings.target, settings.head_sha
    reporting = Reporting(
        github=target,
        pr_number=settings.pr_number,
        head_sha=head,
        status_context=settings.status_context,
        run_url=settings.run_url,
        output_path=settings.output_path,
        summary_path=settings.summary_path,
        secrets=(target.token, settings.live.connection.api_key),
    )
    github = make_github(target)
    pr_number = settings.pr_number
    try:
        if pr_number is not None:
            actual = pull_head(github, target, pr_number)
            if actual != head:
                raise InputError(
                    f"--pr-number: PR #{pr_number}'s head is {actual[:12]}, not the commit "
                    f"the workflow ran on ({head[:12]}); refusing to publish"
                )
        else:
            pr_number = find_pull_for_commit(github, target, head, head_label=settings.head_label)
    except github_errors() as exc:
        where = f"PR #{pr_number}" if pr_number is not None else f"commit {head[:12]}"
        lookup = github_problem(
            "PR lookup", exc, target.token, where=where, repository=target.repository
        )
        runtime.emit(stdout, [runtime.command("warning", lookup, title="evalbot")])
        pr_number = None  # an unverified PR gets no comment; the commit still gets the status
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout, cli=True)
    if pr_number is None:
        print(f"evalbot: no open pull request has head {head[:12]}; status only", file=stdout)
    key = settings.settings.comment_key
    try:
        result = run_live(settings.live, settings.settings, client=client)
    except ExperimentNotFound:
        state = settings.when_missing
        body = _missing_body(key, head, state)
        _write_safely(
            stdout,
            "job summary (GITHUB_STEP_SUMMARY)",
            lambda: runtime.write_summary(settings.summary_path, body),
        )
        description = (
            f"No eval results for {head[:12]}: evals for this commit have not run "
            "(forks: after a maintainer approves)"
        )
        published = publish(
            github,
            target,
            pr_number=pr_number,
            head_sha=head,
            comment_body=body,
            marker=marker(key),
            mode=settings.comment,
            status=(state, description, settings.status_context, settings.run_url),
        )
        for problem in published.problems:
            runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])
        _write_safely(
            stdout,
            "outputs (GITHUB_OUTPUT)",
            lambda: runtime.write_outputs(
                settings.output_path,
                {**ERROR_OUTPUTS, "outcome": "missing", "comment_url": published.comment_url or ""},
            ),
        )
        print(f"evalbot: no experiment for {head[:12]}; status {state.value}", file=stdout)
        return EXIT_GATE_FAILED if state is StatusState.FAILURE else EXIT_PASS
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout, cli=True)
    common: dict[str, Any] = {
        "comment_key": key,
        "reproduce": "evalbot publish",
        "template": settings.settings.template,
        "selection": result.selection,
        # Commit links and the stale-experiment warning: the head is the trusted one.
        "links": RunLinks(
            repository_url=settings.repository_url, run_url=settings.run_url, head_sha=head
        ),
    }
    try:
        comment = _redact(render_comment(result.outcome, result.gate, **common), reporting.secrets)
        # The summary holds the full report: every row, every section unfolded.
        summary = _redact(render_comment(
            result.outcome, result.gate, **common, summary=True,
            max_chars=runtime.SUMMARY_LIMIT_BYTES,
            size=lambda text: len(text.encode("utf-8")),
        ), reporting.secrets)  # fmt: skip
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout, cli=True)
    _write_safely(
        stdout,
        "job summary (GITHUB_STEP_SUMMARY)",
        lambda: runtime.write_summary(settings.summary_path, summary),
    )
    runtime.emit(
        stdout, [_redact(line, reporting.secrets) for line in workflow_annotations(result)]
    )
    published = publish(
        github,
        target,
        pr_number=pr_number,
        head_sha=head,
        comment_body=comment,
        marker=marker(key),
        mode=settings.comment,
        # comment_when (config file): as in the Action, a clean pass creates no comment.
        create=settings.settings.comment_when is CommentWhen.ALWAYS
        or is_notable(result.outcome, result.gate),
        status=(
            status_state(result),
            _redact(status_description(result.outcome, result.gate.failed), reporting.secrets),
            settings.status_context,
            settings.run_url,
        ),
    )
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])
    counts = result.report["counts"]
    _write_safely(
        stdout,
        "outputs (GITHUB_OUTPUT)",
        lambda: runtime.write_outputs(
            settings.output_path,
            {
                "outcome": result.outcome.kind.value,
                "gate": "fail" if result.gate.failed else "pass",
                "hard_regressions": str(counts[Verdict.HARD_REGRESSION.value]),
                "soft_regressions": str(counts[Verdict.SOFT_REGRESSION.value]),
                "improvements": str(counts[Verdict.IMPROVEMENT.value]),
                "report_path": "",
                "comment_url": published.comment_url or "",
            },
        ),
    )
    where = f"PR #{pr_number}" if pr_number is not None else f"commit {head[:12]}"
    print(
        f"evalbot: published {result.outcome.kind.value} for {where}; gate "
        f"{'failed' if result.gate.failed else 'passed'}: {result.gate.reason}",
        file=stdout,
    )
    return EXIT_GATE_FAILED if result.gate.failed else EXIT_PASS
