"""Benchmark: false-fail rate and power of the regression gate on a simulated suite.

Not a test: run it by hand, ``python bench/bench_stats.py`` (2,000 simulated
PRs per cell, about 2 minutes on 2 cores; ``--quick`` for a 200-PR smoke run,
``--aggregate-share X`` to try another ``Thresholds.aggregate_share`` on
evalbot's rows, ``--workers`` for the process count, default 2). It is seeded
and deterministic: the same ``--seed`` and ``--sims`` print the same table
whatever the number of workers (each simulated PR has its own derived seed).

The suite (issue 5): 100 scenarios whose true pass rates are 97% (60 of them),
80% (25) and 50% (15). Every simulated PR draws everything anew: a PR bucket
and a latest baseline bucket with N trials per scenario, and 9 older baseline
buckets (the history) drawn from the baseline's true rates. Three situations:

- no change: the PR's true rates are the baseline's;
- (a) one 97% scenario collapses to 10% on the PR, the rest is unchanged;
- (b) 20 scenarios pass 90% on the baseline (latest and history) and 60% on
  the PR; the other 80 keep the mix (48 at 97%, 20 at 80%, 12 at 50%).

Each simulated PR is judged by evalbot's own ``compare_buckets`` and
``decide_gate`` (fail_on: hard_regression) — no statistics are re-implemented
here — under three settings that share the same draws:

- evalbot, K = 0: default ``Thresholds()`` (correction bh), latest baseline only;
- evalbot, K = 10: the same, with the latest baseline plus 9 older ones pooled
  (K counts the baseline runs pooled, the latest included);
- reference: ``Thresholds(correction=Correction.NONE)``, K = 0 — the core
  issue's per-scenario tiers without history or correction, for contrast.

It prints a Markdown table (each rate with the half-width of its 95% normal
approximation interval), PASS/FAIL lines for the targets (on evalbot's rows
only), and diagnostics. Exit status 1 when a target fails.

Targets: P(fail | no change) <= 0.05 in every evalbot row; power (a) >= 0.9 at
N = 5, K = 10; power (b) >= 0.8 at N = 3, K = 10.
"""

from __future__ import annotations

import argparse
import bisect
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from random import Random
from typing import Literal, NamedTuple

from evalbot.compare import compare_buckets, decide_gate, scenario_alpha
from evalbot.models import (
    Bucket,
    Correction,
    FailOn,
    Ok,
    OnFetchFailure,
    Scenario,
    Thresholds,
    Verdict,
)

SEED = 20_240_605
DEFAULT_SIMS = 2_000
QUICK_SIMS = 200
CHUNK = 50  # simulated PRs per worker task (results do not depend on it)
TRIALS = (3, 5, 10)
HISTORY = 10  # K: baseline runs pooled, the latest included
SCENARIOS = 100
MIX = ((0.97, 60), (0.80, 25), (0.50, 15))
COLLAPSE = (0.97, 0.10)  # (a): one scenario, baseline -> PR true rate
BROAD = (20, 0.90, 0.60)  # (b): how many scenarios, baseline -> PR true rate
MIX_B = ((0.97, 48), (0.80, 20), (0.50, 12))  # (b): the other 80 scenarios

FALSE_FAIL_TARGET = 0.05
POWER_A_TARGET = (5, HISTORY, 0.9)  # (N, K, minimum power)
POWER_B_TARGET = (3, HISTORY, 0.8)

Case = Literal["null", "a", "b"]
CASES: tuple[Case, ...] = ("null", "a", "b")
CASE_TITLES = {"null": "P(fail \\| no change)", "a": "power (a)", "b": "power (b)"}
TARGET_KEY = "s000"  # (a): the collapsed scenario


class Setting(NamedTuple):
    """One row setting: the correction and the number of baseline runs pooled."""

    correction: Correction
    k: int

    @property
    def label(self) -> str:
        return "none (reference)" if self.correction is Correction.NONE else "bh (evalbot)"


