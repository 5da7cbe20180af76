"""Publishing to GitHub through the real PyGithub, with HTTP mocked by `responses`."""

from __future__ import annotations

import json
import re

import pytest
import responses

from evalbot.github.api import (
    CommentMode,
    GitHubTarget,
    StatusState,
    find_comment,
    make_github,
    publish,
    trim_description,
)

# PyGithub requests URLs with an explicit :443.
API = "https://api.github.com:443"
REPO = "acme/app"
MARKER = "<!-- evalbot:default -->"
TOKEN = "ghs_TOKEN_never_printed"
TARGET = GitHubTarget(token=TOKEN, repository=REPO)


def comment(id_: int, body: str, login: str = "github-actions[bot]") -> dict[str, object]:
    return {
        "id": id_,
        "body": body,
        "user": {"login": login, "id": 1, "type": "Bot"},
        "html_url": f"https://github.com/{REPO}/pull/7#issuecomment-{id_}",
        "url": f"https://api.github.com/repos/{REPO}/issues/comments/{id_}",
    }


def client() -> object:
    return make_github(TARGET, retry=None)


def run(mode: CommentMode = CommentMode.UPDATE, body: str = MARKER + "\nnew body\n"):
    return publish(
        client(),
        TARGET,
        pr_number=7,
        head_sha="headsha",
        comment_body=body,
        marker=MARKER,
        mode=mode,
        status=(StatusState.FAILURE, "1 hard regression · 74% vs 82%", "evalbot", "https://x/run"),
    )


def list_comments(rsps: responses.RequestsMock, pages: list[list[dict[str, object]]]) -> None:
    for i, page in enumerate(pages, start=1):
        headers = {}
        if i < len(pages):
            nxt = f"https://api.github.com/repos/{REPO}/issues/7/comments?per_page=100&page={i + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        rsps.get(
            f"{API}/repos/{REPO}/issues/7/comments",
            json=page,
            headers=headers,
            match=[
                responses.matchers.query_param_matcher(
                    {"per_page": "100"} if i == 1 else {"per_page": "100", "page": str(i)}
                )
            ],
        )


def status_mock(rsps: responses.RequestsMock, code: int = 201) -> responses.BaseResponse:
    return rsps.post(f"{API}/repos/{REPO}/statuses/headsha", json={"id": 1}, status=code)


@responses.activate
def test_first_run_creates_then_second_run_edits() -> None:
    list_comments(responses.mock, [[]])
    responses.post(f"{API}/repos/{REPO}/issues/7/comments", json=comment(11, MARKER), status=201)
    status_mock(responses.mock)
    first = run()
    assert first.comment_action == "created" and first.problems == ()
    responses.reset()
    list_comments(responses.mock, [[comment(11, MARKER + "\nold")]])
    edit = responses.patch(f"{API}/repos/{REPO}/issues/comments/11", json=comment(11, MARKER))
    status_mock(responses.mock)
    second = run()
    assert second.comment_action == "updated"
    assert json.loads(edit.calls[0].request.body)["body"] == MARKER + "\nnew body\n"
    assert not [
        c for c in responses.calls if c.request.method == "POST" and "comments" in c.request.url
    ]


@responses.activate
def test_marker_found_on_page_two_of_150_comments() -> None:
    page1 = [comment(i, f"chat {i}", login="alice") for i in range(100)]
    page2 = [comment(100 + i, f"chat {i}", login="bob") for i in range(49)]
    page2.insert(20, comment(999, MARKER + "\nold"))
    list_comments(responses.mock, [page1, page2])
    edit = responses.patch(f"{API}/repos/{REPO}/issues/comments/999", json=comment(999, MARKER))
    status_mock(responses.mock)
    assert run().comment_action == "updated"
    assert len(edit.calls) == 1


