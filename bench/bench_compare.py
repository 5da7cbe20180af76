"""Benchmark: ``evalbot compare`` on two experiment files, end to end and by phase.

Not a test: run it by hand, ``python bench/bench_compare.py`` (options:
``--sizes 1000,10000,100000``, ``--measures``, ``--history 10``). It prints
Markdown tables and PASS/FAIL lines for the performance targets of issue 14,
and exits 1 when a target fails.

Inputs are what real suites look like (deterministic: a seeded
``random.Random``): every scenario runs 3 to 10 trials a side (usually the
same count on both), most pass every trial, some are flaky, about 1 % regress
and 1 % improve; failed trials mostly carry a failure category; 0.1 % of the
scenarios are on one side only; keys and labels are 40 characters (labels with
Markdown punctuation that needs escaping). ``--measures`` gives every trial
scores, latency, tokens, cost, output length and tool calls (issue 6). The
files are written as ``evalbot export`` writes them (scenario form, indented).

What is timed:

- **end to end**: ``python -m evalbot compare --pr-file … --baseline-file …``
  in a subprocess, ``--format json`` and ``--format markdown``, standard
  output to /dev/null: interpreter start, imports, loading, comparing,
  rendering, writing. Wall time and CPU time (medians) and peak RSS of that
  process (``wait4``). A fresh process is always cold.
- **yardstick**: a plain ``json.load`` of the same two files in this process
  (best of 3). The ratio of the end-to-end time to it is roughly
  machine-independent: n8n's reference ``compareBuckets`` runs its whole
  process in about 4 × that at 100,000 scenarios (issue 14).
- **phases**, in this process, caches cleared first (the CLI never runs
  warm): load (``load_experiment`` of both files, ``load_history`` of history), compare
  (``compare_buckets``), render (``render_comment``), report
  (``Report.text``: the JSON text ``--format json`` writes, in pieces).

Times are CPU seconds where the table says so, and the targets are checked
on CPU time: evalbot is single-threaded here, so on a quiet machine CPU and
wall time agree, while on a shared one (the 2-core CI machine) only wall time
grows with the neighbours' load. json.load is timed the same way.
- ``evalbot --help`` (best of 5).
- with ``--history N`` (default 10, 0 to skip): the 10,000-scenario
  Markdown run again with N ``--history-file`` baselines pooled.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shlex
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from evalbot import __version__
from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.models import (
    NO_MEASURES,
    Bucket,
    FailOn,
    Measures,
    Ok,
    OnFetchFailure,
    Scenario,
    Thresholds,
)
from evalbot.output.render import GITHUB_COMMENT_LIMIT, render_comment
from evalbot.output.report import Report
from evalbot.sources.experiment_file import bucket_to_document, load_experiment
from evalbot.sources.history_file import load_history

T = TypeVar("T")

DEFAULT_SIZES = (1_000, 10_000, 100_000)
SEED = 20_240_601
MIN_TRIALS, MAX_TRIALS = 3, 10
NAME_LEN = 40
ONE_SIDED_RATE = 0.001
HISTORY_SIZE = 10_000

# Issue 14 §1 targets.
TARGET_E2E_100K_S = 3.0
TARGET_RSS_100K_MB = 250
TARGET_COMPARE_100K_S = 1.0
TARGET_HISTORY_RATIO = 2.0
TARGET_HELP_S = 0.1
# The reference's whole process at 100,000 scenarios, in json.load units (issue 14).
REFERENCE_JSON_LOADS = 4.0

CATEGORIES = ("timeout", "wrong_tool", "hallucinated_policy", "incomplete_answer", "format_error")
CATEGORY_WEIGHTS = (5, 3, 2, 2, 1)
WORDS = (
    "refund",
    "order",
    "status",
    "billing",
    "dispute",
    "password",
    "reset",
    "shipping",
    "address",
    "gift-card",
    "balance",
    "cancel",
    "subscription",
    "escalate",
    "agent",
    "policy",
    "(EU)",
    "[beta]",
    "|",
    "#42",
    "v2.1",
    "multi_turn",
    "*urgent*",
    "<tool>",
    "&",
    "@support",
)
# (cumulative probability, baseline pass rate): most scenarios always pass.
_RATES: tuple[tuple[float, float], ...] = ((0.75, 1.0), (0.90, 0.9), (0.97, 0.6), (1.0, 0.2))
# (cumulative probability, change of the PR's pass rate): a few regress or improve.
_SHIFTS: tuple[tuple[float, float], ...] = ((0.01, -0.7), (0.02, +0.6), (1.0, 0.0))


# --- synthetic data ------------------------------------------------------------


def _pad(text: str, rng: random.Random) -> str:
    """``text`` cut or padded (with random lowercase letters) to exactly NAME_LEN chars."""
    text = text[:NAME_LEN]
    return text + "".join(rng.choices(string.ascii_lowercase, k=NAME_LEN - len(text)))


def _key(index: int, rng: random.Random) -> str:
    return _pad(f"suite/{rng.choice(WORDS[:16])}-{index:07d}-", rng)


def _label(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(8)]
    return _pad(" ".join(words).capitalize() + " ", rng)


def _measures(rng: random.Random, trials: int) -> Measures:
    """Issue 6's per-trial measurements: 2 score keys, latency, tokens, cost, output, tools."""

    def each(make: Callable[[], T]) -> tuple[T, ...]:
        return tuple(make() for _ in range(trials))

    return Measures(
        scores={
            "correctness": each(lambda: round(rng.uniform(0.6, 1.0), 2)),
            "helpfulness": each(lambda: float(rng.randint(1, 5))),
        },
        latency_ms=each(lambda: round(rng.lognormvariate(7.4, 0.4), 1)),
        tokens=each(lambda: float(rng.randint(400, 1600))),
        cost=each(lambda: round(rng.uniform(0.001, 0.004), 6)),
        output_chars=each(lambda: rng.randint(0, 1200)),
        tool_calls=each(lambda: rng.randint(0, 2)),
    )


