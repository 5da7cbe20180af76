"""The one way through: the same settings from either shell, the same pipeline after them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from evalbot.action import parse_settings
from evalbot.cli import cli
from evalbot.cli_common import raw_from
from evalbot.config import Settings
from evalbot.core.models import Correction, FailOn, Sensitivity
from evalbot.errors import InputError
from evalbot.pipeline import run_files, run_trend
from evalbot.settings import Assembled, Raw, assemble, cli_name, parse_trend

from action_harness import (
    LS_KEY,
    NOW,
    LangSmith,
    Runner,
    feedback,
    lines_of,
    run_main,
    runner_env,
)
from fake_github import FakeGitHub
from helpers import EXAMPLES
from helpers import run_cli as run

CONFIG = "thresholds:\n  hard: {max_p: 0.01}\nhistory: 5\ncomment_when: notable\n"


def cli_settings(*args: str) -> Assembled:
    """What ``evalbot compare ARGS`` assembles, before anything is fetched."""
    command = cli.commands["compare"]
    params = command.make_context("compare", list(args)).params
    return assemble(raw_from(params), name=cli_name, live=True)


def test_one_assembler_gives_equal_settings_from_flags_and_inputs(runner: Runner) -> None:
    config = runner.workspace / ".github" / "evalbot.yml"
    config.parent.mkdir()
    config.write_text(CONFIG, encoding="utf-8")
    url = "http://127.0.0.1:9"
    inputs = {
        "experiment": "pr-7",
        "baseline_prefix": "main-",
        "pass_key": "correctness, tone",
        "pass_threshold": "0.5",
        "scenario_key": "metadata.case",
        "category_key": "failure",
        "timeout": "5",
        "retry_budget": "1",
        "fetch_deadline": "100",
        "alpha": "0.1",
        "correction": "none",
        "trend_threshold": "0.02",
        "sensitivity": "high",
        "fail_on": "soft_regression",
        "comment_key": "k1",
        "history": "3",
    }
    action = parse_settings(runner_env(runner, langsmith_url=url, github_url=url, **inputs))
    flags = cli_settings(
        "--pr", "pr-7", "--baseline-prefix", "main-", "--pass-key", "correctness",
        "--pass-key", "tone", "--pass-threshold", "0.5", "--scenario-key", "metadata.case",
        "--category-key", "failure", "--timeout", "5", "--retry-budget", "1",
        "--fetch-deadline", "100", "--alpha", "0.1", "--correction", "none",
        "--trend-threshold", "0.02", "--sensitivity", "high", "--fail-on", "soft_regression",
        "--comment-key", "k1", "--history", "3", "--config", str(config.resolve()),
        "--langsmith-api-key", LS_KEY, "--langsmith-endpoint", url,
    )  # fmt: skip
    assert flags.live is not None
    assert (action.settings, action.live) == (flags.settings, flags.live)
    # ... and they are the values given, over the config file.
    settings = action.settings
    assert settings.fail_on is FailOn.SOFT_REGRESSION
    assert settings.thresholds.sensitivity is Sensitivity.HIGH
    assert settings.thresholds.hard.max_p == 0.01
    assert settings.thresholds.correction is Correction.NONE
    assert (settings.history, settings.comment_when.value) == (3, "notable")
    assert action.live.rules.pass_keys == ("correctness", "tone")
    assert action.live.connection.fetch_deadline_s == 100.0


def test_the_same_bad_value_is_named_per_shell(runner: Runner) -> None:
    code, out, err = run("compare", "--pr", "a", "--pr-metadata", '{"pr": 1}', "--alpha", "x")
    assert (code, out) == (2, "")
    assert err == "evalbot: error: --alpha: must be a number; got 'x'\n"
    url = "http://127.0.0.1:9"
    code, stdout = run_main(runner_env(runner, langsmith_url=url, github_url=url, alpha="x"))
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert error.endswith("Invalid input: alpha: must be a number; got 'x'")


def test_the_action_never_names_a_flag(runner: Runner) -> None:
    url = "http://127.0.0.1:9"
    env = runner_env(
        runner, langsmith_url=url, github_url=url, experiment="", experiment_metadata=""
    )
    code, stdout = run_main(env)
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert "experiment / experiment_metadata: give exactly one" in error
    assert "--" not in error.split("::", 2)[-1]


# --- evalbot trend through the pipeline ---------------------------------------------------


def runs(tmp_path: Path, rates: list[int]) -> list[Path]:
    paths = []
    for i, passed in enumerate(rates):
        path = tmp_path / f"run-{i}.json"
        scenarios = {"a": {"passed": passed, "total": 10}}
        path.write_text(json.dumps({"name": f"main-{i}", "scenarios": scenarios}), "utf-8")
        paths.append(path)
    return paths


def test_trend_over_files_takes_the_newest_window(tmp_path: Path) -> None:
    files = runs(tmp_path, [10, 10, 9, 8, 7])
    config = parse_trend(Raw(), files=files, window=3, threshold=0.01)
    result = run_trend(config)
    assert [p.name for p in result.trend.points] == ["main-2", "main-3", "main-4"]
    assert result.trend.regression and result.skipped_incomplete == 0
    assert not run_trend(
        parse_trend(Raw(), files=files[:2], window=2, threshold=0.01)
    ).trend.regression


def test_trend_with_one_run_is_an_input_error(tmp_path: Path) -> None:
    config = parse_trend(Raw(), files=runs(tmp_path, [10]), window=5, threshold=0.01)
    with pytest.raises(InputError, match=r"^trend: need at least 2 runs, found 1$"):
        run_trend(config)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (Raw(dataset="support"), "--langsmith-api-key: required"),
        (Raw(dataset="support", baseline_prefix=""), "--baseline-prefix: must not be empty"),
        (Raw(baseline_prefix="m"), "--baseline-prefix: cannot be combined with --history-file"),
    ],
)
def test_trend_settings_are_checked_before_anything_is_read(raw: Raw, message: str) -> None:
    files = [Path("/nonexistent/a.json")] if raw.dataset is None else []
    with pytest.raises(InputError, match="^" + message.replace("-", r"\-")):
        parse_trend(raw, files=files, window=20, threshold=0.01)


def test_trend_from_langsmith_needs_no_pr_experiment() -> None:
    config = parse_trend(
        Raw(dataset="support", langsmith_api_key="lsv2_key"), files=(), window=5, threshold=0.01
    )
    assert config.live is not None and config.dataset == "support"
    assert config.live.pr.ref is None and config.live.pr.metadata is None
    assert config.live.baseline.describe().endswith('{"branch": "main"}')


def test_files_compare_through_the_pipeline() -> None:
    result = run_files(EXAMPLES / "pr.json", EXAMPLES / "baseline.json", Settings())
    assert result.gate.failed
    never = run_files(
        EXAMPLES / "pr.json", EXAMPLES / "baseline.json", Settings(fail_on=FailOn.NEVER)
    )
    assert not never.gate.failed


# --- a setting the Action has no input for: named, and settable, in its config file --------


def test_baseline_on_another_dataset_names_the_config_key_in_the_action(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    fake = langsmith.fake
    other = fake.add_dataset("other", [{"inputs": {"question": "q?"}, "metadata": {}}])
    fake.add_experiment(
        "elsewhere",
        dataset_id=other,
        metadata={"branch": "main"},
        start_time=NOW - timedelta(days=1),
        runs=fake.make_runs(other, repetitions=1, outcome=lambda i, r: feedback(True)),
    )
    env = runner_env(runner, langsmith_url=fake.url, github_url=github.url, baseline="elsewhere")
    code, stdout = run_main(env)
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert "baseline: experiment 'elsewhere' ran on another dataset" in error
    assert "`allow_dataset_mismatch` in .github/evalbot.yml" in error
    assert "--" not in error.split("::", 2)[-1]

    config = runner.workspace / ".github" / "evalbot.yml"
    config.parent.mkdir()
    config.write_text("allow_dataset_mismatch: true\n", encoding="utf-8")
    runner.output.write_text("", encoding="utf-8")  # a second job step
    code, stdout = run_main(env)
    assert lines_of(stdout, "error") == []
    report = json.loads(Path(runner.outputs()["report_path"]).read_text("utf-8"))
    assert report["baseline"]["name"] == "elsewhere"
