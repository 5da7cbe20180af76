"""``evalbot action`` as GitHub runs it: INPUT_* and runner variables in, comment,
status, outputs, job summary, report and exit code out — against the fake
LangSmith and fake GitHub servers (harness: tests/fakes/action_harness.py).

One end-to-end test runs the Dockerfile's ENTRYPOINT as a subprocess; the rest
call :func:`evalbot.action.main` in-process (faster).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evalbot.action import parse_settings, run

from action_harness import (
    GH_TOKEN,
    HEAD_SHA,
    MARKER,
    MERGE_SHA,
    NOW,
    PR_NUMBER,
    PUSH_SHA,
    REPETITIONS,
    REPO,
    RUN_URL,
    SECRETS,
    SERVER,
    LangSmith,
    Runner,
    feedback,
    free_port,
    lines_of,
    run_entrypoint,
    run_main,
    runner_env,
    unmasked,
)
from fake_github import FakeGitHub
from fake_langsmith import FakeLangSmith


def test_entrypoint_end_to_end_hard_regression_then_edit(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    proc = run_entrypoint(env, runner.workspace)
    assert proc.returncode == 1, proc.stdout + proc.stderr

    # Exactly one comment, by the bot, marker first.
    comments = github.comments_on(REPO, PR_NUMBER)
    assert len(comments) == 1
    comment = comments[0]
    assert comment.login == "github-actions[bot]"
    assert comment.body.split("\n", 1)[0] == MARKER
    assert "1 hard regression" in comment.body

    # The status goes on the PR's head commit, never on the merge commit.
    assert github.statuses_on(REPO, MERGE_SHA) == []
    assert list(github.all_statuses()) == [(REPO, HEAD_SHA)]
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == "failure"
    assert status["context"] == "evalbot"
    assert status["target_url"] == RUN_URL
    assert 0 < len(status["description"]) <= 140
    assert "1 hard regression" in status["description"]

    outputs = runner.outputs()
    assert outputs == {
        "outcome": "ok",
        "gate": "fail",
        "hard_regressions": "1",
        "soft_regressions": "0",
        "improvements": "0",
        "report_path": str(runner.workspace / "evalbot-report.json"),
        "comment_url": f"{SERVER}/{REPO}/pull/{PR_NUMBER}#issuecomment-{comment.id}",
    }
    # Links into LangSmith (the compare view of both experiments) and to the run.
    assert f"/datasets/{langsmith.dataset}/compare?selectedSessions=" in comment.body
    assert f"[workflow run]({RUN_URL})" in comment.body
    assert comment.body.splitlines()[1] == "> [!CAUTION]"
    # The job summary: the same verdict, every section unfolded, no reference to itself.
    summary = runner.summary.read_text(encoding="utf-8")
    assert summary.splitlines()[:3] == comment.body.splitlines()[:3]
    assert "<details>" in comment.body and "<details>" not in summary
    assert "### How sure we are" in summary and "job summary" not in summary
    report = json.loads(Path(outputs["report_path"]).read_text(encoding="utf-8"))
    assert report["outcome"] == "ok" and report["gate"]["failed"] is True
    assert report["counts"]["hard_regression"] == 1

    errors = lines_of(proc.stdout, "error")
    assert len(errors) == 1 and "Hard regression" in errors[0], proc.stdout
    assert "s0: 0/5 vs 5/5" in errors[0], proc.stdout

    # Second run: the same comment is edited in place.
    runner.output.write_text("", encoding="utf-8")
    github.clear_requests()
    again = run_entrypoint(env, runner.workspace)
    assert again.returncode == 1, again.stdout + again.stderr
    comments = github.comments_on(REPO, PR_NUMBER)
    assert len(comments) == 1 and comments[0].id == comment.id
    assert len(github.requests_to("edit_comment")) == 1
    assert github.requests_to("create_comment") == []
    assert len(github.statuses_on(REPO, HEAD_SHA)) == 2
    assert runner.outputs()["comment_url"] == outputs["comment_url"]


def test_entrypoint_all_clear_exits_0(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, experiment="pr-good"
    )
    proc = run_entrypoint(env, runner.workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines_of(proc.stdout, "error") == []
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == "success"
    assert len(github.comments_on(REPO, PR_NUMBER)) == 1
    outputs = runner.outputs()
    assert outputs["gate"] == "pass" and outputs["hard_regressions"] == "0"


# --- publishing: permissions, comment modes, events ---------------------------------------


def test_403_on_comment_and_status_is_a_warning_and_results_are_kept(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    github.fail("comments", 403)
    github.fail("statuses", 403)
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    code, stdout = run_main(env)
    assert code == 1  # the gate's answer, not GitHub's
    warnings = lines_of(stdout, "warning")
    assert any("pull-requests: write" in w for w in warnings), stdout
    assert any("statuses: write" in w for w in warnings), stdout
    assert github.comments_on(REPO, PR_NUMBER) == [] and github.all_statuses() == {}
    outputs = runner.outputs()
    assert outputs["gate"] == "fail" and outputs["hard_regressions"] == "1"
    assert outputs["comment_url"] == ""
    assert runner.summary.read_text(encoding="utf-8").startswith(MARKER)
    assert Path(outputs["report_path"]).is_file()


def test_comment_off_posts_nothing_but_sets_the_status(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, comment="off")
    code, _ = run_main(env)
    assert code == 1
    assert github.comments_on(REPO, PR_NUMBER) == []
    assert github.requests_to("list_comments") == []
    assert github.requests_to("create_comment") == []
    assert [s["state"] for s in github.statuses_on(REPO, HEAD_SHA)] == ["failure"]
    assert runner.outputs()["comment_url"] == ""


def test_comment_when_notable_is_quiet_on_a_clean_pass_but_never_stale(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    """Issue 13 §12: no new comment for a clean pass; an existing one is still updated."""
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        experiment="pr-good",
        comment_when="notable",
    )
    code, _ = run_main(env)
    assert code == 0
    assert github.comments_on(REPO, PR_NUMBER) == []
    assert github.requests_to("create_comment") == []
    assert [s["state"] for s in github.statuses_on(REPO, HEAD_SHA)] == ["success"]
    outputs = runner.outputs()
    assert outputs["gate"] == "pass" and outputs["comment_url"] == ""
    assert runner.summary.read_text(encoding="utf-8").startswith(MARKER)
    assert Path(outputs["report_path"]).is_file()

    # A failure first (commented), then a clean pass: the old comment is updated.
    runner.output.write_text("", encoding="utf-8")
    bad = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, comment_when="notable"
    )
    assert run_main(bad)[0] == 1
    (failing,) = github.comments_on(REPO, PR_NUMBER)
    assert "> [!CAUTION]" in failing.body
    runner.output.write_text("", encoding="utf-8")
    assert run_main(env)[0] == 0
    (updated,) = github.comments_on(REPO, PR_NUMBER)
    assert updated.id == failing.id and "> [!TIP]" in updated.body
    assert runner.outputs()["comment_url"].endswith(f"#issuecomment-{failing.id}")


def test_comment_new_creates_a_second_comment(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    first = github.add_comment(REPO, PR_NUMBER, MARKER + "\nold results")
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, comment="new")
    code, _ = run_main(env)
    assert code == 1
    comments = github.comments_on(REPO, PR_NUMBER)
    assert len(comments) == 2
    assert comments[0].id == first and comments[0].body == MARKER + "\nold results"
    assert comments[1].body.startswith(MARKER)
    assert github.requests_to("edit_comment") == []


def test_update_finds_the_bots_comment_on_page_two_and_ignores_quotes(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    for i in range(120):
        github.add_comment(REPO, PR_NUMBER, f"chat {i}", login="alice")
    quoted = github.add_comment(REPO, PR_NUMBER, MARKER + "\nquoted", login="mallory")
    ours = github.add_comment(REPO, PR_NUMBER, MARKER + "\nold results")
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    code, _ = run_main(env)
    assert code == 1
    comments = {c.id: c for c in github.comments_on(REPO, PR_NUMBER)}
    assert len(comments) == 122
    assert comments[quoted].body == MARKER + "\nquoted"
    assert comments[ours].body != MARKER + "\nold results"
    assert comments[ours].body.startswith(MARKER)
    assert len(github.requests_to("list_comments")) == 2


def test_push_event_no_comment_status_on_github_sha_and_self_baseline_passes(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    fake, ds = langsmith.fake, langsmith.dataset
    # The run on main is itself the newest main experiment: nothing to compare.
    fake.add_experiment(
        "main-2",
        dataset_id=ds,
        metadata={"branch": "main"},
        start_time=NOW + timedelta(hours=1),
        runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(i != 0)),
    )
    env = runner_env(
        runner,
        langsmith_url=fake.url,
        github_url=github.url,
        event="push",
        experiment="main-2",
    )
    code, stdout = run_main(env)
    assert code == 0, stdout
    assert github.comments_on(REPO, PR_NUMBER) == []
    assert [r for r in github.requests if r.endpoint != "create_status"] == []
    assert list(github.all_statuses()) == [(REPO, PUSH_SHA)]
    (status,) = github.statuses_on(REPO, PUSH_SHA)
    assert status["state"] == "success" and status["context"] == "evalbot"
    assert len(status["description"]) <= 140
    outputs = runner.outputs()
    assert outputs["outcome"] == "self_baseline"
    assert outputs["gate"] == "pass" and outputs["comment_url"] == ""


@pytest.mark.parametrize(
    ("policy", "code", "state"), [("neutral", 0, "success"), ("fail", 1, "error")]
)
def test_langsmith_401_is_fetch_failed_and_follows_on_fetch_failure(
    github: FakeGitHub, runner: Runner, policy: str, code: int, state: str
) -> None:
    with FakeLangSmith(api_key="another-key") as fake:
        env = runner_env(
            runner, langsmith_url=fake.url, github_url=github.url, on_fetch_failure=policy
        )
        got, stdout = run_main(env)
        assert fake.requests and all(r.status == 401 for r in fake.requests)
    assert got == code, stdout
    warnings = lines_of(stdout, "warning")
    assert any("Regression detection did not run" in w for w in warnings), stdout
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == state
    assert len(status["description"]) <= 140
    outputs = runner.outputs()
    assert outputs["outcome"] == "fetch_failed"
    assert outputs["gate"] == ("fail" if code else "pass")
    assert json.loads(Path(outputs["report_path"]).read_text("utf-8"))["outcome"] == "fetch_failed"
    assert len(github.comments_on(REPO, PR_NUMBER)) == 1


def _fast(env: dict[str, str]) -> Any:
    """Settings from ``env`` with the ``retry_budget`` input at 0: a refused connection
    fails at once instead of retrying for the default 60 s."""
    return parse_settings({**env, "INPUT_RETRY_BUDGET": "0", "INPUT_TIMEOUT": "5"})


@pytest.mark.parametrize(("policy", "code"), [("neutral", 0), ("fail", 1)])
def test_unreachable_langsmith_is_fetch_failed(
    github: FakeGitHub, runner: Runner, policy: str, code: int
) -> None:
    env = runner_env(
        runner,
        langsmith_url=f"http://127.0.0.1:{free_port()}",
        github_url=github.url,
        on_fetch_failure=policy,
    )
    out = io.StringIO()
    assert run(_fast(env), stdout=out) == code
    assert any("connection refused" in w for w in lines_of(out.getvalue(), "warning"))
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == ("error" if code else "success")
    assert runner.outputs()["outcome"] == "fetch_failed"


def test_fetch_failed_warning_names_the_action_input(github: FakeGitHub, runner: Runner) -> None:
    env = runner_env(runner, langsmith_url=f"http://127.0.0.1:{free_port()}", github_url=github.url)
    out = io.StringIO()
    run(_fast(env), stdout=out)
    assert "--pr" not in out.getvalue()


def test_missing_experiment_error_names_the_action_input(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, experiment="nope"
    )
    code, stdout = run_main(env)
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert "experiment: no experiment named" in error and "--pr" not in error


def test_github_enterprise_api_url_with_prefix(langsmith: LangSmith, runner: Runner) -> None:
    with FakeGitHub(token=GH_TOKEN, prefix="/api/v3") as ghes:
        assert ghes.url.endswith("/api/v3")
        env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=ghes.url)
        code, stdout = run_main(env)
        assert code == 1
        assert ghes.requests and all(r.endpoint is not None for r in ghes.requests), [
            (r.method, r.path) for r in ghes.requests
        ]
        assert len(ghes.comments_on(REPO, PR_NUMBER)) == 1
        assert [s["state"] for s in ghes.statuses_on(REPO, HEAD_SHA)] == ["failure"]
        assert lines_of(stdout, "warning") == []


# --- invalid inputs: exit 2, one ::error, no LangSmith request, an error status -------------


INVALID = [
    pytest.param({"fail_on": "sometimes"}, ["fail_on", "hard_regression", "never"], id="fail_on"),
    pytest.param({"on_fetch_failure": "x"}, ["on_fetch_failure", "neutral", "fail"], id="fetch"),
    pytest.param({"comment": "sometimes"}, ["comment", "update", "new", "off"], id="comment"),
    pytest.param({"comment_key": "a b"}, ["comment_key", "letters, digits"], id="comment_key"),
    pytest.param({"pass_threshold": "abc"}, ["pass_threshold", "number"], id="pass_threshold"),
    pytest.param(
        {"sensitivity": "extreme"}, ["sensitivity", "low, normal, high"], id="sensitivity"
    ),
    pytest.param({"alpha": "0.9"}, ["alpha: must be in (0, 0.5]"], id="alpha"),
    pytest.param({"alpha": "often"}, ["alpha: must be a number"], id="alpha_text"),
    pytest.param({"correction": "holm"}, ["correction", "bh, none"], id="correction"),
    pytest.param(
        {"trend_threshold": "2"}, ["trend_threshold: must be in [0, 1]"], id="trend_threshold"
    ),
    pytest.param({"history": "ten"}, ["history: must be a whole number"], id="history"),
    pytest.param(
        {"comment_when": "changed"},
        ["comment_when: must be one of always, notable; got 'changed'"],
        id="comment_when",
    ),
    pytest.param(
        {"baseline": "main-1", "baseline_prefix": "main-"},
        ["baseline and baseline_prefix", "one baseline strategy"],
        id="two_baselines",
    ),
    pytest.param({"baseline_metadata": "{branch: main"}, ["baseline_metadata", "JSON"], id="bm"),
    pytest.param({"langsmith_api_key": ""}, ["langsmith_api_key", "required"], id="no_key"),
    pytest.param(
        {"experiment": "", "experiment_metadata": ""},
        ["experiment", "experiment_metadata", "exactly one"],
        id="no_experiment",
    ),
    pytest.param(
        {"scenario_key": "bogus"},
        ["scenario_key", "example", "metadata.<field>", "inputs.<field>"],
        id="scenario_key",
    ),
    pytest.param(
        {"config": "custom.yml"},
        ["custom.yml", "bogus", "fail_on", "on_fetch_failure", "thresholds"],
        id="config_bad_key",
    ),
    pytest.param(
        {"config": ""},
        ["evalbot.yml", "bogus", "fail_on", "thresholds"],
        id="default_config_bad_key",
    ),
]


@pytest.mark.parametrize(("inputs", "expected"), INVALID)
def test_invalid_input_exits_2_before_any_request(
    langsmith: LangSmith,
    github: FakeGitHub,
    runner: Runner,
    inputs: dict[str, str],
    expected: list[str],
) -> None:
    config = "fail_on: never\nbogus: 1\n"
    (runner.workspace / "custom.yml").write_text(config, encoding="utf-8")
    (runner.workspace / ".github").mkdir()
    (runner.workspace / ".github" / "evalbot.yml").write_text(config, encoding="utf-8")
    if "config" not in inputs:  # only the config cases read a bad file
        (runner.workspace / ".github" / "evalbot.yml").unlink()
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, **inputs)
    code, stdout = run_main(env)
    assert code == 2
    lines = unmasked(stdout).splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error"), stdout
    for text in expected:
        assert text in lines[0], (text, lines[0])
    assert langsmith.fake.requests == []
    # The check still reports (issue 10): one request, the error status naming the input.
    assert [r.endpoint for r in github.requests] == ["create_status"]
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == "error" and status["description"].startswith("Invalid input: ")
    assert expected[0].split(" ")[0] in status["description"]
    assert runner.outputs()["outcome"] == "error"
    assert not (runner.workspace / "evalbot-report.json").exists()


# --- secrets never leak ---------------------------------------------------------------------


@pytest.mark.parametrize("case", ["ok", "langsmith_401", "github_401"])
def test_secrets_never_appear_in_any_output(
    langsmith: LangSmith, runner: Runner, case: str
) -> None:
    fake_token = "ghs_other_token" if case == "github_401" else GH_TOKEN
    with FakeGitHub(token=fake_token) as gh, FakeLangSmith(api_key="lsv2_sk_other") as other:
        url = other.url if case == "langsmith_401" else langsmith.fake.url
        env = runner_env(runner, langsmith_url=url, github_url=gh.url)
        proc = run_entrypoint(env, runner.workspace)
        assert proc.returncode == (0 if case == "langsmith_401" else 1), proc.stdout + proc.stderr
        if case == "github_401":
            assert gh.requests and all(r.status == 401 for r in gh.requests)
            assert any("401" in w for w in lines_of(proc.stdout, "warning")), proc.stdout
        if case == "langsmith_401":
            assert other.requests and all(r.status == 401 for r in other.requests)
        published = [c.body for c in gh.comments_on(REPO, PR_NUMBER)]
        published += [json.dumps(s) for s in gh.statuses_on(REPO, HEAD_SHA)]
    outputs = runner.outputs()
    texts = {
        "stdout": unmasked(proc.stdout),
        "stderr": proc.stderr,
        "summary": runner.summary.read_text(encoding="utf-8"),
        "outputs": runner.output.read_text(encoding="utf-8"),
        "report": Path(outputs["report_path"]).read_text(encoding="utf-8"),
        "published": "\n".join(published),
    }
    assert texts["summary"] and texts["report"]
    for where, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into {where}"
