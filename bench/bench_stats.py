"""Benchmark: false-fail rate and power of the regression gate on simulated suites.

Not a test: run it by hand, ``nice python bench/bench_stats.py --save grid.jsonl``
(2,000 simulated PRs per cell; the full grid takes about half an hour on 2 cores;
``--save`` keeps every finished chunk, so an interrupted run resumes where it stopped;
``--quick`` runs 200 per cell on a reduced grid for iteration; ``--cases``, ``--trials``
and ``--histories`` run part of the grid; ``--workers`` sets the process count,
default 2). It is seeded and deterministic: the same ``--seed`` and ``--sims`` print the
same tables whatever the number of workers (each simulated PR has its own derived seed).
Each scenario's passes in a run are one Binomial(N, rate) draw (by inversion, one
uniform per scenario).

Suites (issue 5, issue 11 §3): S scenarios (20, 100 or 500) whose true pass rates are
97% (60% of them), 80% (25%) and 50% (15%). K baseline runs form the window (K = 0:
the latest run alone; otherwise the latest and K - 1 older runs), N trials per
scenario in every run. Every simulated PR draws every run anew. The PR's true rates
are those of the **latest** baseline run, under five conditions of main:

- iid: every run draws from the same rates;
- drift-down / drift-up: main's rates moved linearly over the window, by a logit
  shift chosen so that the suite's mean rate at the oldest run is 10 pp above
  (drift-down: main got worse) or below (drift-up) the latest;
- shock-0.1 / shock-0.25: every run — the PR's included — has its own shared logit
  shock, N(0, SD), added to all its scenarios (a whole run wobbles).

Power cases (100 scenarios, i.i.d. unless named):
(a) one 97% scenario drops to 10%; (b) 20 scenarios pass 90% on main and 60% on
the PR, the other 80 keep the mix; (b, drift-up) the same after main drifted up
10 pp over the window; (c) every scenario 3 pp lower; (d) one 50% scenario drops to 0%.

Each simulated PR is judged by evalbot's own ``compare_buckets`` and ``decide_gate``
(default ``Thresholds()``: alpha 0.05, correction bh) — nothing is re-implemented
here — under fail_on hard_regression and soft_regression (same comparison). Exit
status 1 when a target fails.

Targets: P(fail | no change) <= 0.05 in every cell; power (a) >= 0.9 at N = 5,
K = 10; (b) >= 0.8 at N = 3, K = 10; (b, drift-up) >= 0.8 at N = 5, K = 10.

``--patterns`` (issue 11: "design for the class, not for these rows") runs only
unchanged PRs on the 100-scenario suite, N in {3, 5}, K in {3, 10}, under patterns of
main the rows above do not list. Every run is drawn from its own true rates; the PR
from main's current state (the rates the latest run was drawn from, unless named):

- step: main stepped down 8 pp (a logit shift moving the suite mean by 8 pp) before a
  run picked at random (not the oldest); the runs from it on, and the PR, are lower;
- outlier-old: one run other than the latest, at random, 15 pp low (a bad run);
- outlier-latest: the latest baseline run is 8 pp high (a lucky run), the PR is not;
- drift-10: 10 scenarios (every tenth) drift linearly down 20 pp over the window
  (absolute pp; the PR at the latest run's rates), the other 90 are stable;
- overdispersed: every run's (and the PR's) rate of each scenario is drawn from a
  beta with the scenario's mean and intra-class correlation 0.1 (a + b = 9);
- oscillation: runs alternate 5 pp above and below (logit shift), at a random phase;
  the PR is the next run of the alternation;
- drift-shock: drift-down of 5 pp over the window plus shared run shocks, logit SD 0.15;
- near-perfect: every scenario at 99%, main's logit drifted down linearly from 99.99%
  over the window (a suite that used to pass everything, slipping).

It prints false-fail rates (hard and soft) with Wilson 95% intervals, the share of
PRs with at least one scenario falsely labelled an improvement, and through which
part of the gate the fails went (the aggregate test or a per-scenario verdict).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from random import Random
from typing import NamedTuple

from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.models import Bucket, FailOn, Ok, OnFetchFailure, Scenario, Thresholds, Verdict

SEED = 20_261_130
DEFAULT_SIMS = 2_000
QUICK_SIMS = 200
CHUNK = 100  # simulated PRs per worker task (results do not depend on it)
TRIALS = (3, 5, 10)
HISTORIES = (0, 3, 10)  # K: baseline runs in the window; 0 = the latest run alone
SUITES = (20, 100, 500)
CONDITIONS = ("iid", "drift-down", "drift-up", "shock-0.1", "shock-0.25")
POWER_CASES = ("a", "b", "b-up", "c", "d")
POWER_TITLES = {
    "a": "(a) one scenario 97% → 10%",
    "b": "(b) 20 scenarios 90% → 60%",
    "b-up": "(b) after main drifted up 10 pp",
    "c": "(c) every scenario −3 pp",
    "d": "(d) one scenario 50% → 0%",
}
DRIFT = 0.10
FALSE_FAIL_TARGET = 0.05
POWER_TARGETS = (("a", 5, 10, 0.9), ("b", 3, 10, 0.8), ("b-up", 5, 10, 0.8))
FAIL_ONS = (FailOn.HARD_REGRESSION, FailOn.SOFT_REGRESSION)


class Cell(NamedTuple):
    case: str  # a condition (no change) or a power case
    scenarios: int
    n: int
    k: int


@dataclass(frozen=True, slots=True)
class Record:
    """What the gate made of one simulated PR."""

    failed_hard: bool
    failed_soft: bool
    by_scenario: bool  # a hard regression
    by_soft: bool  # a soft regression
    by_aggregate: bool  # the gating aggregate test
    improvements: int  # scenarios labelled improvement


class Task(NamedTuple):
    cell: Cell
    start: int
    stop: int
    seed: int


# --- the suite ---------------------------------------------------------------------


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mix(scenarios: int) -> list[float]:
    """True pass rates: 97% for 60% of the scenarios, 80% for 25%, 50% for the rest."""
    high = round(0.60 * scenarios)
    mid = round(0.25 * scenarios)
    return [0.97] * high + [0.80] * mid + [0.50] * (scenarios - high - mid)


def broad_mix() -> list[float]:
    """Case (b): 20 scenarios at 90%, then 48 × 97%, 20 × 80%, 12 × 50%."""
    return [0.90] * 20 + [0.97] * 48 + [0.80] * 20 + [0.50] * 12


def drift_shift(rates: Sequence[float], change: float) -> float:
    """The logit shift that moves the suite's mean rate by ``change`` (bisection)."""
    target = math.fsum(rates) / len(rates) + change
    low, high = -20.0, 20.0
    logits = [_logit(p) for p in rates]
    for _ in range(100):
        mid = (low + high) / 2
        mean = math.fsum(_expit(x + mid) for x in logits) / len(logits)
        if mean < target:
            low = mid
        else:
            high = mid
    return (low + high) / 2


