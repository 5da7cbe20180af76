"""CSV exports (issue 6 §5): they parse with Python's csv module and round-trip the numbers.

``experiment_csv`` / ``comparison_csv`` on hand-built buckets, then the commands
(`evalbot export … --format csv`, `evalbot compare --format csv`) on the example
files and against the fake LangSmith server of tests/fakes/fake_langsmith.py.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evalbot.core import stats
from evalbot.core.compare import compare_buckets
from evalbot.core.metrics import compare_metrics
from evalbot.core.models import Bucket, Comparison, Measures, Scenario, Thresholds
from evalbot.output.csv_export import comparison_csv, experiment_csv
from evalbot.sources.experiment_file import load_experiment, parse_experiment

from fake_langsmith import FakeLangSmith, FakeRun
from helpers import EXAMPLES, live_args
from helpers import run_cli as run

PR = str(EXAMPLES / "pr.json")
BASE = str(EXAMPLES / "baseline.json")

FIGURE_COLUMNS = [
    "latency_p50_ms",
    "latency_p95_ms",
    "tokens_per_trial",
    "cost_per_trial",
    "cost_per_experiment",
]
SIDE_COLUMNS = ["passed", "total", "rate", "categories"]


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) as Python's csv module reads them."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert reader.fieldnames is not None
    return list(reader.fieldnames), rows


def number(cell: str) -> float | None:
    """A number cell: float, or None for an empty cell."""
    return None if cell == "" else float(cell)


def count(cell: str) -> int:
    """A count cell: written as an integer, never as ``3.0``."""
    assert cell.isdigit(), cell
    return int(cell)


def mean(values: Sequence[float]) -> float | None:
    """The mean of the trials, computed independently of evalbot."""
    return statistics.fmean(values) if values else None


def figures(measures: Measures) -> dict[str, float | None]:
    """The per-scenario latency/token/cost figures as documented, computed here."""
    return {
        "latency_p50_ms": stats.percentile(measures.latency_ms, 50),
        "latency_p95_ms": stats.percentile(measures.latency_ms, 95),
        "tokens_per_trial": mean(measures.tokens),
        "cost_per_trial": mean(measures.cost),
        "cost_per_experiment": float(sum(measures.cost)) if measures.cost else None,
    }


def defused(text: str) -> str:
    """What a text cell holds: a leading ' when a spreadsheet would run it as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- experiment_csv -----------------------------------------------------------------------

LABEL_TRICKY = 'Refund, "quoted"\nsecond line ✓ — naïve 日本語'
CATEGORY_TRICKY = 'a,b "c"\nd'


def experiment_bucket() -> Bucket:
    """Four scenarios: full measures, nothing at all, a single trial, text a sheet would run.

    Score values are exactly representable, so every way of averaging them agrees.
    """
    return Bucket(
        name="exp",
        scenarios={
            "refund, policy": Scenario(
                key="refund, policy",
                passed=2,
                total=3,
                label=LABEL_TRICKY,
                categories={"timeout": 1, CATEGORY_TRICKY: 2, "=cat": 1},
                unscored=1,
                measures=Measures(
                    scores={"correctness": (0.5, 0.25, 1.0), "helpfulness": (4.0, 5.0)},
                    latency_ms=(1200.0, 980.5, 3100.25, 1500.0),
                    tokens=(812.0, 790.0, 901.0),
                    cost=(0.0021, 0.0019, 0.0024),
                    output_chars=(10, 0, 12),
                ),
            ),
            "-empty": Scenario(key="-empty", passed=0, total=0, label="=SUM(A1:A2)"),
            "single": Scenario(
                key="single",
                passed=5,
                total=5,
                label="+1 café",
                measures=Measures(scores={"correctness": (1.0,)}, latency_ms=(250.0,), cost=(0.0,)),
            ),
            "@mention": Scenario(key="@mention", passed=1, total=4, label="\tTabbed"),
        },
    )


def test_experiment_csv_header_is_as_documented() -> None:
    header, _ = parse(experiment_csv(experiment_bucket()))
    assert header == [
        "key",
        "label",
        "passed",
        "total",
        "rate",
        "unscored",
        "categories",
        "score:correctness",
        "score:helpfulness",
        *FIGURE_COLUMNS,
    ]


