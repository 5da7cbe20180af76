"""`evalbot publish`: the privileged phase of the fork-PR flow, end to end against the
fake LangSmith and fake GitHub (through the real langsmith SDK and PyGithub).

It trusts nothing the fork controls: the commit comes from the event, the PR is found
through the API, the results are read from LangSmith with the repository's key. A
forged report in the workspace (what the old artifact-based flow trusted) changes
nothing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evalbot.config import Settings
from evalbot.pipeline import run_files

from action_harness import (
    GH_TOKEN,
    LS_KEY,
    NOW,
    REPETITIONS,
    REPO,
    SECRETS,
    LangSmith,
    feedback,
    parse_outputs,
)
from fake_github import FakeGitHub
from helpers import EXAMPLES, run_cli

HEAD = "ab" * 20
OTHER = "cd" * 20
PR = 12
MARKER = "<!-- evalbot:default -->"


def tag(langsmith: LangSmith, name: str, commit: str, *, fail_s0: bool) -> None:
    """An experiment for ``commit``, as the approved eval job writes it."""
    fake, ds = langsmith.fake, langsmith.dataset
    fake.add_experiment(
        name,
        dataset_id=ds,
        metadata={"commit": commit, "pr_number": PR},
        start_time=NOW + timedelta(minutes=5),
        runs=fake.make_runs(
            ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(not (fail_s0 and i == 0))
        ),
    )


def workflow_run_event(tmp_path: Path, *, head: str = HEAD, label: bool = True) -> Path:
    run: dict[str, Any] = {
        "head_sha": head,
        "event": "pull_request",
        "pull_requests": [],  # always empty for PRs from forks
        "html_url": f"https://github.com/{REPO}/actions/runs/9",
    }
    if label:
        run["head_branch"] = "feature"
        run["head_repository"] = {"owner": {"login": "fork-owner"}, "full_name": "fork-owner/app"}
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"workflow_run": run}), "utf-8")
    return path


def forge_artifacts(workspace: Path) -> None:
    """What a fork author can upload from their own workflow run: an all-green report."""
    result = run_files(EXAMPLES / "pr.json", EXAMPLES / "baseline.json", Settings())
    report = result.report
    for row in report["scenarios"]:
        row["verdict"] = "stable"
    report["counts"] = {key: 0 for key in report["counts"]}
    report["gate"] = {"failed": False, "reason": "all good", "warning": False}
    (workspace / "evalbot-report.json").write_text(json.dumps(report), "utf-8")
    (workspace / "pr-number.txt").write_text(f"{PR}\n", "utf-8")


def publish(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub, *args: str, event: Path | None = None
) -> tuple[int, str, str]:
    env = {
        "GITHUB_TOKEN": GH_TOKEN,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": github.url,
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(event or workflow_run_event(tmp_path)),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "LANGSMITH_API_KEY": LS_KEY,
        "LANGSMITH_ENDPOINT": langsmith.fake.url,
    }
    (tmp_path / "output").touch()
    code, out, err = run_cli("publish", "--dataset", "support", *args, env=env)
    for secret in SECRETS:
        assert secret not in out + err
    return code, out, err


def statuses(github: FakeGitHub, sha: str = HEAD) -> list[str]:
    return [s["state"] for s in github.statuses_on(REPO, sha)]


def test_the_published_comment_leads_with_the_verdict_and_links_the_run(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    # The baseline on main and the fork's experiment live on one dataset: the comment
    # links both, their compare view, the commit (from the trusted event) and the run.
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, PR, HEAD)
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 1, out + err
    (comment,) = github.comments_on(REPO, PR)
    body = comment.body
    assert body.startswith(f"{MARKER}\n> [!CAUTION]\n> ❌ **evalbot fails**: 1 hard regression")
    assert f"at [`{HEAD[:7]}`](https://github.com/{REPO}/commit/{HEAD})" in body
    assert f"[workflow run](https://github.com/{REPO}/actions/runs/9)" in body
    assert "[compare the experiments](" in body and "/compare?selectedSessions=" in body
    assert "<details>" in body
    assert "may be stale" not in body  # the experiment ran on the head commit
    summary = (tmp_path / "summary.md").read_text("utf-8")
    assert summary.splitlines()[:3] == body.splitlines()[:3]
    assert "<details>" not in summary  # the job summary shows every section unfolded


# --- forgery ---------------------------------------------------------------------------------


def test_a_forged_artifact_cannot_produce_a_success_status(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fork's commit really regresses (in the team's LangSmith); the fork uploads a
    # clean report and a PR number. publish reads neither.
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, PR, HEAD)
    monkeypatch.chdir(tmp_path)
    forge_artifacts(tmp_path)
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 1, out + err
    assert statuses(github) == ["failure"]
    (comment,) = github.comments_on(REPO, PR)
    assert "1 hard regression" in comment.body
    # The old artifact path is gone: --report is a usage error, and sets no status.
    code, _, err = publish(tmp_path, langsmith, github, "--report", "evalbot-report.json")
    assert code == 2 and "--report" in err
    assert statuses(github) == ["failure"]


def test_no_experiment_for_the_head_is_pending_never_success(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Evals never ran for the fork's commit (an experiment for an older commit does not
    # count: new code needs new results), yet the fork uploaded a clean report.
    tag(langsmith, "older-commit", OTHER, fail_s0=False)
    github.add_pull(REPO, PR, HEAD)
    monkeypatch.chdir(tmp_path)
    forge_artifacts(tmp_path)
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 0, out + err
    (status,) = github.statuses_on(REPO, HEAD)
    assert status["state"] == "pending"
    assert status["description"].startswith(f"No eval results for {HEAD[:12]}")
    assert len(status["description"]) <= 140
    (comment,) = github.comments_on(REPO, PR)
    assert comment.body.startswith(MARKER) and "no eval results" in comment.body
    outputs = parse_outputs((tmp_path / "output").read_text("utf-8"))
    assert outputs["outcome"] == "missing" and outputs["gate"] == "fail"
    assert "no eval results" in (tmp_path / "summary.md").read_text("utf-8")

    code, out, err = publish(tmp_path, langsmith, github, "--when-missing", "failure")
    assert code == 1, out + err
    assert statuses(github) == ["pending", "failure"]
    assert len(github.comments_on(REPO, PR)) == 1  # the same comment, edited


def test_results_for_the_head_pass_and_update_the_missing_comment(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    github.add_pull(REPO, PR, HEAD)
    assert publish(tmp_path, langsmith, github)[0] == 0  # pending: not run yet
    tag(langsmith, "fork-pr", HEAD, fail_s0=False)  # a maintainer approved; evals ran
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 0, out + err
    assert statuses(github) == ["pending", "success"]
    (comment,) = github.comments_on(REPO, PR)
    assert "no eval results" not in comment.body and comment.body.startswith(MARKER)


# --- finding the PR from the trusted commit ---------------------------------------------------


def test_pr_found_by_head_label_when_commit_pulls_lists_none(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, 3, OTHER, head="someone:feature")
    github.add_pull(REPO, PR, HEAD, head="fork-owner:feature", by_commit=False)
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 1, out + err
    assert len(github.comments_on(REPO, PR)) == 1 and github.comments_on(REPO, 3) == []
    assert [r.endpoint for r in github.requests if "pulls" in (r.endpoint or "")] == [
        "commit_pulls",
        "list_pulls",
    ]


def test_pr_found_by_scanning_open_prs_without_a_head_label(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, 5, HEAD, state="closed", by_commit=False)
    github.add_pull(REPO, PR, HEAD, by_commit=False)
    event = workflow_run_event(tmp_path, label=False)
    code, out, err = publish(tmp_path, langsmith, github, event=event)
    assert code == 1, out + err
    assert len(github.comments_on(REPO, PR)) == 1 and github.comments_on(REPO, 5) == []


def test_no_open_pr_for_the_commit_sets_only_the_status(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, PR, OTHER)
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 1, out + err
    assert "no open pull request has head" in out
    assert statuses(github) == ["failure"] and github.comments_on(REPO, PR) == []


def test_explicit_pr_number_whose_head_moved_is_refused(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=False)
    github.add_pull(REPO, PR, OTHER)
    code, out, _ = publish(tmp_path, langsmith, github, "--pr-number", str(PR))
    assert code == 2
    assert f"PR #{PR}'s head is {OTHER[:12]}" in out
    assert github.comments_on(REPO, PR) == [] and "success" not in statuses(github)


def test_explicit_pr_number_that_cannot_be_verified_gets_no_comment(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, PR, HEAD)
    github.fail("get_pull", 502, "Bad Gateway")
    code, out, err = publish(tmp_path, langsmith, github, "--pr-number", str(PR))
    assert code == 1, out + err
    assert "PR lookup" in out and "502" in out
    assert github.comments_on(REPO, PR) == [] and statuses(github) == ["failure"]


def test_pull_request_target_event_gives_the_head(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=False)
    github.add_pull(REPO, PR, HEAD)
    event = tmp_path / "event.json"
    pull = {"number": PR, "head": {"sha": HEAD, "ref": "feature", "label": "fork-owner:feature"}}
    event.write_text(json.dumps({"pull_request": pull}), "utf-8")
    code, out, err = publish(tmp_path, langsmith, github, event=event)
    assert code == 0, out + err
    assert statuses(github) == ["success"] and len(github.comments_on(REPO, PR)) == 1


def test_github_rate_limit_during_lookup_is_a_warning(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub
) -> None:
    tag(langsmith, "fork-pr", HEAD, fail_s0=True)
    github.add_pull(REPO, PR, HEAD)
    github.rate_limit("pulls", kind="primary")
    code, out, err = publish(tmp_path, langsmith, github)
    assert code == 1, out + err
    assert "primary rate limit" in out and "PR lookup" in out
    assert statuses(github) == ["failure"]  # the status needs no PR


# --- bad input: exit 2, one line -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--when-missing", "success"], "--when-missing: must be pending or failure"),
        (["--head-sha", "main"], "--head-sha: must be 40 or 64 hex characters"),
        (["--commit-key", " "], "--commit-key: must not be empty"),
        (["--pr-number", "0"], "--pr-number: must be a positive integer"),
    ],
)
def test_bad_input_is_exit_2(
    tmp_path: Path, langsmith: LangSmith, github: FakeGitHub, args: list[str], needle: str
) -> None:
    code, _, err = publish(tmp_path, langsmith, github, *args)
    assert code == 2 and needle in err, err
    assert github.all_statuses() == {}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--langsmith-api-key", ""], "--langsmith-api-key: required"),
        (["--dataset", "nope"], "--dataset: no dataset named"),
        (["--baseline-metadata", "{main"], "--baseline-metadata: not valid JSON"),
    ],
)
def test_input_error_once_the_commit_is_known_sets_an_error_status(
    tmp_path: Path,
    langsmith: LangSmith,
    github: FakeGitHub,
    args: list[str],
    needle: str,
) -> None:
    github.add_pull(REPO, PR, HEAD)
    code, out, _ = publish(tmp_path, langsmith, github, *args)
    assert code == 2
    (error,) = [line for line in out.splitlines() if line.startswith("::error")]
    assert needle in error, error
    (status,) = github.statuses_on(REPO, HEAD)
    assert status["state"] == "error" and needle in status["description"]
    assert "could not run" in (tmp_path / "summary.md").read_text("utf-8")
    assert github.comments_on(REPO, PR) == []


def test_missing_token_is_an_input_error() -> None:
    code, _, err = run_cli(
        "publish", "--dataset", "support", env={"GITHUB_TOKEN": "", "GITHUB_REPOSITORY": REPO}
    )
    assert code == 2 and "--github-token: required" in err


# --- one publish flow ---------------------------------------------------------------------------


def _imported_names(module: str) -> dict[str, set[str]]:
    """For one evalbot module: every ``from X import a, b`` as {X: {a, b}} (any depth)."""
    import ast

    source = (Path(__file__).resolve().parents[2] / "evalbot" / f"{module}.py").read_text("utf-8")
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.setdefault(node.module, set()).update(alias.name for alias in node.names)
    return found


def test_action_and_publish_reach_github_through_the_one_publish_flow() -> None:
    # Only the publish flow (and publish's PR lookup) holds a GitHub client; the CLI
    # takes nothing from the action but its entry point.
    users = {
        module
        for module in ("action", "action_report", "cli", "pipeline", "publish", "fork_publish")
        if "GitHub" in _imported_names(module).get("evalbot.github.api", set())
    }
    assert users == {"publish", "fork_publish"}
    assert _imported_names("cli").get("evalbot.action", set()) <= {"main"}
    assert {"publish_result", "report_input_error"} <= _imported_names("action")["evalbot.publish"]
    assert {"publish_result", "deliver"} <= _imported_names("fork_publish")["evalbot.publish"]
