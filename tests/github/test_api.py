"""GitHub.publish and the PR lookups through the real PyGithub, HTTP mocked by `responses`."""

from __future__ import annotations

import json

import pytest
import responses

from evalbot.github.api import (
    CommentMode,
    GitHub,
    GitHubError,
    GitHubTarget,
    Published,
    StatusState,
    StatusUpdate,
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


OK = StatusUpdate(StatusState.SUCCESS, "ok", "evalbot")


def run(mode: CommentMode = CommentMode.UPDATE, body: str = MARKER + "\nnew body\n") -> Published:
    return GitHub(TARGET, retry=None).publish(
        pr_number=7,
        head_sha="headsha",
        comment_body=body,
        marker=MARKER,
        mode=mode,
        status=StatusUpdate(
            StatusState.FAILURE, "1 hard regression · 74% vs 82%", "evalbot", "https://x/run"
        ),
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
    result = GitHub(target, retry=None).publish(
        pr_number=7, head_sha="headsha", comment_body=MARKER, marker=MARKER,
        mode=CommentMode.UPDATE, status=OK,
    )  # fmt: skip
    assert result.problems == () and result.status_set


def test_trim_description_to_140() -> None:
    assert len(trim_description("x" * 500)) == 140
    assert trim_description("x" * 500).endswith("…")
    assert trim_description("a\nb") == "a b"


def test_body_over_limit_is_a_bug() -> None:
    with pytest.raises(ValueError):
        run(body="x" * 70_000)


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
    result = GitHub(TARGET).publish(
        pr_number=7, head_sha="headsha", comment_body=MARKER, marker=MARKER,
        mode=CommentMode.UPDATE, status=OK,
    )  # fmt: skip
    (problem,) = result.problems
    assert "GitHub's primary rate limit (resets at 17:46:40 UTC) refused the comment" in (
        problem.message
    )
    assert len(limited.calls) == 1 and result.status_set


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
    result = GitHub(TARGET).publish(
        pr_number=7, head_sha="headsha", comment_body=MARKER + "\nnew body\n", marker=MARKER,
        mode=CommentMode.UPDATE, status=OK,
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


# --- the values: a status update always fits GitHub's limit -------------------------------------


def test_status_update_is_frozen_and_trims_its_description_on_construction() -> None:
    update = StatusUpdate(StatusState.ERROR, "Invalid input:\n" + "x" * 500, "evalbot")
    assert len(update.description) == 140 and update.description.endswith("…")
    assert "\n" not in update.description and update.target_url is None
    with pytest.raises(AttributeError):
        update.description = "y" * 500  # type: ignore[misc]


@responses.activate
def test_a_long_status_description_reaches_github_at_140_characters() -> None:
    status = status_mock(responses.mock)
    GitHub(TARGET, retry=None).publish(
        pr_number=None, head_sha="headsha", comment_body=None, marker=MARKER,
        mode=CommentMode.OFF, status=StatusUpdate(StatusState.FAILURE, "z " * 200, "evalbot"),
    )  # fmt: skip
    body = json.loads(status.calls[0].request.body)
    assert len(body["description"]) == 140 and "target_url" not in body


# --- PR lookups: GitHub's refusals become GitHubError, PyGithub's exception stays inside -------


@responses.activate
def test_pull_head_reads_the_head_and_a_404_is_a_github_error() -> None:
    head = "ab" * 20
    responses.get(
        f"{API}/repos/{REPO}/pulls/7",
        json={"number": 7, "state": "open", "head": {"sha": head, "label": "o:b"}},
    )
    responses.get(f"{API}/repos/{REPO}/pulls/8", json={"message": "Not Found"}, status=404)
    github = GitHub(TARGET, retry=None)
    assert github.pull_head(7) == head
    with pytest.raises(GitHubError) as caught:
        github.pull_head(8)
    assert str(caught.value) == (
        f"GitHub answered 404 for the PR lookup: PR #8 was not found in {REPO} "
        "(or the token cannot see the repository)"
    )
    assert caught.value.exit_code == 1 and caught.value.problem.what == "PR lookup"
    assert caught.value.__context__ is None and caught.value.__cause__ is None


@responses.activate
def test_find_pull_for_commit_refused_is_a_github_error_without_the_token() -> None:
    head = "cd" * 20
    responses.get(
        f"{API}/repos/{REPO}/commits/{head}/pulls",
        json={"message": f"Bad credentials {TOKEN}"},
        status=502,
    )
    with pytest.raises(GitHubError) as caught:
        GitHub(TARGET, retry=None).find_pull_for_commit(head)
    message = str(caught.value)
    assert message.startswith("GitHub refused the PR lookup (502: Bad credentials ***")
    assert TOKEN not in message and caught.value.__context__ is None
