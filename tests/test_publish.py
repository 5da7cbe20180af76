"""`evalbot publish`: the fork-PR second phase, through the real PyGithub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from evalbot.config import Settings
from evalbot.models import FailOn
from evalbot.pipeline import run_files

from helpers import EXAMPLES, run_cli

API = "https://api.github.com:443"
REPO = "acme/app"
HEAD = "a" * 40


def report_file(tmp_path: Path, mutate=None) -> Path:  # type: ignore[no-untyped-def]
    result = run_files(EXAMPLES / "pr.json", EXAMPLES / "baseline.json", Settings())
    report = result.report
    if mutate:
        mutate(report)
    path = tmp_path / "evalbot-report.json"
    path.write_text(json.dumps(report), "utf-8")
    return path


def event_file(tmp_path: Path, head: str = HEAD) -> Path:
    path = tmp_path / "event.json"
    payload = {
        "workflow_run": {"head_sha": head, "html_url": "https://github.com/acme/app/actions/runs/9"}
    }
    path.write_text(json.dumps(payload), "utf-8")
    return path


def invoke(tmp_path: Path, report: Path, *extra: str) -> tuple[int, str, str]:
    env = {
        "GITHUB_TOKEN": "ghs_SECRET_TOKEN",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(event_file(tmp_path)),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_API_URL": "",
    }
    return run_cli("publish", "--report", str(report), "--pr-number", "7", *extra, env=env)


def mock_github(head: str = HEAD) -> tuple[responses.BaseResponse, responses.BaseResponse]:
    responses.get(
        f"{API}/repos/{REPO}/pulls/7",
        json={"number": 7, "head": {"sha": head, "ref": "fork-branch"},
              "url": f"https://api.github.com/repos/{REPO}/pulls/7"},
    )  # fmt: skip
    responses.get(f"{API}/repos/{REPO}/issues/7/comments", json=[])
    create = responses.post(
        f"{API}/repos/{REPO}/issues/7/comments",
        json={"id": 1, "body": "", "html_url": "https://github.com/acme/app/pull/7#c1",
              "user": {"login": "github-actions[bot]"}},
        status=201,
    )  # fmt: skip
    status = responses.post(f"{API}/repos/{REPO}/statuses/{HEAD}", json={}, status=201)
    return create, status


@responses.activate
def test_publishes_comment_and_status_for_the_verified_head(tmp_path: Path) -> None:
    create, status = mock_github()
    code, out, err = invoke(tmp_path, report_file(tmp_path))
    assert code == 1, err
    body = json.loads(create.calls[0].request.body)["body"]
    assert body.startswith("<!-- evalbot:default -->\n## evalbot: 1 hard regression")
    # Issue 6's sections are recomputed from each side's per-trial measures in the report.
    for section in ("**Beyond pass/fail:**", "### Metrics (2)", "### Drift signals (2)"):
        assert section in body, section
    assert "| Cost per trial | $0.00341 | $0.00249 |" in body
    state = json.loads(status.calls[0].request.body)
    assert state["state"] == "failure" and state["context"] == "evalbot"
    assert state["target_url"] == "https://github.com/acme/app/actions/runs/9"
    assert (tmp_path / "summary.md").read_text("utf-8") == body
    assert "ghs_SECRET_TOKEN" not in out + err + body


@responses.activate
def test_a_cost_budget_in_the_report_still_gates(tmp_path: Path) -> None:
    # The budget travels in the report's thresholds; publish recomputes the gate with it.
    create, status = mock_github()
    settings = Settings(fail_on=FailOn.NEVER)
    result = run_files(EXAMPLES / "pr.json", EXAMPLES / "baseline.json", settings)
    result.report["thresholds"]["fail_on_cost_increase"] = 0.3
    path = tmp_path / "evalbot-report.json"
    path.write_text(json.dumps(result.report), "utf-8")
    code, _, err = invoke(tmp_path, path)
    assert code == 0, err  # fail_on: never disables every part of the gate, budgets included
    result.report["policy"]["fail_on"] = "hard_regression"
    result.report["scenarios"] = [
        row for row in result.report["scenarios"] if row["verdict"] != "hard_regression"
    ]
    path.write_text(json.dumps(result.report), "utf-8")
    code, _, err = invoke(tmp_path, path)
    assert code == 1, err
    body = json.loads(create.calls[-1].request.body)["body"]
    assert "cost per trial up 37% (fail_on_cost_increase: 0.3)" in body
    assert json.loads(status.calls[-1].request.body)["state"] == "failure"


@responses.activate
def test_forged_verdicts_and_names_are_not_trusted(tmp_path: Path) -> None:
    def forge(report: dict) -> None:  # type: ignore[type-arg]
        for row in report["scenarios"]:
            row["verdict"] = "stable"
            row["label"] = "@org/team [x](javascript:alert(1)) <img src=x>"
        report["gate"] = {"failed": False, "reason": "all good", "warning": False}

    create, status = mock_github()
    code, _, _ = invoke(tmp_path, report_file(tmp_path, forge))
    assert code == 1, "the gate is recomputed from the counts"
    body = json.loads(create.calls[0].request.body)["body"]
    assert "@org" not in body and "<img" not in body and "](javascript" not in body
    assert json.loads(status.calls[0].request.body)["state"] == "failure"


@responses.activate
def test_refuses_when_the_pr_head_moved(tmp_path: Path) -> None:
    create, status = mock_github(head="b" * 40)
    code, _, err = invoke(tmp_path, report_file(tmp_path))
    assert code == 2
    assert "--pr-number: PR #7's head is bbbbbbbbbbbb" in err
    assert not create.calls and not status.calls


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: r.update(schema_version=99), "schema_version"),
        (lambda r: r["scenarios"][0]["pr"].update(passed=9), "need 0 <= passed <= total"),
        (lambda r: r["scenarios"][0].pop("key"), "scenarios[0].key"),
        (lambda r: r["policy"].update(fail_on="sometimes"), "policy.fail_on"),
    ],
)
@responses.activate
def test_malformed_report_is_an_input_error(tmp_path: Path, mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    create, _ = mock_github()
    code, _, err = invoke(tmp_path, report_file(tmp_path, mutate))
    assert code == 2
    assert "--report:" in err and needle in err
    assert not create.calls


def test_missing_token_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "publish", "--report", "r.json", "--pr-number", "7",
        env={"GITHUB_TOKEN": "", "GITHUB_REPOSITORY": REPO},
    )  # fmt: skip
    assert code == 2 and "--github-token: required" in err


@responses.activate
def test_a_report_with_nothing_compared_is_published_as_such(tmp_path: Path) -> None:
    """Every PR trial unscored: the fork flow posts "nothing could be compared", and a
    report forged to say "ok" over the same data is not published as green."""

    def unscore(report: dict) -> None:  # type: ignore[type-arg]
        for row in report["scenarios"]:
            pr = row["pr"]
            pr.update(passed=0, total=0, unscored=pr["unscored"] + pr["total"], categories={})
            pr["measures"] = {}
        report["pr_only"] = []
        report["outcome"] = "ok"
        report["policy"]["on_fetch_failure"] = "fail"

    create, status = mock_github()
    code, _, err = invoke(tmp_path, report_file(tmp_path, unscore))
    assert code == 1, err
    body = json.loads(create.calls[0].request.body)["body"]
    assert body.startswith("<!-- evalbot:default -->\n## evalbot: nothing could be compared")
    state = json.loads(status.calls[0].request.body)
    assert state["state"] == "error"
    assert state["description"].startswith("Regression detection did not run: nothing compared")
