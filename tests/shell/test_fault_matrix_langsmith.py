"""The LangSmith fault matrix (issue 10): a misbehaving LangSmith never hangs the run,
never crashes it, never leaks a secret, and always leaves a report behind.

One row per fault, injected into the fake LangSmith (tests/fakes/fake_langsmith.py). Each
row drives ``evalbot action`` end to end (runner-like environment, fake GitHub;
harness: tests/fakes/action_harness.py) and ``evalbot compare`` (the CLI), and asserts
what the user sees: the exit code (``fetch_failed`` follows ``on_fetch_failure``),
no traceback, the summary, report, outputs and status all written, no secret
(LangSmith key, GitHub token, the endpoint's password) anywhere, and a bounded
number of requests in a bounded wall time. The endpoint carries a password in every
row, so its redaction is checked everywhere too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from action_harness import (
    GH_TOKEN,
    HEAD_SHA,
    LS_KEY,
    NOW,
    PR_NUMBER,
    REPO,
    LangSmith,
    Runner,
    feedback,
    free_port,
    lines_of,
    run_main,
    runner_env,
    unmasked,
)
from fake_github import FakeGitHub
from fake_langsmith import FakeLangSmith
from helpers import run_cli

PASSWORD = "pw-SECRET789"
SECRETS = (LS_KEY, GH_TOKEN, PASSWORD)
# Tiny limits keep every row fast; the defaults are 30 s / 60 s / 300 s.
TIMEOUT, RETRY_BUDGET, FETCH_DEADLINE = "1", "0.3", "4"
MAX_SECONDS = 6.0  # wall time any row may take (a hang fails the row, not the suite)
MAX_REQUESTS = 40


def with_password(url: str) -> str:
    """The fake's URL with ``admin:PASSWORD@`` userinfo (the fake ignores it)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://admin:{PASSWORD}@{rest}"


