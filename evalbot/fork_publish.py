"""``evalbot publish``: the privileged phase of the fork-PR flow, from a trusted head commit.

Finds the PR whose head is the commit the trusted event names, reads that commit's
experiment from LangSmith with the repository's key, then reports it through the one
publish flow (:mod:`evalbot.publish`). Nothing here comes from the pull request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TextIO

from evalbot.config import Settings
from evalbot.errors import EXIT_GATE_FAILED, EXIT_PASS, ExperimentNotFound, InputError
from evalbot.github import runtime
from evalbot.github.api import (
    CommentMode,
    GitHub,
    GitHubError,
    GitHubTarget,
    StatusState,
    StatusUpdate,
)
from evalbot.output.render import RunLinks
from evalbot.pipeline import run_live
from evalbot.publish import (
    ERROR_OUTPUTS,
    Delivery,
    Reporting,
    deliver,
    publish_result,
    report_input_error,
)
from evalbot.settings import LiveConfig
from evalbot.text import comment_marker as marker


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
    if not runtime.LOWER_SHA.fullmatch(head_sha):
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
    github = GitHub(target)
    pr_number = settings.pr_number
    try:
        if pr_number is not None:
            actual = github.pull_head(pr_number)
            if actual != head:
                raise InputError(
                    f"--pr-number: PR #{pr_number}'s head is {actual[:12]}, not the commit "
                    f"the workflow ran on ({head[:12]}); refusing to publish"
                )
        else:
            pr_number = github.find_pull_for_commit(head, head_label=settings.head_label)
    except GitHubError as exc:
        runtime.emit(stdout, [runtime.command("warning", str(exc), title="evalbot")])
        pr_number = None  # an unverified PR gets no comment; the commit still gets the status
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout)
    if pr_number is None:
        print(f"evalbot: no open pull request has head {head[:12]}; status only", file=stdout)
    found = replace(reporting, pr_number=pr_number)
    key = settings.settings.comment_key
    try:
        result = run_live(settings.live, settings.settings, client=client)
    except ExperimentNotFound:
        state = settings.when_missing
        body = _missing_body(key, head, state)
        description = (
            f"No eval results for {head[:12]}: evals for this commit have not run "
            "(forks: after a maintainer approves)"
        )
        missing = Delivery(
            summary=body,
            comment=body,
            marker=marker(key),
            mode=settings.comment,
            status=StatusUpdate(state, description, settings.status_context, settings.run_url),
            outputs=lambda _path, url: {**ERROR_OUTPUTS, "outcome": "missing", "comment_url": url},
        )
        deliver(missing, found, stdout=stdout, github=github)
        print(f"evalbot: no experiment for {head[:12]}; status {state.value}", file=stdout)
        return EXIT_GATE_FAILED if state is StatusState.FAILURE else EXIT_PASS
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout)
    try:
        return publish_result(
            result,
            found,
            settings=settings.settings,
            comment=settings.comment,
            reproduce="evalbot publish",
            # Commit links and the stale-experiment warning: the head is the trusted one.
            links=RunLinks(
                repository_url=settings.repository_url, run_url=settings.run_url, head_sha=head
            ),
            stdout=stdout,
            github=github,
            where=f"PR #{pr_number}" if pr_number is not None else f"commit {head[:12]}",
        )
    except InputError as exc:
        return report_input_error(reporting, exc, stdout=stdout)
