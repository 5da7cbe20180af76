"""Benchmark: compare, render the Markdown comment and build the JSON report at scale.

Not a test: run it by hand, ``python bench/bench_compare.py`` (optionally
``--sizes 1000,10000,100000``). It prints Markdown tables and PASS/FAIL lines for
the performance targets, and exits 1 when a target fails.

For every size N it builds two synthetic buckets (deterministic: a seeded
``random.Random``) with N scenarios each and 3 trials a side: most scenarios pass
3/3, some 2/3, a few regress, improve or swing; keys and labels are 40
characters (labels include Markdown punctuation that needs escaping), a few
failure categories, and a handful of scenarios present on one side only.

Each step is timed with ``time.perf_counter``:

- compare: ``compare_buckets``;
- markdown: ``render_comment`` (comment key "default", a reproduce command);
- json: ``build_report`` + ``dumps``.

Runs: the first run of each size is *cold* (evalbot's memo caches and the
Jinja environment cleared first); the *warm* runs that follow reuse them. The
main table shows the best of the warm runs (3 for N <= 10,000, 1 above); a
second table shows the cold run. The targets are checked on both.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import re
import shlex
import string
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from evalbot import __version__, stats
from evalbot import compare as compare_module
from evalbot import render as render_module
from evalbot.compare import compare_buckets, decide_gate
from evalbot.models import (
    NO_MEASURES,
    Bucket,
    Comparison,
    FailOn,
    Measures,
    Ok,
    OnFetchFailure,
    Scenario,
    Thresholds,
)
from evalbot.render import GITHUB_COMMENT_LIMIT, build_sections, render_comment
from evalbot.report import build_report, dumps

T = TypeVar("T")

DEFAULT_SIZES = (1_000, 10_000, 100_000)
SEED = 20_240_601
TRIALS = 3
NAME_LEN = 40
TARGET_SIZE = 10_000
TARGET_SECONDS = 0.5
TARGET_SECONDS_MEASURES = 1.5
REPRODUCE = shlex.join(
    ["evalbot", "compare", "--pr-file", "pr.json", "--baseline-file", "baseline.json"]
)

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
OMITTED_RE = re.compile(r"…and ([\d,]+) more")


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


def _measures(rng: random.Random) -> Measures:
    """Issue 6's per-trial measurements: 2 score keys, latency, tokens, cost, output, tools."""

    def each(make: Callable[[], T]) -> tuple[T, ...]:
        return tuple(make() for _ in range(TRIALS))

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
    key: str, label: str, passed: int, rng: random.Random, *, measures: bool = False
) -> Scenario:
    categories: dict[str, int] = {}
    for _ in range(TRIALS - passed):
        if rng.random() < 0.8:  # some failed trials carry no category
            name = rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0]
            categories[name] = categories.get(name, 0) + 1
    return Scenario(
        key=key,
        passed=passed,
        total=TRIALS,
        label=label,
        categories=categories,
        measures=_measures(rng) if measures else NO_MEASURES,
    )


# (cumulative probability, PR passes, baseline passes). With 3 trials a side:
# 0/3 vs 3/3 is a hard regression, 1/3 vs 3/3 and 0/3 vs 2/3 soft ones, 3/3 vs
# 0/3 an improvement, 3/3 vs 1/3 a watch; a one-trial wobble is stable.
_MIX: tuple[tuple[float, int, int], ...] = (
    (0.004, 0, 3),  # hard regression
    (0.010, 1, 3),  # soft regression
    (0.013, 0, 2),  # soft regression
    (0.016, 3, 0),  # improvement
    (0.025, 3, 1),  # watch
    (0.100, 2, 3),  # stable, flaky on the PR
    (0.170, 3, 2),  # stable, flaky on the baseline
    (0.200, 2, 2),  # stable, flaky on both
    (1.000, 3, 3),  # stable, the bulk
)
ONE_SIDED_RATE = 0.001  # scenarios added on the PR / removed from the baseline