REFERENCE = Setting(Correction.NONE, 0)
SETTINGS: tuple[Setting, ...] = (
    REFERENCE,
    Setting(Correction.BH, 0),
    Setting(Correction.BH, HISTORY),
)
ROWS: tuple[tuple[Setting, int], ...] = tuple((s, n) for n in TRIALS for s in SETTINGS)


# --- drawing ---------------------------------------------------------------------


class Binomial:
    """Binomial(n, p) draws by inverse CDF: one ``rng.random()`` per draw."""

    __slots__ = ("cdf", "n")

    def __init__(self, n: int, p: float) -> None:
        self.n = n
        total = 0.0
        self.cdf: list[float] = []
        for k in range(n + 1):
            total += math.comb(n, k) * p**k * (1 - p) ** (n - k)
            self.cdf.append(total)

    def draw(self, rng: Random) -> int:
        return min(bisect.bisect_right(self.cdf, rng.random()), self.n)


_BINOMIALS: dict[tuple[int, float], Binomial] = {}
_SCENARIOS: dict[tuple[str, int, int], Scenario] = {}
KEYS = tuple(f"s{i:03d}" for i in range(SCENARIOS))


def _binomial(n: int, p: float) -> Binomial:
    found = _BINOMIALS.get((n, p))
    if found is None:
        found = _BINOMIALS[(n, p)] = Binomial(n, p)
    return found


def _scenario(key: str, passed: int, total: int) -> Scenario:
    """Scenarios are immutable, so equal counts share one object (cheap buckets)."""
    found = _SCENARIOS.get((key, passed, total))
    if found is None:
        found = _SCENARIOS[(key, passed, total)] = Scenario(key=key, passed=passed, total=total)
    return found


def true_rates(case: Case) -> tuple[list[float], list[float]]:
    """(PR, baseline) true pass rate of each scenario, in key order."""
    if case == "b":
        count, before, after = BROAD
        rest = [p for p, m in MIX_B for _ in range(m)]
        return [after] * count + rest, [before] * count + rest
    base = [p for p, m in MIX for _ in range(m)]
    pr = list(base)
    if case == "a":
        assert base[0] == COLLAPSE[0]
        pr[0] = COLLAPSE[1]  # KEYS[0] == TARGET_KEY
    return pr, base


def draw_bucket(name: str, rates: Sequence[float], n: int, rng: Random) -> Bucket:
    scenarios = {
        key: _scenario(key, _binomial(n, p).draw(rng), n)
        for key, p in zip(KEYS, rates, strict=True)
    }
    return Bucket(name=name, scenarios=scenarios)


# --- simulation ------------------------------------------------------------------


class Target(NamedTuple):
    """The collapsed scenario of case (a) in one comparison."""

    pr: int  # PR passes
    pooled: int  # pooled baseline passes
    total: int  # pooled baseline trials
    p: float  # one-sided Fisher p-value
    verdict: str


@dataclass(frozen=True, slots=True)
class Record:
    """What one setting made of one simulated PR."""

    failed: bool
    by_scenario: bool  # at least one hard regression
    by_aggregate: bool  # the gating CMH test was significant
    z: float  # CMH statistic
    family_size: int
    lone_threshold: float  # the p a single scenario needs to fail the check alone
    # Each hard regression as (baseline true rate, PR passes, baseline passes pooled).
    flagged: tuple[tuple[float, int, int], ...] = ()
    # (a) only: the collapsed scenario.
    target: Target | None = None


class Task(NamedTuple):
    case: Case
    n: int
    start: int
    stop: int
    seed: int
    share: float


def thresholds_for(setting: Setting, share: float) -> Thresholds:
    if setting.correction is Correction.NONE:
        return Thresholds(correction=Correction.NONE)
    return Thresholds(aggregate_share=share)


