"""GitHub: the only module that talks to GitHub (brief: rule 2).

It posts the sticky PR comment and the commit status through PyGithub and
turns every GitHub refusal into a :class:`PublishProblem` — a one-line
warning the Action prints while still writing the job summary, outputs and
report (a fork PR's read-only token answers 403; that must not lose the
results).

Every call is bounded (:class:`BoundedRetry`): PyGithub's default
``GithubRetry`` sleeps until ``x-ratelimit-reset`` on a primary rate limit (up
to an hour) and ``Retry-After`` on a secondary one, ten times over, and it
retries POSTs — a 502 after GitHub created a comment made it post the comment
again. Here rate limits are reported at once, reads are retried within a
small budget, and a comment create is never retried blindly.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

from urllib3.util.retry import Retry

from evalbot.text import starts_with_marker

# GitHub's limits, enforced here and tested.
STATUS_DESCRIPTION_LIMIT = 140  # REST "Create a commit status": description is truncated past 140
COMMENT_LIMIT = 65_536  # issue comment bodies over this are rejected with 422
DEFAULT_API_URL = "https://api.github.com"
PERMISSIONS_HELP = "https://github.com/evalbot/evalbot#permissions"
BOT_LOGIN = "github-actions[bot]"

# How long evalbot may spend on GitHub, documented in the README ("Failure handling").
RETRY_BUDGET_S = 10.0
"""Seconds of retry back-off, in total, for one client (one run)."""
REQUEST_TIMEOUT_S = 10
"""Seconds a request may wait to connect or between bytes of the answer."""
RETRY_STATUSES = frozenset({500, 502, 503, 504})
RETRIED_METHODS = frozenset({"GET", "HEAD", "PATCH"})
"""Idempotent requests only: editing a comment to the same body twice is harmless;
creating a comment or a status (POST) is not retried by the HTTP layer."""
PR_SCAN_LIMIT = 100
"""Open PRs examined when looking for the PR of a commit (a bounded listing)."""
PER_PAGE = 100  # GitHub's largest page for list endpoints
COMMENT_PAGE_LIMIT = 50
"""Pages of PR comments read when looking for evalbot's (5,000 comments). Pages are
asked for by number, not by following ``Link: rel="next"``: a server (or proxy)
whose next link points back at the same page would otherwise be paged forever."""


class CommentListingTooLong(Exception):
    """The PR's comments did not end within :data:`COMMENT_PAGE_LIMIT` pages."""


class CommentMode(enum.StrEnum):
    UPDATE = "update"
    NEW = "new"
    OFF = "off"