def test_experiment_csv_without_measures_has_no_score_columns() -> None:
    bucket = Bucket(name="plain", scenarios={"a": Scenario(key="a", passed=1, total=2)})
    header, rows = parse(experiment_csv(bucket))
    assert header == [
        "key",
        "label",
        "passed",
        "total",
        "rate",
        "unscored",
        "categories",
        *FIGURE_COLUMNS,
    ]
    assert rows == [
        {
            "key": "a",
            "label": "",
            "passed": "1",
            "total": "2",
            "rate": "0.5",
            "unscored": "0",
            "categories": "{}",
            **dict.fromkeys(FIGURE_COLUMNS, ""),
        }
    ]


def test_experiment_csv_of_an_empty_experiment_is_the_header_alone() -> None:
    text = experiment_csv(Bucket(name="empty", scenarios={}))
    header, rows = parse(text)
    assert rows == []
    assert text == ",".join(header) + "\r\n"  # RFC 4180 row end


def test_experiment_csv_round_trips_every_number() -> None:
    bucket = experiment_bucket()
    _, rows = parse(experiment_csv(bucket))
    assert [row["key"] for row in rows] == [defused(k) for k in bucket.scenarios]
    for row, scenario in zip(rows, bucket.scenarios.values(), strict=True):
        assert count(row["passed"]) == scenario.passed
        assert count(row["total"]) == scenario.total
        assert count(row["unscored"]) == scenario.unscored
        expected_rate = scenario.passed / scenario.total if scenario.total else None
        assert number(row["rate"]) == expected_rate
        assert json.loads(row["categories"]) == dict(scenario.categories)
        for key in ("correctness", "helpfulness"):
            expected = mean(scenario.measures.scores.get(key, ()))
            assert number(row[f"score:{key}"]) == expected, (scenario.key, key)
        for column, expected in figures(scenario.measures).items():
            assert number(row[column]) == expected, (scenario.key, column)

    first, empty, single, _ = rows
    # The values themselves, not only "whatever the formula gives".
    assert number(first["latency_p50_ms"]) == 1350.0
    assert number(first["latency_p95_ms"]) == stats.percentile([980.5, 1200, 1500, 3100.25], 95)
    assert number(first["tokens_per_trial"]) == 2503 / 3
    assert number(first["score:correctness"]) == 1.75 / 3
    assert number(first["score:helpfulness"]) == 4.5
    # No trials, no measures: empty cells, never 0 or "None".
    assert {c: empty[c] for c in ("rate", "score:correctness", *FIGURE_COLUMNS)} == dict.fromkeys(
        ("rate", "score:correctness", *FIGURE_COLUMNS), ""
    )
    # One trial: p50 = p95 = the value; a zero cost is 0.0, not "no value".
    assert single["latency_p50_ms"] == single["latency_p95_ms"] == "250.0"
    assert single["tokens_per_trial"] == "" and single["score:helpfulness"] == ""
    assert single["cost_per_trial"] == single["cost_per_experiment"] == "0.0"
    assert single["rate"] == "1.0"


def test_floats_are_written_in_shortest_round_trip_form() -> None:
    values = (0.1, 1e-05, 1 / 3, 123456789.123, 2.5e-300, 1e16)
    bucket = Bucket(
        name="e",
        scenarios={
            f"s{i}": Scenario(
                key=f"s{i}", passed=0, total=1, measures=Measures(cost=(v,), latency_ms=(v,))
            )
            for i, v in enumerate(values)
        },
    )
    _, rows = parse(experiment_csv(bucket))
    for row, value in zip(rows, values, strict=True):
        for column in ("latency_p50_ms", "latency_p95_ms", "cost_per_trial", "cost_per_experiment"):
            assert row[column] == repr(value)
            assert float(row[column]) == value
        assert row["rate"] == "0.0"