def _scenario(
    key: str, label: str, trials: int, rate: float, rng: random.Random, *, measures: bool
) -> Scenario:
    passed = sum(rng.random() < rate for _ in range(trials))
    categories: dict[str, int] = {}
    for _ in range(trials - passed):
        if rng.random() < 0.8:  # some failed trials carry no category
            name = rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0]
            categories[name] = categories.get(name, 0) + 1
    return Scenario(
        key=key,
        passed=passed,
        total=trials,
        label=label,
        categories=categories,
        measures=_measures(rng, trials) if measures else NO_MEASURES,
    )


def _pick(table: tuple[tuple[float, float], ...], draw: float) -> float:
    return next(value for limit, value in table if draw < limit)


def make_buckets(
    n: int, seed: int = SEED, *, measures: bool = False, history: int = 0
) -> tuple[Bucket, Bucket, list[Bucket]]:
    """A PR, a baseline and ``history`` older baselines with ``n`` scenarios each.

    Deterministic for a seed. The older baselines redraw every scenario from
    the baseline's own pass rate (no drift), oldest first.
    """
    rng = random.Random(seed + n)
    pr: dict[str, Scenario] = {}
    base: dict[str, Scenario] = {}
    olds: list[dict[str, Scenario]] = [{} for _ in range(history)]
    one_sided = max(1, round(n * ONE_SIDED_RATE))
    for index in range(n - one_sided):
        key, label = _key(index, rng), _label(rng)
        trials = rng.randint(MIN_TRIALS, MAX_TRIALS)
        pr_trials = trials if rng.random() < 0.9 else rng.randint(MIN_TRIALS, MAX_TRIALS)
        rate = _pick(_RATES, rng.random())
        pr_rate = min(1.0, max(0.0, rate + _pick(_SHIFTS, rng.random())))
        pr[key] = _scenario(key, label, pr_trials, pr_rate, rng, measures=measures)
        base[key] = _scenario(key, label, trials, rate, rng, measures=measures)
        for old in olds:
            old[key] = _scenario(key, label, trials, rate, rng, measures=measures)
    for index in range(n - one_sided, n):
        key, label = _key(index, rng), _label(rng)
        pr[key] = _scenario(key, label, MIN_TRIALS, 1.0, rng, measures=measures)
        gone = _key(index + n, rng)
        base[gone] = _scenario(gone, _label(rng), MIN_TRIALS, 1.0, rng, measures=measures)
    metadata = {"branch": "fix/refund-prompt", "commit": "3f2a9c1d7e5b4a0f9c8d"}
    return (
        Bucket(name=f"pr-{n}", scenarios=pr, url="https://example.invalid/pr", metadata=metadata),
        Bucket(name=f"main-{n}", scenarios=base, url="https://example.invalid/main"),
        [
            Bucket(name=f"main-{n}-old{i}", scenarios=old, id=f"old-{i}")
            for i, old in enumerate(olds)
        ],
    )


