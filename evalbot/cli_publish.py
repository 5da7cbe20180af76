"""``evalbot publish`` (the fork-PR flow's trusted phase) and ``evalbot action`` (the Action).

Both report through the one publish flow (:mod:`evalbot.publish`); ``publish``
validates its options here, the Action its inputs in :mod:`evalbot.action_settings`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from evalbot.cli_common import FILE, WholeNumber, live_options, option, raw_from
from evalbot.errors import InputError


@click.command("action")
def action_command() -> int:
    """Run as the GitHub Action: settings from INPUT_* and the runner's environment."""
    from evalbot.action import main as action_main

    return action_main()


@click.command("publish")
@option(
    "--dataset",
    help="Dataset name or id the PR's experiment ran on (required).",
)
@option(
    "--commit-key",
    default="commit",
    show_default=True,
    help="Experiment metadata key that holds the commit the evals ran on.",
)
@option("--baseline", help="Baseline experiment: name or id.")
@option(
    "--baseline-prefix",
    help="Or: the newest complete experiment whose name starts with this.",
)
@option(
    "--baseline-metadata",
    help='Or: the newest complete experiment with this metadata (default {"branch": "main"}).',
)
@live_options
@option(
    "--config",
    type=FILE,
    help="A YAML config file from the base branch (never from the pull request).",
)
@option("--fail-on", help="hard_regression (default), soft_regression or never.")
@option("--comment-key", help="Marker key of the comment.")
@option(
    "--when-missing",
    default="pending",
    show_default=True,
    help="Status when no experiment ran for the head commit: pending or failure.",
)
@option(
    "--pr-number",
    type=WholeNumber(),
    help="The pull request (default: the open PR whose head is the commit); its head "
    "must be the commit.",
)
@option(
    "--head-sha",
    help="The commit (default: workflow_run.head_sha or pull_request.head.sha of the event).",
)
@option(
    "--github-token",
    envvar="GITHUB_TOKEN",
    help="Token with pull-requests: write and statuses: write (never printed).",
)
@option("--repository", envvar="GITHUB_REPOSITORY", show_envvar=True, help="owner/name.")
@option(
    "--api-url",
    envvar="GITHUB_API_URL",
    help="GitHub API URL (GitHub Enterprise Server).",
)
@option(
    "--comment", "comment_mode", default="update", show_default=True, help="update, new or off."
)
@option("--status-context", default="evalbot", show_default=True, help="Name of the commit status.")
@option(
    "--bot-login",
    default="github-actions[bot]",
    show_default=True,
    help="Login of the account that posts the comment.",
)
def publish_command(
    dataset: str | None,
    commit_key: str,
    baseline: str | None,
    baseline_prefix: str | None,
    baseline_metadata: str | None,
    config: Path | None,
    fail_on: str | None,
    comment_key: str | None,
    when_missing: str,
    pr_number: int | None,
    head_sha: str | None,
    github_token: str | None,
    repository: str | None,
    api_url: str | None,
    comment_mode: str,
    status_context: str,
    bot_login: str,
    **live: Any,
) -> int:
    """Comment and set the status for a PR from a fork, trusting nothing from the fork.

    Run it with a write token where no PR code runs (a workflow_run or
    pull_request_target job). The commit comes from the event; the PR is the
    open one whose head is that commit; the experiment is read from LangSmith
    (the one on --dataset whose metadata --commit-key is the commit). No
    experiment: the status is --when-missing, never success.
    """
    import os

    from evalbot.config import parse_enum, parse_secret
    from evalbot.fork_publish import PublishSettings, event_head, publish_live
    from evalbot.github.api import DEFAULT_API_URL, CommentMode, GitHubTarget, StatusState
    from evalbot.publish import Reporting, report_input_error
    from evalbot.settings import assemble, cli_name

    if not github_token:
        raise InputError("--github-token: required (or set GITHUB_TOKEN)")
    parse_secret(github_token, name="--github-token")
    if not repository or "/" not in repository:
        raise InputError("--repository: required as owner/name (or set GITHUB_REPOSITORY)")
    if pr_number is not None and pr_number < 1:
        raise InputError("--pr-number: must be a positive integer")
    if not dataset:
        raise InputError("--dataset: required (the dataset the PR's evals ran on)")
    if not commit_key.strip():
        raise InputError("--commit-key: must not be empty")
    missing = parse_enum(StatusState, when_missing, name="--when-missing")
    if missing not in (StatusState.PENDING, StatusState.FAILURE):
        raise InputError(f"--when-missing: must be pending or failure; got {when_missing!r}")
    mode = parse_enum(CommentMode, comment_mode, name="--comment")
    if not status_context or len(status_context) > 100:
        raise InputError("--status-context: must be 1 to 100 characters")
    import json  # here, not at the top: `evalbot --help` never needs it

    head, label, run_url = event_head(os.environ, head_sha)
    target = GitHubTarget(
        token=github_token,
        repository=repository,
        api_url=api_url or DEFAULT_API_URL,
        bot_login=bot_login,
    )
    try:
        raw = raw_from(
            live,
            pr_metadata=json.dumps({commit_key: head}),
            dataset=dataset,
            baseline=baseline,
            baseline_prefix=baseline_prefix,
            baseline_metadata=baseline_metadata,
            config=config,
            fail_on=fail_on,
            comment_key=comment_key,
        )
        assembled = assemble(raw, name=cli_name, live=True)
        assert assembled.live is not None  # live=True
    except InputError as exc:
        # The commit is known: the check still reports (status error naming the option).
        reporting = Reporting(
            github=target,
            pr_number=pr_number,
            head_sha=head,
            status_context=status_context,
            run_url=run_url,
            output_path=os.environ.get("GITHUB_OUTPUT"),
            summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
            secrets=(github_token, live.get("langsmith_api_key") or ""),
        )
        return report_input_error(reporting, exc, stdout=sys.stdout)
    return publish_live(
        PublishSettings(
            live=assembled.live,
            settings=assembled.settings,
            target=target,
            head_sha=head,
            head_label=label,
            pr_number=pr_number,
            when_missing=missing,
            comment=mode,
            status_context=status_context,
            run_url=run_url,
            summary_path=os.environ.get("GITHUB_STEP_SUMMARY"),
            output_path=os.environ.get("GITHUB_OUTPUT"),
            repository_url=f"{server}/{repository}"
            if (server := os.environ.get("GITHUB_SERVER_URL"))
            else None,
        ),
        stdout=sys.stdout,
    )