def test_text_cells_round_trip_through_csv() -> None:
    bucket = experiment_bucket()
    text = experiment_csv(bucket)
    _, rows = parse(text)
    first = rows[0]
    # Commas, quotes, newlines and non-ASCII text come back exactly, unescaped.
    assert first["key"] == "refund, policy"
    assert first["label"] == LABEL_TRICKY
    assert json.loads(first["categories"]) == {"timeout": 1, CATEGORY_TRICKY: 2, "=cat": 1}
    # Non-ASCII is written as is (a spreadsheet shows it), not as \u escapes.
    assert "日本語" in text and "\\u" not in text


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("=1+1", '=HYPERLINK("http://x","y")'),
        ("+cmd", "+1 café"),
        ("-2", "-negative"),
        ("@SUM(A1)", "@mention"),
        ("\tkey", "\tTabbed"),
    ],
)
def test_cells_a_spreadsheet_would_run_get_a_leading_quote(key: str, label: str) -> None:
    bucket = Bucket(name="e", scenarios={key: Scenario(key=key, passed=1, total=1, label=label)})
    _, rows = parse(experiment_csv(bucket))
    assert (rows[0]["key"], rows[0]["label"]) == ("'" + key, "'" + label)


@pytest.mark.parametrize(
    ("key", "label"),
    [("\rkey", "\rreturn"), ("plain", "line one\rline two")],
    ids=["leading-cr", "inner-cr"],
)
def test_a_bare_carriage_return_round_trips(key: str, label: str) -> None:
    bucket = Bucket(name="e", scenarios={key: Scenario(key=key, passed=1, total=1, label=label)})
    _, rows = parse(experiment_csv(bucket))
    assert len(rows) == 1
    assert (rows[0]["key"], rows[0]["label"]) == (defused(key), defused(label))
    assert rows[0]["rate"] == "1.0"


def test_harmless_text_and_categories_are_not_prefixed() -> None:
    _, rows = parse(experiment_csv(experiment_bucket()))
    first, empty, single, mention = rows
    assert first["label"] == LABEL_TRICKY  # no leading quote on ordinary text
    assert first["categories"].startswith("{")
    assert (empty["key"], empty["label"]) == ("'-empty", "'=SUM(A1:A2)")
    assert single["label"] == "'+1 café"
    assert (mention["key"], mention["label"]) == ("'@mention", "'\tTabbed")


def test_a_key_with_an_inner_formula_character_is_left_alone() -> None:
    bucket = Bucket(name="e", scenarios={"a=b": Scenario(key="a=b", passed=0, total=1)})
    _, rows = parse(experiment_csv(bucket))
    assert rows[0]["key"] == "a=b"


def test_score_means_match_the_reports_per_scenario_means() -> None:
    pr = Bucket(
        name="pr",
        scenarios={
            "s": Scenario(key="s", passed=1, total=10, measures=Measures(scores={"c": (0.1,) * 10}))
        },
    )
    base = Bucket(
        name="base",
        scenarios={
            "s": Scenario(
                key="s", passed=1, total=3, measures=Measures(scores={"c": (0.1, 0.2, 0.3)})
            )
        },
    )
    [metric] = compare_metrics(pr, base, Thresholds().metrics)
    [scenario_metric] = metric.scenarios
    _, [row] = parse(experiment_csv(pr))
    assert number(row["score:c"]) == scenario_metric.pr.mean == 0.1
    _, [row] = parse(comparison_csv(compare_buckets(pr, base, Thresholds())))
    assert number(row["pr_score:c"]) == scenario_metric.pr.mean
    assert number(row["baseline_score:c"]) == scenario_metric.baseline.mean
    assert number(row["delta_score:c"]) == scenario_metric.delta


# --- comparison_csv -----------------------------------------------------------------------


def scenario(
    key: str,
    passed: int,
    total: int,
    *,
    label: str = "",
    categories: Mapping[str, int] | None = None,
    correctness: tuple[float, ...] = (),
    latency: tuple[float, ...] = (),
    tokens: tuple[float, ...] = (),
    cost: tuple[float, ...] = (),
) -> Scenario:
    return Scenario(
        key=key,
        passed=passed,
        total=total,
        label=label,
        categories=categories or {},
        measures=Measures(
            scores={"correctness": correctness} if correctness else {},
            latency_ms=latency,
            tokens=tokens,
            cost=cost,
        ),
    )