def judge(
    pr: Bucket,
    base: Bucket,
    history: Sequence[Bucket],
    thresholds: Thresholds,
    case: Case,
    base_rates: Sequence[float],
) -> Record:
    comparison = compare_buckets(pr, base, thresholds, history=history)
    gate = decide_gate(
        Ok(comparison), fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    test = comparison.aggregate_test
    assert test is not None
    if thresholds.correction is Correction.NONE:
        lone = thresholds.hard.max_p
    else:
        lone = scenario_alpha(thresholds) / max(1, comparison.family_size)
    target = None
    if case == "a":
        row = next(s for s in comparison.scenarios if s.key == TARGET_KEY)
        pooled = row.pooled or row.baseline
        target = Target(
            row.pr.passed, pooled.passed, pooled.total, float(row.p_worse), row.verdict.value
        )
    return Record(
        failed=gate.failed,
        by_scenario=comparison.count(Verdict.HARD_REGRESSION) > 0,
        flagged=tuple(
            (base_rates[KEYS.index(s.key)], s.pr.passed, (s.pooled or s.baseline).passed)
            for s in comparison.of(Verdict.HARD_REGRESSION)
        ),
        by_aggregate=test.gating and test.significant,
        z=test.z,
        family_size=comparison.family_size,
        lone_threshold=lone,
        target=target,
    )


def run_task(task: Task) -> tuple[Task, list[dict[Setting, Record]]]:
    """Simulate PRs ``start..stop-1`` of one (case, N) cell under every setting.

    Each simulated PR has its own seed, derived from the run seed, the case,
    N and its index, so results do not depend on chunking or worker count.
    K = 0 and K = 10 see the same PR and latest baseline (paired rows).
    """
    pr_rates, base_rates = true_rates(task.case)
    settings = {s: thresholds_for(s, task.share) for s in SETTINGS}
    out: list[dict[Setting, Record]] = []
    for index in range(task.start, task.stop):
        rng = Random(f"{task.seed}/{task.case}/N={task.n}/{index}")
        pr = draw_bucket("pr", pr_rates, task.n, rng)
        base = draw_bucket("baseline", base_rates, task.n, rng)
        older = [draw_bucket(f"baseline-{i}", base_rates, task.n, rng) for i in range(HISTORY - 1)]
        out.append(
            {
                setting: judge(
                    pr, base, older if setting.k > 1 else (), thresholds, task.case, base_rates
                )
                for setting, thresholds in settings.items()
            }
        )
    return task, out


# --- reporting -------------------------------------------------------------------


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

    def __str__(self) -> str:
        return f"{self.value:.3f} ± {self.half_width:.3f}"


Results = dict[tuple[Case, int, Setting], list[Record]]


def rate(records: Sequence[Record]) -> Rate:
    return Rate(sum(r.failed for r in records), len(records))


def quantiles(values: Sequence[float], qs: Iterable[float]) -> list[float]:
    ordered = sorted(values)
    return [ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in qs]


def print_table(results: Results) -> None:
    cols = ["correction", "N", "K", *(CASE_TITLES[c] for c in CASES)]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join(["---"] * 3 + ["--:"] * len(CASES)) + "|")
    for setting, n in ROWS:
        cells = [str(rate(results[(case, n, setting)])) for case in CASES]
        print(f"| {setting.label} | {n} | {setting.k} | " + " | ".join(cells) + " |")


def check_targets(results: Results) -> list[tuple[bool, str]]:
    checks: list[tuple[bool, str]] = []
    limit = FALSE_FAIL_TARGET
    false_fail = {
        (n, s.k): rate(results[("null", n, s)]) for s, n in ROWS if s.correction is Correction.BH
    }
    over = [f"N = {n}, K = {k}: {r}" for (n, k), r in false_fail.items() if r.value > limit]
    worst = max(false_fail.items(), key=lambda item: item[1].value)
    checks.append(
        (
            not over,
            f"false-fail <= {FALSE_FAIL_TARGET} in every evalbot row ("
            + (
                "over it at " + "; ".join(over)
                if over
                else f"worst {worst[1]} at N = {worst[0][0]}, K = {worst[0][1]}"
            )
            + ")",
        )
    )
    for case, (n, k, target) in (("a", POWER_A_TARGET), ("b", POWER_B_TARGET)):
        got = rate(results[(case, n, Setting(Correction.BH, k))])  # type: ignore[index]
        checks.append(
            (
                got.value >= target,
                f"power ({case}) >= {target} at N = {n}, K = {k} (got {got})",
            )
        )
    return checks


