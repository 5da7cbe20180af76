"""`evalbot compare` as a user runs it: exit codes, outputs, messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from evalbot.cli import cli
from evalbot.core import stats

from helpers import EXAMPLES, ROOT
from helpers import run_cli as run

PR = str(EXAMPLES / "pr.json")
BASE = str(EXAMPLES / "baseline.json")


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


ALL_CLEAR = {"name": "pr", "scenarios": {"a": {"passed": 3, "total": 3}}}


def test_examples_fail_the_gate_with_exit_1() -> None:
    code, out, err = run("compare", "--pr-file", PR, "--baseline-file", BASE)
    assert code == 1
    assert out.startswith(
        "<!-- evalbot:default -->\n> [!CAUTION]\n> ❌ **evalbot fails**: 1 hard regression"
    )
    assert err == ""


def test_all_clear_passes_with_exit_0(tmp_path: Path) -> None:
    pr = write(tmp_path, "pr.json", ALL_CLEAR)
    code, out, _ = run("compare", "--pr-file", pr, "--baseline-file", pr, "--format", "text")
    assert code == 0
    assert "gate: passed" in out


@pytest.mark.parametrize(("fail_on", "code"), [("never", 0), ("soft_regression", 1)])
def test_fail_on_flag(fail_on: str, code: int) -> None:
    assert run("compare", "--pr-file", PR, "--baseline-file", BASE, "--fail-on", fail_on)[0] == code


def test_soft_only_fails_only_with_fail_on_soft(tmp_path: Path) -> None:
    # 15/20 vs 20/20: p = 0.024, inside the budget's 0.03, and a 25 pp drop (soft tier).
    pr = write(tmp_path, "pr.json", {"name": "pr", "scenarios": {"a": {"passed": 15, "total": 20}}})
    base = write(tmp_path, "b.json", {"name": "b", "scenarios": {"a": {"passed": 20, "total": 20}}})
    assert run("compare", "--pr-file", pr, "--baseline-file", base)[0] == 0
    args = ("compare", "--pr-file", pr, "--baseline-file", base, "--fail-on", "soft_regression")
    assert run(*args)[0] == 1


def test_json_report() -> None:
    code, out, _ = run("compare", "--pr-file", PR, "--baseline-file", BASE, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["schema_version"] == 4
    assert report["outcome"] == "ok"
    assert report["gate"] == {
        "failed": True,
        "reason": "1 hard regression (fail_on: hard_regression)",
        "warning": False,
    }
    hard = [s for s in report["scenarios"] if s["verdict"] == "hard_regression"]
    measures = {side: hard[0][side].pop("measures") for side in ("pr", "baseline")}
    assert measures["pr"]["tokens"] == [1547.0, 1606.0, 1509.0, 1628.0, 1465.0]
    assert set(measures["baseline"]) == {
        "scores",
        "latency_ms",
        "tokens",
        "cost",
        "output_chars",
        "tool_calls",
    }
    assert hard == [
        {
            "key": "refund-policy-basic",
            "label": "Refund within 30 days",
            "verdict": "hard_regression",
            "pr": {
                "passed": 0,
                "total": 5,
                "unscored": 0,
                "categories": {"hallucinated_policy": 5},
            },
            "baseline": {"passed": 5, "total": 5, "unscored": 0, "categories": {}},
            "delta": -1.0,
            "p_worse": 1 / 252,
            "p_better": 1.0,
            "pooled": {"passed": 5, "total": 5},
            "q": 2 / 252,  # two scenarios can reach significance: BH family of 2
            "flakiness": 0.0,
            "series": [],
        }
    ]
    assert report["power"]["statement"] == (
        "with 5 PR trials and 5 baseline trials per scenario, 1 scenario already fails the "
        "check; one scenario dropping 100% → 70%: < 1%, 97% → 10%: 51%; "
        "a 5 pp drop across the suite: < 1%"
    )
    assert report["power"]["can_fail_alone"] is True
    assert [d["label"] for d in report["power"]["drops"]] == [
        "100% → 70% on one scenario",
        "97% → 10% on one scenario",
        "5 pp across the suite",
    ]
    # One baseline run: the suite-wide test needs a drop beyond the 7.5 pp margin.
    assert report["aggregate_test"]["method"] == "margin"
    assert report["aggregate_test"]["margin"] == 0.075
    assert [s["key"] for s in report["pr_only"]] == ["store-hours-holiday"]
    assert [s["key"] for s in report["baseline_only"]] == ["fax-support"]
    # Issue 6: what moved beyond pass/fail, as data.
    assert [(m["key"], m["verdict"]) for m in report["metrics"]] == [
        ("correctness", "regression"),
        ("helpfulness", "stable"),
    ]
    assert report["metrics"][0]["test"] == "wilcoxon_signed_rank"
    assert report["metrics"][0]["pairs"] == 26
    costs = {c["measure"]: c for c in report["costs"]}
    assert costs["tokens_per_trial"]["notable"] and not costs["tokens_per_trial"]["gating"]
    assert [(d["signal"], d["severity"]) for d in report["drift"]] == [
        ("output_length", "mild"),
        ("tool_call_silence", "mild"),
    ]
    assert report["win_loss"] == {"wins": 3, "losses": 6, "ties": 17}


def test_same_id_is_self_baseline(tmp_path: Path) -> None:
    pr = write(tmp_path, "pr.json", {**ALL_CLEAR, "id": "3c6f"})
    code, out, _ = run("compare", "--pr-file", pr, "--baseline-file", pr, "--format", "json")
    assert code == 0
    assert json.loads(out)["outcome"] == "self_baseline"


def test_output_file_and_comment_key(tmp_path: Path) -> None:
    out_file = tmp_path / "comment.md"
    code, out, _ = run(
        "compare", "--pr-file", PR, "--baseline-file", BASE,
        "--comment-key", "support", "--output", str(out_file),
    )  # fmt: skip
    assert code == 1
    assert out == ""
    assert out_file.read_text("utf-8").startswith("<!-- evalbot:support -->\n")


def test_config_file_and_flag_override(tmp_path: Path) -> None:
    config = write(tmp_path, "evalbot.yml", "fail_on: never\ncomment_key: from-config\n")
    args = ("compare", "--pr-file", PR, "--baseline-file", BASE, "--config", config)
    code, out, _ = run(*args)
    assert code == 0
    assert out.startswith("<!-- evalbot:from-config -->")
    assert run(*args, "--fail-on", "hard_regression")[0] == 1


def test_thresholds_from_config_change_verdicts(tmp_path: Path) -> None:
    # With correction none each scenario is tested alone at hard.max_p:
    # 0/5 vs 5/5 has p = 1/252 > 0.001.
    config = write(tmp_path, "c.yml", "correction: none\nthresholds:\n  hard: {max_p: 0.001}\n")
    code, out, _ = run(
        "compare", "--pr-file", PR, "--baseline-file", BASE, "--config", config, "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["counts"]["hard_regression"] == 0


# --- exit 2: one line naming the input ----------------------------------------------


def assert_usage_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ({"name": "x", "scenarios": {"a": {"passed": 4, "total": 3}}}, 'scenarios["a"].passed'),
        ({"name": "x", "scenarios": {"a": {"passed": -1, "total": 3}}}, 'scenarios["a"].passed'),
        ({"name": "x", "scenarios": {"a": {"passed": "2", "total": 3}}}, 'scenarios["a"].passed'),
        ({"name": "x", "scenarios": {"a": {"passed": 2}}}, 'scenarios["a"]'),
        ({"scenarios": {}}, "name"),
        ([1, 2], "top level"),
        ({"name": "x", "trials": [{"scenario": "a", "passed": "yes"}]}, "trials[0].passed"),
    ],
)
def test_invalid_experiment_file(tmp_path: Path, content: object, needle: str) -> None:
    bad = write(tmp_path, "bad.json", content)
    code, out, err = run("compare", "--pr-file", bad, "--baseline-file", BASE)
    assert_usage_error(code, err, "bad.json", needle)
    assert out == ""
    assert len(err.strip().splitlines()) == 1


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = run("compare", "--pr-file", str(tmp_path / "nope.json"), "--baseline-file", BASE)
    assert_usage_error(code, err, "nope.json")


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ("fail_on: sometimes\n", "fail_on: must be one of hard_regression, soft_regression, never"),
        ("thresholds:\n  hard: {max_p: 0}\n", "thresholds.hard.max_p: must be in (0, 1]"),
        ("thresholds:\n  hard: {max_p: 1.5}\n", "thresholds.hard.max_p"),
        (
            "thresholds:\n  soft: {min_delta: -0.1}\n",
            "thresholds.soft.min_delta: must be in [0, 1]",
        ),
        ("thresholds:\n  watch_delta: high\n", "thresholds.watch_delta: must be a number"),
        ("thresholds:\n  hard: {max_p: true}\n", "thresholds.hard.max_p: must be a number"),
        ("thresholds:\n  hard: {p: 0.1}\n", "thresholds.hard: unknown key 'p'"),
        ("colour: red\n", "unknown key 'colour'"),
        ("on_fetch_failure: explode\n", "on_fetch_failure: must be one of neutral, fail"),
        ("comment_key: 'a b'\n", "comment_key: must be 1-64 letters"),
        ("comment_when: sometimes\n", "comment_when: must be one of always, notable"),
        ("fail_on: [\n", "not valid YAML"),
        ("- a list\n", "top level: must be a mapping"),
        ("template: 5\n", "template: must be a file path"),
        ("thresholds:\n  category: {min_count_gap: -1}\n", "thresholds.category.min_count_gap"),
        ("thresholds:\n  category: {min_rate_gap: 2}\n", "thresholds.category.min_rate_gap"),
        ("thresholds:\n  category: {gap: 2}\n", "thresholds.category: unknown key 'gap'"),
    ],
)
def test_invalid_config(tmp_path: Path, config: str, needle: str) -> None:
    path = write(tmp_path, "evalbot.yml", config)
    code, _, err = run("compare", "--pr-file", PR, "--baseline-file", BASE, "--config", path)
    assert_usage_error(code, err, "evalbot.yml", needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--fail-on", "maybe"), "--fail-on: must be one of"),
        (("--comment-key", "<!--"), "--comment-key: must be 1-64"),
        (("--format", "html"), "--format: must be one of markdown, json, text, csv; got 'html'"),
        (("--template", "/nonexistent/t.md.j2"), "template: file not found"),
        (("--config", "/nonexistent/c.yml"), "cannot read config file"),
        (("--alpha", "0.9"), "--alpha: must be in (0, 0.5]; got 0.9"),
        (("--correction", "holm"), "--correction: must be one of bh, none; got 'holm'"),
        (("--trend-threshold", "2"), "--trend-threshold: must be in [0, 1]; got 2.0"),
        (("--history", "101"), "--history: must be a whole number from 0 to 100; got 101"),
        (("--sensitivity", "max"), "--sensitivity: must be one of low, normal, high; got 'max'"),
    ],
)
def test_invalid_options(args: tuple[str, ...], needle: str) -> None:
    code, _, err = run("compare", "--pr-file", PR, "--baseline-file", BASE, *args)
    assert_usage_error(code, err, needle)


# --- click's own errors: one line naming the option, exit 2 (not Usage/Try/Error) ---------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("compare", "--pr-file", PR, "--baseline-file", BASE, "--format", "yaml"),
            "--format: must be one of markdown, json, text, csv; got 'yaml'",
        ),
        (
            ("compare", "--pr-file", PR, "--baseline-file", BASE, "--alpha", "abc"),
            "--alpha: must be a number; got 'abc'",
        ),
        (
            ("compare", "--pr-file", str(EXAMPLES), "--baseline-file", BASE),
            f"--pr-file: must be a file, not a directory; got {str(EXAMPLES)!r}",
        ),
        (
            ("compare", "--pr-file", PR, "--baseline-file", BASE, "--history", "ten"),
            "--history: must be a whole number from 0 to 100; got 'ten'",
        ),
        (
            ("compare", "--verbos"),
            "--verbos: no such option for evalbot compare (did you mean --verbose?); "
            "see evalbot compare --help",
        ),
        (("trend", "--window", "many"), "--window: must be a whole number; got 'many'"),
        (("export", "--format", "xml"), "--format: must be one of json, csv; got 'xml'"),
        (("nope",), "No such command 'nope'; see evalbot --help"),
    ],
)
def test_click_usage_errors_are_one_line(args: tuple[str, ...], line: str) -> None:
    assert run(*args) == (2, "", f"evalbot: error: {line}\n")


# --- EVALBOT_<OPTION>: every option reads its environment variable --------------------


def test_every_option_reads_its_evalbot_variable() -> None:
    own = {"LANGSMITH_API_KEY", "LANGSMITH_ENDPOINT", "GITHUB_TOKEN", "GITHUB_REPOSITORY"}
    own |= {"GITHUB_API_URL"}
    for command in cli.commands.values():
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            long = next(opt for opt in param.opts if opt.startswith("--"))
            expected = "EVALBOT_" + long[2:].replace("-", "_").upper()
            assert param.envvar in (expected, *own), (command.name, long, param.envvar)
            assert param.show_envvar, (command.name, long)


def test_files_and_format_from_the_environment(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    env = {
        "EVALBOT_PR_FILE": PR,
        "EVALBOT_BASELINE_FILE": BASE,
        "EVALBOT_FORMAT": "text",
        "EVALBOT_OUTPUT": str(out),
        "EVALBOT_FAIL_ON": "never",
    }
    assert run("compare", env=env) == (0, "", "")
    assert "gate: passed" in out.read_text("utf-8")


def test_a_bad_value_from_the_environment_names_the_option() -> None:
    env = {"EVALBOT_PR_FILE": PR, "EVALBOT_BASELINE_FILE": BASE, "EVALBOT_ALPHA": "lots"}
    assert run("compare", env=env) == (
        2,
        "",
        "evalbot: error: --alpha: must be a number; got 'lots'\n",
    )


def test_missing_required_option() -> None:
    code, _, err = run("compare", "--pr-file", PR)
    assert_usage_error(code, err, "--baseline-file")


def test_unwritable_output(tmp_path: Path) -> None:
    code, _, err = run(
        "compare", "--pr-file", PR, "--baseline-file", BASE, "--output", str(tmp_path)
    )
    assert_usage_error(code, err, "--output")


# --- exit 3: a bug is not an input error ------------------------------------------


def test_internal_error_exits_3_with_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection: a bug deep in the statistics must surface as a bug.
    def broken(*_: object) -> None:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(stats, "fisher_worse", broken)
    from evalbot.core import scenario_tests

    scenario_tests._table_stats.cache_clear()
    try:
        code, _, err = run("compare", "--pr-file", PR, "--baseline-file", BASE)
    finally:
        scenario_tests._table_stats.cache_clear()
    assert code == 3
    assert "Traceback" in err and "ZeroDivisionError: simulated bug" in err
    assert "this is a bug in evalbot, please report it" in err


def test_help_and_version() -> None:
    assert run("--version")[0] == 0
    code, out, _ = run("compare", "--help")
    assert code == 0 and "--pr-file" in out
    assert cli.name == "cli"


# --- the installed console script ---------------------------------------------------


def test_python_dash_m_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evalbot", "compare", "--pr-file", PR, "--baseline-file", BASE],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.startswith("<!-- evalbot:default -->")


def test_non_editable_install_renders_from_another_directory(tmp_path: Path) -> None:
    """`pip install .` must ship the templates: render from a temp dir, outside the repo."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (target / "evalbot" / "templates" / "comment.md.j2").is_file()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "PYTHONSAFEPATH": "1"}
    result = subprocess.run(
        [str(target / "bin" / "evalbot"), "compare", "--pr-file", PR, "--baseline-file", BASE],
        capture_output=True, text=True, cwd=work, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        "<!-- evalbot:default -->\n> [!CAUTION]\n> ❌ **evalbot fails**: 1 hard regression"
    )
    probe = subprocess.run(
        [sys.executable, "-c", "import evalbot.templates as t; print(t.__file__)"],
        capture_output=True, text=True, cwd=work, env=env, check=True,
    )  # fmt: skip
    assert probe.stdout.startswith(str(target))
