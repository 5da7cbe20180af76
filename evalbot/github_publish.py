"""GitHub: the only module that talks to GitHub (brief: rule 2).

It posts the sticky PR comment and the commit status through PyGithub and
turns every GitHub refusal into a :class:`PublishProblem` — a one-line
warning the Action prints while still writing the job summary, outputs and
report (a fork PR's read-only token answers 403; that must not lose the
results).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

# GitHub's limits, enforced here and tested.
STATUS_DESCRIPTION_LIMIT = 140  # REST "Create a commit status": description is truncated past 140
COMMENT_LIMIT = 65_536  # issue comment bodies over this are rejected with 422
DEFAULT_API_URL = "https://api.github.com"
PERMISSIONS_HELP = "https://github.com/evalbot/evalbot#permissions"
BOT_LOGIN = "github-actions[bot]"


class CommentMode(enum.StrEnum):
    UPDATE = "update"
    NEW = "new"
    OFF = "off"


class StatusState(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class GitHubTarget:
    """Where to publish: repository, PR, commit, and how to authenticate."""

    token: str = field(repr=False)
    repository: str
    api_url: str = DEFAULT_API_URL
    bot_login: str = BOT_LOGIN


@dataclass(frozen=True, slots=True)
class PublishProblem:
    """GitHub refused something; the run goes on and reports it as a warning."""

    what: str
    message: str


@dataclass(frozen=True, slots=True)
class Published:
    """What happened on GitHub."""

    comment_url: str | None = None
    comment_action: str | None = None  # "created", "updated", "skipped" or None
    status_set: bool = False
    problems: tuple[PublishProblem, ...] = ()


def make_github(target: GitHubTarget, *, retry: Any = "default") -> Any:
    """A PyGithub client for ``target`` (GHES works through ``api_url``).

    No pause between requests: evalbot makes a handful of calls per run, far
    below the secondary rate limits the pauses exist for.
    """
    from github import Auth, Github

    kwargs: dict[str, Any] = {}
    if retry != "default":
        kwargs["retry"] = retry
    return Github(
        auth=Auth.Token(target.token),
        base_url=target.api_url.rstrip("/"),
        per_page=100,
        timeout=30,
        seconds_between_requests=None,
        seconds_between_writes=None,
        # Objects are built without a GET until an attribute needs one.
        lazy=True,
        **kwargs,
    )


T = TypeVar("T")


def _explain(what: str, exc: Exception, token: str) -> PublishProblem:
    from github import GithubException

    status = getattr(exc, "status", None)
    detail = ""
    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        detail = str(data.get("message") or "")
    else:
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if token:
        detail = detail.replace(token, "***")
    if status == 403 or (status == 404 and what == "comment"):
        permission = "pull-requests: write" if what == "comment" else "statuses: write"
        message = (
            f"GitHub refused the {what} ({status} {detail or 'Forbidden'}): the token lacks "
            f"`{permission}`, or this is a pull request from a fork, whose token is read-only. "
            f"The job summary and report are still written; see {PERMISSIONS_HELP}"
        )
    else:
        message = f"GitHub refused the {what} ({status or 'no response'}: {detail[:200]})"
    return PublishProblem(what=what, message=message)


def _attempt(
    what: str, token: str, call: Callable[[], T], problems: list[PublishProblem]
) -> T | None:
    import requests
    from github import GithubException

    try:
        return call()
    except (GithubException, requests.RequestException) as exc:
        problems.append(_explain(what, exc, token))
        return None


def find_comment(issue: Any, marker: str, bot_login: str) -> Any | None:
    """The newest comment by ``bot_login`` whose first line is ``marker``.

    Walks every page (100 per page): a busy PR can have hundreds of comments.
    Someone else's comment quoting the marker is never edited.
    """
    found = None
    for comment in issue.get_comments():
        user = getattr(comment, "user", None)
        if user is None or user.login != bot_login:
            continue
        if (comment.body or "").split("\n", 1)[0].strip() == marker:
            found = comment
    return found


def publish(
    client: Any,
    target: GitHubTarget,
    *,
    pr_number: int | None,
    head_sha: str | None,
    comment_body: str | None,
    marker: str,
    mode: CommentMode,
    status: tuple[StatusState, str, str, str | None] | None,
    create: bool = True,
) -> Published:
    """Post or update the comment and set the status; never raises for GitHub errors.

    With ``create`` False an existing comment is updated but none is created
    (``comment_when: notable`` on a clean pass).

    ``status`` is (state, description, context, target_url); the description
    is trimmed to GitHub's 140 characters here.
    """
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
            created = issue.create_comment(comment_body)
            return str(created.html_url), "created"

        posted = _attempt("comment", target.token, post_comment, problems)
        if posted is not None:
            comment_url, comment_action = posted[0] or None, posted[1]
    status_set = False
    if status is not None and head_sha:
        state, description, context, target_url = status

        def post_status() -> bool:
            body: dict[str, Any] = {
                "state": state.value,
                "description": trim_description(description),
                "context": context,
            }
            if target_url:
                body["target_url"] = target_url
            client.requester.requestJsonAndCheck(
                "POST", f"/repos/{target.repository}/statuses/{head_sha}", input=body
            )
            return True

        status_set = bool(_attempt("status", target.token, post_status, problems))
    return Published(
        comment_url=comment_url,
        comment_action=comment_action,
        status_set=status_set,
        problems=tuple(problems),
    )


def trim_description(text: str) -> str:
    """A status description of at most 140 characters (GitHub's limit)."""
    text = " ".join(text.split())
    if len(text) <= STATUS_DESCRIPTION_LIMIT:
        return text
    return text[: STATUS_DESCRIPTION_LIMIT - 1].rstrip() + "…"
