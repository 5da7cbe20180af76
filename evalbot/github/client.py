"""The PyGithub client for one target, bounded: timeouts, a retry budget, no blind re-posts.

Every call is bounded (:class:`BoundedRetry`): PyGithub's default
``GithubRetry`` sleeps until ``x-ratelimit-reset`` on a primary rate limit (up
to an hour) and ``Retry-After`` on a secondary one, ten times over, and it
retries POSTs — a 502 after GitHub created a comment made it post the comment
again. Here rate limits are reported at once, reads are retried within a
small budget, and a comment create is never retried blindly.
"""

from __future__ import annotations

import time
from typing import Any, Self

from urllib3.util.retry import Retry

from evalbot.github.values import GitHubTarget

# How long evalbot may spend on GitHub, documented in docs/action.md ("Failure handling").
RETRY_BUDGET_S = 10.0
"""Seconds of retry back-off, in total, for one client (one run)."""
REQUEST_TIMEOUT_S = 10
"""Seconds a request may wait to connect or between bytes of the answer."""
RETRY_STATUSES = frozenset({500, 502, 503, 504})
RETRIED_METHODS = frozenset({"GET", "HEAD", "PATCH"})
"""Idempotent requests only: editing a comment to the same body twice is harmless;
creating a comment or a status (POST) is not retried by the HTTP layer."""
PER_PAGE = 100  # GitHub's largest page for list endpoints


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