class Design(NamedTuple):
    """True rates of every baseline run (oldest first) and of the PR."""

    runs: list[list[float]]
    pr: list[float]
    shock: float  # SD of each run's shared logit shock (0: none)


def design(cell: Cell) -> Design:
    case = cell.case
    runs = max(1, cell.k)
    base = broad_mix() if case in ("b", "b-up") else mix(cell.scenarios)
    pr = list(base)
    if case == "a":
        pr[0] = 0.10  # a 97% scenario
    elif case in ("b", "b-up"):
        pr[:20] = [0.60] * 20
    elif case == "c":
        pr = [max(0.0, p - 0.03) for p in base]
    elif case == "d":
        pr[-1] = 0.0  # a 50% scenario
    direction = {"drift-down": 1.0, "drift-up": -1.0, "b-up": -1.0}.get(case, 0.0)
    shift = drift_shift(base, direction * DRIFT) if direction and runs > 1 else 0.0
    logits = [_logit(p) for p in base]
    window = []
    for j in range(runs):
        offset = shift * (runs - 1 - j) / (runs - 1) if runs > 1 else 0.0
        window.append([_expit(x + offset) for x in logits] if offset else list(base))
    shock = {"shock-0.1": 0.1, "shock-0.25": 0.25}.get(case, 0.0)
    return Design(window, pr, shock)


KEYS = tuple(f"s{i:03d}" for i in range(max(SUITES)))
_SCENARIOS: dict[tuple[str, int, int], Scenario] = {}