def bounded(seconds: float, call: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``call`` in a thread; fail (instead of hanging the suite) if it takes longer."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # re-raised below, in the test's thread
            box["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"still running after {seconds} s: unbounded"
    if "error" in box:
        raise box["error"]
    return box["value"], elapsed


# --- the faults ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One row: how to break LangSmith, and words the fetch_failed message must contain."""

    inject: Callable[[FakeLangSmith, str], None]
    message: tuple[str, ...]
    endpoint: Callable[[FakeLangSmith], str] = lambda fake: with_password(fake.url)
    inputs: dict[str, str] = field(default_factory=dict)
    world: str = "small"  # "small": the harness's 5x5 world; "big": 100 examples


def _add_incomplete_mains(fake: FakeLangSmith, dataset: str) -> None:
    # More matching candidates than one /sessions page (100), all incomplete, so the
    # listing needs a second page.
    for i in range(100):
        fake.add_experiment(
            f"main-running-{i}",
            dataset_id=dataset,
            metadata={"branch": "main"},
            start_time=NOW - timedelta(hours=1, minutes=i),
            end_time=None,
        )


def _injector(method: str, *args: Any, **kwargs: Any) -> Callable[[FakeLangSmith, str], None]:
    return lambda fake, dataset: getattr(fake, method)(*args, **kwargs)


FAULTS: dict[str, Fault] = {
    "runs: the same cursor again": Fault(
        _injector("break_paging", "/runs/query", "repeat_cursor"), ("same cursor again",)
    ),
    "runs: cursor ignored (same page again)": Fault(
        _injector("break_paging", "/runs/query", "ignore_cursor"), ("same runs",)
    ),
    "runs: pages without end": Fault(
        _injector("break_paging", "/runs/query", "endless"), ("more pages",)
    ),
    "examples: offset ignored": Fault(
        _injector("break_paging", "/examples", "ignore_offset"), ("same examples",), world="big"
    ),
    "sessions: offset ignored": Fault(
        lambda fake, dataset: (
            _add_incomplete_mains(fake, dataset),
            fake.break_paging("/sessions", "ignore_offset"),
        ),
        ("listed experiment", "twice"),
    ),
    "runs: body trickled (a byte at a time)": Fault(
        _injector("trickle_next", "/runs/query", interval_s=0.1, times=20),
        ("within", "timeout"),
    ),
    "runs: headers trickled too": Fault(
        _injector("trickle_next", "/runs/query", interval_s=0.1, times=20, headers=True),
        ("no complete answer within the request deadline of 1.3 s", "retry_budget 0.3 s"),
    ),
    "every request slow: the fetch deadline passes": Fault(
        lambda fake, dataset: setattr(fake, "latency_s", 0.35),
        ("fetch_deadline", "1 s"),
        inputs={"fetch_deadline": "1"},
    ),
    "sessions: [1]": Fault(
        _injector("wrong_shape_next", "/sessions", [1], times=10), ("/sessions", "wrong shape")
    ),
    "sessions: an object where a list is expected": Fault(
        _injector("wrong_shape_next", "/sessions", {"detail": "ok"}, times=10),
        ("/sessions", "wrong shape"),
    ),
    "sessions: an experiment without an id": Fault(
        _injector("wrong_shape_next", "/sessions", [{"name": "pr-bad"}], times=10),
        ("/sessions", "wrong shape", "id"),
    ),
    "runs: a run without an id": Fault(
        _injector("wrong_shape_next", "/runs/query", {"runs": [{"status": "success"}]}, times=10),
        ("run", "id"),
    ),
    "runs: a list where an object is expected": Fault(
        _injector("wrong_shape_next", "/runs/query", [], times=10), ("'runs'",)
    ),
    "examples: an object where a list is expected": Fault(
        _injector("wrong_shape_next", "/examples", {"examples": []}, times=10),
        ("list of examples",),
    ),
    "dataset: a list where an object is expected": Fault(
        _injector("wrong_shape_next", "/datasets", [], times=10), ("dataset",)
    ),
    "runs: not JSON": Fault(_injector("malformed_next", "/runs/query", times=10), ("not JSON",)),
    "connection refused": Fault(
        lambda fake, dataset: None,
        (
            "connection refused",
            "[Errno 111] Connection refused",
            "attempts",
            "endpoint http://***@",
        ),
        endpoint=lambda fake: f"http://admin:{PASSWORD}@127.0.0.1:{free_port()}",
    ),
    "connection dropped without an answer": Fault(
        _injector("drop_next", "/runs/query", times=100),
        ("closed the connection without an answer", "Remote end closed connection"),
    ),
    "HTTP 503 until the retry budget is spent": Fault(
        _injector("fail_next", path="/runs/query", status=503, times=100),
        (
            'HTTP 503 Service Unavailable: {"detail": "injected 503 for /runs/query"}',
            "retry_budget",
        ),
    ),
}


def _big_world(fake: FakeLangSmith) -> None:
    """100 examples (a full /examples page), main-1 and pr-bad with one run each."""
    dataset = fake.add_dataset(
        "big", [{"inputs": {"q": i}, "metadata": {"scenario": f"b{i}"}} for i in range(100)]
    )
    for name, branch, start in (
        ("big-main", "main", NOW - timedelta(days=3)),
        ("big-pr", "x", NOW),
    ):
        fake.add_experiment(
            name,
            dataset_id=dataset,
            metadata={"branch": branch},
            start_time=start,
            runs=fake.make_runs(dataset, repetitions=1, outcome=lambda i, r: feedback(True)),
        )


@pytest.fixture
def broken(request: pytest.FixtureRequest, langsmith: LangSmith) -> Iterator[tuple[Fault, str]]:
    """The row's fault injected into the fake; yields the fault and the PR experiment."""
    fault = FAULTS[request.param]
    experiment = "pr-bad"
    if fault.world == "big":
        _big_world(langsmith.fake)
        experiment = "big-pr"
    fault.inject(langsmith.fake, langsmith.dataset)
    langsmith.fake.clear_requests()
    yield fault, experiment
    langsmith.fake.latency_s = 0.0


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        shown = unmasked(text)
        for secret in SECRETS:
            assert secret not in shown, f"{secret!r} leaked: {shown[:2000]}"


# --- the action ------------------------------------------------------------------------


@pytest.mark.parametrize("broken", list(FAULTS), indirect=True)
def test_action_fault_is_fetch_failed_and_reported(
    broken: tuple[Fault, str],
    langsmith: LangSmith,
    github: FakeGitHub,
    runner: Runner,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault, experiment = broken
    env = runner_env(
        runner,
        langsmith_url=fault.endpoint(langsmith.fake),
        github_url=github.url,
        **{
            "experiment": experiment,
            "timeout": TIMEOUT,
            "retry_budget": RETRY_BUDGET,
            "fetch_deadline": FETCH_DEADLINE,
            "on_fetch_failure": "fail",
            **fault.inputs,
        },
    )
    (code, stdout), elapsed = bounded(MAX_SECONDS, lambda: run_main(env))
    captured = capsys.readouterr()

    # fetch_failed with on_fetch_failure: fail -> the gate fails (exit 1), status error.
    assert code == 1, stdout
    assert "Traceback" not in stdout + captured.out + captured.err
    outputs = runner.outputs()
    assert outputs["outcome"] == "fetch_failed" and outputs["gate"] == "fail"
    report = json.loads(Path(outputs["report_path"]).read_text(encoding="utf-8"))
    assert report["outcome"] == "fetch_failed"
    message = report["message"]
    for word in fault.message:
        assert word in message, message
    summary = runner.summary.read_text(encoding="utf-8")
    assert "did not run" in summary
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == "error" and 0 < len(status["description"]) <= 140
    (comment,) = github.comments_on(REPO, PR_NUMBER)
    warnings = lines_of(stdout, "warning")
    assert any("did not run" in line for line in warnings), stdout

    # The endpoint's password is masked before anything else is printed.
    # Masked first, with the key and the token, before anything else is printed.
    masks = [line for line in stdout.splitlines() if line.startswith("::add-mask::")]
    assert (stdout.splitlines()[: len(masks)] == masks and f"::add-mask::{PASSWORD}" in masks) or (
        f"::add-mask::{PASSWORD}" in stdout.splitlines()
    )
    assert_no_secret(
        stdout,
        captured.out,
        captured.err,
        summary,
        runner.output.read_text(encoding="utf-8"),
        Path(outputs["report_path"]).read_text(encoding="utf-8"),
        comment.body,
        json.dumps(status),
    )
    assert len(langsmith.fake.requests) <= MAX_REQUESTS
    assert elapsed < MAX_SECONDS


# --- the CLI -----------------------------------------------------------------------------


@pytest.mark.parametrize("broken", list(FAULTS), indirect=True)
def test_cli_fault_is_fetch_failed_neutral_by_default(
    broken: tuple[Fault, str], langsmith: LangSmith
) -> None:
    fault, experiment = broken
    args = [
        "compare",
        "--pr",
        experiment,
        "--langsmith-endpoint",
        fault.endpoint(langsmith.fake),
        "--langsmith-api-key",
        LS_KEY,
        "--timeout",
        TIMEOUT,
        "--retry-budget",
        RETRY_BUDGET,
        "--fetch-deadline",
        fault.inputs.get("fetch_deadline", FETCH_DEADLINE),
        "--format",
        "json",
        "-v",
    ]
    (code, out, err), elapsed = bounded(MAX_SECONDS, lambda: run_cli(*args))
    assert code == 0, err  # on_fetch_failure: neutral (the default)
    assert "Traceback" not in out + err
    report = json.loads(out)
    assert report["outcome"] == "fetch_failed"
    for word in fault.message:
        assert word in report["message"], report["message"]
    # -v says what was tried and why it stopped.
    assert "evalbot: LangSmith:" in err, err
    assert_no_secret(out, err)
    assert len(langsmith.fake.requests) <= MAX_REQUESTS
    assert elapsed < MAX_SECONDS


# --- one fault, one detail --------------------------------------------------------------


def cli_args(fake: FakeLangSmith, *extra: str, endpoint: str | None = None) -> list[str]:
    return [
        "compare",
        "--pr",
        "pr-bad",
        "--langsmith-endpoint",
        endpoint or with_password(fake.url),
        "--langsmith-api-key",
        LS_KEY,
        "--timeout",
        TIMEOUT,
        "--retry-budget",
        RETRY_BUDGET,
        *extra,
    ]


def test_verbose_prints_each_attempt_and_its_cause(langsmith: LangSmith) -> None:
    langsmith.fake.fail_next(path="/runs/query", status=503, times=100)
    code, out, err = run_cli(*cli_args(langsmith.fake, "--format", "json", "-v"))
    assert code == 0
    lines = err.splitlines()
    assert any(
        "attempt 1 failed: HTTP 503 Service Unavailable; retrying in" in line for line in lines
    ), err
    assert any("not retried: the next retry" in line for line in lines), err
    assert any(line.startswith("evalbot: LangSmith: failed: fetching runs of") for line in lines)
    assert any("POST /runs/query: HTTP 503" in line for line in lines), err
    assert_no_secret(out, err)


def test_the_whole_cause_is_kept(langsmith: LangSmith) -> None:
    detail = "upstream said: " + " ".join(f"word{i}" for i in range(60))  # ~400 characters
    body = json.dumps({"detail": detail}).encode()
    langsmith.fake.fail_next(path="/runs/query", status=502, times=100, body=body)
    _, out, _ = run_cli(*cli_args(langsmith.fake, "--format", "json"))
    message = json.loads(out)["message"]
    assert detail in message  # not cut mid-word at 200 characters
    assert message.startswith("fetching runs of 'pr-bad': HTTP 502 Bad Gateway: ")
    assert "endpoint http://***@127.0.0.1:" in message


def test_the_endpoint_password_never_shows_on_a_healthy_run(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(runner, langsmith_url=with_password(langsmith.fake.url), github_url=github.url)
    code, stdout = run_main(env)
    assert code == 1  # pr-bad's hard regression: the password did not get in the way
    # Masked first, with the key and the token, before anything else is printed.
    masks = [line for line in stdout.splitlines() if line.startswith("::add-mask::")]
    assert stdout.splitlines()[: len(masks)] == masks and f"::add-mask::{PASSWORD}" in masks
    (comment,) = github.comments_on(REPO, PR_NUMBER)
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert_no_secret(
        stdout,
        comment.body,
        json.dumps(status),
        runner.summary.read_text(encoding="utf-8"),
        runner.output.read_text(encoding="utf-8"),
        (runner.workspace / "evalbot-report.json").read_text(encoding="utf-8"),
    )
    # The reproduce line of the CLI's comment: the endpoint shown without its password.
    code, out, err = run_cli(*cli_args(langsmith.fake, "--format", "markdown"))
    assert code == 1, err
    assert "http://***@127.0.0.1:" in out
    assert_no_secret(out, err)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("ftp://admin:pw-SECRET789@example.com", "'ftp://***@example.com'"),
        ("admin:pw-SECRET789@example.com", "'***@example.com'"),
        ("http://", "'http://'"),
        ("http://exa mple.com", "'http://exa mple.com'"),
        ("http://example.com:99999", "'http://example.com:99999'"),
        ("example.com", "'example.com'"),
    ],
)
def test_the_endpoint_must_be_http_and_is_never_echoed_with_its_password(
    github: FakeGitHub, runner: Runner, value: str, shown: str
) -> None:
    message = f"must be an http(s) URL like https://api.smith.langchain.com; got {shown}"
    env = runner_env(runner, langsmith_url=value, github_url=github.url)
    code, stdout = run_main(env)
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert f"langsmith_endpoint: {message}" in error, error
    assert_no_secret(stdout)
    code, out, err = run_cli("compare", "--pr", "x", "--langsmith-endpoint", value,
                             "--langsmith-api-key", LS_KEY)  # fmt: skip
    assert code == 2
    assert err == f"evalbot: error: --langsmith-endpoint: {message}\n"
    assert_no_secret(out, err)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "21601"])
