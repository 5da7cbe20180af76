"""Fault matrix, misuse rows: cases next to the named ones — a malformed or oversized
event payload, a config file that is a symlink out of the workspace, a device, a FIFO or
an alias bomb, a LangSmith endpoint carrying a key in its query string, a comment
listing that never ends, a LangSmith answer too large to hold, and a cancelled run.
Each is exit 2 (or the documented outcome) with one line, no traceback, no hang, and
nothing written that holds a secret.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from evalbot.config import MAX_CONFIG_BYTES, load_config
from evalbot.errors import InputError
from evalbot.github.runtime import MAX_EVENT_BYTES

from action_harness import (
    GH_TOKEN,
    HEAD_SHA,
    LS_KEY,
    PR_NUMBER,
    REPO,
    LangSmith,
    Runner,
    entrypoint,
    lines_of,
    run_main,
    runner_env,
    unmasked,
)
from fake_github import FakeGitHub
from helpers import EXAMPLES, run_cli


def one_error(stdout: str) -> str:
    assert "Traceback" not in stdout, stdout
    (error,) = lines_of(unmasked(stdout), "error")
    return error


# --- the event payload ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"pull_request": {"number": 7, "head": "x"}}, "pull_request.head.sha is missing"),
        ({"pull_request": {"number": 7, "head": [HEAD_SHA]}}, "pull_request.head.sha"),
        ({"pull_request": {"number": True, "head": {"sha": HEAD_SHA}}}, "pull_request.number"),
        ({"pull_request": {"number": 0, "head": {"sha": HEAD_SHA}}}, "from 1 to"),
        ({"pull_request": {"number": -3, "head": {"sha": HEAD_SHA}}}, "from 1 to"),
        ({"pull_request": {"number": 10**30, "head": {"sha": HEAD_SHA}}}, "a huge number"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("{not json", "not JSON"),
    ],
)
def test_malformed_event_payload_is_exit_2_and_still_reports(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, payload: Any, needle: str
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    runner.event.write_text(text, encoding="utf-8")

    code, stdout = run_main(env)

    assert code == 2, stdout
    error = one_error(stdout)
    assert "GITHUB_EVENT_PATH" in error and needle in error, error
    assert langsmith.fake.requests == []
    assert runner.outputs()["outcome"] == "error"
    assert "evalbot could not run" in runner.summary.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["fifo", "device", "huge", "directory"])
def test_event_path_that_is_not_a_small_file_is_refused_without_reading_it(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, tmp_path: Path, kind: str
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    if kind == "fifo":
        path = tmp_path / "fifo"
        os.mkfifo(path)  # no writer: open() without O_NONBLOCK would wait forever
    elif kind == "device":
        path = Path("/dev/zero")  # never ends
    elif kind == "huge":
        path = tmp_path / "huge.json"
        with path.open("wb") as handle:
            handle.truncate(MAX_EVENT_BYTES + 1)  # sparse: no disk used
    else:
        path = tmp_path
    env["GITHUB_EVENT_PATH"] = str(path)

    code, stdout = run_main(env)

    assert code == 2, stdout
    error = one_error(stdout)
    assert "GITHUB_EVENT_PATH" in error, error
    expected = {"huge": "too large", "directory": "Is a directory"}.get(kind, "not a regular file")
    assert expected in error, error
    assert runner.outputs()["outcome"] == "error"


# --- the config file -------------------------------------------------------------------------


def test_config_symlinked_out_of_the_workspace_is_refused(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pull request can commit .github/evalbot.yml as a symlink to the environment
    # (which holds ACTIONS_RUNTIME_TOKEN in a Docker action) or any runner file; a
    # parse error quoting it would publish it in the status.
    monkeypatch.setenv("ACTIONS_RUNTIME_TOKEN", "fail_on: rt_SECRET789")
    (runner.workspace / ".github").mkdir()
    (runner.workspace / ".github" / "evalbot.yml").symlink_to("/proc/self/environ")
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)

    code, stdout = run_main(env)

    assert code == 2, stdout
    error = one_error(stdout)
    assert ".github/evalbot.yml: must be a path inside the workspace" in error, error
    statuses = github.statuses_on(REPO, HEAD_SHA)
    assert [s["state"] for s in statuses] == ["error"]
    assert "rt_SECRET789" not in json.dumps(statuses) + stdout
    assert langsmith.fake.requests == []


def test_config_input_outside_the_workspace_is_refused(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, config="../x.yml"
    )

    code, stdout = run_main(env)

    assert code == 2, stdout
    assert "config: must be a path inside the workspace" in one_error(stdout)


ALIAS_BOMB = "alpha:\n  - &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  - &{b} [{', '.join([f'*{a}'] * 10)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ("/dev/zero", "not a regular file"),
        ("fifo", "not a regular file"),
        ("huge", "too large"),
        ("bomb", "once YAML aliases are expanded"),
        ("loop", "once YAML aliases are expanded"),
        ("deep", "nested too deeply"),
    ],
)
def test_config_that_would_hang_or_eat_memory_is_exit_2(
    tmp_path: Path, source: str, needle: str
) -> None:
    path = tmp_path / "evalbot.yml"
    if source == "/dev/zero":
        path = Path(source)
    elif source == "fifo":
        os.mkfifo(path)
    elif source == "huge":
        path.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1), encoding="utf-8")
    elif source == "bomb":
        path.write_text(ALIAS_BOMB, encoding="utf-8")  # 10^9 values when expanded
    elif source == "loop":
        path.write_text("alpha: &a [*a]\n", encoding="utf-8")
    else:
        path.write_text("alpha: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=needle):
        load_config(path)
    code, out, err = run_cli(
        "compare",
        "--pr-file",
        str(EXAMPLES / "pr.json"),
        "--baseline-file",
        str(EXAMPLES / "baseline.json"),
        "--config",
        str(path),
    )
    assert code == 2, out + err
    assert needle in err and "Traceback" not in out + err


# --- the LangSmith endpoint ------------------------------------------------------------------


@pytest.mark.parametrize("tail", ["/?api_key=QS_SECRET", "#QS_SECRET", "/api?x=1&key=QS_SECRET"])
def test_endpoint_with_a_query_string_is_refused_and_never_echoed(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, tail: str
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url + tail, github_url=github.url)

    code, stdout = run_main(env)

    assert code == 2, stdout
    error = one_error(stdout)
    assert "langsmith_endpoint" in error and "query string" in error, error
    everywhere = stdout + runner.summary.read_text(encoding="utf-8")
    everywhere += json.dumps(github.statuses_on(REPO, HEAD_SHA))
    assert "QS_SECRET" not in everywhere
    assert LS_KEY not in unmasked(everywhere)
    assert langsmith.fake.requests == []


# --- GitHub paging ---------------------------------------------------------------------------


def test_comment_listing_that_never_ends_is_bounded_and_the_check_still_reports(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    from evalbot.github.api import COMMENT_PAGE_LIMIT

    for i in range(100):  # one full page, by someone else
        github.add_comment(REPO, PR_NUMBER, f"comment {i}", login="octocat")
    github.loop_comment_pages = True  # and its next link points back at itself
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)

    code, stdout = run_main(env)

    assert code == 1, stdout  # pr-bad: the gate's answer, whatever GitHub does
    assert len(github.requests_to("list_comments")) == COMMENT_PAGE_LIMIT
    assert github.requests_to("create_comment") == []  # never a blind duplicate
    (warning,) = [w for w in lines_of(stdout, "warning") if "comment" in w]
    assert f"did not end within {COMMENT_PAGE_LIMIT} pages" in warning, warning
    assert [s["state"] for s in github.statuses_on(REPO, HEAD_SHA)] == ["failure"]
    assert runner.outputs()["outcome"] == "ok"


# --- LangSmith answers too large to hold -----------------------------------------------------


def test_langsmith_answer_that_never_ends_is_cut_at_the_size_limit(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    # A 200 whose body never ends, sent as fast as it is read: without a size limit the
    # whole timeout's worth (gigabytes on a fast link) is held in memory.
    langsmith.fake.flood_next("/runs/query", times=20)
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        timeout="60",
        retry_budget="0",
        on_fetch_failure="fail",
    )

    code, stdout = run_main(env)

    assert code == 1, stdout
    outputs = runner.outputs()
    assert outputs["outcome"] == "fetch_failed", stdout
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == "error"
    assert "larger than 64 MiB" in runner.summary.read_text(encoding="utf-8")
    assert "Traceback" not in stdout


# --- secrets that cannot go into a header ----------------------------------------------------


@pytest.mark.parametrize("value", ["lsv2_AAAA\nlsv2_BBBB", "lsv2_AAAA lsv2_BBBB", "lsv2_AAAA\x07"])
def test_langsmith_key_with_a_line_break_is_exit_2_and_never_quoted(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, value: str
) -> None:
    # requests refuses a header value with a line break and quotes the whole value in
    # its error: that error became the fetch_failed message, in the comment and status.
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, langsmith_api_key=value
    )

    code, stdout = run_main(env)

    assert code == 2, stdout
    assert "langsmith_api_key: must be one line" in one_error(stdout)
    published = unmasked(stdout) + runner.summary.read_text(encoding="utf-8")
    published += json.dumps(github.statuses_on(REPO, HEAD_SHA))
    assert "AAAA" not in published and "BBBB" not in published
    assert [s["state"] for s in github.statuses_on(REPO, HEAD_SHA)] == ["error"]
    assert langsmith.fake.requests == []


def test_github_token_with_a_line_break_is_exit_2_and_never_sent(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        github_token="ghs_AAAA\nghs_BBBB",
    )

    code, stdout = run_main(env)

    assert code == 2, stdout
    assert "github_token: must be one line" in one_error(stdout)
    assert "AAAA" not in unmasked(stdout) + runner.summary.read_text(encoding="utf-8")
    assert github.requests == []  # no status: the token cannot authenticate anything
    assert runner.outputs()["outcome"] == "error"
    assert langsmith.fake.requests == []


def test_cli_publish_token_with_a_line_break_is_exit_2() -> None:
    code, out, err = run_cli(
        "publish",
        "--github-token",
        "ghs_AAAA\nghs_BBBB",
        "--repository",
        REPO,
        "--dataset",
        "support",
        "--head-sha",
        HEAD_SHA,
        "--langsmith-api-key",
        LS_KEY,
    )
    assert code == 2, out + err
    assert "--github-token: must be one line" in err and "AAAA" not in out + err


# --- a cancelled run -------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cancelled_run_ends_promptly_with_one_line_and_sets_no_status(
    github: FakeGitHub, runner: Runner, signum: int
) -> None:
    # GitHub cancels a job with SIGINT, then SIGTERM 7.5 s later. LangSmith here accepts
    # connections and never answers, so the run is mid-fetch (request deadline: 90 s).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = runner_env(runner, langsmith_url=url, github_url=github.url)
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(runner.workspace)}
        proc = subprocess.Popen(
            entrypoint(),
            env={**base, **env},
            cwd=runner.workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            silent.settimeout(60)
            conn, _ = silent.accept()  # the fetch has started
            conn.close()
            silent.accept()[0].close()  # the retry: the run is waiting on LangSmith again
            started = time.monotonic()
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=30)
            elapsed = time.monotonic() - started
        finally:
            proc.kill()
            proc.wait()

    assert proc.returncode == 2, stdout + stderr
    assert elapsed < 10, elapsed
    assert "Traceback" not in stdout + stderr
    assert stderr.strip().splitlines()[-1] == "evalbot: cancelled (interrupted); no status was set"
    assert github.statuses_on(REPO, HEAD_SHA) == []  # documented: a cancelled run reports nothing


# --- Retry-After values urllib3 refuses --------------------------------------------------------

GARBLED_RETRY_AFTER = ["soon", "-1", "nan", "1.5"]


@pytest.mark.parametrize("value", GARBLED_RETRY_AFTER)
def test_langsmith_503_with_a_garbled_retry_after_is_retried_with_the_backoff(
    langsmith: LangSmith, value: str
) -> None:
    # urllib3 raised InvalidHeader for these: one attempt, fetch_failed, a leaked socket.
    langsmith.fake.fail_next(path="/sessions", status=503, times=1, retry_after=value)
    code, out, err = run_cli(
        "compare",
        "--pr",
        "pr-bad",
        "--langsmith-endpoint",
        langsmith.fake.url,
        "--langsmith-api-key",
        LS_KEY,
        "--timeout",
        "5",
        "--retry-budget",
        "10",
        "--format",
        "json",
    )
    assert code == 1, err  # pr-bad's hard regression: the retry got the answer
    assert json.loads(out)["outcome"] == "ok"


@pytest.mark.parametrize("value", GARBLED_RETRY_AFTER)
def test_github_503_with_a_garbled_retry_after_is_retried_with_the_backoff(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, value: str
) -> None:
    github.fail(
        "list_comments", 503, "Service Unavailable", headers={"Retry-After": value}, times=1
    )
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)

    code, stdout = run_main(env)

    assert code == 1, stdout
    assert lines_of(stdout, "warning") == [], stdout
    assert len(github.comments_on(REPO, PR_NUMBER)) == 1
    assert len(github.requests_to("list_comments")) == 2


# --- timeouts out of any useful range ----------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--timeout", "1e308"),  # OverflowError converting to milliseconds: exit 3
        ("--timeout", "1e20"),  # "timestamp out of range": looked like an outage
        ("--timeout", "1e-300"),  # 0 ms, refused by urllib3: looked like an outage
        ("--retry-budget", "1e308"),
        ("--timeout", "nan"),
    ],
)
def test_cli_timeout_out_of_range_is_exit_2_before_any_request(
    langsmith: LangSmith, option: str, value: str
) -> None:
    code, out, err = run_cli(
        "compare",
        "--pr",
        "pr-bad",
        "--langsmith-endpoint",
        langsmith.fake.url,
        "--langsmith-api-key",
        LS_KEY,
        option,
        value,
    )
    assert code == 2, out + err
    assert f"{option}: must be a" in err and "21600" in err, err
    assert langsmith.fake.requests == []


def test_action_timeout_out_of_range_is_exit_2_naming_the_input(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, timeout="1e308"
    )
    code, stdout = run_main(env)
    assert code == 2, stdout
    assert "timeout: must be a positive number of seconds" in one_error(stdout)
    assert [s["state"] for s in github.statuses_on(REPO, HEAD_SHA)] == ["error"]


# --- a secret quoted by a message evalbot did not write --------------------------------------


def test_github_token_quoted_in_a_fetch_error_is_redacted_everywhere(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    # A misconfigured workflow passes the token as the experiment; LangSmith fails, and
    # the fetch error quotes the name: comment, summary, status, report, log all showed it.
    langsmith.fake.fail_next(path="/sessions", status=500, times=50)
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        experiment=GH_TOKEN,
        retry_budget="0",
    )

    code, stdout = run_main(env)

    assert code == 0, stdout  # fetch_failed, on_fetch_failure: neutral
    assert runner.outputs()["outcome"] == "fetch_failed"
    places = {
        "stdout": unmasked(stdout),
        "summary": runner.summary.read_text(encoding="utf-8"),
        "statuses": json.dumps(github.statuses_on(REPO, HEAD_SHA)),
        "comments": "\n".join(c.body for c in github.comments_on(REPO, PR_NUMBER)),
        "report": Path(runner.outputs()["report_path"]).read_text(encoding="utf-8"),
    }
    for where, text in places.items():
        assert GH_TOKEN not in text, where
    assert "reading experiment '***'" in places["stdout"]


# --- numbers that are digits to str.isdigit but not to int, or past any date -------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "99999999999999999999"},
        {"Retry-After": "99999999999999999999"},
    ],
)
def test_github_rate_limit_with_absurd_headers_is_a_warning_not_an_internal_error(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, headers: dict[str, str]
) -> None:
    github.fail("create_status", 403, "API rate limit exceeded", headers=headers)
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)

    code, stdout = run_main(env)

    assert code == 1, stdout  # the gate's answer (pr-bad)
    assert "Traceback" not in stdout
    (warning,) = lines_of(stdout, "warning")
    assert "rate limit" in warning and "refused the status" in warning, warning
    assert runner.outputs()["outcome"] == "ok"


def test_history_with_a_unicode_digit_is_exit_2(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, history="²")
    code, stdout = run_main(env)
    assert code == 2, stdout
    assert "history: must be a whole number" in one_error(stdout)