def _scenario(key: str, passed: int, total: int) -> Scenario:
    """Scenarios are immutable, so equal counts share one object (cheap buckets)."""
    found = _SCENARIOS.get((key, passed, total))
    if found is None:
        found = _SCENARIOS[(key, passed, total)] = Scenario(key=key, passed=passed, total=total)
    return found


_CDFS: dict[tuple[float, int], list[float]] = {}


def _cdf(p: float, n: int) -> list[float]:
    """P(X <= k) for k = 0..n-1, X ~ Binomial(n, p); cached for the suites' fixed rates."""
    found = _CDFS.get((p, n))
    if found is None:
        out, total = [], 0.0
        for k in range(n):
            total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
            out.append(total)
        found = out
        if len(_CDFS) < 4096:  # shocked or beta-drawn rates are all distinct: not cached
            _CDFS[(p, n)] = found
    return found


def draw(name: str, rates: Sequence[float], n: int, shock: float, rng: Random) -> Bucket:
    """One run: each scenario's passes drawn from Binomial(n, rate) by inversion.

    One uniform per scenario (the binomial CDF inverted by bisection) rather than
    one per trial: the same distribution at a tenth of the random draws.
    """
    if shock:
        offset = rng.gauss(0.0, shock)
        rates = [
            p if p in (0.0, 1.0) else _expit(_logit(p) + offset)
            for p in rates  # a rate of exactly 0 or 1 stays put
        ]
    scenarios = {}
    uniform = rng.random
    for key, p in zip(KEYS, rates, strict=False):
        if p <= 0.0:
            passed = 0
        elif p >= 1.0:
            passed = n
        else:
            passed = bisect.bisect_right(_cdf(p, n), uniform())
        scenarios[key] = _scenario(key, passed, n)
    return Bucket(name=name, scenarios=scenarios)


# --- simulation ----------------------------------------------------------------------


THRESHOLDS = Thresholds()


def judge(pr: Bucket, base: Bucket, history: Sequence[Bucket]) -> Record:
    comparison = compare_buckets(pr, base, THRESHOLDS, history=history)
    outcome = Ok(comparison)
    gates = [
        decide_gate(outcome, fail_on=f, on_fetch_failure=OnFetchFailure.NEUTRAL).failed
        for f in FAIL_ONS
    ]
    test = comparison.aggregate_test
    return Record(
        failed_hard=gates[0],
        failed_soft=gates[1],
        by_scenario=comparison.count(Verdict.HARD_REGRESSION) > 0,
        by_soft=comparison.count(Verdict.SOFT_REGRESSION) > 0,
        by_aggregate=test is not None and test.gating and test.significant,
        improvements=comparison.count(Verdict.IMPROVEMENT),
    )


def run_task(task: Task) -> tuple[Task, list[Record]]:
    """Simulate PRs ``start..stop-1`` of one cell; each has its own derived seed."""
    cell = task.cell
    truth = design(cell)
    out = []
    for index in range(task.start, task.stop):
        rng = Random(f"{task.seed}/{cell.case}/{cell.scenarios}/{cell.n}/{cell.k}/{index}")
        runs = [
            draw(f"main-{j}", rates, cell.n, truth.shock, rng) for j, rates in enumerate(truth.runs)
        ]
        pr = draw("pr", truth.pr, cell.n, truth.shock, rng)
        out.append(judge(pr, runs[-1], runs[:-1]))
    return task, out


# --- patterns the issue does not list (--patterns) ----------------------------------

PATTERNS = (
    "step",
    "outlier-old",
    "outlier-latest",
    "drift-10",
    "overdispersed",
    "oscillation",
    "drift-shock",
    "near-perfect",
)
PATTERN_TRIALS = (3, 5)
PATTERN_HISTORIES = (3, 10)
PATTERN_SUITE = 100
ICC = 0.1


def _shifted(logits: Sequence[float], shift: float) -> list[float]:
    return [_expit(x + shift) for x in logits]


