"""GitHub's refusals in evalbot's words: rate limits read from GitHub's answer."""

from __future__ import annotations


def test_rate_limit_of_secondary_with_retry_after() -> None:
    from datetime import UTC, datetime

    from github import GithubException

    from evalbot.github.problems import rate_limit_of

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    exc = GithubException(
        429, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "120"}
    )
    limit = rate_limit_of(exc, now=now)
    assert limit is not None and limit.kind == "secondary" and limit.retry_after == 120
    assert limit.describe() == (
        "GitHub's secondary rate limit (Retry-After 120 s, until 12:02:00 UTC)"
    )
    forbidden = GithubException(403, {"message": "Resource not accessible by integration"}, {})
    assert rate_limit_of(forbidden) is None
