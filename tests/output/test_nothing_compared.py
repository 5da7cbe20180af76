"""Never green on nothing (issue 11 §5): what a user sees when there is nothing to compare.

Zero compared scenarios, low coverage, a pass key no run carries, NaN/inf/non-numeric
scores, repeated run ids and the same experiment pooled twice — through the CLI (experiment
files and LangSmith), the action (outputs, status, comment) and the rendered Markdown.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evalbot.config import Settings
from evalbot.core.compare import compare_buckets, decide_gate, settle
from evalbot.core.models import (
    NothingCompared,
    Ok,
    OnFetchFailure,
    Scenario,
    Thresholds,
)
from evalbot.output.render import render_comment
from evalbot.pipeline import compare_loaded

from action_harness import (
    HEAD_SHA,
    LS_KEY,
    NOW,
    PR_NUMBER,
    REPETITIONS,
    REPO,
    LangSmith,
    Runner,
    feedback,
    lines_of,
    run_main,
    runner_env,
)
from fake_github import FakeGitHub
from fake_langsmith import FakeRun
from helpers import assert_golden, flag, live_args, make_bucket, run_cli

# --- experiment files through the CLI --------------------------------------------------------


def write(path: Path, name: str, scenarios: dict[str, dict[str, Any]], **extra: Any) -> str:
    path.write_text(json.dumps({"name": name, **extra, "scenarios": scenarios}), "utf-8")
    return path.name


def counts(passed: int, total: int, unscored: int = 0) -> dict[str, int]:
    entry = {"passed": passed, "total": total}
    if unscored:
        entry["unscored"] = unscored
    return entry


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path so file names (and the reproduce line in goldens) are relative."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def disjoint(files: Path) -> tuple[str, str]:
    """A PR keyed by another scenario_key than its baseline: no key in common."""
    pr = write(
        files / "pr.json",
        "pr-42",
        {f"question-{i}": counts(3, 3) for i in range(3)},
    )
    base = write(
        files / "base.json",
        "main-nightly",
        {f"ex-{i:04d}": counts(3, 3) for i in range(5)},
    )
    return pr, base


def test_zero_shared_scenarios_is_nothing_compared_and_neutral_by_default(files: Path) -> None:
    pr, base = disjoint(files)
    code, out, err = run_cli("compare", "--pr-file", pr, "--baseline-file", base)
    # Before: "no regressions … over 0 shared scenarios", a TIP alert and exit 0.
    assert (code, err) == (0, "")
    assert "no regressions" not in out and "[!TIP]" not in out
    assert_golden("nothing_compared_neutral.md", out)


def test_zero_shared_scenarios_fails_under_on_fetch_failure_fail(files: Path) -> None:
    pr, base = disjoint(files)
    (files / "strict.yml").write_text("on_fetch_failure: fail\n", "utf-8")
    argv = ("compare", "--pr-file", pr, "--baseline-file", base, "--config", "strict.yml")
    code, out, _ = run_cli(*argv)
    assert code == 1
    assert_golden("nothing_compared_fail.md", out)


def test_zero_shared_scenarios_in_json_text_and_csv(files: Path) -> None:
    pr, base = disjoint(files)
    args = ("compare", "--pr-file", pr, "--baseline-file", base)
    code, out, _ = run_cli(*args, "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["outcome"] == "nothing_compared"
    assert report["gate"] == {
        "failed": False,
        "reason": "nothing could be compared: regression detection did not run "
        "(on_fetch_failure: neutral)",
        "warning": True,
    }
    assert report["coverage"] == {
        "pr_scenarios": 3,
        "baseline_scenarios": 5,
        "shared": 0,
        "compared": 0,
        "low": True,
    }
    assert report["message"].startswith("nothing could be compared")
    assert report["aggregate"] is None and report["power"] is None
    assert (len(report["pr_only"]), len(report["baseline_only"])) == (3, 5)

    code, out, _ = run_cli(*args, "--format", "text")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "evalbot passes, nothing compared (on_fetch_failure: neutral): regression detection "
        "did not run — no shared scenario has trials on both sides (0 shared, 3 only in the "
        "PR, 5 only in the baseline)"
    )
    assert lines[1].endswith(
        "0 shared, none with trials on both sides; 3 only in the PR, 5 only in the baseline"
    )
    assert "likely: the two experiments share no scenario key" in out
    assert lines[-1] == (
        "gate: passed — nothing could be compared: regression detection did not run "
        "(on_fetch_failure: neutral)"
    )

    code, out, err = run_cli(*args, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["verdict"] for r in rows) == ["baseline_only"] * 5 + ["pr_only"] * 3
    assert err.startswith("evalbot: --format csv: no verdicts, nothing could be compared")


def test_empty_pr_experiment_is_nothing_compared(files: Path) -> None:
    """A PR run that crashed before recording anything: an empty scenarios object."""
    pr = write(files / "pr.json", "pr-crashed", {})
    base = write(files / "base.json", "main", {"a": counts(3, 3), "b": counts(2, 3)})
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base, "--format", "text")
    assert code == 0
    assert "likely: the PR experiment has no scenarios" in out
    # The advice names the checks, so the text form lists them too.
    advice = "fix the scenario key, dataset or pass key (see the checks listed here)"
    assert f"what next: {advice}" in out
    assert "check that: scenario_key is the same for both experiments" in out
    assert "gate: passed — nothing could be compared" in out


def test_both_experiments_empty_is_nothing_compared(files: Path) -> None:
    pr = write(files / "pr.json", "pr", {})
    base = write(files / "base.json", "main", {})
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base, "--format", "json")
    assert (code, json.loads(out)["outcome"]) == (0, "nothing_compared")


def test_baseline_with_only_unscored_trials_is_nothing_compared(files: Path) -> None:
    pr = write(files / "pr.json", "pr", {"a": counts(0, 3), "b": counts(0, 3)})
    base = write(files / "base.json", "main", {"a": counts(0, 0, 3), "b": counts(0, 0, 3)})
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base)
    # Before: "No regressions" over two scenarios that had nothing to compare against.
    assert code == 0
    assert "> ℹ️ **evalbot passes, nothing compared (on_fetch_failure: neutral)**" in out
    assert "every trial of the shared scenarios is unscored on the baseline side" in out
    assert "Baseline: 6 trials unscored" in out
    assert "2 shared, none with trials on both sides" in out


def test_each_shared_scenario_with_trials_on_one_side_only(files: Path) -> None:
    """Shared keys exist, but where the PR has trials the baseline has none and vice versa."""
    pr = write(files / "pr.json", "pr", {"a": counts(0, 3), "b": counts(0, 0, 3)})
    base = write(files / "base.json", "main", {"a": counts(0, 0, 3), "b": counts(3, 3)})
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base, "--format", "text")
    assert code == 0
    assert "likely: each shared scenario has trials on one side only" in out


def test_history_does_not_rescue_an_empty_pr_side(files: Path) -> None:
    pr = write(files / "pr.json", "pr", {"a": counts(0, 0, 3)})
    base = write(files / "base.json", "main-2", {"a": counts(3, 3)})
    old = write(files / "old.json", "main-1", {"a": counts(3, 3)})
    code, out, _ = run_cli(
        "compare", "--pr-file", pr, "--baseline-file", base, "--history-file", old,
        "--format", "json",
    )  # fmt: skip
    assert (code, json.loads(out)["outcome"]) == (0, "nothing_compared")


def test_low_coverage_is_in_the_headline_and_the_status(files: Path) -> None:
    pr = write(files / "pr.json", "pr-43", {f"s{i}": counts(3, 3) for i in range(4)})
    base = write(files / "base.json", "main", {f"s{i}": counts(3, 3) for i in range(10)})
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base)
    assert code == 0
    assert_golden("low_coverage.md", out)
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base, "--format", "text")
    assert out.splitlines()[0] == (
        "evalbot passes: no regression across 4 scenarios (100.0% vs 100.0% on the baseline) "
        "— only 4 of the baseline's 10 scenarios compared"
    )


def test_half_coverage_is_not_flagged(files: Path) -> None:
    pr = write(files / "pr.json", "pr", {f"s{i}": counts(3, 3) for i in range(5)})
    base = write(files / "base.json", "main", {f"s{i}": counts(3, 3) for i in range(10)})
    code, out, _ = run_cli("compare", "--pr-file", pr, "--baseline-file", base)
    assert code == 0
    assert "> [!TIP]\n> ✅ **evalbot passes**: no regression across 5 scenarios (" in out
    assert "only 5 of" not in out


def test_baseline_given_again_as_history_is_pooled_once(files: Path) -> None:
    pr = write(files / "pr.json", "pr", {"a": counts(0, 5), "b": counts(5, 5)})
    base = write(files / "base.json", "main-7", {"a": counts(5, 5), "b": counts(5, 5)}, id="exp-7")
    again = files / "copy.json"
    again.write_text((files / base).read_text("utf-8"), "utf-8")
    alone = json.loads(
        run_cli("compare", "--pr-file", pr, "--baseline-file", base, "--format", "json")[1]
    )
    _, out, _ = run_cli(
        "compare", "--pr-file", pr, "--baseline-file", base,
        "--history-file", again.name, "--format", "json",
    )  # fmt: skip
    twice = json.loads(out)
    # Before: the same 5/5 pooled twice, 10/10, and a p-value 60 times smaller.
    row = twice["scenarios"][0]
    assert row["pooled"] == {"passed": 5, "total": 5}
    assert row["p_worse"] == alone["scenarios"][0]["p_worse"]
    assert twice["history"]["runs"] == 1
    assert twice["baseline"]["notes"] == [
        "history: 'main-7' was given twice (same id), pooled once"
    ]
    _, md, _ = run_cli(
        "compare", "--pr-file", pr, "--baseline-file", base, "--history-file", again.name
    )
    assert r"Baseline experiment history: 'main\-7' was given twice \(same id\), pooled once." in md


def test_history_repeats_by_name_without_ids_and_the_pr_itself_left_out() -> None:
    pr = make_bucket("pr", {"a": (0, 5)})
    base = make_bucket("main-3", {"a": (5, 5)})
    history = [
        make_bucket("main-1", {"a": (5, 5)}),
        make_bucket("main-2", {"a": (5, 5)}),
        make_bucket("main-1", {"a": (5, 5)}),
        make_bucket("pr", {"a": (0, 5)}),
        make_bucket("main-3", {"a": (5, 5)}),
    ]
    outcome = compare_loaded(pr, base, Settings(), history=history)
    assert isinstance(outcome, Ok)
    comparison = outcome.comparison
    assert [b.name for b in comparison.history] == ["main-2", "main-1"]
    assert comparison.scenarios[0].pooled == Scenario("a", 15, 15)
    assert comparison.baseline.notes == (
        "history: 'main-1' was given twice (same name), pooled once",
        "history: 'pr' is the PR experiment itself, left out",
        "history: 'main-3' was given twice (same name), pooled once",
    )


def test_pass_key_with_experiment_files_is_exit_2(files: Path) -> None:
    pr, base = disjoint(files)
    code, out, err = run_cli(
        "compare", "--pr-file", pr, "--baseline-file", base, "--pass-key", "nonexistent_key"
    )
    # Before: silently ignored, exit 0 and a green comment.
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--pass-key: no trial in the experiment files carries 'nonexistent_key'" in err
    assert "(score keys seen: none)" in err


def test_nan_in_an_experiment_file_is_exit_2(files: Path) -> None:
    """Experiment files cannot carry NaN at all: the JSON parser refuses the constant."""
    (files / "pr.json").write_text(
        '{"name": "pr", "trials": [{"scenario": "a", "passed": true, "scores": {"q": NaN}}]}',
        "utf-8",
    )
    base = write(files / "base.json", "main", {"a": counts(3, 3)})
    code, _, err = run_cli("compare", "--pr-file", "pr.json", "--baseline-file", base)
    assert code == 2 and "NaN" in err and "Traceback" not in err


# --- the outcome, gate and status in the core ------------------------------------------------


def disjoint_buckets() -> Any:
    pr, base = make_bucket("pr", {"x": (1, 1)}), make_bucket("b", {"y": (1, 1)})
    return compare_buckets(pr, base, Thresholds())


def test_gate_for_nothing_compared_follows_on_fetch_failure() -> None:
    outcome = settle(disjoint_buckets())
    assert isinstance(outcome, NothingCompared)
    for policy, failed in ((OnFetchFailure.NEUTRAL, False), (OnFetchFailure.FAIL, True)):
        gate = decide_gate(outcome, fail_on=Settings().fail_on, on_fetch_failure=policy)
        assert (gate.failed, gate.warning) == (failed, True)


def test_a_custom_template_from_before_the_outcome_still_renders(tmp_path: Path) -> None:
    """Old templates treat unknown outcomes like fetch_failed and print `error`."""
    template = tmp_path / "mine.md.j2"
    template.write_text(
        "{{ marker }}\n{% if outcome == 'ok' %}all good"
        "{% else %}did not run: {{ error }}{% endif %}\n",
        "utf-8",
    )
    outcome = settle(disjoint_buckets())
    gate = decide_gate(outcome, fail_on=Settings().fail_on, on_fetch_failure=OnFetchFailure.NEUTRAL)
    body = render_comment(outcome, gate, comment_key="default", reproduce="x", template=template)
    assert "did not run: nothing could be compared: no shared scenario has trials" in body


# --- LangSmith: the CLI and the action against the fake servers ----------------------------------


def add_pr(langsmith: LangSmith, name: str, outcome: Any, *, minutes: int = 1) -> str:
    fake = langsmith.fake
    return fake.add_experiment(
        name,
        dataset_id=langsmith.dataset,
        metadata={"branch": "feat"},
        start_time=NOW - timedelta(minutes=minutes),
        runs=fake.make_runs(langsmith.dataset, repetitions=REPETITIONS, outcome=outcome),
    )


def score(value: Any) -> dict[str, Any]:
    stats = {"n": 1, "avg": value, "stdev": 0, "errors": 0, "values": {}, "comments": []}
    return {"feedback_stats": {"correctness": stats}}


def live(langsmith: LangSmith, *args: str) -> tuple[int, str, str]:
    return run_cli("compare", *args, *live_args(langsmith.fake.url, LS_KEY))


def test_live_unknown_pass_key_is_exit_2_listing_the_keys(langsmith: LangSmith) -> None:
    code, out, err = live(langsmith, "--pr", "pr-good", "--pass-key", "nonexistent_key")
    # Before: exit 0, a green comment and "No regressions · n/a vs n/a".
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err == (
        "evalbot: error: --pass-key: no run carries the feedback key 'nonexistent_key'; "
        "keys seen: correctness\n"
    )
    assert "Traceback" not in err


def test_live_all_nan_scores_are_unscored_and_nothing_compared(langsmith: LangSmith) -> None:
    add_pr(langsmith, "pr-nan", lambda i, r: score(math.nan))
    code, out, _ = live(langsmith, "--pr", "pr-nan", "--format", "json")
    report = json.loads(out)
    # Before: every NaN a failed trial, "No regressions · 0% vs 0%"... or worse.
    assert code == 0
    assert report["outcome"] == "nothing_compared"
    assert report["pr"]["unscored"] == 25 and report["pr"]["trials"] == 0
    assert (
        "25 runs had a NaN, infinite or non-numeric pass-key score and were left unscored"
        in report["pr"]["notes"]
    )


def test_live_inf_and_strings_are_unscored_not_passes(langsmith: LangSmith) -> None:
    values = [math.inf, -math.inf, "1.0", True, 1e400]
    add_pr(langsmith, "pr-odd", lambda i, r: score(values[r]) if i == 0 else feedback(True))
    code, out, _ = live(langsmith, "--pr", "pr-odd", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["outcome"] == "ok"
    s0 = next(r for r in report["scenarios"] if r["label"] == "s0")
    # Before: +inf (and 1e400, read as inf) counted as passes.
    assert (s0["pr"]["passed"], s0["pr"]["total"], s0["pr"]["unscored"]) == (0, 0, 5)
    assert s0["verdict"] == "insufficient_data"
    assert any(n.startswith("5 runs had a NaN, infinite") for n in report["pr"]["notes"])


def test_live_repeated_run_ids_are_counted_once(langsmith: LangSmith) -> None:
    fake = langsmith.fake
    runs = fake.make_runs(
        langsmith.dataset, repetitions=4, outcome=lambda i, r: feedback(not (i == 0 and r == 0))
    )
    session = fake.add_experiment(
        "pr-retried",
        dataset_id=langsmith.dataset,
        metadata={"branch": "feat"},
        start_time=NOW,
        runs=runs,
    )
    # A retried ingestion: the first repetition's five runs arrive three more times.
    for _ in range(3):
        fake.add_runs(session, [FakeRun(**vars(run)) for run in runs[:5]])
    code, out, _ = live(langsmith, "--pr", "pr-retried", "--format", "json")
    report = json.loads(out)
    assert code == 0
    assert report["pr"]["trials"] == 20
    s0 = next(r for r in report["scenarios"] if r["label"] == "s0")
    assert (s0["pr"]["passed"], s0["pr"]["total"]) == (3, 4)
    assert "15 runs repeated an earlier run id and were counted once" in report["pr"]["notes"]
    assert not any(n.startswith("partial") or n.startswith("uneven") for n in report["pr"]["notes"])


@pytest.mark.parametrize(
    ("policy", "code", "state"), [("neutral", 0, "success"), ("fail", 1, "error")]
)
def test_action_nothing_compared_outputs_status_and_comment(
    langsmith: LangSmith,
    github: FakeGitHub,
    runner: Runner,
    policy: str,
    code: int,
    state: str,
) -> None:
    add_pr(langsmith, "pr-nan", lambda i, r: score(math.nan))
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        experiment="pr-nan",
        on_fetch_failure=policy,
    )
    got, stdout = run_main(env)
    assert got == code, stdout
    outputs = runner.outputs()
    assert (outputs["outcome"], outputs["gate"]) == ("nothing_compared", "fail" if code else "pass")
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["state"] == state
    assert status["description"] == (
        "Regression detection did not run: nothing compared "
        "(5 shared scenarios, none with trials on both sides)"
    )
    assert len(status["description"]) <= 140
    warnings = lines_of(stdout, "warning")
    assert any("Regression detection did not run: nothing could be compared" in w for w in warnings)
    (comment,) = github.comments_on(REPO, PR_NUMBER)
    first = (
        "> [!CAUTION]\n> ❌ **evalbot fails, nothing compared (on_fetch_failure: fail)**"
        if code
        else "> [!NOTE]\n> ℹ️ **evalbot passes, nothing compared (on_fetch_failure: neutral)**"
    )
    assert comment.body.startswith(f"<!-- evalbot:default -->\n{first}: regression detection")
    assert "(5 shared, 0 only in the PR, 0 only in the baseline)" in comment.body
    assert "every trial of the shared scenarios is unscored on the PR side" in comment.body
    assert "PR: 25 trials unscored" in comment.body
    advice = "fix the scenario key, dataset or pass key (see the checks listed here)"
    assert f"**What next:** {advice}" in comment.body
    summary = runner.summary.read_text("utf-8")
    assert summary.startswith(f"<!-- evalbot:default -->\n{first}")
    report = json.loads(Path(outputs["report_path"]).read_text("utf-8"))
    assert report["outcome"] == "nothing_compared"
    assert f"evalbot: nothing_compared; gate {'failed' if code else 'passed'}" in stdout


def test_action_unknown_pass_key_is_exit_2_naming_the_input(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    env = runner_env(
        runner,
        langsmith_url=langsmith.fake.url,
        github_url=github.url,
        experiment="pr-good",
        pass_key="nonexistent_key",
    )
    code, stdout = run_main(env)
    assert code == 2
    (error,) = lines_of(stdout, "error")
    assert "pass_key: no run carries the feedback key 'nonexistent_key'" in error
    assert "keys seen: correctness" in error and "--pass-key" not in error


def test_action_low_coverage_status_description(
    langsmith: LangSmith, github: FakeGitHub, runner: Runner
) -> None:
    # Only s0 and s1 scored on the PR side: 2 of 5 compared.
    add_pr(langsmith, "pr-few", lambda i, r: feedback(True) if i < 2 else score(None))
    env = runner_env(
        runner, langsmith_url=langsmith.fake.url, github_url=github.url, experiment="pr-few"
    )
    code, stdout = run_main(env)
    assert code == 0, stdout
    (status,) = github.statuses_on(REPO, HEAD_SHA)
    assert status["description"] == "No regressions · 100% vs 100% · only 2/5 compared"
    (comment,) = github.comments_on(REPO, PR_NUMBER)
    assert comment.body.startswith(
        "<!-- evalbot:default -->\n> [!WARNING]\n> ⚠️ **evalbot passes**: no regression across "
        "2 scenarios (100.0% vs 100.0% on the baseline) — only 2 of the baseline's 5 scenarios "
        "compared"
    )
    assert "**What next:** run the PR's evals on the baseline's scenarios" in comment.body


# --- the bucketing rules on plain run data ----------------------------------------------------


def run_json(run_id: str | None, example: str, stats: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": run_id, "reference_example_id": example, "feedback_stats": stats}


def test_check_pass_keys_names_the_missing_one_of_several() -> None:
    from evalbot.errors import InputError
    from evalbot.sources.langsmith.bucket import check_pass_keys

    runs = [run_json("r1", "e1", {"correctness": {"avg": 1}, "helpful": {"avg": 0.5}})]
    check_pass_keys(["correctness", "helpful"], runs, name=flag)
    with pytest.raises(InputError) as caught:
        check_pass_keys(["correctness", "typo"], runs, name=flag)
    assert str(caught.value) == (
        "--pass-key: no run carries the feedback key 'typo'; keys seen: correctness, helpful"
    )
    # Without any feedback at all nothing shows the key is wrong: those runs are failed
    # (target errors) or unscored, never a green comparison.
    check_pass_keys(["correctness"], [run_json("r1", "e1", None)], name=flag)
    check_pass_keys(["correctness"], [], name=flag)


def test_runs_without_ids_are_never_merged() -> None:
    from evalbot.sources.langsmith.bucket import BucketRules, ExperimentInfo, bucket_runs

    stats = {"correctness": {"avg": 1.0}}
    runs = [run_json(None, "e1", stats), run_json(None, "e1", stats), run_json("r", "e1", stats)]
    runs.append(run_json("r", "e1", {"correctness": {"avg": 0.0}}))
    bucket = bucket_runs(
        ExperimentInfo(name="x"),
        runs,
        {},
        rules=BucketRules(),
        pass_keys=("correctness",),
    )
    assert (bucket.scenarios["e1"].passed, bucket.scenarios["e1"].total) == (3, 3)
    assert bucket.notes == ("1 run repeated an earlier run id and was counted once",)
