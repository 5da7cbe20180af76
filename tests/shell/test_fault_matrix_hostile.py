"""Fault matrix, hostile rows: what a pull request (or a hostile dataset name) can try
against ``evalbot action`` and the CLI, driven end to end against the fake LangSmith and
fake GitHub servers (harness: tests/fakes/action_harness.py).

- A custom template is code a pull request can edit (the ``template`` input or
  ``.github/evalbot.yml``): it runs in Jinja's immutable sandbox, may only load files
  beside it, and must lie inside the workspace. Every hostile template is exit 2 with
  one ``::error`` line naming the template, and no secret anywhere.
- ``::add-mask::`` for the LangSmith key and the GitHub token comes first.
- ``report_path`` stays inside ``GITHUB_WORKSPACE``; the head SHA is 40 or 64 hex.
- No printed line can start a workflow command; annotations carry no control characters.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from action_harness import (
    GH_TOKEN,
    HEAD_SHA,
    LS_KEY,
    MARKER,
    NOW,
    PR_NUMBER,
    REPETITIONS,
    REPO,
    SECRETS,
    LangSmith,
    Runner,
    feedback,
    lines_of,
    run_entrypoint,
    run_main,
    runner_env,
    unmasked,
)
from fake_github import FakeGitHub
from fake_langsmith import FakeLangSmith
from helpers import EXAMPLES, run_cli


def compare_examples(*extra: str) -> tuple[int, str, str]:
    """``evalbot compare`` on the bundled example files, with ``extra`` options."""
    return run_cli(
        "compare",
        "--pr-file",
        str(EXAMPLES / "pr.json"),
        "--baseline-file",
        str(EXAMPLES / "baseline.json"),
        *extra,
    )


HOSTILE = {
    "environ": "{{ cycler.__init__.__globals__.os.environ }}",
    "popen": "{{ joiner.__init__.__globals__.os.popen('id').read() }}",
    "open": "{{ lipsum.__globals__['__builtins__'].open('/etc/passwd').read() }}",
}
# What each would have shown had it run: the environment's secrets, `id`, /etc/passwd.
LEAKS = (*SECRETS, "uid=", "root:x:0:0", "INPUT_")


def template_text(body: str) -> str:
    return f"{{{{ marker }}}}\n{body}\n"


def everything(runner: Runner, github: FakeGitHub, stdout: str, stderr: str) -> dict[str, str]:
    """Every place a secret could end up: stdout (its ::add-mask:: lines aside, which the
    runner consumes), stderr, job summary, outputs, every report file, comments, statuses."""
    texts = {
        "stdout": unmasked(stdout),
        "stderr": stderr,
        "summary": runner.summary.read_text(encoding="utf-8"),
        "outputs": runner.output.read_text(encoding="utf-8"),
        "comments": "\n".join(c.body for c in github.comments_on(REPO, PR_NUMBER)),
        "statuses": json.dumps(github.statuses_on(REPO, HEAD_SHA)),
        "requests": json.dumps([r.body for r in github.requests], default=str),
    }
    for report in runner.workspace.rglob("*.json"):
        texts[f"report {report.name}"] = report.read_text(encoding="utf-8")
    return texts


def assert_nothing_leaked(texts: dict[str, str], leaks: tuple[str, ...] = LEAKS) -> None:
    for where, text in texts.items():
        for leak in leaks:
            assert leak not in text, f"{leak!r} leaked into {where}"


def assert_one_error(stdout: str, stderr: str, *needles: str) -> str:
    """Exactly one ::error line besides the masks, naming ``needles``; no traceback."""
    assert "Traceback" not in stdout + stderr, stdout + stderr
    errors = lines_of(unmasked(stdout), "error")
    assert len(errors) == 1, stdout
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def assert_refused_up_front(langsmith: LangSmith, github: FakeGitHub) -> None:
    """Nothing asked of LangSmith; GitHub only told that the check could not run (the
    required check must not stay pending): one ``error`` status naming the input."""
    assert langsmith.fake.requests == []
    (request,) = github.requests
    assert request.endpoint == "create_status" and request.json["state"] == "error", request


def assert_masked_first(stdout: str) -> None:
    """The first lines are ::add-mask:: for both secrets, before anything else."""
    lines = stdout.splitlines()
    assert lines[:2] == [f"::add-mask::{LS_KEY}", f"::add-mask::{GH_TOKEN}"], lines[:3]
    assert not any(line.startswith("::add-mask::") for line in lines[2:]), stdout


# --- hostile templates, end to end (the Dockerfile's ENTRYPOINT: INPUT_* in os.environ) ------


@pytest.mark.parametrize("source", ["input", "config"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_template_is_exit_2_one_line_and_leaks_nothing(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, name: str, source: str
) -> None:
    folder = runner.workspace / ".github"
    folder.mkdir()
    (folder / "comment.md.j2").write_text(template_text(HOSTILE[name]), encoding="utf-8")
    inputs: dict[str, str] = {}
    if source == "input":
        inputs["template"] = ".github/comment.md.j2"
    else:
        (folder / "evalbot.yml").write_text("template: .github/comment.md.j2\n", "utf-8")
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, **inputs)
    proc = run_entrypoint(env, runner.workspace)

    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = assert_one_error(proc.stdout, proc.stderr, "template", ".github/comment.md.j2")
    assert "sandbox" in error and "unsafe" in error, error
    assert_masked_first(proc.stdout)
    assert_nothing_leaked(everything(runner, github, proc.stdout, proc.stderr))


def test_template_including_a_symlink_to_the_environment_is_refused(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    # A pull request can commit a symlink; git checks it out as one.
    (runner.workspace / "env.j2").symlink_to("/proc/self/environ")
    (runner.workspace / "comment.md.j2").write_text(
        template_text('{% include "env.j2" %}'), encoding="utf-8"
    )
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        template="comment.md.j2",
    )
    proc = run_entrypoint(env, runner.workspace)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    error = assert_one_error(proc.stdout, proc.stderr, "comment.md.j2", "env.j2")
    assert "outside the template's directory" in error
    assert_nothing_leaked(everything(runner, github, proc.stdout, proc.stderr))


def test_template_including_the_checkouts_git_config_is_refused(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    # actions/checkout keeps the job's token in .git/config (persist-credentials: true).
    basic = base64.b64encode(f"x-access-token:{GH_TOKEN}".encode()).decode()
    (runner.workspace / ".git").mkdir()
    (runner.workspace / ".git" / "config").write_text(
        f'[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic {basic}\n', "utf-8"
    )
    (runner.workspace / "comment.md.j2").write_text(
        template_text('{% include ".git/config" %}'), encoding="utf-8"
    )
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, template="comment.md.j2"
    )
    code, stdout = run_main(env)
    assert code == 2
    error = assert_one_error(stdout, "", "comment.md.j2", ".git/config")
    assert "hidden path" in error
    assert_nothing_leaked(everything(runner, github, stdout, ""), (*LEAKS, basic))


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
@pytest.mark.parametrize("source", ["input", "config"])
def test_template_outside_the_workspace_is_refused(
    langsmith: LangSmith,
    github: FakeGitHub,
    runner: Runner,
    tmp_path: Path,
    where: str,
    source: str,
) -> None:
    outside = tmp_path / "outside.md.j2"
    outside.write_text(template_text("{{ outcome }}"), encoding="utf-8")
    path = {"parent": "../outside.md.j2", "absolute": str(outside), "symlink": "link.md.j2"}[where]
    if where == "symlink":
        (runner.workspace / "link.md.j2").symlink_to(outside)
    inputs: dict[str, str] = {}
    if source == "input":
        inputs["template"] = path
        named = "template:"
    else:
        (runner.workspace / ".github").mkdir()
        (runner.workspace / ".github" / "evalbot.yml").write_text(
            f"template: {json.dumps(path)}\n", "utf-8"
        )
        named = ".github/evalbot.yml: template:"
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, **inputs)
    code, stdout = run_main(env)
    assert code == 2
    assert_one_error(stdout, "", named, "inside the workspace")
    assert_refused_up_front(langsmith, github)


def test_a_template_inside_the_workspace_still_renders(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    folder = runner.workspace / ".github" / "evalbot"
    folder.mkdir(parents=True)
    (folder / "parts.md.j2").write_text("outcome={{ outcome }}", encoding="utf-8")
    (folder / "comment.md.j2").write_text(
        template_text('{% include "parts.md.j2" %} hard={{ counts.hard_regression }}'), "utf-8"
    )
    (runner.workspace / ".github" / "evalbot.yml").write_text(
        "template: .github/evalbot/comment.md.j2\n", "utf-8"
    )
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    code, stdout = run_main(env)
    assert code == 1, stdout
    (comment,) = github.comments_on(REPO, PR_NUMBER)
    assert comment.body == f"{MARKER}\noutcome=ok hard=1\n"


# --- hostile templates through the CLI --------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE))
def test_cli_hostile_template_is_exit_2_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("LANGSMITH_API_KEY", LS_KEY)  # in os.environ, for the template to find
    template = tmp_path / "hostile.md.j2"
    template.write_text(template_text(HOSTILE[name]), encoding="utf-8")
    code, out, err = compare_examples("--template", str(template))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"evalbot: error: template: {template}: refused by the sandbox: ")
    assert_nothing_leaked({"stdout": out, "stderr": err})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{{ "x" * 10**12 }}', "'*' would make a value of over"),
        ("{{ [0] * 10**9 }}", "'*' would make a value of over"),
        ("{{ 10 ** (10 ** 10) }}", "'**' would make a number of over"),
    ],
)
def test_cli_template_that_builds_a_huge_value_is_exit_2(
    tmp_path: Path, body: str, expected: str
) -> None:
    # Not run against the code before the bound: it would exhaust the machine's memory.
    template = tmp_path / "big.md.j2"
    template.write_text(template_text(body), encoding="utf-8")
    code, out, err = compare_examples("--template", str(template))
    assert (code, out) == (2, "")
    assert err.startswith(f"evalbot: error: template: {template}: refused by the sandbox: ")
    assert expected in err and err.count("\n") == 1


@pytest.mark.parametrize("kind", ["fifo", "include-fifo"])
def test_cli_template_that_is_a_fifo_is_exit_2_without_waiting(tmp_path: Path, kind: str) -> None:
    # open() on a FIFO with no writer waits forever: templates are read like every
    # user-named file, regular files only.
    fifo = tmp_path / "pipe.md.j2"
    os.mkfifo(fifo)
    template = fifo
    if kind == "include-fifo":
        template = tmp_path / "main.md.j2"
        template.write_text(template_text('{% include "pipe.md.j2" %}'), encoding="utf-8")
    code, out, err = compare_examples("--template", str(template))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{fifo}: cannot read template: not a regular file" in err, err


def test_cli_template_with_modest_arithmetic_still_renders(tmp_path: Path) -> None:
    template = tmp_path / "ok.md.j2"
    template.write_text(template_text('{{ "-" * 3 }} {{ 2 ** 10 }} {{ [1] * 2 }}'), "utf-8")
    code, out, err = compare_examples("--template", str(template))
    assert code == 1, err
    assert out == "<!-- evalbot:default -->\n--- 1024 [1, 1]\n"


# --- secrets are masked first ----------------------------------------------------------------


def test_secrets_are_masked_before_anything_else_even_on_input_errors(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, fail_on="bogus"
    )
    code, stdout = run_main(env)
    assert code == 2
    assert_masked_first(stdout)
    assert len(unmasked(stdout).splitlines()) == 1


def test_empty_secrets_are_not_masked_and_multi_line_ones_line_by_line(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    env["INPUT_GITHUB_TOKEN"] = ""
    env["INPUT_LANGSMITH_API_KEY"] = "line-one\nline-two"
    _, stdout = run_main(env)
    masks = [line for line in stdout.splitlines() if line.startswith("::add-mask::")]
    assert masks == ["::add-mask::line-one", "::add-mask::line-two"]
    assert stdout.startswith("::add-mask::line-one\n::add-mask::line-two\n")


# --- report_path stays inside the workspace ---------------------------------------------------


@pytest.mark.parametrize("where", ["parent", "absolute", "symlink"])
def test_report_path_outside_the_workspace_is_exit_2(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, tmp_path: Path, where: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if where == "symlink":
        (runner.workspace / "out").symlink_to(elsewhere)
    path = {
        "parent": "../elsewhere/r.json",
        "absolute": str(elsewhere / "r.json"),
        "symlink": "out/r.json",
    }[where]
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, report_path=path
    )
    code, stdout = run_main(env)
    assert code == 2
    assert_one_error(stdout, "", "report_path", "inside the workspace", "GITHUB_WORKSPACE")
    assert list(elsewhere.iterdir()) == []
    assert list(tmp_path.rglob("r.json")) == []
    assert_refused_up_front(langsmith, github)


def test_report_path_in_a_subfolder_of_the_workspace_is_written(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        report_path="reports/../reports/evalbot.json",
    )
    code, stdout = run_main(env)
    assert code == 1, stdout
    report = runner.workspace / "reports" / "evalbot.json"
    assert json.loads(report.read_text(encoding="utf-8"))["outcome"] == "ok"


# --- the head SHA comes from the event: 40 or 64 hex characters --------------------------------


BAD_SHAS = ["../../../user/repos", "abc", HEAD_SHA + "0", HEAD_SHA[:-1] + "g", HEAD_SHA + "\n"]


@pytest.mark.parametrize("sha", BAD_SHAS)
def test_bad_pull_request_head_sha_is_exit_2_before_any_request(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, sha: str
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    payload = json.loads(runner.event.read_text(encoding="utf-8"))
    payload["pull_request"]["head"]["sha"] = sha
    runner.event.write_text(json.dumps(payload), encoding="utf-8")
    code, stdout = run_main(env)
    assert code == 2
    assert_one_error(stdout, "", "pull_request.head.sha", "40 or 64 hexadecimal")
    assert langsmith.fake.requests == [] and github.requests == []


@pytest.mark.parametrize("sha", BAD_SHAS)
def test_bad_github_sha_on_push_is_exit_2_before_any_request(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner, sha: str
) -> None:
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url, event="push")
    env["GITHUB_SHA"] = sha
    code, stdout = run_main(env)
    assert code == 2
    assert_one_error(stdout, "", "GITHUB_SHA", "40 or 64 hexadecimal")
    assert langsmith.fake.requests == [] and github.requests == []


def test_a_sha256_head_is_accepted(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    sha = "ab" * 32
    env = runner_env(runner, langsmith_url=langsmith.fake.url, github_url=github.url)
    payload = json.loads(runner.event.read_text(encoding="utf-8"))
    payload["pull_request"]["head"]["sha"] = sha
    runner.event.write_text(json.dumps(payload), encoding="utf-8")
    code, stdout = run_main(env)
    assert code == 1, stdout
    (status,) = github.statuses_on(REPO, sha)
    assert status["state"] == "failure"


# --- output hygiene ------------------------------------------------------------------------

# Names a dataset could hold: a line that is a workflow command, the legacy "##[" form,
# an ANSI colour, a bell.
HOSTILE_NAME = "s0\x1b[31m\x07 red\n::set-output name=gate::pass\r\n  ::warning::x ##[error]y"


def physical_lines(text: str) -> list[str]:
    """Lines as the runner reads them: CR, LF and CRLF all end one."""
    return re.split(r"\r\n|\r|\n", text)


def could_be_a_command(line: str) -> bool:
    return line.lstrip().startswith("::") or "##[" in line


@pytest.fixture
def hostile_langsmith() -> Any:
    """main-1 passes all; pr-bad fails the scenario with the hostile name on every trial."""
    with FakeLangSmith(api_key=LS_KEY) as fake:
        names = [HOSTILE_NAME, "s1", "s2"]
        examples = [{"inputs": {"q": n}, "metadata": {"scenario": n}} for n in names]
        ds = fake.add_dataset("support", examples)
        fake.add_experiment(
            "main-1",
            dataset_id=ds,
            metadata={"branch": "main"},
            start_time=NOW - timedelta(days=1),
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(True)),
        )
        fake.add_experiment(
            "pr-bad",
            dataset_id=ds,
            metadata={"branch": "feat"},
            start_time=NOW,
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(i != 0)),
        )
        yield fake


def test_action_annotations_are_one_line_without_control_characters(
    hostile_langsmith: FakeLangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner,
        langsmith_url=hostile_langsmith.url,
        github_url=github.url,
        scenario_key="metadata.scenario",
    )
    code, stdout = run_main(env)
    assert code == 1, stdout
    (error,) = lines_of(stdout, "error")
    assert error.startswith("::error title=evalbot::Hard regression: s0 [31m red ::set-output")
    for forbidden in ("\x1b", "\x07", "%0A", "%0D"):
        assert forbidden not in error, (forbidden, error)
    for line in physical_lines(stdout):
        # Every line is evalbot's own: a mask, an annotation it meant, or its last word.
        assert re.match(r"::(add-mask|error title=evalbot|warning title=evalbot)::", line) or (
            line.startswith("evalbot: ") or line == ""
        ), line


def examples_with(tmp_path: Path, name: str, experiment: str) -> tuple[Path, Path]:
    """The example files with a hostile scenario key and label, and experiment name."""
    paths = []
    for side in ("pr", "baseline"):
        doc = json.loads((EXAMPLES / f"{side}.json").read_text(encoding="utf-8"))
        first = next(iter(doc["scenarios"]))
        scenarios = {name: {**doc["scenarios"][first], "label": name}}
        scenarios |= {k: v for k, v in doc["scenarios"].items() if k != first}
        doc["scenarios"] = scenarios
        if side == "pr":
            doc["name"] = experiment
        path = tmp_path / f"{side}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


@pytest.mark.parametrize("fmt", ["csv", "markdown", "json", "text"])
def test_cli_stdout_has_no_line_that_starts_a_workflow_command(tmp_path: Path, fmt: str) -> None:
    pr, base = examples_with(tmp_path, "::error::pwned\n::add-mask::x\r##[error]y", "##[error]z")
    code, out, err = run_cli(
        "compare", "--pr-file", str(pr), "--baseline-file", str(base), "--format", fmt
    )
    assert code == 1, err
    assert out
    for line in physical_lines(out):
        assert not could_be_a_command(line), line


def test_cli_csv_on_stdout_still_parses_and_a_file_keeps_names_exact(tmp_path: Path) -> None:
    # RFC 4180 quoting keeps the newline in the cell: the cell's second line is a
    # physical line of its own, which the runner would read as a command.
    name = "first line\n::error::pwned"
    pr, base = examples_with(tmp_path, name, "pr")
    args = ["compare", "--pr-file", str(pr), "--baseline-file", str(base), "--format", "csv"]
    code, out, _ = run_cli(*args)
    assert code == 1
    assert "\n::error::pwned" not in out
    keys = [row["key"] for row in csv.DictReader(io.StringIO(out))]
    assert len(keys) == len(set(keys)) > 20
    # On stdout the name lost only its power to start a command: a zero-width space.
    assert "first line\n:\u200b:error::pwned" in keys
    assert "refund-over-limit" in keys
    target = tmp_path / "out.csv"
    assert run_cli(*args, "--output", str(target))[0] == 1
    with target.open(encoding="utf-8", newline="") as handle:
        assert name in [row["key"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("::error::x", ":\u200b:error::x"),
        (" \t::x", " \t:\u200b:x"),
        ("a\n::b\r::c\r\n ::d", "a\n:\u200b:b\r:\u200b:c\r\n :\u200b:d"),
        # .NET's TrimStart also strips form feeds and Unicode separators.
        ("a\n\x0c::b", "a\n\x0c:\u200b:b"),
        ("a\n\u2028 ::b", "a\n\u2028 :\u200b:b"),
        ("evalbot: a::b", "evalbot: a::b"),
        ("x ##[error]y", "x #\u200b#[error]y"),
        ("plain text", "plain text"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    from evalbot.github.runtime import neutralise

    assert neutralise(text) == expected
    assert not any(could_be_a_command(line) for line in physical_lines(neutralise(text)))
