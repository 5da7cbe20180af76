"""`evalbot trend` as a user runs it: experiment files, or LangSmith history.

LangSmith is the fake server of tests/fakes/fake_langsmith.py (real HTTP on 127.0.0.1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evalbot.errors import InputError
from evalbot.sources.langsmith.source import BaselineQuery, Connection, LangSmithSource, Strategy

from fake_langsmith import FakeLangSmith
from helpers import flag
from helpers import run_cli as run

KEY = "lsv2_sk_SECRET_abc123"
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)


# =====================================================================================
# --history-file
# =====================================================================================


def write_runs(tmp_path: Path, *rates: tuple[int, int]) -> list[str]:
    """One experiment file per (passed, total), a day apart, oldest first; returns paths."""
    paths = []
    for i, (passed, total) in enumerate(rates):
        path = tmp_path / f"main-{i}.json"
        document = {
            "name": f"main-{i}",
            "started_at": (T0 + timedelta(days=i)).isoformat(),
            "scenarios": {"refund": {"passed": passed, "total": total}},
        }
        path.write_text(json.dumps(document), encoding="utf-8")
        paths.append(str(path))
    return paths


def files(paths: list[str]) -> list[str]:
    return [arg for path in paths for arg in ("--history-file", path)]


def test_worsening_history_exits_1_and_prints_the_table(tmp_path: Path) -> None:
    paths = write_runs(tmp_path, (9, 10), (8, 10), (7, 10))
    code, out, err = run("trend", *files(paths))
    assert (code, err) == (1, "")
    assert out == (
        "Trend over 3 runs (oldest first)\n"
        "\n"
        "#  experiment  started           pass rate\n"
        "1  main-0      2026-11-20 12:00  90.0% (9/10)\n"
        "2  main-1      2026-11-21 12:00  80.0% (8/10)       ↓\n"
        "3  main-2      2026-11-22 12:00  70.0% (7/10)       ↓\n"
        "\n"
        "▇▇▆  slope -10.0 pp/run: worsening (threshold 1.0 pp/run) — regression\n"
    )


@pytest.mark.parametrize(
    ("rates", "direction"),
    [(((8, 10), (8, 10), (8, 10)), "stable"), (((5, 10), (7, 10)), "improving")],
)
def test_stable_or_improving_history_exits_0(
    tmp_path: Path, rates: tuple[tuple[int, int], ...], direction: str
) -> None:
    code, out, err = run("trend", *files(write_runs(tmp_path, *rates)))
    assert (code, err) == (0, "")
    assert f": {direction} (threshold 1.0 pp/run)\n" in out
    assert "regression" not in out


def test_files_are_taken_in_the_order_given_oldest_first(tmp_path: Path) -> None:
    paths = write_runs(tmp_path, (9, 10), (8, 10), (7, 10))
    code, out, _ = run("trend", *files(paths[::-1]))  # now 70% is the oldest
    assert code == 0
    assert "slope +10.0 pp/run: improving" in out
    assert out.splitlines()[3].startswith("1  main-2 ")


def test_the_threshold_decides(tmp_path: Path) -> None:
    paths = write_runs(tmp_path, (9, 10), (8, 10), (7, 10))
    assert run("trend", *files(paths), "--threshold", "0.1")[0] == 1  # exactly -threshold
    code, out, _ = run("trend", *files(paths), "--threshold", "0.15")
    assert code == 0
    assert "stable (threshold 15.0 pp/run)" in out


def test_the_window_keeps_the_newest_files(tmp_path: Path) -> None:
    # Worsening over all four, improving over the newest two.
    paths = write_runs(tmp_path, (10, 10), (9, 10), (5, 10), (6, 10))
    assert run("trend", *files(paths))[0] == 1
    code, out, _ = run("trend", *files(paths), "--window", "2")
    assert code == 0
    assert "Trend over 2 runs" in out
    assert "main-0" not in out and "main-1" not in out


def test_json_and_markdown_formats(tmp_path: Path) -> None:
    paths = write_runs(tmp_path, (9, 10), (0, 0), (7, 10))
    code, out, _ = run("trend", *files(paths), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert set(report) == {"points", "slope", "direction", "regression", "threshold"}
    assert report["direction"] == "worsening" and report["regression"] is True
    assert report["slope"] == pytest.approx(-0.1)
    assert [p["rate"] for p in report["points"]] == [0.9, None, 0.7]
    assert report["points"][1] == {
        "index": 2,
        "name": "main-1",
        "started_at": "2026-11-21T12:00:00+00:00",
        "passed": 0,
        "total": 0,
        "rate": None,
    }

    code, out, _ = run("trend", *files(paths), "--format", "markdown")
    assert code == 1
    assert "| 3 | `main-2` | 2026-11-22 12:00 | 70.0% (7/10) | ↓ |" in out
    assert out.endswith(
        "**Trend:** ▇·▆ · -10.0 pp/run · **worsening (threshold 1.0 pp/run) — regression**\n"
    )


def test_one_run_is_not_a_trend(tmp_path: Path) -> None:
    code, out, err = run("trend", *files(write_runs(tmp_path, (9, 10))))
    assert (code, out) == (2, "")
    assert err == "evalbot: error: trend: need at least 2 runs, found 1\n"


def test_a_bad_history_file_names_the_file(tmp_path: Path) -> None:
    paths = write_runs(tmp_path, (9, 10), (8, 10))
    Path(paths[1]).write_text('{"name": "x", "scenarios": {"a": {"passed": 3, "total": 2}}}')
    code, out, err = run("trend", *files(paths))
    assert (code, out) == (2, "")
    assert err.startswith(f"evalbot: error: {paths[1]}: scenarios[")
    assert err.count("\n") == 1


INVALID = {
    "neither": ([], "--dataset / --history-file: give exactly one"),
    "both": (["--dataset", "support", "--history-file", "a.json"], "--dataset / --history-file"),
    "window-1": (["--history-file", "a.json", "--window", "1"], "--window: must be an integer"),
    "window-negative": (["--history-file", "a.json", "--window", "-3"], "--window: must be"),
    "threshold-negative": (
        ["--history-file", "a.json", "--threshold", "-0.01"],
        "--threshold: must be a non-negative number",
    ),
    "threshold-nan": (["--history-file", "a.json", "--threshold", "nan"], "--threshold: must be"),
    "prefix-with-files": (
        ["--history-file", "a.json", "--baseline-prefix", "main-"],
        "--baseline-prefix: cannot be combined with --history-file",
    ),
    "two-strategies": (
        ["--dataset", "support", "--baseline-prefix", "m", "--baseline-metadata", '{"a": 1}'],
        "--baseline-prefix and --baseline-metadata: choose one baseline strategy",
    ),
    "bad-metadata": (
        ["--dataset", "support", "--baseline-metadata", "main"],
        "--baseline-metadata: not valid JSON",
    ),
    "no-key": (["--dataset", "support"], "--langsmith-api-key: required"),
    "empty-dataset": (["--dataset", ""], "--dataset: must not be empty"),
}


@pytest.mark.parametrize("case", INVALID)
def test_bad_options_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)  # a.json does not exist: options are checked first
    args, message = INVALID[case]
    code, out, err = run("trend", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"evalbot: error: {message}")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_non_integer_window_is_a_usage_error(tmp_path: Path) -> None:
    code, out, err = run("trend", "--history-file", "a.json", "--window", "many")
    assert (code, out) == (2, "")
    assert "--window" in err and "Traceback" not in err


# =====================================================================================
# --dataset (LangSmith)
# =====================================================================================


def scores(value: float) -> dict[str, Any]:
    return {"correctness": {"n": 1, "avg": value, "stdev": 0, "errors": 0, "values": {}}}


def failing_first(fails: int) -> Callable[[int, int], dict[str, Any]]:
    """The first ``fails`` examples fail every repetition."""

    def outcome(index: int, _: int) -> dict[str, Any]:
        return {"feedback_stats": scores(0.0 if index < fails else 1.0)}

    return outcome


@dataclass
class World:
    fake: FakeLangSmith
    ds: str

    def add(
        self,
        name: str,
        *,
        days: float,
        fails: int = 0,
        branch: str = "main",
        repetitions: int = 3,
        drop: int = 0,
        running: bool = False,
        dataset_id: str | None = None,
    ) -> str:
        ds = dataset_id or self.ds
        runs = self.fake.make_runs(ds, repetitions=repetitions, outcome=failing_first(fails))
        return self.fake.add_experiment(
            name,
            dataset_id=ds,
            metadata={"branch": branch, "num_repetitions": repetitions},
            start_time=T0 + timedelta(days=days),
            end_time=None if running else "auto",
            runs=runs[: len(runs) - drop],
        )

    def args(self, *extra: str) -> list[str]:
        return [
            "trend",
            "--dataset",
            "support",
            "--langsmith-endpoint",
            self.fake.url,
            "--langsmith-api-key",
            KEY,
            "--timeout",
            "2",
            "--retry-budget",
            "0.5",
            *extra,
        ]


@pytest.fixture
def fake() -> Iterator[FakeLangSmith]:
    with FakeLangSmith(api_key=KEY) as server:
        yield server


@pytest.fixture
def world(fake: FakeLangSmith) -> World:
    """Five examples; main: 100%, 100%, 80%, [running], [partial], 60%; one dev run."""
    ds = fake.add_dataset(
        "support",
        [{"inputs": {"q": f"q{i}?"}, "metadata": {"scenario": f"s{i}"}} for i in range(5)],
    )
    w = World(fake, ds)
    w.add("main-0", days=-5)
    w.add("main-1", days=-4)
    w.add("main-2", days=-3, fails=1)
    w.add("main-running", days=-2.5, running=True)
    w.add("main-partial", days=-2, drop=1)  # 14 of 5 x 3 runs
    w.add("dev-1", days=-1.5, branch="dev", fails=5)
    w.add("main-3", days=-1, fails=2)
    fake.clear_requests()
    return w


def session_ids(fake: FakeLangSmith) -> list[str]:
    return [r.json["session"][0] for r in fake.requests_to("/runs/query", "POST")]


def test_live_history_skips_incomplete_runs_and_gates(world: World) -> None:
    code, out, err = run(*world.args())
    assert code == 1
    assert err == "evalbot: trend: 2 incomplete experiments skipped\n"
    lines = out.splitlines()
    assert lines[0] == "Trend over 4 runs (oldest first)"
    assert lines[3].startswith("1  main-0      2026-11-15 12:00  100.0% (15/15)")
    assert lines[4].startswith("2  main-1      2026-11-16 12:00  100.0% (15/15)     →")
    assert lines[5].startswith("3  main-2      2026-11-17 12:00  80.0% (12/15)      ↓")
    assert lines[6].startswith("4  main-3      2026-11-19 12:00  60.0% (9/15)       ↓")
    assert lines[-1] == "██▇▅  slope -14.0 pp/run: worsening (threshold 1.0 pp/run) — regression"
    assert "running" not in out and "partial" not in out and "dev-1" not in out


def test_live_requests_page_runs_and_list_examples_once(world: World) -> None:
    code, _, _ = run(*world.args("--format", "json"))
    assert code == 1
    fake = world.fake
    queries = fake.requests_to("/runs/query", "POST")
    assert len(queries) == 4  # one page of 15 runs per experiment in the series
    assert all(r.json["limit"] == 100 and r.json["is_root"] is True for r in queries)
    assert len(fake.requests_to("/examples", "GET")) == 1
    paths = [r.path for r in fake.requests]
    assert not [p for p in paths if p.startswith("/runs/") and p != "/runs/query"]
    assert not [p for p in paths if "feedback" in p or p.startswith("/examples/")]
    # The incomplete and dev runs were listed but never paged.
    assert len(set(session_ids(fake))) == 4


def test_the_window_takes_the_newest_complete_runs(world: World) -> None:
    code, out, _ = run(*world.args("--window", "2", "--format", "json"))
    assert code == 1
    report = json.loads(out)
    assert [p["name"] for p in report["points"]] == ["main-2", "main-3"]
    assert report["slope"] == pytest.approx(-0.2)
    assert len(world.fake.requests_to("/runs/query", "POST")) == 2


def test_json_shape_of_a_live_trend(world: World) -> None:
    code, out, _ = run(*world.args("--format", "json"))
    assert code == 1
    report = json.loads(out)
    assert report["direction"] == "worsening" and report["regression"] is True
    assert report["threshold"] == 0.01
    assert report["slope"] == pytest.approx(-0.14)
    first = report["points"][0]
    assert first == {
        "index": 1,
        "name": "main-0",
        "started_at": "2026-11-15T12:00:00+00:00",
        "passed": 15,
        "total": 15,
        "rate": 1.0,
    }


def test_metadata_and_prefix_choose_the_series(world: World) -> None:
    world.add("release-1", days=-0.5, branch="release")
    world.add("release-2", days=-0.4, branch="release")
    code, out, _ = run(*world.args("--baseline-metadata", '{"branch": "release"}'))
    assert code == 0
    assert "Trend over 2 runs" in out and ": stable (threshold" in out

    code, out, err = run(*world.args("--baseline-prefix", "dev-"))
    assert (code, out) == (2, "")  # one dev run is not a series
    assert err == "evalbot: error: trend: need at least 2 runs, found 1\n"
    world.add("dev-2", days=-0.3, branch="dev", running=True)
    code, out, err = run(*world.args("--baseline-prefix", "dev-"))
    assert err == (
        "evalbot: error: trend: need at least 2 runs, found 1 (1 incomplete experiment skipped)\n"
    )
    code, out, err = run(*world.args("--baseline-prefix", "main-", "--format", "json"))
    assert code == 1
    assert [p["name"] for p in json.loads(out)["points"]] == [
        "main-0",
        "main-1",
        "main-2",
        "main-3",
    ]


def test_runs_are_paged_100_at_a_time_and_concurrently(fake: FakeLangSmith) -> None:
    ds = fake.add_dataset("support", [{"inputs": {"q": str(i)}} for i in range(150)])
    w = World(fake, ds)
    ids = [w.add(f"main-{i}", days=-10 + i, repetitions=1) for i in range(4)]
    fake.clear_requests()
    fake.latency_s = 0.05  # so the experiments' page chains visibly overlap
    code, out, err = run(*w.args("--window", "3", "--format", "json"))
    assert (code, err) == (0, "")
    assert [p["total"] for p in json.loads(out)["points"]] == [150, 150, 150]

    queries = fake.requests_to("/runs/query", "POST")
    assert len(queries) == 6  # 2 pages of 100 + 50 for each of the newest 3
    assert session_ids(fake).count(ids[0]) == 0
    assert all(r.json["limit"] == 100 for r in queries)
    # Concurrent: every experiment's first page is asked for before any second page.
    firsts = [i for i, r in enumerate(queries) if "cursor" not in r.json]
    seconds = [i for i, r in enumerate(queries) if "cursor" in r.json]
    assert max(firsts) < min(seconds)
    examples = fake.requests_to("/examples", "GET")
    assert [r.query["offset"] for r in examples] == [["0"], ["100"]]


def test_no_series_on_the_dataset_exits_2(world: World) -> None:
    code, out, err = run(*world.args("--baseline-metadata", '{"branch": "nope"}'))
    assert (code, out) == (2, "")
    assert err == "evalbot: error: trend: need at least 2 runs, found 0\n"
    assert world.fake.requests_to("/runs/query", "POST") == []


def test_unknown_dataset_exits_2(world: World) -> None:
    args = world.args()
    args[args.index("support")] = "nope"
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.startswith("evalbot: error: --dataset: no dataset named 'nope'")


def test_a_rejected_key_exits_1_with_a_message(world: World) -> None:
    args = world.args()
    args[args.index(KEY)] = "lsv2_sk_SECRET_wrong987"
    code, out, err = run(*args)
    assert (code, out) == (1, "")
    assert err == f"evalbot: error: LangSmith rejected the API key for {world.fake.url}\n"


# =====================================================================================
# LangSmithSource.history
# =====================================================================================


@pytest.fixture
def source(fake: FakeLangSmith) -> Iterator[LangSmithSource]:
    src = LangSmithSource(
        Connection(api_key=KEY, endpoint=fake.url, timeout_s=2, retry_budget_s=0.5)
    )
    yield src
    src.client.session.close()


MAIN = BaselineQuery(Strategy.METADATA, {"branch": "main"})


def test_history_is_newest_first_and_skips_incomplete(
    world: World, source: LangSmithSource
) -> None:
    found, skipped = source.history(world.ds, MAIN, name=flag, limit=10, example_count=lambda: 5)
    assert [e.name for e in found] == ["main-3", "main-2", "main-1", "main-0"]
    assert skipped == 2  # running (no end time) and partial (14 < 5 x 3)
    # Without the example count, a short run cannot be told apart: only the running one is.
    found, skipped = source.history(world.ds, MAIN, name=flag, limit=10)
    assert [e.name for e in found][:2] == ["main-3", "main-partial"] and skipped == 1


def test_history_limit_and_started_before(world: World, source: LangSmithSource) -> None:
    found, skipped = source.history(world.ds, MAIN, name=flag, limit=2, example_count=lambda: 5)
    assert [e.name for e in found] == ["main-3", "main-2"] and skipped == 2
    found, skipped = source.history(
        world.ds,
        MAIN,
        name=flag,
        limit=2,
        started_before=T0 - timedelta(days=3),
        example_count=lambda: 5,
    )
    # Started no later than the cut-off: main-2 started exactly at it.
    assert [e.name for e in found] == ["main-2", "main-1"] and skipped == 0


def test_history_rechecks_the_prefix(world: World, source: LangSmithSource) -> None:
    world.add("xmain-9", days=-0.5)  # LangSmith's name filter is a substring match
    found, skipped = source.history(
        world.ds,
        BaselineQuery(Strategy.PREFIX, "main-"),
        name=flag,
        limit=3,
        example_count=lambda: 5,
    )
    assert [e.name for e in found] == ["main-3", "main-2", "main-1"]
    assert skipped == 2  # xmain-9 is not counted as incomplete: it does not match at all
    listing = world.fake.requests_to("/sessions", "GET")[-1]
    assert listing.query["name_contains"] == ["main-"]


def test_an_explicit_baseline_has_no_history(world: World, source: LangSmithSource) -> None:
    with pytest.raises(InputError, match=r"^--history: needs --baseline-prefix or"):
        source.history(world.ds, BaselineQuery(Strategy.EXPLICIT, "main-1"), name=flag, limit=5)
    assert world.fake.requests == []
