"""Publishing to GitHub through the real PyGithub, with HTTP mocked by `responses`."""

from __future__ import annotations

import json
import re

import pytest
import responses

from evalbot.github_publish import (
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

    class FakeIssue:
        def get_comments(self) -> list[C]:
            return [C("hi\n" + MARKER, "github-actions[bot]"), C(MARKER, "github-actions[bot]")]

    found = find_comment(FakeIssue(), MARKER, "github-actions[bot]")
    assert found is not None and found.body == MARKER
    assert re.match("<!--", MARKER)


def test_body_over_limit_is_a_bug() -> None:
    with pytest.raises(ValueError):
        run(body="x" * 70_000)
