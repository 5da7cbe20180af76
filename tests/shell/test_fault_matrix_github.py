"""The GitHub side of the fault matrix: ``evalbot action`` end to end against the fake
LangSmith and a fake GitHub that misbehaves (tests/fakes/fake_github.py fault injection).

One row per fault. Every row asserts what the user sees: the exit code, no traceback,
the job summary, the outputs, the report and the commit status (or the documented
exception: GitHub refused the status itself), no secret anywhere, and that the run
ends in seconds (GitHub's rate limits are never waited out).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evalbot.action import OUTPUTS, main
from evalbot.github.api import RETRY_BUDGET_S

from action_harness import (
    HEAD_SHA,
    MARKER,
    PR_NUMBER,
    REPO,
    SECRETS,
    LangSmith,
    Runner,
    free_port,
    lines_of,
    runner_env,
    unmasked,
)
from fake_github import FakeGitHub

# A hang guard, not a speed measurement: a run that waited for a rate limit to reset
# (an hour) or for Retry-After (2 minutes, many times) would blow through it.
HANG_GUARD_S = RETRY_BUDGET_S + 20


def run_bounded(env: dict[str, str]) -> tuple[int, str]:
    """Run the action in a thread; fail (instead of hanging the suite) past the guard."""
    out = io.StringIO()
    box: dict[str, int | BaseException] = {}

    def target() -> None:
        try:
            box["code"] = main(env, stdout=out)
        except BaseException as exc:  # re-raised below, in the test thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(HANG_GUARD_S)
    if thread.is_alive():
        pytest.fail(f"the action was still running after {time.monotonic() - started:.0f} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return int(box["code"]), out.getvalue()  # type: ignore[arg-type]


@dataclass
class Seen:
    """Everything the run left behind."""

    code: int
    stdout: str
    outputs: dict[str, str]
    summary: str
    report: str | None
    comments: list[str]
    statuses: list[dict[str, str]]

    def texts(self) -> dict[str, str]:
        return {
            "stdout": unmasked(self.stdout),
            "outputs": json.dumps(self.outputs),
            "summary": self.summary,
            "report": self.report or "",
            "comments": "\n".join(self.comments),
            "statuses": json.dumps(self.statuses),
        }


def observe(code: int, stdout: str, runner: Runner, github: FakeGitHub) -> Seen:
    outputs = runner.outputs()
    report_path = outputs.get("report_path") or ""
    report = Path(report_path).read_text("utf-8") if report_path else None
    return Seen(
        code=code,
        stdout=stdout,
        outputs=outputs,
        summary=runner.summary.read_text("utf-8"),
        report=report,
        comments=[c.body for c in github.comments_on(REPO, PR_NUMBER)],
        statuses=github.statuses_on(REPO, HEAD_SHA),
    )


def assert_reported(seen: Seen, *, code: int, report: bool = True) -> None:
    """The common contract of every row."""
    assert seen.code == code, seen.stdout
    assert "Traceback" not in seen.stdout
    assert set(seen.outputs) == set(OUTPUTS), seen.outputs
    assert seen.summary.strip(), "the job summary is empty"
    if report:
        assert seen.report and json.loads(seen.report)["schema_version"], "no report"
    for where, text in seen.texts().items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into {where}"
    for line in seen.stdout.splitlines():
        assert line.startswith(("::", "evalbot:")), f"unexpected output line {line!r}"


def env_for(langsmith: LangSmith, github_url: str, runner: Runner, **inputs: str) -> dict[str, str]:
    return runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github_url, **inputs)


# --- GitHub refuses or fails: the gate's exit code, everything else written ----------------


def _when(reset: int) -> str:
    return datetime.fromtimestamp(reset, UTC).strftime("%H:%M:%S UTC")


@pytest.mark.parametrize(
    ("kind", "status"), [("primary", 403), ("secondary", 403), ("secondary", 429)]
)
def test_rate_limit_is_a_warning_naming_the_limit_and_its_reset(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, kind: str, status: int
) -> None:
    reset = github.rate_limit("all", kind=kind, status=status, reset_in=3600, retry_after=120)
    started = time.monotonic()
    code, stdout = run_bounded(env_for(langsmith, github.url, runner))
    elapsed = time.monotonic() - started
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1)
    assert elapsed < HANG_GUARD_S
    warnings = lines_of(stdout, "warning")
    limited = [w for w in warnings if f"{kind} rate limit" in w]
    assert limited, stdout
    if kind == "primary":
        assert _when(reset) in limited[0], limited[0]
    else:
        assert "Retry-After 120 s" in limited[0], limited[0]
    assert not any("pull-requests: write" in w for w in warnings), "not a permissions problem"
    # GitHub refused the status too: the documented exception, reported as a warning.
    assert seen.statuses == [] and any("status" in w for w in limited), stdout
    assert seen.outputs["gate"] == "fail" and seen.outputs["hard_regressions"] == "1"
    assert seen.outputs["comment_url"] == ""
    # Nothing was retried into the limit: one request per call, none repeated.
    assert len(github.requests_to("list_comments")) == 1
    assert len(github.requests_to("create_status")) == 1


@pytest.mark.parametrize("mode", ["update", "new"])
def test_502_after_the_comment_was_created_leaves_exactly_one_comment(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, mode: str
) -> None:
    github.fail("create_comment", 502, "Bad Gateway", after=True)
    code, stdout = run_bounded(env_for(langsmith, github.url, runner, comment=mode))
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1)
    comments = github.comments_on(REPO, PR_NUMBER)
    assert len(comments) == 1, f"{len(comments)} comments"
    assert comments[0].body.startswith(MARKER)
    assert len(github.requests_to("create_comment")) == 1
    assert seen.outputs["comment_url"].endswith(f"#issuecomment-{comments[0].id}")
    assert [s["state"] for s in seen.statuses] == ["failure"]
    assert lines_of(stdout, "warning") == [], "the comment was adopted: nothing to warn about"


def test_502_before_the_comment_was_created_creates_it_once_more(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    # A 502 that really lost the comment: the list shows no comment, so one more create.
    github.fail("create_comment", 502, "Bad Gateway", times=1)
    code, stdout = run_bounded(env_for(langsmith, github.url, runner))
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1)
    assert len(github.comments_on(REPO, PR_NUMBER)) == 1
    assert len(github.requests_to("create_comment")) == 2
    assert len(github.requests_to("list_comments")) == 2


def test_github_502_on_every_request_is_bounded(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    github.fail("all", 502, "Bad Gateway")
    code, stdout = run_bounded(env_for(langsmith, github.url, runner))
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1)
    assert seen.statuses == [] and seen.comments == []
    warnings = lines_of(stdout, "warning")
    assert any("comment" in w and "502" in w for w in warnings), stdout
    assert any("status" in w and "502" in w for w in warnings), stdout
    # Reads are retried a few times; writes never blindly (2 creates at most, 2 statuses).
    assert 2 <= len(github.requests_to("list_comments")) <= 8
    assert len(github.requests_to("create_comment")) <= 2
    assert len(github.requests_to("create_status")) <= 2


def test_github_unreachable_is_a_warning(langsmith: LangSmith, runner: Runner) -> None:
    code, stdout = run_bounded(env_for(langsmith, f"http://127.0.0.1:{free_port()}", runner))
    with FakeGitHub() as unused:  # only for observe(): nothing reached GitHub
        seen = observe(code, stdout, runner, unused)
    assert_reported(seen, code=1)
    warnings = lines_of(stdout, "warning")
    assert any("comment" in w for w in warnings) and any("status" in w for w in warnings)


def test_404_on_the_pr_says_the_pr_was_not_found(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    github.fail("comments", 404, "Not Found")
    code, stdout = run_bounded(env_for(langsmith, github.url, runner))
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1)
    (warning,) = lines_of(stdout, "warning")
    assert f"PR #{PR_NUMBER} was not found in {REPO}" in warning, warning
    assert "pull-requests: write" not in warning and "fork" not in warning
    assert [s["state"] for s in seen.statuses] == ["failure"]


def test_403_fork_token_is_a_warning_and_nothing_is_lost(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    github.fail("comments", 403)
    github.fail("statuses", 403)
    code, stdout = run_bounded(env_for(langsmith, github.url, runner))
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1)
    warnings = lines_of(stdout, "warning")
    assert any("pull-requests: write" in w and "fork" in w for w in warnings), stdout
    assert any("statuses: write" in w for w in warnings), stdout
    assert seen.statuses == [] and seen.comments == []  # the documented exception
    # A 403 is not retried.
    assert len(github.requests_to("list_comments")) == 1
    assert len(github.requests_to("create_status")) == 1


# --- input errors found mid-run: status error naming the input, exit 2 ---------------------


def _bad_template(runner: Runner) -> dict[str, str]:
    (runner.workspace / "comment.j2").write_text("{{ outcome.kind\n", encoding="utf-8")
    return {"template": "comment.j2"}


def _missing_template(runner: Runner) -> dict[str, str]:
    return {"template": "nope.j2"}


def _config_is_a_directory(runner: Runner) -> dict[str, str]:
    (runner.workspace / "evalbot.yml").mkdir()
    return {"config": "evalbot.yml"}


def _config_not_yaml(runner: Runner) -> dict[str, str]:
    (runner.workspace / "evalbot.yml").write_text("fail_on: [never\n", encoding="utf-8")
    return {"config": "evalbot.yml"}


def _no_such_experiment(runner: Runner) -> dict[str, str]:
    return {"experiment": "nope"}


def _no_such_dataset(runner: Runner) -> dict[str, str]:
    return {"experiment": "", "experiment_metadata": '{"pr": 1}', "dataset": "nope"}


MID_RUN = [
    pytest.param(_no_such_experiment, "experiment: no experiment named", id="experiment"),
    pytest.param(_no_such_dataset, "dataset: no dataset named", id="dataset"),
    pytest.param(_bad_template, "template: ", id="template_syntax"),
    pytest.param(_missing_template, "template: file not found", id="template_missing"),
    pytest.param(_config_is_a_directory, "evalbot.yml", id="config_directory"),
    pytest.param(_config_not_yaml, "evalbot.yml", id="config_not_yaml"),
]


@pytest.mark.parametrize(("setup", "named"), MID_RUN)
def test_input_error_found_mid_run_still_reports(
    langsmith: LangSmith,
    github: FakeGitHub,
    runner: Runner,
    setup: Callable[[Runner], dict[str, str]],
    named: str,
) -> None:
    code, stdout = run_bounded(env_for(langsmith, github.url, runner, **setup(runner)))
    seen = observe(code, stdout, runner, github)
    # No report: there is no outcome to report (the documented exception).
    assert_reported(seen, code=2, report=False)
    (error,) = lines_of(stdout, "error")
    assert named in error, error
    (status,) = seen.statuses
    assert status["state"] == "error"
    assert status["description"].startswith("Invalid input: ")
    assert named in status["description"] or named.startswith(status["description"][15:40])
    assert len(status["description"]) <= 140 and "\n" not in status["description"]
    assert seen.outputs["outcome"] == "error" and seen.outputs["gate"] == "fail"
    assert seen.outputs["report_path"] == "" and seen.outputs["comment_url"] == ""
    assert "could not run" in seen.summary and named.split(":")[0] in seen.summary
    assert seen.comments == []


# --- the report, summary or outputs cannot be written: a warning, nothing else lost ---------


def test_report_path_is_a_directory_is_a_warning(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    (runner.workspace / "reports").mkdir()
    code, stdout = run_bounded(env_for(langsmith, github.url, runner, report_path="reports"))
    seen = observe(code, stdout, runner, github)
    assert_reported(seen, code=1, report=False)
    (warning,) = lines_of(stdout, "warning")
    assert "report_path" in warning and "could not write the report" in warning, warning
    assert seen.outputs["report_path"] == "" and seen.outputs["gate"] == "fail"
    assert seen.summary.startswith(MARKER)
    assert len(seen.comments) == 1 and [s["state"] for s in seen.statuses] == ["failure"]


def test_job_summary_unwritable_is_a_warning(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = env_for(langsmith, github.url, runner)
    env["GITHUB_STEP_SUMMARY"] = str(runner.workspace)  # a directory: EISDIR
    code, stdout = run_bounded(env)
    assert code == 1, stdout
    (warning,) = lines_of(stdout, "warning")
    assert "job summary" in warning, warning
    outputs = runner.outputs()
    assert outputs["gate"] == "fail" and Path(outputs["report_path"]).is_file()
    assert len(github.comments_on(REPO, PR_NUMBER)) == 1
    assert [s["state"] for s in github.statuses_on(REPO, HEAD_SHA)] == ["failure"]


# --- a bug: the status still says something went wrong, then exit 3 with the traceback ------


def test_internal_error_sets_an_error_status_then_raises(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    from evalbot.action import parse_settings, run

    settings = parse_settings(env_for(langsmith, github.url, runner))

    class Broken:
        """A LangSmith client whose every method is a bug (not a LangSmith error)."""

        def __getattr__(self, name: str) -> object:
            raise ZeroDivisionError(name)

    out = io.StringIO()
    with pytest.raises(ZeroDivisionError):
        run(settings, stdout=out, client=Broken())
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == "error" and "internal error" in status["description"]
    assert runner.outputs()["outcome"] == "error"
    assert "Internal error" in runner.summary.read_text("utf-8")


def test_unreadable_event_still_writes_summary_and_outputs(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = env_for(langsmith, github.url, runner)
    runner.event.write_text("{not json", encoding="utf-8")
    code, stdout = run_bounded(env)
    assert code == 2 and "Traceback" not in stdout
    (error,) = lines_of(stdout, "error")
    assert "GITHUB_EVENT_PATH" in error
    # No commit to put a status on (the documented exception); the rest is written.
    assert github.requests == [] and langsmith.fake.requests == []
    assert runner.outputs()["outcome"] == "error"
    assert "could not run" in runner.summary.read_text("utf-8")