def write_file(bucket: Bucket, path: Path) -> Path:
    """``bucket`` as an experiment file, the way ``evalbot export`` writes it."""
    text = json.dumps(bucket_to_document(bucket), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


# --- timing --------------------------------------------------------------------


def clear_caches() -> None:
    """Forget every memo evalbot keeps between calls: the CLI always starts cold."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("evalbot") or module is None:
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == name:
                clear()


def timed(func: Callable[[], T], *, pause_gc: bool = True) -> tuple[T, float]:
    """``func()`` and the CPU seconds it took.

    CPU time, not wall time: the code is single-threaded, so on a quiet
    machine both agree, and on a shared one CPU time is not inflated by other
    processes. ``pause_gc``: with the cyclic garbage collector paused, as
    ``evalbot compare`` runs on files (cli_compare: its collections walked the
    whole heap for cycles that are not there, 21 % of the CPU time at 100,000
    scenarios).
    """
    gc.collect()
    enabled = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        start = time.process_time()
        result = func()
        return result, time.process_time() - start
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True, slots=True)
class Process:
    """One subprocess run: wall and CPU seconds, peak RSS in MB."""

    wall: float
    cpu: float
    rss_mb: float


# The measured command runs under this small launcher, which reports the
# command's wall time, CPU time and peak RSS. Spawned from this (large) process
# directly, a child's ru_maxrss would start at this process's own size: Linux
# carries the pre-exec memory of a fork/vfork child into its maximum.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code)
"""


def run_process(argv: Sequence[str]) -> Process:
    """Run ``argv`` with stdout to /dev/null; its wall time, CPU time and peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *argv], capture_output=True, text=True, check=False
    )
    try:
        wall, cpu, rss_kb, code = done.stdout.split()
    except ValueError:
        raise SystemExit(f"{shlex.join(argv)}: launcher failed:\n{done.stderr}") from None
    if int(code) not in (0, 1):  # 1: the gate failed, which is fine here
        raise SystemExit(f"{shlex.join(argv)} exited {code}:\n{done.stderr}")
    # ru_maxrss is in kilobytes on Linux.
    return Process(wall=float(wall), cpu=float(cpu), rss_mb=int(rss_kb) / 1024)


def median_process(argv: Sequence[str], repeat: int) -> Process:
    """Median wall and CPU time over ``repeat`` runs, and the largest peak RSS."""
    runs = [run_process(argv) for _ in range(repeat)]
    return Process(
        wall=statistics.median(r.wall for r in runs),
        cpu=statistics.median(r.cpu for r in runs),
        rss_mb=max(r.rss_mb for r in runs),
    )


def compare_argv(pr: Path, baseline: Path, fmt: str, history: Sequence[Path] = ()) -> list[str]:
    argv = [sys.executable, "-m", "evalbot", "compare", "--pr-file", str(pr)]
    argv += ["--baseline-file", str(baseline), "--format", fmt]
    for path in history:
        argv += ["--history-file", str(path)]
    if history:
        argv += ["--history", str(len(history) + 1)]  # pool every one given
    return argv


def json_load_seconds(paths: Sequence[Path], repeat: int = 3) -> float:
    """Best CPU time of a plain ``json.load`` of every file in ``paths``."""

    def load_all() -> None:
        for path in paths:
            with path.open(encoding="utf-8") as handle:
                json.load(handle)

    # A plain json.load, as the yardstick was measured: the collector left on.
    return min(timed(load_all, pause_gc=False)[1] for _ in range(repeat))


@dataclass(frozen=True, slots=True)
class Phases:
    """One in-process run, cold, split into the CLI's phases."""

    load: float
    compare: float
    render: float
    report: float
    comment_chars: int

    @property
    def total(self) -> float:
        return self.load + self.compare + self.render + self.report


def run_phases(pr_path: Path, base_path: Path, history: Sequence[Path] = ()) -> Phases:
    clear_caches()
    thresholds = Thresholds()

    def load() -> tuple[Bucket, Bucket, list[Bucket]]:
        return (
            load_experiment(pr_path),
            load_experiment(base_path),
            [load_history(p) for p in history],  # as evalbot compare loads them
        )

    (pr, baseline, older), t_load = timed(load)
    comparison, t_compare = timed(lambda: compare_buckets(pr, baseline, thresholds, history=older))
    outcome = Ok(comparison)
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    reproduce = shlex.join(["evalbot", "compare", "--pr-file", "pr.json"])
    comment, t_render = timed(
        lambda: render_comment(outcome, gate, comment_key="default", reproduce=reproduce)
    )
    _, t_report = timed(lambda: Report(outcome, gate, thresholds).text())
    return Phases(t_load, t_compare, t_render, t_report, len(comment))


@dataclass(frozen=True, slots=True)
class Result:
    size: int
    trials: int
    megabytes: float
    json_load: float
    to_json: Process
    to_markdown: Process
    phases: Phases


def bench(size: int, workdir: Path, *, measures: bool) -> Result:
    pr, baseline, _ = make_buckets(size, measures=measures)
    pr_path = write_file(pr, workdir / f"pr-{size}.json")
    base_path = write_file(baseline, workdir / f"baseline-{size}.json")
    repeat = 3 if size <= 10_000 else 1
    load = json_load_seconds([pr_path, base_path])
    to_json = median_process(compare_argv(pr_path, base_path, "json"), repeat)
    to_markdown = median_process(compare_argv(pr_path, base_path, "markdown"), repeat)
    phases = min((run_phases(pr_path, base_path) for _ in range(repeat)), key=lambda p: p.total)
    return Result(
        size=size,
        trials=pr.total_trials + baseline.total_trials,
        megabytes=(pr_path.stat().st_size + base_path.stat().st_size) / 2**20,
        json_load=load,
        to_json=to_json,
        to_markdown=to_markdown,
        phases=phases,
    )


@dataclass(frozen=True, slots=True)
class HistoryResult:
    files: int
    without: Process
    with_history: Process
    phases: Phases


def bench_history(files: int, workdir: Path, *, measures: bool) -> HistoryResult:
    pr, baseline, older = make_buckets(HISTORY_SIZE, measures=measures, history=files)
    pr_path = write_file(pr, workdir / "h-pr.json")
    base_path = write_file(baseline, workdir / "h-baseline.json")
    paths = [write_file(b, workdir / f"h-old-{i}.json") for i, b in enumerate(older)]
    without = median_process(compare_argv(pr_path, base_path, "markdown"), 3)
    with_history = median_process(compare_argv(pr_path, base_path, "markdown", paths), 3)
    return HistoryResult(files, without, with_history, run_phases(pr_path, base_path, paths))


def help_seconds(repeat: int = 5) -> float:
    """Best wall time of ``evalbot --help`` (start-up is what a user waits for)."""
    return min(run_process([sys.executable, "-m", "evalbot", "--help"]).wall for _ in range(repeat))


# --- output --------------------------------------------------------------------


def e2e_table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| scenarios | trials | files (MB) | json.load (s) "
        "| → json: wall (s) | CPU (s) | ×json.load "
        "| → markdown: wall (s) | CPU (s) | ×json.load "
        "| peak RSS (MB) | µs / scenario (md CPU) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.size:,} | {r.trials:,} | {r.megabytes:.1f} | {r.json_load:.3f} "
            f"| {r.to_json.wall:.3f} | {r.to_json.cpu:.3f} | {r.to_json.cpu / r.json_load:.1f}× "
            f"| {r.to_markdown.wall:.3f} | {r.to_markdown.cpu:.3f} "
            f"| {r.to_markdown.cpu / r.json_load:.1f}× "
            f"| {max(r.to_json.rss_mb, r.to_markdown.rss_mb):.0f} "
            f"| {r.to_markdown.cpu / r.size * 1e6:.0f} |"
        )
    return lines