def comparison_buckets() -> tuple[Bucket, Bucket, Bucket]:
    """PR, latest baseline, one older baseline: two shared scenarios and one on each side."""
    pr = Bucket(
        name="pr",
        scenarios={
            "=refund": scenario(
                "=refund",
                0,
                5,
                label='Refund, "basic"\n✓',
                categories={"hallucinated": 5},
                correctness=(0.5, 0.5, 0.25, 0.25, 0.5),
                latency=(1000.0, 2000.0, 3000.0, 4000.0, 5000.0),
                tokens=(100.0, 200.0),
                cost=(0.001, 0.002, 0.004),
            ),
            "shipping": scenario("shipping", 3, 5, correctness=(1.0, 0.5)),
            "new-one": scenario(
                "new-one", 2, 2, label="@new", correctness=(0.75,), latency=(10.5,)
            ),
        },
    )
    baseline = Bucket(
        name="base",
        scenarios={
            "=refund": scenario(
                "=refund",
                5,
                5,
                label="base label",
                correctness=(1.0, 0.75, 0.75, 1.0, 1.0),
                latency=(900.0, 1100.0),
                tokens=(150.0,),
                cost=(0.003,),
            ),
            "shipping": scenario("shipping", 3, 5, categories={"timeout": 1}),
            "gone": scenario("gone", 1, 3, label="-gone", correctness=(0.25,), tokens=(42.0,)),
        },
    )
    older = Bucket(
        name="older",
        scenarios={
            # Different measures: the CSV's baseline measures are the latest run's only.
            "=refund": scenario("=refund", 4, 5, correctness=(0.0,), latency=(99999.0,)),
            "shipping": scenario("shipping", 4, 5),
            "gone": scenario("gone", 2, 2),
        },
    )
    return pr, baseline, older


def side_expected(
    scenario: Scenario, *, passed: int, total: int, keys: Sequence[str]
) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "passed": passed,
        "total": total,
        "rate": passed / total if total else None,
    }
    for key in keys:
        out[f"score:{key}"] = mean(scenario.measures.scores.get(key, ()))
    out.update(figures(scenario.measures))
    return out


def check_side(row: Mapping[str, str], prefix: str, expected: Mapping[str, float | None]) -> None:
    for column, value in expected.items():
        cell = row[f"{prefix}_{column}"]
        if column in ("passed", "total"):
            assert count(cell) == value, (row["key"], prefix, column)
        else:
            assert number(cell) == value, (row["key"], prefix, column)


def assert_side_empty(row: Mapping[str, str], prefix: str, keys: Sequence[str]) -> None:
    columns = [*SIDE_COLUMNS, *(f"score:{k}" for k in keys), *FIGURE_COLUMNS]
    assert {c: row[f"{prefix}_{c}"] for c in columns} == dict.fromkeys(columns, ""), row["key"]


def comparison_header(keys: Sequence[str]) -> list[str]:
    side = [*SIDE_COLUMNS, *(f"score:{k}" for k in keys), *FIGURE_COLUMNS]
    return [
        "key",
        "label",
        "verdict",
        *(f"pr_{c}" for c in side),
        *(f"baseline_{c}" for c in side),
        "baseline_runs",
        "delta",
        "p_worse",
        "p_better",
        "q",
        *(f"delta_score:{k}" for k in keys),
    ]


def comparison(*, with_history: bool) -> Comparison:
    pr, baseline, older = comparison_buckets()
    history = (older,) if with_history else ()
    return compare_buckets(pr, baseline, Thresholds(), history=history)