def make_buckets(n: int, seed: int = SEED, *, measures: bool = False) -> tuple[Bucket, Bucket]:
    """A PR and a baseline bucket with ``n`` scenarios each (deterministic for a seed).

    ``measures``: every scenario also carries issue 6's per-trial measurements.
    """
    rng = random.Random(seed + n)
    pr: dict[str, Scenario] = {}
    base: dict[str, Scenario] = {}
    one_sided = max(1, round(n * ONE_SIDED_RATE))
    for index in range(n - one_sided):
        key, label = _key(index, rng), _label(rng)
        draw = rng.random()
        pr_passed, base_passed = next((p, b) for limit, p, b in _MIX if draw < limit)
        pr[key] = _scenario(key, label, pr_passed, rng, measures=measures)
        base[key] = _scenario(key, label, base_passed, rng, measures=measures)
    for index in range(n - one_sided, n):
        key, label = _key(index, rng), _label(rng)
        pr[key] = _scenario(key, label, TRIALS, rng, measures=measures)
        old = _key(index + n, rng)
        base[old] = _scenario(old, _label(rng), TRIALS, rng, measures=measures)
    metadata = {"branch": "fix/refund-prompt", "commit": "3f2a9c1d7e5b4a0f9c8d"}
    return (
        Bucket(name=f"pr-{n}", scenarios=pr, url="https://example.invalid/pr", metadata=metadata),
        Bucket(name=f"main-{n}", scenarios=base, url="https://example.invalid/main"),
    )


# --- timing --------------------------------------------------------------------


def clear_caches() -> None:
    """Forget every memo evalbot keeps between calls, for a cold run."""
    compare_module._table_stats.cache_clear()
    stats.min_attainable_worse.cache_clear()
    stats._t_upper_quantile.cache_clear()
    stats.fisher_left_tail.cache_clear()
    stats.fisher_right_tail.cache_clear()
    stats._exact_alpha.cache_clear()
    render_module._environment.cache_clear()


def timed(func: Callable[[], T]) -> tuple[T, float]:
    """``func()`` and its wall-clock duration in seconds."""
    gc.collect()
    start = time.perf_counter()
    result = func()
    return result, time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class Run:
    """One repetition of the three steps at one size."""

    compare: float
    markdown: float
    json: float
    comment_chars: int
    rows_total: int
    rows_cut: int

    @property
    def compare_markdown(self) -> float:
        return self.compare + self.markdown


def run_once(pr: Bucket, baseline: Bucket, thresholds: Thresholds) -> Run:
    comparison, t_compare = timed(lambda: compare_buckets(pr, baseline, thresholds))
    outcome = Ok(comparison)
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    comment, t_markdown = timed(
        lambda: render_comment(outcome, gate, comment_key="default", reproduce=REPRODUCE)
    )
    _, t_json = timed(lambda: dumps(build_report(outcome, gate, thresholds=thresholds)))
    return Run(
        compare=t_compare,
        markdown=t_markdown,
        json=t_json,
        comment_chars=len(comment),
        rows_total=_rows_total(comparison),
        rows_cut=sum(int(n.replace(",", "")) for n in OMITTED_RE.findall(comment)),
    )


def _rows_total(comparison: Comparison) -> int:
    """Table rows of the full, uncut comment."""
    return sum(len(section.rows) for section in build_sections(comparison).values())


@dataclass(frozen=True, slots=True)
class Result:
    size: int
    cold: Run
    warm: tuple[Run, ...]

    def best(self) -> Run:
        """The warm run with the fastest compare + markdown; each column its own best."""
        fastest = min(self.warm, key=lambda r: r.compare_markdown)
        return Run(
            compare=min(r.compare for r in self.warm),
            markdown=min(r.markdown for r in self.warm),
            json=min(r.json for r in self.warm),
            comment_chars=fastest.comment_chars,
            rows_total=fastest.rows_total,
            rows_cut=fastest.rows_cut,
        )

    def best_compare_markdown(self) -> float:
        """Best of the warm runs' compare + markdown sums (not the sum of the bests)."""
        return min(r.compare_markdown for r in self.warm)