def pattern_rates(
    pattern: str, k: int, rng: Random
) -> tuple[list[list[float]], list[float], float]:
    """(true rates of each baseline run, oldest first; the PR's; shared shock SD)."""
    base = mix(PATTERN_SUITE)
    logits = [_logit(p) for p in base]
    runs: list[list[float]] = [list(base) for _ in range(k)]
    pr = list(base)
    shock = 0.0
    if pattern == "step":
        after = rng.randrange(1, k)  # runs after..k-1 and the PR are past the step
        lower = _shifted(logits, drift_shift(base, -0.08))
        runs = [list(base) if j < after else list(lower) for j in range(k)]
        pr = list(lower)
    elif pattern == "outlier-old":
        runs[rng.randrange(0, k - 1)] = _shifted(logits, drift_shift(base, -0.15))
    elif pattern == "outlier-latest":
        runs[-1] = _shifted(logits, drift_shift(base, 0.08))
    elif pattern == "drift-10":
        for j in range(k):
            fraction = j / (k - 1)
            runs[j] = [
                max(0.0, p - 0.20 * fraction) if i % 10 == 0 else p for i, p in enumerate(base)
            ]
        pr = list(runs[-1])
    elif pattern == "oscillation":
        up = _shifted(logits, drift_shift(base, 0.05))
        down = _shifted(logits, drift_shift(base, -0.05))
        phase = rng.randrange(2)
        runs = [list(up) if (j + phase) % 2 else list(down) for j in range(k + 1)]
        pr = runs.pop()
    elif pattern == "near-perfect":
        # A suite that used to pass everything: every scenario at 99% now, main's logit
        # drifted down linearly from 99.99% over the window (most old runs fail nothing).
        now = [0.99] * PATTERN_SUITE
        start = _logit(0.9999) - _logit(0.99)
        runs = [_shifted([_logit(p) for p in now], start * (k - 1 - j) / (k - 1)) for j in range(k)]
        pr = list(now)
    elif pattern == "drift-shock":
        shift = drift_shift(base, 0.05)
        runs = [_shifted(logits, shift * (k - 1 - j) / (k - 1)) for j in range(k)]
        shock = 0.15
    return runs, pr, shock


def _overdispersed(rates: Sequence[float], rng: Random) -> list[float]:
    """Each scenario's rate for one run: beta with the same mean, ICC ``ICC``."""
    size = 1 / ICC - 1
    return [rng.betavariate(size * p, size * (1 - p)) for p in rates]


def run_pattern_task(task: Task) -> tuple[Task, list[Record]]:
    """Unchanged PRs ``start..stop-1`` under one pattern of main (its own derived seeds)."""
    cell = task.cell
    out = []
    for index in range(task.start, task.stop):
        rng = Random(f"{task.seed}/pattern/{cell.case}/{cell.n}/{cell.k}/{index}")
        rates, pr_rates, shock = pattern_rates(cell.case, cell.k, rng)
        if cell.case == "overdispersed":
            rates = [_overdispersed(r, rng) for r in rates]
            pr_rates = _overdispersed(pr_rates, rng)
        runs = [draw(f"main-{j}", r, cell.n, shock, rng) for j, r in enumerate(rates)]
        pr = draw("pr", pr_rates, cell.n, shock, rng)
        out.append(judge(pr, runs[-1], runs[:-1]))
    return task, out


def wilson(hits: int, trials: int) -> tuple[float, float]:
    """Wilson score 95% interval for a binomial proportion."""
    z = 1.96
    p = hits / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    half /= 1 + z * z / trials
    return max(0.0, centre - half), min(1.0, centre + half)


def _with_interval(r: Rate) -> str:
    low, high = wilson(r.hits, r.trials)
    mark = " *" if low > FALSE_FAIL_TARGET else ""
    return f"{r.value:.3f} [{low:.3f}, {high:.3f}]{mark}"


