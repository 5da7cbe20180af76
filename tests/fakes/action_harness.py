"""The runner-like harness for ``evalbot action`` tests: the fake LangSmith and fake
GitHub fixtures' data, runner files, a runner-like environment, and ways to run the
action (in-process or as the Dockerfile's ENTRYPOINT) and read what it wrote.

The fixtures themselves (``langsmith``, ``github``, ``runner``) are in conftest.py.
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

import yaml

from evalbot.action import main

from fake_github import FakeGitHub
from fake_langsmith import FakeLangSmith

ROOT = Path(__file__).resolve().parents[2]
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


def feedback(ok: bool) -> dict[str, Any]:
    stats = {"n": 1, "avg": 1.0 if ok else 0.0, "stdev": 0, "errors": 0, "values": {}}
    return {"feedback_stats": {"correctness": {**stats, "comments": []}}}


REPETITIONS = 5
"""Trials per scenario: pr-bad's s0 at 0/5 vs 5/5 (Fisher p = 1/252) is a hard regression
under the default false-alarm budget; 0/3 vs 3/3 (p = 1/20) would only be soft."""


@dataclass
class LangSmith:
    fake: FakeLangSmith
    dataset: str


def make_langsmith() -> Iterator[LangSmith]:
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
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(True)),
        )
        fake.add_experiment(
            "pr-bad",
            dataset_id=ds,
            metadata={"branch": "feat"},
            start_time=NOW,
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(i != 0)),
        )
        fake.add_experiment(
            "pr-good",
            dataset_id=ds,
            metadata={"branch": "feat"},
            start_time=NOW - timedelta(hours=1),
            runs=fake.make_runs(ds, repetitions=REPETITIONS, outcome=lambda i, r: feedback(True)),
        )
        fake.clear_requests()
        yield LangSmith(fake, ds)


def make_github() -> Iterator[FakeGitHub]:
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


def make_runner(tmp_path: Path) -> Runner:
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


def unmasked(stdout: str) -> str:
    """stdout without its ``::add-mask::`` lines, which the runner consumes and never shows
    (they are the one place a secret is printed: the runner must be told what to hide)."""
    return "".join(
        line for line in stdout.splitlines(keepends=True) if not line.startswith("::add-mask::")
    )


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
