"""GitHub's API: the only module that talks to GitHub (brief: rule 2).

:class:`GitHub` posts the sticky PR comment and the commit status through
PyGithub and turns every GitHub refusal into a :class:`PublishProblem` — a
one-line warning the Action prints while still writing the job summary,
outputs and report (a fork PR's read-only token answers 403; that must not
lose the results). A lookup the caller needs (the PR of a commit) raises
:class:`GitHubError` instead. No PyGithub object or exception leaves the
package: the bounded client is in ``client.py``, the comment search in
``comments.py``, the explanations in ``problems.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from evalbot.github.client import RETRY_BUDGET_S, make_github
from evalbot.github.comments import COMMENT_PAGE_LIMIT, create_comment, find_comment
from evalbot.github.problems import GitHubError, ambiguous, explain, github_errors
from evalbot.github.values import (
    BOT_LOGIN,
    COMMENT_LIMIT,
    DEFAULT_API_URL,
    STATUS_DESCRIPTION_LIMIT,
    CommentMode,
    GitHubTarget,
    Published,
    PublishProblem,
    StatusState,
    StatusUpdate,
    trim_description,
)

# The values callers build and read, and GitHub's limits, re-exported: this module is the
# package's face.
__all__ = [
    "BOT_LOGIN",
    "COMMENT_LIMIT",
    "COMMENT_PAGE_LIMIT",
    "DEFAULT_API_URL",
    "RETRY_BUDGET_S",
    "STATUS_DESCRIPTION_LIMIT",
    "CommentMode",
    "GitHub",
    "GitHubError",
    "GitHubTarget",
    "PublishProblem",
    "Published",
    "StatusState",
    "StatusUpdate",
    "trim_description",
]

PR_SCAN_LIMIT = 100
"""Open PRs examined when looking for the PR of a commit (a bounded listing)."""


class GitHub:
    """One repository on GitHub, reached through a bounded PyGithub client."""

    def __init__(self, target: GitHubTarget, *, retry: Any = "default") -> None:
        """``retry``: the bounded policy by default; ``None`` for no retries (tests)."""
        self.target = target
        self._client = make_github(target, retry=retry)

    def publish(
        self,
        *,
        pr_number: int | None,
        head_sha: str | None,
        comment_body: str | None,
        marker: str,
        mode: CommentMode,
        status: StatusUpdate | None,
        create: bool = True,
    ) -> Published:
        """Post or update the comment and set the status; never raises for GitHub errors.

        With ``create`` False an existing comment is updated but none is created
        (``comment_when: notable`` on a clean pass).
        """
        return _publish(
            self._client,
            self.target,
            pr_number=pr_number,
            head_sha=head_sha,
            comment_body=comment_body,
            marker=marker,
            mode=mode,
            status=status,
            create=create,
        )

    def find_pull_for_commit(self, head_sha: str, *, head_label: str | None = None) -> int | None:
        """The open PR whose head commit is ``head_sha``, or None; GitHubError if GitHub refuses."""
        try:
            return _find_pull_for_commit(self._client, self.target, head_sha, head_label=head_label)
        except github_errors() as exc:
            error = self._lookup_error(exc, where=f"commit {head_sha[:12]}")
        raise error  # outside the handler: PyGithub's exception is not its __context__

    def pull_head(self, pr_number: int) -> str:
        """The head commit of PR ``pr_number``; GitHubError if GitHub refuses."""
        try:
            return str(self._client.get_repo(self.target.repository).get_pull(pr_number).head.sha)
        except github_errors() as exc:
            error = self._lookup_error(exc, where=f"PR #{pr_number}")
        raise error

    def _lookup_error(self, exc: Exception, *, where: str) -> GitHubError:
        target = self.target
        return GitHubError(
            explain("PR lookup", exc, target.token, where=where, repository=target.repository)
        )


T = TypeVar("T")


def _attempt(
    what: str,
    token: str,
    call: Callable[[], T],
    problems: list[PublishProblem],
    *,
    where: str = "",
    repository: str = "",
) -> T | None:
    try:
        return call()
    except github_errors() as exc:
        problems.append(explain(what, exc, token, where=where, repository=repository))
        return None


def _publish(
    client: Any,
    target: GitHubTarget,
    *,
    pr_number: int | None,
    head_sha: str | None,
    comment_body: str | None,
    marker: str,
    mode: CommentMode,
    status: StatusUpdate | None,
    create: bool = True,
) -> Published:
    problems: list[PublishProblem] = []
    comment_url = comment_action = None
    if comment_body is not None and pr_number is not None and mode is not CommentMode.OFF:
        if len(comment_body) > COMMENT_LIMIT:
            raise ValueError("comment body over GitHub's limit: render_comment must cap it")

        def post_comment() -> tuple[str, str]:
            # The client is lazy: these two lines make no request.
            issue = client.get_repo(target.repository).get_issue(pr_number)
            existing = (
                find_comment(issue, marker, target.bot_login)
                if mode is CommentMode.UPDATE
                else None
            )
            if existing is not None:
                existing.edit(comment_body)
                return str(existing.html_url), "updated"
            if not create:
                return "", "skipped"
            created, action = create_comment(
                issue, comment_body, marker=marker, bot_login=target.bot_login, mode=mode
            )
            return str(created.html_url), action

        posted = _attempt(
            "comment",
            target.token,
            post_comment,
            problems,
            where=f"PR #{pr_number}",
            repository=target.repository,
        )
        if posted is not None:
            comment_url, comment_action = posted[0] or None, posted[1]
    status_set = False
    if status is not None and head_sha:
        update = status

        def post_status() -> bool:
            body: dict[str, Any] = {
                "state": update.state.value,
                "description": update.description,  # at most 140: StatusUpdate trims it
                "context": update.context,
            }
            if update.target_url:
                body["target_url"] = update.target_url
            url = f"/repos/{target.repository}/statuses/{head_sha}"
            try:
                client.requester.requestJsonAndCheck("POST", url, input=body)
            except github_errors() as exc:
                # Setting the same status twice is harmless (the newest per context
                # wins), so one more try after a 5xx or a lost connection.
                if not ambiguous(exc):
                    raise
                client.requester.requestJsonAndCheck("POST", url, input=body)
            return True

        status_set = bool(
            _attempt(
                "status",
                target.token,
                post_status,
                problems,
                where=f"commit {head_sha[:12]}",
                repository=target.repository,
            )
        )
    return Published(
        comment_url=comment_url,
        comment_action=comment_action,
        status_set=status_set,
        problems=tuple(problems),
    )


def _find_pull_for_commit(
    client: Any, target: GitHubTarget, head_sha: str, *, head_label: str | None = None
) -> int | None:
    """The open PR whose head commit is ``head_sha``, or None.

    ``GET /repos/{repo}/commits/{sha}/pulls`` first; GitHub does not always list
    PRs from forks there, so then the open PRs with head ``head_label``
    ("owner:branch", from the trusted ``workflow_run`` payload), then the newest
    :data:`PR_SCAN_LIMIT` open PRs. Only a PR whose head *is* ``head_sha``
    counts. GitHub errors propagate (:meth:`GitHub.find_pull_for_commit` translates them).
    """
    repo = client.get_repo(target.repository)

    def first(pulls: Any) -> int | None:
        for index, pull in enumerate(pulls):
            if index >= PR_SCAN_LIMIT:
                return None
            if pull.state == "open" and pull.head.sha == head_sha:
                return int(pull.number)
        return None

    found = first(repo.get_commit(head_sha).get_pulls())
    if found is None and head_label:
        found = first(repo.get_pulls(state="open", head=head_label))
    if found is None:
        found = first(repo.get_pulls(state="open", sort="updated", direction="desc"))
    return found