def print_diagnostics(results: Results, share: float) -> None:
    thresholds = Thresholds(aggregate_share=share)
    z_crit = statistics.NormalDist().inv_cdf(thresholds.aggregate_alpha)
    print()
    print(
        f"Diagnostics (evalbot rows): scenario-family alpha {scenario_alpha(thresholds):.3g}, "
        f"aggregate (CMH) alpha {thresholds.aggregate_alpha:.3g} (fails at z <= {z_crit:.2f}). "
        "'via' = share of simulated PRs failed by a hard regression / by the CMH test "
        "(both can happen). The lone threshold is the p one scenario needs to fail the "
        "check on its own: alpha_s / family size."
    )
    print()
    print(
        "| N | K | family size (a): median [min–max] | lone threshold (a), median "
        "| no change via scenario / CMH | (a) via scenario / CMH "
        "| (b) via scenario / CMH | (b) CMH z: p5 / median / p95 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for setting, n in ROWS:
        if setting.correction is not Correction.BH:
            continue
        a = results[("a", n, setting)]
        b = results[("b", n, setting)]
        fam = [r.family_size for r in a]
        via = {
            case: (
                sum(r.by_scenario for r in recs) / len(recs),
                sum(r.by_aggregate for r in recs) / len(recs),
            )
            for case in CASES
            for recs in [results[(case, n, setting)]]
        }
        z5, z50, z95 = quantiles([r.z for r in b], (0.05, 0.5, 0.95))
        print(
            f"| {n} | {setting.k} | {statistics.median(fam):.0f} [{min(fam)}–{max(fam)}] "
            f"| {statistics.median(r.lone_threshold for r in a):.2g} | "
            + " | ".join(f"{s:.3f} / {g:.3f}" for s, g in via.values())
            + f" | {z5:.2f} / {z50:.2f} / {z95:.2f} |"
        )
    print()
    print(
        "No change, false hard regressions (every setting): flags per 1,000 simulated PRs "
        "by the scenario's true rate, and the commonest flagged tables (PR vs pooled baseline)."
    )
    for setting, n in ROWS:
        recs = results[("null", n, setting)]
        flags = [f for r in recs for f in r.flagged]
        by_rate = Counter(rate for rate, _, _ in flags)
        groups = ", ".join(f"{rate:.0%}: {1000 * by_rate[rate] / len(recs):.1f}" for rate, _ in MIX)
        m = n * max(1, setting.k)
        common = ", ".join(
            f"{a}/{n} vs {c}/{m} ({rate:.0%}) × {count}"
            for (rate, a, c), count in Counter(flags).most_common(4)
        )
        print(f"  {setting.label}, N = {n}, K = {setting.k}: {groups}; {common or '-'}")
    for n, k, _ in (POWER_A_TARGET,):
        setting = Setting(Correction.BH, k)
        missed = [r for r in results[("a", n, setting)] if not r.failed]
        print()
        print(
            f"(a) at N = {n}, K = {k}: {len(missed)} missed of "
            f"{len(results[('a', n, setting)])}; the collapsed scenario in missed PRs "
            "(PR passes/N vs pooled baseline passes/total: count, verdict, p, lone threshold):"
        )
        by_table: dict[Target, list[float]] = {}
        for r in missed:
            assert r.target is not None
            by_table.setdefault(r.target, []).append(r.lone_threshold)
        ranked = sorted(by_table.items(), key=lambda item: (-len(item[1]), item[0]))
        for target, lones in ranked[:12]:
            print(
                f"  {target.pr}/{n} vs {target.pooled}/{target.total}: {len(lones)} × "
                f"{target.verdict}, p = {target.p:.3g}, "
                f"lone threshold {statistics.median(lones):.3g} (median)"
            )
    for n, k, _ in (POWER_B_TARGET,):
        setting = Setting(Correction.BH, k)
        recs = results[("b", n, setting)]
        qs = quantiles([r.z for r in recs], (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9))
        print()
        print(
            f"(b) at N = {n}, K = {k}: CMH z quantiles 5/10/20/30/50/70/90%: "
            + " / ".join(f"{q:.2f}" for q in qs)
            + f"; P(z <= {z_crit:.2f}) = {sum(r.z <= z_crit for r in recs) / len(recs):.3f}"
        )
        for alt in (0.2, 0.3, 0.4, 0.5, 0.6, 0.8):
            crit = statistics.NormalDist().inv_cdf(Thresholds(aggregate_share=alt).aggregate_alpha)
            print(
                f"  aggregate_share {alt}: CMH alone fails at z <= {crit:.2f} -> "
                f"{sum(r.z <= crit for r in recs) / len(recs):.3f} of these PRs"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sims", type=int, default=DEFAULT_SIMS, help="simulated PRs per cell")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SIMS} sims (smoke run)")
    parser.add_argument(
        "--aggregate-share",
        type=float,
        default=Thresholds().aggregate_share,
        help="Thresholds.aggregate_share for the evalbot rows (default %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    sims = QUICK_SIMS if args.quick else args.sims
    share: float = args.aggregate_share
    if sims < 1 or not 0 <= share <= 1 or args.workers < 1:
        parser.error("need --sims >= 1, 0 <= --aggregate-share <= 1, --workers >= 1")

    tasks = [
        Task(case, n, start, min(start + CHUNK, sims), args.seed, share)
        for n in TRIALS
        for case in CASES
        for start in range(0, sims, CHUNK)
    ]
    # Heaviest first (more trials -> more distinct tables), for a balanced pool.
    tasks.sort(key=lambda t: -t.n)
    chunks: dict[tuple[Case, int, int], list[dict[Setting, Record]]] = {}
    start_time = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        for done, (task, out) in enumerate(pool.imap_unordered(run_task, tasks), start=1):
            chunks[(task.case, task.n, task.start)] = out
            if done % 10 == 0 or done == len(tasks):
                elapsed = time.perf_counter() - start_time
                print(f"  {done}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    runtime = time.perf_counter() - start_time

    results: Results = {}
    for (case, n, _), out in sorted(chunks.items()):
        for per_pr in out:
            for setting, record in per_pr.items():
                results.setdefault((case, n, setting), []).append(record)

    t = Thresholds(aggregate_share=share)
    print(
        f"Simulated suite: {SCENARIOS} scenarios, true pass rates 97% (60), 80% (25), 50% (15); "
        f"{sims} simulated PRs per cell, seed {args.seed}."
    )
    print(
        "N = trials per scenario in every run. K = baseline runs pooled, the latest included "
        f"(K = {HISTORY}: latest + {HISTORY - 1} older runs as history; K = 0: latest only). "
        "Every simulated PR draws its PR run and all baseline runs anew; rows with the same "
        "N share the draws."
    )
    print(
        "No change: PR true rates = baseline's. (a): one 97% scenario drops to 10% on the PR. "
        "(b): 20 scenarios drop from 90% (baseline and history) to 60%, the other 80 keep "
        "the mix (48 × 97%, 20 × 80%, 12 × 50%). A rate is P(check fails) = "
        "decide_gate(fail_on=hard_regression).failed on evalbot's compare_buckets."
    )
    print(
        f"bh (evalbot): Thresholds(aggregate_share={share}) — alpha {t.alpha}, "
        f"scenario family (Tarone-BH) at {scenario_alpha(t):.3g}, CMH at "
        f"{t.aggregate_alpha:.3g}. none (reference): Thresholds(correction=none), each "
        "scenario at p <= 0.05, no aggregate test, no history. ± = 95% CI half-width "
        "(normal approximation)."
    )
    print()
    print_table(results)
    print()
    checks = check_targets(results)
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    print_diagnostics(results, share)
    print()
    print(
        f"Runtime: {runtime:.0f} s for {len(TRIALS) * len(CASES) * sims} simulated PRs × "
        f"{len(SETTINGS)} settings on {args.workers} worker(s)."
    )
    print(f"runtime {runtime:.1f} s", file=sys.stderr)
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
