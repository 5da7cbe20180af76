"""The Action's settings: its ``INPUT_*`` variables and the runner's, through the one assembler.

The shared settings (which experiments, policy, statistics, over the config
file) go through :func:`evalbot.settings.assemble`, whose messages name the
action input (``experiment``, not ``--pr``) or the config key when the Action
has no such input. What only the Action has (the comment mode, the status, the
GitHub target, the event, the report path) is read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from evalbot.config import Settings, parse_enum, parse_secret
from evalbot.errors import InputError
from evalbot.github import runtime
from evalbot.github.api import BOT_LOGIN, DEFAULT_API_URL, CommentMode, GitHubTarget
from evalbot.settings import DEFAULT_ACTION_CONFIG, LiveConfig, Raw, action_name, assemble


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


def _list(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(item.strip() for item in value.replace("\n", ",").split(",") if item.strip())


def raw_inputs(env: Mapping[str, str], *, config: Path | None) -> Raw:
    """The settings the Action's inputs give, unchecked (``config``: the file to read, if any)."""

    def get(key: str) -> str | None:
        return runtime.read_input(env, action_name()(key))

    template = get("template")
    return Raw(
        langsmith_api_key=get("langsmith_api_key"),
        langsmith_endpoint=get("langsmith_endpoint"),
        pr=get("pr"),
        pr_metadata=get("pr_metadata"),
        dataset=get("dataset"),
        baseline=get("baseline"),
        baseline_prefix=get("baseline_prefix"),
        baseline_metadata=get("baseline_metadata"),
        pass_key=_list(get("pass_key")),
        pass_threshold=get("pass_threshold"),
        scenario_key=get("scenario_key"),
        category_key=get("category_key"),
        timeout=get("timeout"),
        retry_budget=get("retry_budget"),
        fetch_deadline=get("fetch_deadline"),
        config=config,
        sensitivity=get("sensitivity"),
        fail_on=get("fail_on"),
        on_fetch_failure=get("on_fetch_failure"),
        comment_key=get("comment_key"),
        comment_when=get("comment_when"),
        template=None if template is None else Path(template),
        history=get("history"),
        alpha=get("alpha"),
        correction=get("correction"),
        trend_threshold=get("trend_threshold"),
    )


def parse_action_settings(env: Mapping[str, str]) -> ActionSettings:
    """Validate every input and runner variable; InputError names the input."""

    def get(name: str) -> str | None:
        return runtime.read_input(env, name)

    workspace = Path(env.get("GITHUB_WORKSPACE") or ".")
    config_input = get("config")
    label = config_input or DEFAULT_ACTION_CONFIG
    # The config is data a pull request can change (.github/evalbot.yml, even a
    # symlink to /proc/self/environ): read only from inside the workspace.
    config_path = runtime.inside_workspace(
        workspace, label, name="config" if config_input else DEFAULT_ACTION_CONFIG
    )
    config = None if config_input is None and not config_path.is_file() else config_path
    assembled = assemble(
        raw_inputs(env, config=config),
        name=action_name(label),
        live=True,
        config_label=label,
        # The template is code a pull request can change: a file inside the workspace,
        # symlinks followed; render.py runs it sandboxed and keeps its includes beside it.
        path=lambda path, name: runtime.inside_workspace(workspace, path, name=name),
    )
    assert assembled.live is not None  # live=True
    settings = assembled.settings
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
        live=assembled.live,
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