def phase_table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| scenarios | load (s) | compare (s) | render (s) | report (s) | total (s) "
        "| µs / scenario | comment chars |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        p = r.phases
        lines.append(
            f"| {r.size:,} | {p.load:.3f} | {p.compare:.3f} | {p.render:.3f} | {p.report:.3f} "
            f"| {p.total:.3f} | {p.total / r.size * 1e6:.0f} | {p.comment_chars:,} |"
        )
    return lines


def check(
    results: Sequence[Result], history: HistoryResult | None, help_s: float
) -> list[tuple[bool, str]]:
    """(passed, message) for every issue-14 target the run covers."""
    checks: list[tuple[bool, str]] = [
        (help_s <= TARGET_HELP_S, f"evalbot --help {help_s:.3f} s <= {TARGET_HELP_S} s")
    ]
    for r in results:
        checks.append(
            (
                r.phases.comment_chars <= GITHUB_COMMENT_LIMIT,
                f"{r.size:,} scenarios: comment {r.phases.comment_chars:,} chars "
                f"<= {GITHUB_COMMENT_LIMIT:,}",
            )
        )
        if r.size != 100_000:
            continue
        for fmt, run in (("json", r.to_json), ("markdown", r.to_markdown)):
            checks.append(
                (
                    run.cpu <= TARGET_E2E_100K_S,
                    f"100,000 scenarios: end to end → {fmt} {run.cpu:.2f} s CPU "
                    f"<= {TARGET_E2E_100K_S} s",
                )
            )
            ratio = run.cpu / r.json_load
            checks.append(
                (
                    ratio <= REFERENCE_JSON_LOADS,
                    f"100,000 scenarios: end to end → {fmt} {ratio:.1f}× json.load "
                    f"<= the reference's ≈{REFERENCE_JSON_LOADS:.0f}×",
                )
            )
        rss = max(r.to_json.rss_mb, r.to_markdown.rss_mb)
        checks.append(
            (rss <= TARGET_RSS_100K_MB, f"100,000 scenarios: peak RSS {rss:.0f} MB <= 250 MB")
        )
        checks.append(
            (
                r.phases.compare <= TARGET_COMPARE_100K_S,
                f"100,000 scenarios: compare_buckets {r.phases.compare:.2f} s "
                f"<= {TARGET_COMPARE_100K_S} s",
            )
        )
    if not any(r.size == 100_000 for r in results):
        checks.append((True, "(no 100,000-scenario size run: its targets not checked)"))
    if history is not None:
        ratio = history.with_history.cpu / history.without.cpu
        checks.append(
            (
                ratio <= TARGET_HISTORY_RATIO,
                f"{HISTORY_SIZE:,} scenarios with {history.files} history files: "
                f"{ratio:.2f}× the time without <= {TARGET_HISTORY_RATIO}×",
            )
        )
    return checks


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        message = f"not a comma-separated list of integers: {text}"
        raise argparse.ArgumentTypeError(message) from None
    if not sizes or any(size < 10 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be integers >= 10")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=DEFAULT_SIZES,
        help="comma-separated scenario counts (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--measures",
        action="store_true",
        help="give every trial scores, latency, tokens, cost, output and tool calls (issue 6)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=10,
        help="history files for the 10,000-scenario history run (default 10; 0 skips it)",
    )
    args = parser.parse_args(argv)

    print(
        f"evalbot {__version__} · Python {platform.python_version()} "
        f"({platform.python_implementation()}) · {platform.platform()} · "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{MIN_TRIALS}–{MAX_TRIALS} trials a side, {NAME_LEN}-char keys and labels, "
        f"seed {SEED}"
        + ("; every trial carries measures (--measures)" if args.measures else "")
        + ". End to end: median of 3 runs (1 at 100,000); phases: best of as many, cold.\n"
    )
    results: list[Result] = []
    history: HistoryResult | None = None
    with tempfile.TemporaryDirectory(prefix="evalbot-bench-") as tmp:
        workdir = Path(tmp)
        for size in args.sizes:
            print(f"running {size:,} scenarios…", file=sys.stderr, flush=True)
            results.append(bench(size, workdir, measures=args.measures))
        if args.history > 0:
            print(f"running {args.history} history files…", file=sys.stderr, flush=True)
            history = bench_history(args.history, workdir, measures=args.measures)
        help_s = help_seconds()

    print("## End to end: `evalbot compare --pr-file --baseline-file` in a subprocess\n")
    print("\n".join(e2e_table(results)))
    print("\n## In process, by phase (cold caches)\n")
    print("\n".join(phase_table(results)))
    if history is not None:
        print(f"\n## {HISTORY_SIZE:,} scenarios, → markdown, with {history.files} history files\n")
        print(
            "| history files | end to end: wall (s) | CPU (s) | peak RSS (MB) "
            "| load (s) | compare (s) |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        print(
            f"| 0 | {history.without.wall:.3f} | {history.without.cpu:.3f} "
            f"| {history.without.rss_mb:.0f} | | |"
        )
        print(
            f"| {history.files} | {history.with_history.wall:.3f} "
            f"| {history.with_history.cpu:.3f} | {history.with_history.rss_mb:.0f} "
            f"| {history.phases.load:.3f} | {history.phases.compare:.3f} |"
        )
    print(f"\n`evalbot --help`: {help_s:.3f} s (best of 5)\n")

    checks = check(results, history, help_s)
    for passed, message in checks:
        print(f"{'PASS' if passed else 'FAIL'}: {message}")
    return 0 if all(passed for passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