@pytest.mark.parametrize("with_history", [False, True], ids=["no-history", "history"])
def test_comparison_csv_rows_and_numbers(with_history: bool) -> None:
    result = comparison(with_history=with_history)
    header, rows = parse(comparison_csv(result))
    keys = ["correctness"]
    assert header == comparison_header(keys)

    # One row per shared scenario in report order, then pr_only, then baseline_only.
    assert [row["key"] for row in rows] == [
        defused(k)
        for k in (
            *(r.key for r in result.scenarios),
            *(s.key for s in result.pr_only),
            *(s.key for s in result.baseline_only),
        )
    ]
    assert [r.key for r in result.scenarios] == ["=refund", "shipping"]
    by_key = {row["key"]: row for row in rows}
    runs = 2 if with_history else 1

    for r in result.scenarios:
        row = by_key[defused(r.key)]
        assert row["label"] == defused(r.label)
        assert row["verdict"] == r.verdict.value
        check_side(row, "pr", side_expected(r.pr, passed=r.pr.passed, total=r.pr.total, keys=keys))
        # Counts as the verdict saw them (pooled), measures from the latest baseline.
        pooled = r.pooled or r.baseline
        check_side(
            row,
            "baseline",
            side_expected(r.baseline, passed=pooled.passed, total=pooled.total, keys=keys),
        )
        assert json.loads(row["pr_categories"]) == dict(r.pr.categories)
        assert json.loads(row["baseline_categories"]) == dict(r.baseline.categories)
        assert count(row["baseline_runs"]) == runs
        assert number(row["delta"]) == r.delta
        assert number(row["p_worse"]) == float(r.p_worse)
        assert number(row["p_better"]) == float(r.p_better)
        assert number(row["q"]) == r.q
        pr_mean = mean(r.pr.measures.scores.get("correctness", ()))
        base_mean = mean(r.baseline.measures.scores.get("correctness", ()))
        expected_delta = None if pr_mean is None or base_mean is None else pr_mean - base_mean
        assert number(row["delta_score:correctness"]) == expected_delta

    refund = by_key["'=refund"]
    assert refund["label"] == 'Refund, "basic"\n✓'  # the PR's label wins
    assert refund["verdict"] == "hard_regression"
    if with_history:
        assert (refund["baseline_passed"], refund["baseline_total"]) == ("9", "10")
        assert (by_key["shipping"]["baseline_passed"], by_key["shipping"]["baseline_total"]) == (
            "7",
            "10",
        )
        assert refund["baseline_rate"] == "0.9"
        assert refund["baseline_latency_p95_ms"] == repr(stats.percentile([900.0, 1100.0], 95))
    else:
        assert (refund["baseline_passed"], refund["baseline_total"]) == ("5", "5")
        assert refund["delta"] == "-1.0"
    # Negative numbers are numbers: no leading quote.
    assert refund["delta"].startswith("-") and float(refund["delta"]) < 0
    assert refund["delta_score:correctness"] == "-0.5"
    assert refund["q"] != ""  # in the BH family
    # A metric scored on one side only: no change to show.
    assert by_key["shipping"]["delta_score:correctness"] == ""
    assert by_key["shipping"]["baseline_score:correctness"] == ""

    new = by_key["new-one"]
    assert new["label"] == "'@new"
    assert new["verdict"] == "pr_only"
    check_side(new, "pr", side_expected(result.pr_only[0], passed=2, total=2, keys=keys))
    assert_side_empty(new, "baseline", keys)
    assert {c: new[c] for c in ("baseline_runs", "delta", "p_worse", "p_better", "q")} == (
        dict.fromkeys(("baseline_runs", "delta", "p_worse", "p_better", "q"), "")
    )
    assert new["delta_score:correctness"] == ""

    gone = by_key["gone"]
    assert gone["label"] == "'-gone"
    assert gone["verdict"] == "baseline_only"
    assert_side_empty(gone, "pr", keys)
    # Nothing pools a scenario no verdict uses: the latest baseline's own counts.
    check_side(
        gone, "baseline", side_expected(result.baseline_only[0], passed=1, total=3, keys=keys)
    )
    assert {c: gone[c] for c in ("delta", "p_worse", "p_better", "q")} == dict.fromkeys(
        ("delta", "p_worse", "p_better", "q"), ""
    )
    assert gone["delta_score:correctness"] == ""
    if not with_history:
        assert gone["baseline_runs"] == "1"


def test_baseline_only_rows_say_how_many_runs_their_counts_pool() -> None:
    _, rows = parse(comparison_csv(comparison(with_history=True)))
    [gone] = [row for row in rows if row["verdict"] == "baseline_only"]
    assert (gone["baseline_passed"], gone["baseline_total"]) == ("1", "3")
    assert gone["baseline_runs"] == "1"


# --- the commands, offline ----------------------------------------------------------------