@responses.activate
def test_someone_elses_comment_quoting_the_marker_is_not_edited() -> None:
    list_comments(responses.mock, [[comment(5, MARKER + "\nquoted", login="mallory")]])
    create = responses.post(
        f"{API}/repos/{REPO}/issues/7/comments", json=comment(12, MARKER), status=201
    )
    status_mock(responses.mock)
    assert run().comment_action == "created"
    assert len(create.calls) == 1


@responses.activate
def test_new_mode_always_creates_and_off_posts_nothing() -> None:
    create = responses.post(
        f"{API}/repos/{REPO}/issues/7/comments", json=comment(12, MARKER), status=201
    )
    status_mock(responses.mock)
    assert run(CommentMode.NEW).comment_action == "created"
    assert len(create.calls) == 1
    assert run(CommentMode.OFF).comment_action is None
    assert len(create.calls) == 1


@responses.activate
def test_status_goes_on_the_head_sha_with_trimmed_description() -> None:
    list_comments(responses.mock, [[]])
    responses.post(f"{API}/repos/{REPO}/issues/7/comments", json=comment(11, MARKER), status=201)
    status = status_mock(responses.mock)
    assert run().status_set
    body = json.loads(status.calls[0].request.body)
    assert body == {
        "state": "failure",
        "description": "1 hard regression · 74% vs 82%",
        "context": "evalbot",
        "target_url": "https://x/run",
    }


@responses.activate
def test_403_becomes_a_warning_naming_the_permission() -> None:
    forbidden = {"message": "Resource not accessible by integration"}
    responses.get(f"{API}/repos/{REPO}/issues/7/comments", json=forbidden, status=403)
    status_mock(responses.mock, code=403)
    result = run()
    assert result.comment_url is None and not result.status_set
    messages = [p.message for p in result.problems]
    assert "pull-requests: write" in messages[0] and "Resource not accessible" in messages[0]
    assert "statuses: write" in messages[1]
    assert all(TOKEN not in m for m in messages)


@responses.activate
def test_github_enterprise_base_url() -> None:
    target = GitHubTarget(token=TOKEN, repository=REPO, api_url="https://ghe.example.com/api/v3")
    ghe = "https://ghe.example.com:443/api/v3"
    responses.get(f"{ghe}/repos/{REPO}/issues/7/comments", json=[])
    responses.post(f"{ghe}/repos/{REPO}/issues/7/comments", json=comment(1, MARKER), status=201)
    responses.post(f"{ghe}/repos/{REPO}/statuses/headsha", json={}, status=201)
    result = publish(
        make_github(target, retry=None), target, pr_number=7, head_sha="headsha",
        comment_body=MARKER, marker=MARKER, mode=CommentMode.UPDATE,
        status=(StatusState.SUCCESS, "ok", "evalbot", None),
    )  # fmt: skip
    assert result.problems == () and result.status_set


def test_trim_description_to_140() -> None:
    assert len(trim_description("x" * 500)) == 140
    assert trim_description("x" * 500).endswith("…")
    assert trim_description("a\nb") == "a b"


def test_find_comment_ignores_non_first_line_markers() -> None:
    class C:
        def __init__(self, body: str, login: str) -> None:
            self.body, self.user = body, type("U", (), {"login": login})()

    class Listing:  # PyGithub's PaginatedList, as find_comment reads it: by page number
        def get_page(self, page: int) -> list[C]:
            comments = [C("hi\n" + MARKER, "github-actions[bot]"), C(MARKER, "github-actions[bot]")]
            return comments if page == 0 else []

    class FakeIssue:
        def get_comments(self) -> Listing:
            return Listing()

    found = find_comment(FakeIssue(), MARKER, "github-actions[bot]")
    assert found is not None and found.body == MARKER
    assert re.match("<!--", MARKER)


def test_body_over_limit_is_a_bug() -> None:
    with pytest.raises(ValueError):
        run(body="x" * 70_000)


# --- the retry policy: bounded, idempotent requests only, rate limits reported -----------------