def bench(size: int, thresholds: Thresholds, *, measures: bool = False) -> Result:
    pr, baseline = make_buckets(size, measures=measures)
    clear_caches()
    cold = run_once(pr, baseline, thresholds)
    repetitions = 3 if size <= 10_000 else 1
    warm = tuple(run_once(pr, baseline, thresholds) for _ in range(repetitions))
    return Result(size=size, cold=cold, warm=warm)


# --- output --------------------------------------------------------------------

HEADER = (
    "| scenarios | compare (s) | markdown (s) | json (s) | compare+markdown (s) "
    "| per scenario (µs) | comment chars | rows kept / cut |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(size: int, run: Run, compare_markdown: float) -> str:
    kept = run.rows_total - run.rows_cut
    return (
        f"| {size:,} | {run.compare:.4f} | {run.markdown:.4f} | {run.json:.4f} "
        f"| {compare_markdown:.4f} | {compare_markdown / size * 1e6:.1f} "
        f"| {run.comment_chars:,} | {kept:,} / {run.rows_cut:,} |"
    )


def check(results: Sequence[Result], *, measures: bool = False) -> list[tuple[bool, str]]:
    """(passed, message) for every target.

    With ``measures`` the time budget is TARGET_SECONDS_MEASURES: metrics,
    costs and drift add per-trial work (a t interval per scenario and metric)
    that no issue set a budget for; the bench guards it against regressions.
    """
    budget = TARGET_SECONDS_MEASURES if measures else TARGET_SECONDS
    checks: list[tuple[bool, str]] = []
    for result in results:
        if result.size == TARGET_SIZE:
            for kind, seconds in (
                ("warm best-of", result.best_compare_markdown()),
                ("cold", result.cold.compare_markdown),
            ):
                checks.append(
                    (
                        seconds <= budget,
                        f"{result.size:,} scenarios: compare + markdown ({kind}) "
                        f"{seconds:.3f} s <= {budget} s",
                    )
                )
        chars = max(run.comment_chars for run in (result.cold, *result.warm))
        checks.append(
            (
                chars <= GITHUB_COMMENT_LIMIT,
                f"{result.size:,} scenarios: comment {chars:,} chars <= {GITHUB_COMMENT_LIMIT:,}",
            )
        )
    if not any(result.size == TARGET_SIZE for result in results):
        checks.append((True, f"(no {TARGET_SIZE:,}-scenario size run: time target not checked)"))
    return checks


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        message = f"not a comma-separated list of integers: {text}"
        raise argparse.ArgumentTypeError(message) from None
    if not sizes or any(size < 2 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be integers >= 2")
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
        help="give every scenario per-trial scores, latency, tokens, cost, output and tool "
        "calls (issue 6), so metrics, costs and drift signals are computed and rendered",
    )
    args = parser.parse_args(argv)
    thresholds = Thresholds()

    print(
        f"evalbot {__version__} · Python {platform.python_version()} "
        f"({platform.python_implementation()}) · {platform.platform()}"
    )
    print(
        f"{TRIALS} trials a side, {NAME_LEN}-char keys and labels, seed {SEED}; "
        "per scenario = (compare + markdown) / scenarios"
        + (
            "; every scenario carries per-trial measures (--measures).\n"
            if args.measures
            else ".\n"
        )
    )
    results: list[Result] = []
    for size in args.sizes:
        print(f"running {size:,} scenarios…", file=sys.stderr, flush=True)
        results.append(bench(size, thresholds, measures=args.measures))

    print(
        "## Warm: best of 3 runs (1 run above 10,000 scenarios), after one cold run; "
        "compare+markdown is the best per-run sum\n"
    )
    print(HEADER)
    for result in results:
        print(table_row(result.size, result.best(), result.best_compare_markdown()))
    print("\n## Cold: first run, evalbot's caches and the Jinja environment cleared\n")
    print(HEADER)
    for result in results:
        print(table_row(result.size, result.cold, result.cold.compare_markdown))
    print()

    checks = check(results, measures=args.measures)
    for passed, message in checks:
        print(f"{'PASS' if passed else 'FAIL'}: {message}")
    return 0 if all(passed for passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