def one_line_error(err: str) -> None:
    assert err.startswith("evalbot: error: ")
    assert err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_export_file_to_csv() -> None:
    code, out, err = run("export", "--experiment-file", PR, "--format", "csv")
    assert (code, err) == (0, "")
    bucket = load_experiment(PR)
    # CliRunner's captured output turns "\r\n" (RFC 4180 rows) into "\n".
    assert out == experiment_csv(bucket).replace("\r\n", "\n")
    header, rows = parse(out)
    assert header[:7] == ["key", "label", "passed", "total", "rate", "unscored", "categories"]
    assert [row["key"] for row in rows] == list(bucket.scenarios)
    assert len(rows) == len(json.loads(Path(PR).read_text("utf-8"))["scenarios"])
    for row, s in zip(rows, bucket.scenarios.values(), strict=True):
        assert row["label"] == s.label
        assert (count(row["passed"]), count(row["total"])) == (s.passed, s.total)
        assert json.loads(row["categories"]) == dict(s.categories)
        for column, expected in figures(s.measures).items():
            assert number(row[column]) == expected, (s.key, column)
    assert "score:correctness" in header and "score:helpfulness" in header


def test_export_file_to_csv_with_output(tmp_path: Path) -> None:
    target = tmp_path / "pr.csv"
    assert run("export", "--experiment-file", PR, "--format", "csv", "-o", str(target)) == (
        0,
        "",
        "",
    )
    # Bytes: read_text would translate the RFC 4180 "\r\n" row ends.
    assert target.read_bytes().decode("utf-8") == experiment_csv(load_experiment(PR))


def test_export_file_to_json_parses_back_to_the_same_bucket() -> None:
    code, out, err = run("export", "--experiment-file", PR, "--format", "json")
    assert (code, err) == (0, "")
    assert parse_experiment(json.loads(out), source="stdout") == load_experiment(PR)
    # JSON is the default format.
    assert run("export", "--experiment-file", PR)[1] == out


@pytest.mark.parametrize(
    "args",
    [pytest.param([], id="neither"), pytest.param(["pr-7", "--experiment-file", PR], id="both")],
)
def test_export_needs_exactly_one_experiment(args: list[str]) -> None:
    code, out, err = run("export", *args, "--format", "csv")
    assert (code, out) == (2, "")
    one_line_error(err)
    assert err.startswith("evalbot: error: EXPERIMENT: give exactly one of")
    assert "--experiment-file" in err


def test_compare_files_to_csv_matches_the_json_verdicts(tmp_path: Path) -> None:
    code, out, err = run("compare", "--pr-file", PR, "--baseline-file", BASE, "--format", "csv")
    assert (code, err) == (1, "")  # the examples' hard regression fails the gate
    _, rows = parse(out)
    json_code, json_out, _ = run(
        "compare", "--pr-file", PR, "--baseline-file", BASE, "--format", "json"
    )
    assert json_code == 1
    report = json.loads(json_out)
    expected = {s["key"]: s["verdict"] for s in report["scenarios"]}
    expected |= {s["key"]: "pr_only" for s in report["pr_only"]}
    expected |= {s["key"]: "baseline_only" for s in report["baseline_only"]}
    assert {row["key"]: row["verdict"] for row in rows} == expected
    assert len(rows) == len(expected)
    assert [row["key"] for row in rows][: len(report["scenarios"])] == [
        s["key"] for s in report["scenarios"]
    ]
    for s in report["scenarios"]:
        [row] = [r for r in rows if r["key"] == s["key"]]
        assert number(row["delta"]) == s["delta"]
        assert number(row["p_worse"]) == s["p_worse"]
        assert number(row["p_better"]) == s["p_better"]
        assert number(row["q"]) == s["q"]
        assert (count(row["baseline_passed"]), count(row["baseline_total"])) == (
            s["pooled"]["passed"],
            s["pooled"]["total"],
        )
        assert row["baseline_runs"] == "1"
    assert [row["key"] for row in rows if row["verdict"] == "hard_regression"] == [
        "refund-policy-basic"
    ]

    target = tmp_path / "report.csv"
    args = ("--pr-file", PR, "--baseline-file", BASE, "--format", "csv", "-o", str(target))
    assert run("compare", *args) == (1, "", "")
    assert target.read_text("utf-8") == out