def test_a_bad_fetch_deadline_is_exit_2_naming_it(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, tmp_path: Path, value: str
) -> None:
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, fetch_deadline=value
    )
    code, stdout = run_main(env)
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert "fetch_deadline: must be a" in error, error
    assert langsmith.fake.requests == []  # validated before any request

    # "abc" is click's own usage error ("Invalid value for '--fetch-deadline'"), also exit 2.
    code, _, err = run_cli(*cli_args(langsmith.fake, "--fetch-deadline", value))
    assert code == 2
    assert "--fetch-deadline" in err and "Traceback" not in err
    code, _, err = run_cli(*cli_args(langsmith.fake), env={"EVALBOT_FETCH_DEADLINE": value})
    assert code == 2 and "--fetch-deadline" in err, err

    config = tmp_path / "evalbot.yml"
    config.write_text(f"fetch_deadline: {value}\n", encoding="utf-8")
    code, _, err = run_cli(*cli_args(langsmith.fake, "--config", str(config)))
    assert code == 2
    assert f"{config}: fetch_deadline: must be a" in err, err


def test_the_config_files_fetch_deadline_applies_and_the_input_wins(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    config = runner.workspace / ".github" / "evalbot.yml"
    config.parent.mkdir()
    config.write_text("fetch_deadline: 0.5\n", encoding="utf-8")
    langsmith.fake.latency_s = 0.2
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    (code, stdout), elapsed = bounded(MAX_SECONDS, lambda: run_main(env))
    assert code == 0, stdout  # fetch_failed, neutral
    assert runner.outputs()["outcome"] == "fetch_failed"
    assert "the fetch deadline of 0.5 s (fetch_deadline)" in stdout
    assert elapsed < 2

    # The input overrides the file: 30 s is plenty.
    runner.output.write_text("", encoding="utf-8")
    env["INPUT_FETCH_DEADLINE"] = "30"
    code, stdout = run_main(env)
    assert code == 1, stdout  # pr-bad's hard regression
    langsmith.fake.latency_s = 0.0