def print_patterns(results: Results) -> None:
    print(
        "Unchanged PRs under patterns of main, 100 scenarios, correction bh, history 10 "
        "(K baseline runs): P(fail) with Wilson 95% interval (* = interval above "
        f"{FALSE_FAIL_TARGET}), P(>= 1 false improvement), and the share failed through "
        "the aggregate test / a hard / a soft scenario verdict."
    )
    print()
    print(
        "| pattern | N | K | sims | fail hard | fail soft | >= 1 improvement "
        "| via aggregate | via hard | via soft |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for cell in sorted(results, key=lambda c: (PATTERNS.index(c.case), c.n, c.k)):
        recs = results[cell]
        print(
            f"| {cell.case} | {cell.n} | {cell.k} | {len(recs)} "
            f"| {_with_interval(rate(recs, 'failed_hard'))} "
            f"| {_with_interval(rate(recs, 'failed_soft'))} "
            f"| {_with_interval(rate(recs, 'improvements'))} "
            f"| {rate(recs, 'by_aggregate').value:.3f} | {rate(recs, 'by_scenario').value:.3f} "
            f"| {rate(recs, 'by_soft').value:.3f} |"
        )


# --- reporting -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    hits: int
    trials: int

    @property
    def value(self) -> float:
        return self.hits / self.trials if self.trials else math.nan

    @property
    def half_width(self) -> float:
        p = self.value
        return 1.96 * math.sqrt(p * (1 - p) / self.trials) if self.trials else math.nan


Results = dict[Cell, list[Record]]


def rate(records: Sequence[Record], attribute: str) -> Rate:
    return Rate(sum(bool(getattr(r, attribute)) for r in records), len(records))


def grid(quick: bool, suites: Sequence[int] | None = None) -> tuple[list[Cell], list[Cell]]:
    """The cells: the full grid, or for ``--quick`` suites of 20 and 100, N = 3 and 10,
    and the power cases at N = 5 (and N = 3 for (b)) with K = 10 only."""
    suites = suites or ((20, 100) if quick else SUITES)
    trials = (3, 10) if quick else TRIALS
    nulls = [
        Cell(c, s, n, k) for c in CONDITIONS for s in suites for n in trials for k in HISTORIES
    ]
    if quick:
        powers = [Cell(c, 100, 5, 10) for c in POWER_CASES] + [Cell("b", 100, 3, 10)]
    else:
        powers = [Cell(c, 100, n, k) for c in POWER_CASES for n in TRIALS for k in HISTORIES]
    return nulls, powers


def print_false_fail(results: Results, nulls: Sequence[Cell]) -> None:
    columns = sorted({(c.n, c.k) for c in nulls})
    print("P(check fails | PR unchanged), fail_on hard_regression / soft_regression:")
    print()
    print("| main | S | " + " | ".join(f"N={n} K={k}" for n, k in columns) + " |")
    print("|---|--:|" + "--:|" * len(columns))
    rows = sorted(
        {(c.case, c.scenarios) for c in nulls}, key=lambda r: (CONDITIONS.index(r[0]), r[1])
    )
    for case, s in rows:
        cells = []
        for n, k in columns:
            recs = results.get(Cell(case, s, n, k), [])
            if not recs:
                cells.append("—")
                continue
            cells.append(
                f"{rate(recs, 'failed_hard').value:.3f} / {rate(recs, 'failed_soft').value:.3f}"
            )
        print(f"| {case} | {s} | " + " | ".join(cells) + " |")


def print_power(results: Results) -> None:
    columns = sorted({(c.n, c.k) for c in results if c.case in POWER_CASES})
    print("Power: P(check fails), fail_on hard_regression, 100 scenarios:")
    print()
    print("| case | " + " | ".join(f"N={n} K={k}" for n, k in columns) + " |")
    print("|---|" + "--:|" * len(columns))
    for case in POWER_CASES:
        cells = [
            f"{rate(results[cell], 'failed_hard').value:.3f}" if cell in results else "—"
            for n, k in columns
            for cell in [Cell(case, 100, n, k)]
        ]
        print(f"| {POWER_TITLES[case]} | " + " | ".join(cells) + " |")


def print_routes(results: Results, nulls: Sequence[Cell]) -> None:
    print("Unchanged PRs, by condition (all suites, N and K pooled): share failed through a")
    print("hard regression / a soft regression / the aggregate test, and share with at least")
    print("one scenario labelled an improvement.")
    print()
    print(
        "| main | via hard | via soft | via aggregate | ≥ 1 improvement "
        "| worst cell (hard / soft) |"
    )
    print("|---|--:|--:|--:|--:|---|")
    for case in CONDITIONS:
        recs = [r for c in nulls if c.case == case for r in results[c]]
        if not recs:
            continue
        worst_hard = max(
            (c for c in nulls if c.case == case),
            key=lambda c: rate(results[c], "failed_hard").value,
        )
        worst_soft = max(
            (c for c in nulls if c.case == case),
            key=lambda c: rate(results[c], "failed_soft").value,
        )
        print(
            f"| {case} | {rate(recs, 'by_scenario').value:.4f} | {rate(recs, 'by_soft').value:.4f} "
            f"| {rate(recs, 'by_aggregate').value:.4f} | {rate(recs, 'improvements').value:.4f} "
            f"| {_cell(worst_hard)} {rate(results[worst_hard], 'failed_hard').value:.3f} / "
            f"{_cell(worst_soft)} {rate(results[worst_soft], 'failed_soft').value:.3f} |"
        )


def _cell(cell: Cell) -> str:
    return f"S={cell.scenarios} N={cell.n} K={cell.k}"


def check_targets(results: Results, nulls: Sequence[Cell]) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    if nulls:
        checks.append(_false_fail_check(results, nulls))
    for case, n, k, target in POWER_TARGETS:
        if Cell(case, 100, n, k) not in results:
            continue
        got = rate(results[Cell(case, 100, n, k)], "failed_hard")
        checks.append(
            (
                got.value >= target,
                f"power {POWER_TITLES[case]} >= {target} at N = {n}, K = {k} "
                f"(got {got.value:.3f} ± {got.half_width:.3f})",
            )
        )
    return checks


def _false_fail_check(results: Results, nulls: Sequence[Cell]) -> tuple[bool, str]:
    worst = max(
        ((c, f) for c in nulls for f in ("failed_hard", "failed_soft")),
        key=lambda cf: rate(results[cf[0]], cf[1]).value,
    )
    worst_rate = rate(results[worst[0]], worst[1])
    over = [
        f"{c.case} {_cell(c)} {f.removeprefix('failed_')}: {rate(results[c], f).value:.3f}"
        for c in nulls
        for f in ("failed_hard", "failed_soft")
        if rate(results[c], f).value > FALSE_FAIL_TARGET
    ]
    return (
        not over,
        f"false-fail <= {FALSE_FAIL_TARGET} in every cell ("
        + (
            "over it at " + "; ".join(over)
            if over
            else f"worst {worst_rate.value:.3f} ± {worst_rate.half_width:.3f} at "
            f"{worst[0].case} {_cell(worst[0])}, fail_on {worst[1].removeprefix('failed_')}"
        )
        + ")",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sims", type=int, default=None, help=f"simulated PRs per cell (default {DEFAULT_SIMS})"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_SIMS} sims per cell, suites of 20 and 100"
    )
    parser.add_argument(
        "--suites", type=int, nargs="+", default=None, help="suite sizes (default 20 100 500)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--patterns",
        action="store_true",
        help="unchanged PRs under non-stationary patterns of main the grid does not list",
    )
    parser.add_argument(
        "--cases", nargs="+", default=None, help="only these conditions / patterns / power cases"
    )
    parser.add_argument("--trials", type=int, nargs="+", default=None, help="only these N")
    parser.add_argument("--histories", type=int, nargs="+", default=None, help="only these K")
    parser.add_argument(
        "--save",
        default=None,
        help="append each finished chunk to this JSON-lines file, and skip the chunks it "
        "already holds for the same seed (a long grid survives an interruption)",
    )
    args = parser.parse_args(argv)

    def wanted(cell: Cell) -> bool:
        return (
            (args.cases is None or cell.case in args.cases)
            and (args.trials is None or cell.n in args.trials)
            and (args.histories is None or cell.k in args.histories)
        )

    sims = args.sims if args.sims is not None else QUICK_SIMS if args.quick else DEFAULT_SIMS
    if sims < 1 or args.workers < 1:
        parser.error("need --sims >= 1 and --workers >= 1")
    if args.patterns:
        return main_patterns(sims, args.seed, args.workers, wanted)
    nulls, powers = grid(args.quick, args.suites)
    nulls = [c for c in nulls if wanted(c)]
    powers = [c for c in powers if wanted(c)]
    tasks = [
        Task(cell, start, min(start + CHUNK, sims), args.seed)
        for cell in (*nulls, *powers)
        for start in range(0, sims, CHUNK)
    ]
    # The false-fail grid first, then power; heaviest first within each (bigger suites,
    # longer windows), for a balanced pool.
    power_set = set(powers)
    tasks.sort(key=lambda t: (t.cell in power_set, -t.cell.scenarios * t.cell.n * max(1, t.cell.k)))
    chunks = _load_chunks(args.save, args.seed, sims)
    tasks = [t for t in tasks if (t.cell, t.start) not in chunks]
    start_time = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, (task, out) in enumerate(pool.imap_unordered(run_task, tasks), start=1):
            chunks[(task.cell, task.start)] = out
            _save_chunk(args.save, task, out, sims)
            if done % 20 == 0 or done == len(tasks):
                elapsed = time.perf_counter() - start_time
                print(f"  {done}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    runtime = time.perf_counter() - start_time
    results: Results = {}
    for (cell, _), out in sorted(chunks.items(), key=lambda item: (item[0][0], item[0][1])):
        if cell in nulls or cell in power_set:
            results.setdefault(cell, []).extend(out)
    nulls = [c for c in nulls if c in results]

    print(
        f"Simulated suites of S scenarios (97% × 60%, 80% × 25%, 50% × 15%); {sims} simulated "
        f"PRs per cell, seed {args.seed}; evalbot's compare_buckets + decide_gate with the "
        "default Thresholds() (alpha 0.05, correction bh). N = trials per scenario per run, "
        "K = baseline runs in the window (0 = the latest alone). The PR's true rates are the "
        "latest run's."
    )
    print()
    print_false_fail(results, nulls)
    print()
    print_power(results)
    print()
    for ok, text in check_targets(results, nulls):
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    print()
    print_routes(results, nulls)
    print()
    total = sum(len(v) for v in results.values())
    print(f"Runtime: {runtime:.0f} s for {total} simulated PRs on {args.workers} worker(s).")
    return 0 if all(ok for ok, _ in check_targets(results, nulls)) else 1


def _load_chunks(path: str | None, seed: int, sims: int) -> dict[tuple[Cell, int], list[Record]]:
    """Chunks a previous run with the same seed and --sims saved (see --save)."""
    chunks: dict[tuple[Cell, int], list[Record]] = {}
    if path is None or not os.path.exists(path):
        return chunks
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if item["seed"] == seed and item["sims"] == sims:
                cell = Cell(*item["cell"])
                chunks[(cell, item["start"])] = [Record(*r) for r in item["records"]]
    return chunks


def _save_chunk(path: str | None, task: Task, out: Sequence[Record], sims: int) -> None:
    if path is None:
        return
    item = {
        "seed": task.seed,
        "sims": sims,
        "cell": list(task.cell),
        "start": task.start,
        "records": [
            [r.failed_hard, r.failed_soft, r.by_scenario, r.by_soft, r.by_aggregate, r.improvements]
            for r in out
        ],
    }
    with open(path, "a", encoding="utf-8") as lines:
        lines.write(json.dumps(item) + "\n")


def main_patterns(sims: int, seed: int, workers: int, wanted: Callable[[Cell], bool]) -> int:
    """The ``--patterns`` tables (no target: a measurement)."""
    cells = [
        Cell(p, PATTERN_SUITE, n, k)
        for p in PATTERNS
        for n in PATTERN_TRIALS
        for k in PATTERN_HISTORIES
        if wanted(Cell(p, PATTERN_SUITE, n, k))
    ]
    tasks = [
        Task(cell, start, min(start + CHUNK, sims), seed)
        for cell in cells
        for start in range(0, sims, CHUNK)
    ]
    tasks.sort(key=lambda t: -t.cell.n * t.cell.k)
    chunks: dict[tuple[Cell, int], list[Record]] = {}
    start_time = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for done, (task, out) in enumerate(pool.imap_unordered(run_pattern_task, tasks), 1):
            chunks[(task.cell, task.start)] = out
            if done % 20 == 0 or done == len(tasks):
                elapsed = time.perf_counter() - start_time
                print(f"  {done}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    runtime = time.perf_counter() - start_time
    results: Results = {}
    for (cell, _), out in sorted(chunks.items(), key=lambda item: (item[0][0], item[0][1])):
        results.setdefault(cell, []).extend(out)
    print(f"{sims} simulated PRs per cell, seed {seed}, fail_on hard_regression / soft_regression.")
    print()
    print_patterns(results)
    print()
    total = sum(len(v) for v in results.values())
    print(f"Runtime: {runtime:.0f} s for {total} simulated PRs on {workers} worker(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