def test_the_default_client_retries_only_idempotent_requests_within_the_budget() -> None:
    from evalbot.github.api import RETRY_BUDGET_S, BoundedRetry

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
    from evalbot.github.api import BoundedRetry

    retry = BoundedRetry()
    assert not retry.is_retry("GET", status, has_retry_after=True)
    assert retry.is_retry("GET", 502)
    assert not retry.is_retry("POST", 502)


def test_every_sleep_comes_out_of_one_budget() -> None:
    import time

    from urllib3 import HTTPResponse

    from evalbot.github.api import BoundedRetry

    retry = BoundedRetry(budget_s=0.3)
    later = retry.new(total=1)
    assert later.deadline is retry.deadline  # copies share the budget
    started = time.monotonic()
    later.sleep(HTTPResponse(status=503, headers={"Retry-After": "120"}))
    assert time.monotonic() - started < 2  # not 120 s: capped by the 0.3 s budget
    assert retry.deadline.left() == 0 and not retry.is_retry("GET", 503)


@responses.activate
def test_primary_rate_limit_names_the_reset_time_and_is_not_retried() -> None:
    reset = 1_900_000_000
    limited = responses.get(
        f"{API}/repos/{REPO}/issues/7/comments",
        json={"message": "API rate limit exceeded for installation ID 1."},
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    status_mock(responses.mock, code=201)
    result = publish(
        make_github(TARGET), TARGET, pr_number=7, head_sha="headsha", comment_body=MARKER,
        marker=MARKER, mode=CommentMode.UPDATE,
        status=(StatusState.SUCCESS, "ok", "evalbot", None),
    )  # fmt: skip
    (problem,) = result.problems
    assert "GitHub's primary rate limit (resets at 17:46:40 UTC) refused the comment" in (
        problem.message
    )
    assert len(limited.calls) == 1 and result.status_set


def test_rate_limit_of_secondary_with_retry_after() -> None:
    from datetime import UTC, datetime

    from github import GithubException

    from evalbot.github.api import rate_limit_of

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


@responses.activate
def test_502_after_create_adopts_the_comment_instead_of_posting_again() -> None:
    # The first list is empty; the create answers 502 although GitHub made the comment;
    # the second list shows it.
    responses.get(f"{API}/repos/{REPO}/issues/7/comments", json=[])
    responses.get(
        f"{API}/repos/{REPO}/issues/7/comments", json=[comment(11, MARKER + "\nnew body\n")]
    )
    create = responses.post(
        f"{API}/repos/{REPO}/issues/7/comments", json={"message": "Bad Gateway"}, status=502
    )
    status_mock(responses.mock)
    result = publish(
        make_github(TARGET), TARGET, pr_number=7, head_sha="headsha",
        comment_body=MARKER + "\nnew body\n", marker=MARKER, mode=CommentMode.UPDATE,
        status=(StatusState.SUCCESS, "ok", "evalbot", None),
    )  # fmt: skip
    assert result.problems == () and len(create.calls) == 1
    assert result.comment_url == f"https://github.com/{REPO}/pull/7#issuecomment-11"


@responses.activate
def test_a_422_on_create_is_not_retried() -> None:
    responses.get(f"{API}/repos/{REPO}/issues/7/comments", json=[])
    create = responses.post(
        f"{API}/repos/{REPO}/issues/7/comments", json={"message": "Validation Failed"}, status=422
    )
    status_mock(responses.mock)
    result = run()
    assert len(create.calls) == 1 and "422" in result.problems[0].message


def test_no_retry_starts_once_the_budget_is_spent() -> None:
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    from evalbot.github.api import BoundedRetry

    fresh = BoundedRetry()
    error = ReadTimeoutError(None, "/x", "read timed out")  # type: ignore[arg-type]
    assert fresh.increment("GET", "/x", error=error).total == 2
    with pytest.raises(MaxRetryError):
        BoundedRetry(budget_s=0).increment("GET", "/x", error=error)
