"""The bounded PyGithub client: idempotent requests only, one retry budget, no rate-limit waits."""

from __future__ import annotations

import pytest

from evalbot.github.api import GitHubTarget
from evalbot.github.client import make_github

TARGET = GitHubTarget(token="ghs_TOKEN_never_printed", repository="acme/app")


def test_the_default_client_retries_only_idempotent_requests_within_the_budget() -> None:
    from evalbot.github.client import RETRY_BUDGET_S, BoundedRetry

    github = make_github(TARGET)
    retry = github.requester._Requester__retry  # what PyGithub hands to requests' HTTPAdapter
    assert isinstance(retry, BoundedRetry)
    assert "POST" not in retry.allowed_methods  # a comment or status is never re-sent
    assert {"GET", "PATCH"} <= set(retry.allowed_methods)
    assert retry.budget_s == RETRY_BUDGET_S <= 20
    # PyGithub's default GithubRetry retries POST: the 11-comments defect.
    from github import GithubRetry

    assert "POST" in GithubRetry().allowed_methods


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limits_are_never_retried(status: int) -> None:
    from evalbot.github.client import BoundedRetry

    retry = BoundedRetry()
    assert not retry.is_retry("GET", status, has_retry_after=True)
    assert retry.is_retry("GET", 502)
    assert not retry.is_retry("POST", 502)


def test_every_sleep_comes_out_of_one_budget() -> None:
    import time

    from urllib3 import HTTPResponse

    from evalbot.github.client import BoundedRetry

    retry = BoundedRetry(budget_s=0.3)
    later = retry.new(total=1)
    assert later.deadline is retry.deadline  # copies share the budget
    started = time.monotonic()
    later.sleep(HTTPResponse(status=503, headers={"Retry-After": "120"}))
    assert time.monotonic() - started < 2  # not 120 s: capped by the 0.3 s budget
    assert retry.deadline.left() == 0 and not retry.is_retry("GET", 503)


def test_no_retry_starts_once_the_budget_is_spent() -> None:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    from evalbot.github.client import BoundedRetry

    fresh = BoundedRetry()
    error = ReadTimeoutError(None, "/x", "read timed out")  # type: ignore[arg-type]
    assert fresh.increment("GET", "/x", error=error).total == 2
    with pytest.raises(MaxRetryError):
        BoundedRetry(budget_s=0).increment("GET", "/x", error=error)
