"""``evalbot action`` as GitHub runs it: INPUT_* and runner variables in, comment,
status, outputs, job summary, report and exit code out — against the fake
LangSmith and fake GitHub servers.

One end-to-end test runs the Dockerfile's ENTRYPOINT as a subprocess; the rest
call :func:`evalbot.action.main` in-process (faster).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_github import FakeGitHub
from fake_langsmith import FakeLangSmith

from evalbot.action import main, parse_settings, run

ROOT = Path(__file__).resolve().parent.parent
REPO = "acme/app"
PR_NUMBER = 7
HEAD_SHA = "1111111111111111111111111111111111111111"
MERGE_SHA = "2222222222222222222222222222222222222222"
PUSH_SHA = "3333333333333333333333333333333333333333"
SERVER = "https://github.com"
RUN_ID = "424242"
RUN_URL = f"{SERVER}/{REPO}/actions/runs/{RUN_ID}"
LS_KEY = "lsv2_sk_SECRET123"
GH_TOKEN = "ghs_SECRET456"
SECRETS = (LS_KEY, GH_TOKEN)
MARKER = "<!-- evalbot:default -->"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# --- fixtures -----------------------------------------------------------------------------


def _feedback(ok: bool) -> dict[str, Any]:
    stats = {"n": 1, "avg": 1.0 if ok else 0.0, "stdev": 0, "errors": 0, "values": {}}
    return {"feedback_stats": {"correctness": {**stats, "comments": []}}}


REPETITIONS = 5
"""Trials per scenario: pr-bad's s0 at 0/5 vs 5/5 (Fisher p = 1/252) is a hard regression
under the default false-alarm budget; 0/3 vs 3/3 (p = 1/20) would only be soft."""


@dataclass
class LangSmith:
    fake: FakeLangSmith
    dataset: str


@pytest.fixture
def langsmith() -> Iterator[LangSmith]:
    """A dataset of 5 scenarios run 5 times each; main-1 passes all, pr-bad fails s0 on
    every trial (a hard regression), pr-good passes all."""
    with FakeLangSmith(api_key=LS_KEY) as fake:
        ds = fake.add_dataset(
            "support",
            [
                {"inputs": {"question": f"q{i}?"}, "metadata": {"scenario": f"s{i}"}}
                for i in range(5)
            ],
        )
        fake.add_experiment(
            "main-1",
            dataset_id=ds,
            metadata={"branch": "main", "commit": "abc"},
            start_time=NOW - timedelta(days=2),
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: _feedback(True)),
        )
        fake.add_experiment(
            "pr-bad",
            dataset_id=ds,
            metadata={"branch": "feat"},
            start_time=NOW,
            runs=fake.make_runs(
                ds, repetitions=REPETITIONS, outcome=lambda i, r: _feedback(i != 0)
            ),
        )
        fake.add_experiment(
            "pr-good",
            dataset_id=ds,
            metadata={"branch": "feat"},
            start_time=NOW - timedelta(hours=1),
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: _feedback(True)),
        )
        fake.clear_requests()
        yield LangSmith(fake, ds)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=GH_TOKEN) as gh:
        yield gh


@dataclass
class Runner:
    """The runner's files for one job."""

    workspace: Path
    output: Path
    summary: Path
    event: Path

    def outputs(self) -> dict[str, str]:
        return parse_outputs(self.output.read_text(encoding="utf-8"))


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    workspace = tmp_path / "workspace"
    files = tmp_path / "runner"
    workspace.mkdir()
    files.mkdir()
    made = Runner(workspace, files / "output", files / "summary.md", files / "event.json")
    made.output.touch()
    made.summary.touch()
    return made


def action_defaults(token: str) -> dict[str, str]:
    """Every action.yml input as the runner passes it: INPUT_<NAME>=default."""
    spec = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    env = {}
    for name, meta in spec["inputs"].items():
        default = str(meta.get("default", ""))
        if default == "${{ github.token }}":
            default = token
        env[f"INPUT_{name.upper()}"] = default
    return env


def runner_env(
    runner: Runner,
    *,
    langsmith_url: str,
    github_url: str,
    event: str = "pull_request",
    token: str = GH_TOKEN,
    **inputs: str,
) -> dict[str, str]:
    """A runner-like environment: action.yml defaults, then ``inputs`` (lower-case names)."""
    if event == "pull_request":
        payload: dict[str, Any] = {
            "action": "synchronize",
            "number": PR_NUMBER,
            "pull_request": {"number": PR_NUMBER, "head": {"sha": HEAD_SHA, "ref": "feat"}},
        }
        sha = MERGE_SHA
    else:
        payload = {"ref": "refs/heads/main", "after": PUSH_SHA}
        sha = PUSH_SHA
    runner.event.write_text(json.dumps(payload), encoding="utf-8")
    env = action_defaults(token)
    env.update(
        {
            "INPUT_LANGSMITH_API_KEY": LS_KEY,
            "INPUT_LANGSMITH_ENDPOINT": langsmith_url,
            "INPUT_EXPERIMENT": "pr-bad",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(runner.event),
            "GITHUB_SHA": sha,
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": github_url,
            "GITHUB_SERVER_URL": SERVER,
            "GITHUB_RUN_ID": RUN_ID,
            "GITHUB_OUTPUT": str(runner.output),
            "GITHUB_STEP_SUMMARY": str(runner.summary),
            "GITHUB_WORKSPACE": str(runner.workspace),
        }
    )
    for name, value in inputs.items():
        env[f"INPUT_{name.upper()}"] = value
    return env


def parse_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: ``name=value`` or ``name<<DELIM`` blocks."""
    lines = text.split("\n")
    outputs: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            assert delimiter, line
            end = lines.index(delimiter, i + 1)  # ValueError: unterminated block
            value = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            i += 1
        assert name not in outputs, f"output {name} written twice"
        outputs[name] = value
    return outputs


def run_main(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(env, stdout=out)
    return code, out.getvalue()


def lines_of(stdout: str, kind: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(f"::{kind}")]


def entrypoint() -> list[str]:
    """The Dockerfile's exec-form ENTRYPOINT, with the venv's evalbot script."""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.strip().upper().startswith("ENTRYPOINT"):
            command = json.loads(line.strip()[len("ENTRYPOINT") :])
            break
    else:
        raise AssertionError("Dockerfile has no ENTRYPOINT")
    assert command == ["evalbot", "action"]
    script = shutil.which("evalbot", path=str(Path(sys.executable).parent)) or shutil.which(
        "evalbot"
    )
    assert script, "the evalbot console script is not installed"
    return [script, *command[1:]]


def run_entrypoint(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(
        entrypoint(),
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- end to end: the Docker ENTRYPOINT as a subprocess --------------------------------------


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
    summary = runner.summary.read_text(encoding="utf-8")
    assert summary == comment.body
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
        runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: _feedback(i != 0)),
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


# --- invalid inputs: exit 2, one ::error, no request --------------------------------------


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
    lines = stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("::error"), stdout
    for text in expected:
        assert text in lines[0], (text, lines[0])
    assert langsmith.fake.requests == []
    assert github.requests == []
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
        "stdout": proc.stdout,
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