class StatusState(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    PENDING = "pending"


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


class _Deadline:
    """A budget of seconds shared by every copy of one :class:`BoundedRetry`."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


class BoundedRetry(Retry):
    """urllib3's Retry, bounded for GitHub.

    * Only :data:`RETRIED_METHODS` are retried on :data:`RETRY_STATUSES`,
      timeouts and dropped connections (a connection that was refused never
      carried the request, so urllib3 retries it for any method).
    * Rate limits (403 and 429) are never retried: a primary limit resets up to
      an hour later and GitHub asks for at least a minute on a secondary one,
      far past any budget an Action step can spend. The caller reports them.
    * All back-off sleeps, ``Retry-After`` included, come out of one budget of
      ``budget_s`` seconds from the client's creation; once it is spent no
      retry starts (so a GitHub that never answers costs one
      :data:`REQUEST_TIMEOUT_S` per call).
    * ``raise_on_status=False``: when retries end, PyGithub sees GitHub's last
      answer and raises its usual exception.
    """

    def __init__(self, *, budget_s: float = RETRY_BUDGET_S, **kwargs: Any) -> None:
        deadline = kwargs.pop("deadline", None)
        self.deadline: _Deadline = deadline if deadline is not None else _Deadline(budget_s)
        self.budget_s = budget_s
        kwargs.setdefault("total", 3)
        # A refused connection is tried once more at once: an unreachable API stays
        # unreachable for longer than a step should wait.
        kwargs.setdefault("connect", 1)
        kwargs.setdefault("backoff_factor", 0.5)  # 0, 1, 2 s (urllib3 2: no sleep before retry 1)
        kwargs.setdefault("backoff_max", 4)
        kwargs.setdefault("status_forcelist", RETRY_STATUSES)
        kwargs.setdefault("allowed_methods", RETRIED_METHODS)
        kwargs.setdefault("raise_on_status", False)
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> Self:
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("budget_s", self.budget_s)
        return super().new(**kw)

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        # Once the budget is spent no retry starts, whatever the error: a GitHub that
        # times out on every request costs one timeout per call, not four.
        if self.deadline.left() <= 0:
            from urllib3.exceptions import MaxRetryError

            url = kwargs.get("url") or (args[1] if len(args) > 1 else None)
            pool: Any = kwargs.get("_pool")  # urllib3 passes its pool; None in unit tests
            raise MaxRetryError(pool, url or "", kwargs.get("error"))
        return super().increment(*args, **kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code in (403, 429) or self.deadline.left() <= 0:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def parse_retry_after(self, retry_after: str) -> float:
        # urllib3 raises InvalidHeader for a negative or garbled value ("soon",
        # "-1"), which turned a retryable 5xx into an error: ignored, the backoff applies.
        from urllib3.exceptions import InvalidHeader

        try:
            return float(super().parse_retry_after(retry_after))
        except InvalidHeader:
            return 0.0

    def sleep(self, response: Any = None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:  # as urllib3: none, 0 or an ignored value means the backoff
            wait = self.get_backoff_time()
        time.sleep(min(wait, self.deadline.left()))


def make_github(target: GitHubTarget, *, retry: Any = "default") -> Any:
    """A PyGithub client for ``target`` (GHES works through ``api_url``).

    ``retry``: a :class:`BoundedRetry` by default (``None``: no retries at all).
    No pause between requests: evalbot makes a handful of calls per run, far
    below the secondary rate limits the pauses exist for.
    """
    from github import Auth, Github

    return Github(
        auth=Auth.Token(target.token),
        base_url=target.api_url.rstrip("/"),
        per_page=PER_PAGE,
        timeout=REQUEST_TIMEOUT_S,
        retry=BoundedRetry() if retry == "default" else retry,
        seconds_between_requests=None,
        seconds_between_writes=None,
        # Objects are built without a GET until an attribute needs one.
        lazy=True,
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """GitHub's answer was a rate limit: which one and when it lifts."""

    kind: str  # "primary" or "secondary"
    reset: datetime | None  # when GitHub says requests may resume
    retry_after: int | None  # seconds, from Retry-After

    def describe(self) -> str:
        """E.g. "GitHub's secondary rate limit (Retry-After 120 s, until 14:52:00 UTC)"."""
        parts = []
        if self.retry_after is not None:
            parts.append(f"Retry-After {self.retry_after} s")
        if self.reset is not None:
            parts.append(f"{'until' if parts else 'resets at'} {self.reset:%H:%M:%S} UTC")
        return f"GitHub's {self.kind} rate limit" + (f" ({', '.join(parts)})" if parts else "")


def rate_limit_of(exc: Exception, *, now: datetime | None = None) -> RateLimit | None:
    """The rate limit a GitHub error reports, or None.

    GitHub's docs ("Rate limits for the REST API"): a primary limit is 403 or
    429 with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset`` (epoch
    seconds); a secondary limit is 403 or 429 with ``Retry-After`` or a
    "secondary rate limit" message.
    """
    status = getattr(exc, "status", None)
    if status not in (403, 429):
        return None
    raw = getattr(exc, "headers", None)
    headers = {str(k).lower(): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    data = getattr(exc, "data", None)
    message = str(data.get("message") or "").lower() if isinstance(data, dict) else ""
    now = now or datetime.now(UTC)
    reset = _moment(_whole(headers.get("x-ratelimit-reset")))
    retry_after = _whole(headers.get("retry-after"))
    if headers.get("x-ratelimit-remaining") == "0" or message.startswith("api rate limit exceeded"):
        return RateLimit("primary", reset, retry_after)
    if retry_after is not None or "secondary rate limit" in message or status == 429:
        if retry_after is not None:
            reset = _moment(now.timestamp() + retry_after)
        return RateLimit("secondary", reset, retry_after)
    return None


def _whole(text: str | None) -> int | None:
    """A header's whole number of seconds, or None: ASCII digits only ("²" is a
    digit to str.isdigit but not to int), at most 12 of them."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


def _moment(epoch: float | None) -> datetime | None:
    """An epoch time as a UTC datetime, or None when the platform cannot show it
    (a proxy's absurd header must not turn a refusal into an internal error)."""
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _detail(exc: Exception, token: str) -> str:
    from github import GithubException

    if isinstance(exc, GithubException):
        data = exc.data if isinstance(exc.data, dict) else {}
        detail = str(data.get("message") or "")
    else:
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return detail.replace(token, "***") if token else detail


def _explain(
    what: str, exc: Exception, token: str, *, where: str = "", repository: str = ""
) -> PublishProblem:
    """One line for the user: rate limit, not found, permissions, or GitHub's answer."""
    status = getattr(exc, "status", None)
    detail = _detail(exc, token)
    limit = rate_limit_of(exc)
    if isinstance(exc, CommentListingTooLong):
        message = f"evalbot skipped the {what} on {where or 'the PR'}: {exc}"
    elif limit is not None:
        message = (
            f"{limit.describe()} refused the {what}; evalbot does not wait for it (at most "
            f"{RETRY_BUDGET_S:g} s of retries). The job summary, outputs and report are "
            f"still written"
        )
    elif status == 404:
        # GitHub answers 404 for a PR or commit that does not exist — and for a
        # repository the token cannot see — never for a missing permission (403).
        message = (
            f"GitHub answered 404 for the {what}: {where or 'the target'} was not found"
            f"{' in ' + repository if repository else ''} (or the token cannot see the "
            f"repository)"
        )
    elif status == 403:
        permission = "pull-requests: write" if what == "comment" else "statuses: write"
        message = (
            f"GitHub refused the {what} ({status} {detail or 'Forbidden'}): the token lacks "
            f"`{permission}`, or this is a pull request from a fork, whose token is read-only. "
            f"The job summary and report are still written; see {PERMISSIONS_HELP}"
        )
    else:
        message = f"GitHub refused the {what} ({status or 'no response'}: {detail[:300]})"
    return PublishProblem(what=what, message=message)


def _github_errors() -> tuple[type[Exception], ...]:
    import requests
    from github import GithubException

    return (GithubException, requests.RequestException, CommentListingTooLong)


def _ambiguous(exc: Exception) -> bool:
    """Did the write perhaps happen? 5xx and lost connections: maybe; 4xx: no."""
    status = getattr(exc, "status", None)
    return status is None or status >= 500


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
    except _github_errors() as exc:
        problems.append(_explain(what, exc, token, where=where, repository=repository))
        return None


def find_comment(issue: Any, marker: str, bot_login: str) -> Any | None:
    """The newest comment by ``bot_login`` whose first line is ``marker``.

    Walks every page (100 per page): a busy PR can have hundreds of comments.
    Someone else's comment quoting the marker is never edited.
    """
    found = None
    for comment in _comments(issue):
        user = getattr(comment, "user", None)
        if user is None or user.login != bot_login:
            continue
        if starts_with_marker(comment.body or "", marker):
            found = comment
    return found


def _create_comment(
    issue: Any, body: str, *, marker: str, bot_login: str, mode: CommentMode, attempts: int = 2
) -> tuple[Any, str]:
    """Create the comment without ever posting it twice.

    After a failed or ambiguous create (5xx, timeout, dropped connection),
    GitHub may have created it anyway (a proxy's 502 after the write): list
    the comments again and adopt ours before creating another. ``new`` mode
    adopts only a comment with exactly this body.
    """
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return issue.create_comment(body), "created"
        except _github_errors() as exc:
            if not _ambiguous(exc) or rate_limit_of(exc) is not None:
                raise
            last = exc
        adopted = _adopt(issue, body, marker=marker, bot_login=bot_login, mode=mode)
        if adopted is not None:
            return adopted
    assert last is not None
    raise last


def _adopt(
    issue: Any, body: str, *, marker: str, bot_login: str, mode: CommentMode
) -> tuple[Any, str] | None:
    if mode is CommentMode.NEW:
        for comment in _bot_comments(issue, bot_login):
            if (comment.body or "") == body:
                return comment, "created"
        return None
    found = find_comment(issue, marker, bot_login)
    if found is None:
        return None
    if (found.body or "") != body:  # a concurrent run's comment: ours is newer
        found.edit(body)
        return found, "updated"
    return found, "created"


def _comments(issue: Any) -> Iterator[Any]:
    """Every comment on the PR, page by page; CommentListingTooLong past the limit.

    A page shorter than :data:`PER_PAGE` is the last (GitHub's pages are full
    until the end), so a listing costs at most :data:`COMMENT_PAGE_LIMIT` requests.
    """
    listing = issue.get_comments()
    for page in range(COMMENT_PAGE_LIMIT):
        items = listing.get_page(page)
        yield from items
        if len(items) < PER_PAGE:
            return
    raise CommentListingTooLong(
        f"the PR's comments did not end within {COMMENT_PAGE_LIMIT} pages of {PER_PAGE}; "
        "evalbot did not look further for its comment, and posted none rather than a duplicate"
    )


def _bot_comments(issue: Any, bot_login: str) -> Iterator[Any]:
    for comment in _comments(issue):
        user = getattr(comment, "user", None)
        if user is not None and user.login == bot_login:
            yield comment


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
            created, action = _create_comment(
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
        state, description, context, target_url = status

        def post_status() -> bool:
            body: dict[str, Any] = {
                "state": state.value,
                "description": trim_description(description),
                "context": context,
            }
            if target_url:
                body["target_url"] = target_url
            url = f"/repos/{target.repository}/statuses/{head_sha}"
            try:
                client.requester.requestJsonAndCheck("POST", url, input=body)
            except _github_errors() as exc:
                # Setting the same status twice is harmless (the newest per context
                # wins), so one more try after a 5xx or a lost connection.
                if not _ambiguous(exc):
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


def trim_description(text: str) -> str:
    """A status description of at most 140 characters (GitHub's limit)."""
    text = " ".join(text.split())
    if len(text) <= STATUS_DESCRIPTION_LIMIT:
        return text
    return text[: STATUS_DESCRIPTION_LIMIT - 1].rstrip() + "…"


def find_pull_for_commit(
    client: Any, target: GitHubTarget, head_sha: str, *, head_label: str | None = None
) -> int | None:
    """The open PR whose head commit is ``head_sha``, or None.

    ``GET /repos/{repo}/commits/{sha}/pulls`` first; GitHub does not always list
    PRs from forks there, so then the open PRs with head ``head_label``
    ("owner:branch", from the trusted ``workflow_run`` payload), then the newest
    :data:`PR_SCAN_LIMIT` open PRs. Only a PR whose head *is* ``head_sha``
    counts. GitHub errors propagate (the caller reports them).
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


def pull_head(client: Any, target: GitHubTarget, pr_number: int) -> str:
    """The head commit of PR ``pr_number``; GitHub errors propagate."""
    return str(client.get_repo(target.repository).get_pull(pr_number).head.sha)


def github_problem(
    what: str, exc: Exception, token: str, *, where: str = "", repository: str = ""
) -> str:
    """The one-line explanation of a GitHub error (rate limit, 404, 403, …)."""
    return _explain(what, exc, token, where=where, repository=repository).message


def github_errors() -> tuple[type[Exception], ...]:
    """The exceptions a GitHub call can raise (PyGithub's and the HTTP layer's)."""
    return _github_errors()
