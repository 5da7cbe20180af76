"""GitHub's refusals in evalbot's words: rate limits, one-line problems, evalbot errors.

PyGithub's and the HTTP layer's exceptions stop here: a publish turns them into a
:class:`~evalbot.github.values.PublishProblem` (a warning), a read the caller needs
into a :class:`GitHubError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from evalbot.errors import EXIT_GATE_FAILED, EvalbotError
from evalbot.github.client import RETRY_BUDGET_S
from evalbot.github.values import PERMISSIONS_HELP, PublishProblem


class CommentListingTooLong(Exception):
    """The PR's comments did not end within :data:`~.comments.COMMENT_PAGE_LIMIT` pages."""


class GitHubError(EvalbotError):
    """GitHub refused a read evalbot needed (a PR lookup); the message is one line.

    Like a LangSmith outage (:class:`~evalbot.errors.FetchError`) it is never a pass.
    """

    exit_code = EXIT_GATE_FAILED

    def __init__(self, problem: PublishProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


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


def explain(
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


def github_errors() -> tuple[type[Exception], ...]:
    """The exceptions a GitHub call can raise (PyGithub's and the HTTP layer's)."""
    import requests
    from github import GithubException

    return (GithubException, requests.RequestException, CommentListingTooLong)


def ambiguous(exc: Exception) -> bool:
    """Did the write perhaps happen? 5xx and lost connections: maybe; 4xx: no."""
    status = getattr(exc, "status", None)
    return status is None or status >= 500