def test_compare_to_csv_with_history_files_pools_the_baseline(tmp_path: Path) -> None:
    # An older run with the same counts (another experiment: the same one twice
    # would be pooled once).
    older = json.loads(Path(BASE).read_text("utf-8"))
    older.update(name="main-older", id=None)
    older = {k: v for k, v in older.items() if v is not None}
    history = tmp_path / "older.json"
    history.write_text(json.dumps(older), "utf-8")
    code, out, _ = run(
        "compare",
        "--pr-file",
        PR,
        "--baseline-file",
        BASE,
        "--history-file",
        str(history),
        "--format",
        "csv",
    )
    assert code == 1
    _, rows = parse(out)
    baseline = load_experiment(BASE)
    shared = [row for row in rows if row["verdict"] not in ("pr_only", "baseline_only")]
    assert shared
    for row in shared:
        assert row["baseline_runs"] == "2"
        latest = baseline.scenarios[row["key"]]
        assert (count(row["baseline_passed"]), count(row["baseline_total"])) == (
            2 * latest.passed,
            2 * latest.total,
        )


def test_compare_to_csv_has_no_rows_when_nothing_was_compared(tmp_path: Path) -> None:
    # The same experiment (same id) on both sides is a self-baseline: nothing to compare.
    same = tmp_path / "same.json"
    same.write_text(
        json.dumps(
            {"name": "main-run", "id": "exp-1", "scenarios": {"a": {"passed": 3, "total": 3}}}
        ),
        "utf-8",
    )
    code, out, _ = run(
        "compare", "--pr-file", str(same), "--baseline-file", str(same), "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["outcome"] == "self_baseline"

    target = tmp_path / "out.csv"
    for extra in ([], ["-o", str(target)]):
        code, out, err = run(
            "compare",
            "--pr-file",
            str(same),
            "--baseline-file",
            str(same),
            "--format",
            "csv",
            *extra,
        )
        # The exit code follows the gate (a self-baseline passes); only the rows are missing.
        assert (code, out) == (0, "")
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith("evalbot: --format csv: no rows, nothing was compared (self_baseline")
        assert "--format json or text" in err
    assert not target.exists()


# --- against the fake LangSmith server ----------------------------------------------------

KEY = "lsv2_sk_SECRET_csv123"
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
NAMES = ("refund", 'shipping, "fast"\nand cheap', '=HYPERLINK("http://evil","x")')


def feedback(correctness: float, helpfulness: float) -> dict[str, Any]:
    def entry(value: float) -> dict[str, Any]:
        return {"n": 1, "avg": value, "stdev": 0, "errors": 0, "values": {}, "comments": []}

    return {"correctness": entry(correctness), "helpfulness": entry(helpfulness)}


# Per scenario: (latency ms, total_tokens, total_cost, correctness, helpfulness) of each run.
# Latencies are whole microseconds, so end - start is exact in milliseconds.
RUNS: dict[str, list[tuple[float, int | None, float | None, float, float]]] = {
    NAMES[0]: [
        (1200.0, 812, 0.0021, 1.0, 4.0),
        (980.5, 790, 0.0019, 1.0, 5.0),
        (3100.25, 901, 0.0024, 0.0, 3.0),
    ],
    NAMES[1]: [(250.0, 100, None, 1.0, 5.0), (750.0, None, 0.5, 1.0, 4.5)],
    NAMES[2]: [(15.125, 7, 0.0, 0.0, 1.0)],
}


@pytest.fixture
def fake() -> Iterator[FakeLangSmith]:
    """One dataset of three scenarios and an experiment with known latency, tokens and cost."""
    with FakeLangSmith(api_key=KEY) as server:
        ds = server.add_dataset(
            "support",
            [{"inputs": {"q": f"q{i}?"}, "metadata": {"scenario": n}} for i, n in enumerate(NAMES)],
        )
        examples = {e.metadata["scenario"]: e for e in server.examples(ds) if e.metadata}
        runs = []
        start = T0 - timedelta(hours=1)
        for name, trials in RUNS.items():
            for latency, tokens, cost, correctness, helpfulness in trials:
                start += timedelta(seconds=10)
                runs.append(
                    FakeRun(
                        reference_example_id=examples[name].id,
                        start_time=start,
                        end_time=start + timedelta(milliseconds=latency),
                        feedback_stats=feedback(correctness, helpfulness),
                        total_tokens=tokens,
                        total_cost=cost,
                        outputs={"output": f"answer to {name}"},
                    )
                )
        server.add_experiment(
            "exp-csv", dataset_id=ds, metadata={"branch": "feat"}, start_time=T0, runs=runs
        )
        server.clear_requests()
        yield server


def connection(fake: FakeLangSmith) -> list[str]:
    return live_args(fake.url, KEY)


def test_live_export_to_csv_matches_the_runs(fake: FakeLangSmith) -> None:
    code, out, err = run(
        "export", "exp-csv", "--format", "csv", "--pass-key", "correctness", *connection(fake)
    )
    assert (code, err) == (0, "")
    header, rows = parse(out)
    # correctness decides pass/fail; helpfulness is a score metric.
    assert "score:helpfulness" in header and "score:correctness" not in header
    assert header[-5:] == FIGURE_COLUMNS
    by_label = {row["label"]: row for row in rows}
    assert set(by_label) == {NAMES[0], NAMES[1], "'" + NAMES[2]}
    for name, trials in RUNS.items():
        row = by_label[defused(name)]
        assert str(uuid.UUID(row["key"])) == row["key"]  # scenario key: the example id
        latencies = [t[0] for t in trials]
        tokens = [float(t[1]) for t in trials if t[1] is not None]
        costs = [t[2] for t in trials if t[2] is not None]
        assert number(row["latency_p50_ms"]) == stats.percentile(latencies, 50)
        assert number(row["latency_p95_ms"]) == stats.percentile(latencies, 95)
        assert number(row["tokens_per_trial"]) == mean(tokens)
        assert number(row["cost_per_trial"]) == mean(costs)
        assert number(row["cost_per_experiment"]) == (float(sum(costs)) if costs else None)
        assert number(row["score:helpfulness"]) == mean([t[4] for t in trials])
        assert count(row["passed"]) == sum(1 for t in trials if t[3] >= 1.0)
        assert count(row["total"]) == len(trials)

    refund = by_label["refund"]
    assert refund["latency_p50_ms"] == "1200.0"
    assert number(refund["tokens_per_trial"]) == 2503 / 3
    shipping = by_label[NAMES[1]]
    assert shipping["latency_p50_ms"] == "500.0"
    assert shipping["tokens_per_trial"] == "100.0"  # the run without tokens is left out
    assert shipping["cost_per_trial"] == shipping["cost_per_experiment"] == "0.5"
    formula = by_label["'" + NAMES[2]]
    assert formula["latency_p50_ms"] == formula["latency_p95_ms"] == "15.125"
    assert formula["cost_per_experiment"] == "0.0"


def test_live_export_csv_equals_csv_of_the_exported_file(
    fake: FakeLangSmith, tmp_path: Path
) -> None:
    exported = tmp_path / "exp.json"
    args = ("--pass-key", "correctness", *connection(fake))
    assert run("export", "exp-csv", "-o", str(exported), *args) == (0, "", "")
    code, out, _ = run("export", "exp-csv", "--format", "csv", *args)
    assert code == 0
    assert run("export", "--experiment-file", str(exported), "--format", "csv") == (0, out, "")


def test_live_compare_to_csv_without_a_baseline_has_no_rows(fake: FakeLangSmith) -> None:
    base = (
        "compare",
        "--pr",
        "exp-csv",
        "--baseline-prefix",
        "nothing-",
        "--pass-key",
        "correctness",
    )
    code, out, _ = run(*base, "--format", "json", *connection(fake))
    assert code == 0
    assert json.loads(out)["outcome"] == "no_baseline"

    code, out, err = run(*base, "--format", "csv", *connection(fake))
    assert (code, out) == (0, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("evalbot: --format csv: no rows, nothing was compared (no_baseline")


def test_live_compare_to_csv_when_langsmith_cannot_be_read(
    fake: FakeLangSmith, tmp_path: Path
) -> None:
    args = connection(fake)
    args[args.index(KEY)] = "lsv2_sk_SECRET_wrong987"
    # An outage is never green and never a usage error: the gate follows on_fetch_failure.
    for policy, expected in (("neutral", 0), ("fail", 1)):
        config = tmp_path / f"{policy}.yml"
        config.write_text(f"on_fetch_failure: {policy}\n", "utf-8")
        code, out, err = run(
            "compare", "--pr", "exp-csv", "--format", "csv", "--config", str(config), *args
        )
        assert (code, out) == (expected, "")
        assert "no rows, nothing was compared (fetch_failed" in err
        assert "SECRET" not in err
