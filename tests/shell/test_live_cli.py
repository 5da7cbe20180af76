"""`evalbot compare` and `evalbot export` against LangSmith, as a user runs them.

LangSmith is the fake server of tests/fakes/fake_langsmith.py (real HTTP on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fake_langsmith import FakeLangSmith
from helpers import live_args
from helpers import run_cli as run

KEY = "lsv2_sk_SECRET_abc123"
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


def scores(value: float | None, **extra: Any) -> dict[str, Any]:
    stats = {"n": 1, "avg": value, "stdev": 0, "errors": 0, "values": {}, "comments": []}
    return {"correctness": stats, **extra}


def label(name: str | None) -> dict[str, Any]:
    return {"label": {"n": 1, "avg": None, "values": {name: 1} if name else {}}}


def pr_outcome(index: int, rep: int) -> dict[str, Any]:
    """s0 regresses (hallucinates), s1 has a target error, s2 an evaluator error."""
    if index == 0:
        return {"feedback_stats": scores(0.0, **label("hallucination"))}
    if index == 1 and rep == 0:
        return {"error": "TimeoutError", "feedback_stats": scores(None, **label(None))}
    if index == 2 and rep == 2:
        return {"feedback_stats": scores(None, **label(None))}
    return {"feedback_stats": scores(1.0, **label(None))}


def base_outcome(index: int, rep: int) -> dict[str, Any]:
    return {"feedback_stats": scores(0.0 if (index, rep) == (4, 0) else 1.0, **label(None))}


REPETITIONS = 5
"""Trials per scenario: s0 at 0/5 vs 5/5 (Fisher p = 1/252) is a hard regression even
under the default false-alarm budget; 0/3 vs 3/3 (p = 1/20) would only be soft."""


@pytest.fixture
def fake() -> Iterator[FakeLangSmith]:
    """The fake with one dataset, two main-branch baselines and a PR experiment."""
    with FakeLangSmith(api_key=KEY) as server:
        ds = server.add_dataset(
            "support",
            [
                {"inputs": {"question": f"q{i}?"}, "metadata": {"scenario": f"s{i}"}}
                for i in range(5)
            ],
        )

        def add(
            name: str, hours: float, metadata: dict[str, Any], outcome: Callable[..., Any]
        ) -> None:
            runs = server.make_runs(ds, repetitions=REPETITIONS, outcome=outcome)
            server.add_experiment(
                name,
                dataset_id=ds,
                metadata=metadata,
                start_time=T0 + timedelta(hours=hours),
                runs=runs if name != "pr-7" else runs[:-1],  # the PR is partial
            )

        add("main-0", -72, {"branch": "main"}, base_outcome)
        add("main-1", -48, {"branch": "main", "commit": "abc"}, base_outcome)
        add("pr-7", 0, {"branch": "feat", "pr_number": 7}, pr_outcome)
        server.clear_requests()
        yield server


def connection(fake: FakeLangSmith) -> list[str]:
    return live_args(fake.url, KEY)


# --- live and offline give the same report ----------------------------------------------


def test_live_and_exported_reports_match_apart_from_fetch(
    fake: FakeLangSmith, tmp_path: Path
) -> None:
    rules = ["--category-key", "label"]
    # Exported files carry no history: compare live against the latest baseline only.
    config = tmp_path / "evalbot.yml"
    config.write_text("history: 0\n", encoding="utf-8")
    settings = ["--config", str(config)]
    live_code, live_out, live_err = run(
        "compare", "--pr", "pr-7", "--format", "json", *settings, *rules, *connection(fake)
    )
    assert live_err == ""

    pr_file, base_file = tmp_path / "pr.json", tmp_path / "base.json"
    assert run("export", "pr-7", "-o", str(pr_file), *rules, *connection(fake)) == (0, "", "")
    assert run("export", "main-1", "-o", str(base_file), *rules, *connection(fake)) == (0, "", "")
    files_code, files_out, _ = run(
        "compare",
        "--pr-file",
        str(pr_file),
        "--baseline-file",
        str(base_file),
        "--format",
        "json",
        *settings,
    )

    live, files = json.loads(live_out), json.loads(files_out)
    assert live_code == files_code == 1
    assert files.pop("fetch") is None
    fetch = live.pop("fetch")
    assert fetch["source"] == "langsmith"
    assert fetch["baseline_selection"]["strategy"] == "metadata"
    assert live == files

    # The report is not trivially equal: it carries what the rules decided.
    assert live["outcome"] == "ok"
    assert live["baseline"]["name"] == "main-1"
    # history: 0 pools nothing: the window is the baseline alone.
    assert [e["name"] for e in live["history"]["experiments"]] == ["main-1"]
    rows = {row["label"]: row for row in live["scenarios"]}
    assert rows["s0"]["verdict"] == "hard_regression"
    assert rows["s0"]["pr"]["categories"] == {"hallucination": 5}
    assert (rows["s0"]["pr"]["passed"], rows["s0"]["pr"]["total"]) == (0, 5)
    assert (rows["s0"]["baseline"]["passed"], rows["s0"]["baseline"]["total"]) == (5, 5)
    assert rows["s1"]["pr"]["categories"] == {"target_error": 1}
    assert rows["s2"]["pr"]["unscored"] == 1
    assert "partial: 24 of 25 runs" in live["pr"]["notes"]
    assert live["failure_categories"] != []

    document = json.loads(pr_file.read_text("utf-8"))
    assert document["name"] == "pr-7"
    assert document["metadata"] == {"branch": "feat", "pr_number": 7}


def test_export_to_stdout_and_its_errors(fake: FakeLangSmith) -> None:
    code, out, err = run("export", "main-1", "--pass-key", "correctness", *connection(fake))
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["name"] == "main-1"
    assert sorted(s["label"] for s in document["scenarios"].values()) == [
        "s0",
        "s1",
        "s2",
        "s3",
        "s4",
    ]

    code, out, err = run("export", "nope", *connection(fake))
    assert (code, out) == (2, "")
    assert err.startswith("evalbot: error: EXPERIMENT: no experiment named or with id 'nope'")

    args = connection(fake)
    args[args.index(KEY)] = "lsv2_sk_SECRET_wrong987"
    code, out, err = run("export", "main-1", "--pass-key", "correctness", *args)
    assert (code, out) == (1, "")
    assert err == f"evalbot: error: LangSmith rejected the API key for {fake.url}\n"


def test_markdown_comment_for_a_live_comparison(fake: FakeLangSmith) -> None:
    code, out, err = run("compare", "--pr", "pr-7", "--category-key", "label", *connection(fake))
    assert (code, err) == (1, "")
    assert out.startswith(
        "<!-- evalbot:default -->\n> [!CAUTION]\n> ❌ **evalbot fails**: 1 hard regression"
    )
    assert "<sub>PR [pr\\-7](http://localhost/o/" in out  # the SDK's web host for localhost
    assert "baseline chosen as the newest complete experiment with metadata" in out
    assert "/compare?selectedSessions=" in out
    # Scenarios are keyed by example id: each links to its example page.
    assert re.search(r"\| ❌ hard \| \[[^]]+\]\(http://localhost/o/[^)]+/e/[^)]+\) \|", out)


# --- invalid option combinations: exit 2, one sentence naming the option, no request ------

INVALID = {
    "two-strategies": (
        ["--pr", "pr-7", "--baseline", "main-1", "--baseline-prefix", "main-"],
        "--baseline and --baseline-prefix: choose one baseline strategy, not several",
    ),
    "three-strategies": (
        ["--pr", "pr-7", "--baseline-prefix", "m", "--baseline-metadata", '{"a": 1}'],
        "--baseline-prefix and --baseline-metadata: choose one baseline strategy",
    ),
    "bad-json": (
        ["--pr", "pr-7", "--baseline-metadata", "{branch: main}"],
        "--baseline-metadata: not valid JSON",
    ),
    "json-not-an-object": (
        ["--pr", "pr-7", "--baseline-metadata", '["main"]'],
        "--baseline-metadata: must be a non-empty JSON object",
    ),
    "bad-pr-metadata": (
        ["--pr-metadata", "7", "--dataset", "support"],
        "--pr-metadata: must be a non-empty JSON object",
    ),
    "pr-metadata-without-dataset": (
        ["--pr-metadata", '{"pr_number": 7}'],
        "--dataset: required with --pr-metadata",
    ),
    "pr-and-pr-metadata": (
        ["--pr", "pr-7", "--pr-metadata", '{"pr_number": 7}', "--dataset", "support"],
        "--pr / --pr-metadata: give exactly one",
    ),
    "pr-with-pr-file": (
        ["--pr", "pr-7", "--pr-file", "pr.json", "--baseline-file", "base.json"],
        "--pr: cannot be combined with --pr-file/--baseline-file",
    ),
    "empty-prefix": (["--pr", "pr-7", "--baseline-prefix", ""], "--baseline-prefix: must not"),
    "scenario-key": (
        ["--pr", "pr-7", "--scenario-key", "metadata"],
        "--scenario-key: must be 'example', 'metadata.<field>' or 'inputs.<field>'",
    ),
    "scenario-key-source": (
        ["--pr", "pr-7", "--scenario-key", "outputs.answer"],
        "--scenario-key: must be",
    ),
    "endpoint": (
        ["--pr", "pr-7", "--langsmith-endpoint", "ftp://x"],
        "--langsmith-endpoint: must be an http(s) URL like https://api.smith.langchain.com; "
        "got 'ftp://x'",
    ),
    "timeout": (["--pr", "pr-7", "--timeout", "0"], "--timeout: must be a positive number"),
    "retry-budget": (
        ["--pr", "pr-7", "--retry-budget", "-1"],
        "--retry-budget: must be a non-negative number",
    ),
    "pass-key": (["--pr", "pr-7", "--pass-key", ""], "--pass-key: must not be empty"),
    "pass-threshold": (
        ["--pr", "pr-7", "--pass-threshold", "nan"],
        "--pass-threshold: must be a finite number",
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_combinations_exit_2_before_any_request(
    fake: FakeLangSmith, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args, message = INVALID[case]
    # Later options win in click: the case's own --langsmith-endpoint overrides the fake's.
    code, out, err = run("compare", *connection(fake), *args)
    assert code == 2
    assert out == ""
    assert err.startswith(f"evalbot: error: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert fake.requests == []


def test_missing_api_key_exits_2(fake: FakeLangSmith, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    code, out, err = run("compare", "--pr", "pr-7", "--langsmith-endpoint", fake.url)
    assert (code, out) == (2, "")
    assert err == "evalbot: error: --langsmith-api-key: required (or set LANGSMITH_API_KEY)\n"
    assert fake.requests == []


def test_neither_files_nor_experiments_exits_2() -> None:
    code, out, err = run("compare", "--langsmith-api-key", KEY)
    assert (code, out) == (2, "")
    assert err.startswith("evalbot: error: --pr-file/--baseline-file or --pr/--pr-metadata")


def test_unknown_experiment_exits_2(fake: FakeLangSmith) -> None:
    code, out, err = run("compare", "--pr", "pr-404", *connection(fake))
    assert (code, out) == (2, "")
    assert err.startswith("evalbot: error: --pr: no experiment named or with id 'pr-404'")
    code, _, err = run("compare", "--pr", "pr-7", "--baseline", "gone", *connection(fake))
    assert code == 2
    assert err.startswith("evalbot: error: --baseline: no experiment named or with id 'gone'")


# --- options from environment variables ---------------------------------------------------


def test_options_from_environment_variables(
    fake: FakeLangSmith, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALBOT_PR", "pr-7")
    monkeypatch.setenv("LANGSMITH_API_KEY", KEY)
    monkeypatch.setenv("LANGSMITH_ENDPOINT", fake.url)
    monkeypatch.setenv("EVALBOT_BASELINE_PREFIX", "main-0")
    monkeypatch.setenv("EVALBOT_CATEGORY_KEY", "label")
    monkeypatch.setenv("EVALBOT_RETRY_BUDGET", "0.5")
    code, out, err = run("compare", "--format", "json")
    assert (code, err) == (1, "")
    report = json.loads(out)
    assert report["outcome"] == "ok"
    assert report["pr"]["name"] == "pr-7"
    assert report["baseline"]["name"] == "main-0"
    assert report["fetch"]["baseline_selection"]["strategy"] == "prefix"
    assert all(r.headers.get("x-api-key") == KEY for r in fake.requests)

    # A flag wins over its environment variable.
    code, out, _ = run("compare", "--format", "json", "--baseline-prefix", "main-1")
    assert json.loads(out)["baseline"]["name"] == "main-1"

    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2_sk_SECRET_wrong987")
    code, out, _ = run("compare", "--format", "json")
    assert code == 0
    assert json.loads(out)["outcome"] == "fetch_failed"


# --- the installed console script ----------------------------------------------------------


def console_script() -> list[str]:
    script = Path(sys.executable).with_name("evalbot")
    if script.exists():
        return [str(script)]
    found = shutil.which("evalbot")
    return [found] if found else [sys.executable, "-m", "evalbot"]


def test_console_script_end_to_end(fake: FakeLangSmith, tmp_path: Path) -> None:
    env = dict(os.environ)  # already cleaned by the autouse fixture in conftest.py
    command = [
        *console_script(),
        "compare",
        "--pr",
        "pr-7",
        "--category-key",
        "label",
        "--langsmith-endpoint",
        fake.url,
        "--langsmith-api-key",
        KEY,
        "--retry-budget",
        "1",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert out.startswith("<!-- evalbot:default -->\n> [!CAUTION]\n> ❌ **evalbot fails**: 1 hard")
    # By default the baseline column pools main-1 with the older main-0 (history).
    assert "| 0/5 (0%) | 10/10 (100%) | -100 pp |" in out
    assert "baseline window of 2 runs of the base branch" in out
    assert "on `main` at `abc`" in out
    footer = out.rstrip().splitlines()[-1]
    assert footer == (
        "<sub>Reproduce locally: `evalbot compare --pr pr-7 --category-key label "
        f"--langsmith-endpoint {fake.url} --retry-budget 1` · evalbot 0.1.0</sub>"
    )
    assert KEY not in out and "SECRET" not in done.stderr
    # One page (limit 100) per experiment: the PR's 24 runs, main-1's and main-0's 25.
    assert len(fake.requests_to("/runs/query", "POST")) == 3


def test_reproduce_footer_follows_the_argv_given_to_main(
    fake: FakeLangSmith, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["host-program", "--unrelated"])
    code, out, _ = run("compare", "--pr", "pr-7", "--category-key", "label", *connection(fake))
    assert code == 1
    footer = out.rstrip().splitlines()[-1]
    assert "`evalbot compare --pr pr-7" in footer
