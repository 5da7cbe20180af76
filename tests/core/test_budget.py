"""Issue 5: history pooling, the false-alarm budget, the aggregate test, power."""

from __future__ import annotations

import math
import random
import re
from fractions import Fraction

import pytest

from evalbot.config import parse_config
from evalbot.core.compare import compare_buckets, decide_gate
from evalbot.core.models import (
    Bucket,
    Correction,
    FailOn,
    Ok,
    OnFetchFailure,
    Scenario,
    Thresholds,
    Verdict,
)
from evalbot.core.stats import min_attainable_worse, tarone_bh, tarone_bh_grouped
from evalbot.errors import InputError
from evalbot.output import power_text

from helpers import make_bucket

F = Fraction


# --- Tarone-filtered BH ---------------------------------------------------------------------


def test_min_attainable_p() -> None:
    # 3 PR trials, 33 baseline trials, 35 passes: at most one failure lands on
    # the PR, so the smallest p is P(A = 2) = 3/36 = 1/12.
    assert min_attainable_worse(3, 33, 35) == F(1, 12)
    assert min_attainable_worse(3, 3, 3) == F(1, 20)
    assert min_attainable_worse(3, 3, 6) == 1  # no failure at all: nothing to test


def test_tarone_leaves_out_tests_that_cannot_reject() -> None:
    # K = 1: two tests could reach 0.05 (> 1); K = 2: both reach 0.025 -> family of 2.
    rejected, q, size = tarone_bh(
        [F(1, 100), F(3, 100), F(1)], [F(1, 1000), F(1, 1000), F(1, 2)], 0.05
    )
    assert (rejected, size) == ([True, True, False], 2)
    assert q == [pytest.approx(0.02), pytest.approx(0.03), None]


def test_tarone_boundary_is_exact() -> None:
    rejected, _, size = tarone_bh([F(1, 20)], [F(1, 20)], 0.05)
    assert rejected == [True] and size == 1


def test_tarone_falls_back_to_every_rejectable_test() -> None:
    # 5,000 tests with min p 1/252: Tarone's K gives an empty family (M(8) = 0),
    # but BH over the tests that can reach alpha rejects them all.
    p = F(1, 252)
    rejected, _, size = tarone_bh([p] * 5000, [p] * 5000, 0.03)
    assert size == 5000 and all(rejected)


def _tarone_by_definition(
    pvalues: list[Fraction], min_pvalues: list[Fraction], alpha: float
) -> tuple[list[bool], list[float | None], int]:
    """Tarone + BH test by test, straight from the definitions (slow, for comparison)."""
    m, limit = len(pvalues), Fraction(str(alpha))
    k = next((k for k in range(1, m + 1) if sum(p <= limit / k for p in min_pvalues) <= k), None)
    family = [i for i in range(m) if k is not None and min_pvalues[i] <= limit / k]
    family = family or [i for i in range(m) if min_pvalues[i] <= limit]
    size = len(family)
    ranked = sorted(family, key=lambda i: pvalues[i])
    count = max((r for r, i in enumerate(ranked, 1) if pvalues[i] <= r * limit / size), default=0)
    rejected = [i in ranked[:count] for i in range(m)]
    q: list[float | None] = [None] * m
    for r, i in enumerate(ranked, 1):
        exact = min(min(pvalues[j] * size / s for s, j in enumerate(ranked, 1) if s >= r), F(1))
        q[i] = float(exact)
    return rejected, q, size


@pytest.mark.parametrize("seed", range(40))
def test_grouped_tarone_equals_the_tests_one_by_one(seed: int) -> None:
    # Groups of identical tests, and distinct groups sharing p-values (ties across
    # groups): per group, the same rejections and q-values as every test alone.
    rng = random.Random(seed)
    values = [F(rng.randint(1, 40), 400) for _ in range(6)] + [F(1), F(1, 20), F(1, 2000)]
    groups = rng.randint(1, 12)
    pvalues = [rng.choice(values) for _ in range(groups)]
    min_pvalues = [min(p, rng.choice(values)) for p in pvalues]
    counts = [rng.randint(1, 6) for _ in range(groups)]
    alpha = rng.choice([0.03, 0.05, 0.2])
    rejected, q, size = tarone_bh_grouped(pvalues, min_pvalues, counts, alpha)
    expand = [g for g in range(groups) for _ in range(counts[g])]
    one_by_one = _tarone_by_definition(
        [pvalues[g] for g in expand], [min_pvalues[g] for g in expand], alpha
    )
    assert size == one_by_one[2]
    assert [rejected[g] for g in expand] == one_by_one[0]
    assert [q[g] for g in expand] == one_by_one[1]
    assert tarone_bh([pvalues[g] for g in expand], [min_pvalues[g] for g in expand], alpha) == (
        one_by_one
    )


# --- history pooling ----------------------------------------------------------------------


def bucket(name: str, **scenarios: tuple[int, int]) -> Bucket:
    return make_bucket(name, scenarios)


def test_pooled_counts_flakiness_and_series() -> None:
    pr = bucket("pr", a=(0, 3), b=(3, 3))
    base = bucket("main-3", a=(3, 3), b=(3, 3))
    older = [bucket("main-1", a=(2, 3), b=(3, 3)), bucket("main-2", a=(3, 3))]
    comparison = compare_buckets(pr, base, Thresholds(), history=older)
    row = next(r for r in comparison.scenarios if r.key == "a")
    assert (row.pooled.passed, row.pooled.total) == (8, 9)  # type: ignore[union-attr]
    assert row.series == (pytest.approx(2 / 3), 1.0, 1.0)
    assert row.flakiness == pytest.approx(2 * (8 / 9) * (1 / 9))
    other = next(r for r in comparison.scenarios if r.key == "b")
    assert other.series == (1.0, None, 1.0)  # main-2 lacks b
    assert comparison.aggregate.baseline.total == 9 + 6


def test_history_turns_a_lucky_baseline_into_an_unreliable_one() -> None:
    # The latest baseline passed 5/5, but over the window the scenario passed
    # 17 of 30: a 0/5 PR is not evidence against this PR.
    pr = bucket("pr", flaky=(0, 5))
    base = bucket("main", flaky=(5, 5))
    older = [bucket(f"main-{i}", flaky=(p, 5)) for i, p in enumerate([2, 3, 2, 3, 2])]
    alone = compare_buckets(pr, base, Thresholds()).scenarios[0]
    pooled = compare_buckets(pr, base, Thresholds(), history=older).scenarios[0]
    assert alone.verdict is Verdict.HARD_REGRESSION
    assert pooled.verdict is Verdict.UNRELIABLE_BASELINE


def test_history_gives_power_three_trials_alone_lack() -> None:
    pr = bucket("pr", a=(0, 3), b=(3, 3))
    base = bucket("main", a=(3, 3), b=(3, 3))
    older = [bucket(f"main-{i}", a=(3, 3), b=(3, 3)) for i in range(9)]
    assert compare_buckets(pr, base, Thresholds()).scenarios[0].verdict is not (
        Verdict.HARD_REGRESSION
    )
    with_history = compare_buckets(pr, base, Thresholds(), history=older)
    hard = with_history.of(Verdict.HARD_REGRESSION)
    assert [r.key for r in hard] == ["a"]
    assert hard[0].q is not None


def test_correction_none_without_history_is_the_core_classifier() -> None:
    pr = bucket("pr", a=(0, 3))
    base = bucket("main", a=(3, 3))
    core = compare_buckets(pr, base, Thresholds(correction=Correction.NONE))
    assert core.scenarios[0].verdict is Verdict.HARD_REGRESSION  # p = 1/20 <= 0.05
    # Under the budget the soft tier needs the corrected family too (issue 11 §2):
    # p = 1/20 > 0.03, so it is only a 100 pp move to watch.
    assert compare_buckets(pr, base, Thresholds()).scenarios[0].verdict is Verdict.WATCH


# --- the gate with the aggregate test -------------------------------------------------------


def broad_drop() -> Ok:
    # 40 scenarios each 9/10 -> 6/10: no single one is significant after correction,
    # together they are.
    pr = make_bucket("pr", {f"s{i:02d}": (6, 10) for i in range(40)})
    base = make_bucket("main", {f"s{i:02d}": (9, 10) for i in range(40)})
    return Ok(compare_buckets(pr, base, Thresholds()))


def test_a_broad_moderate_drop_fails_through_the_aggregate_test() -> None:
    outcome = broad_drop()
    comparison = outcome.comparison
    assert comparison.count(Verdict.HARD_REGRESSION) == 0
    test = comparison.aggregate_test
    assert test is not None and test.significant and test.gating
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert gate.failed
    assert "an aggregate regression across scenarios (p = " in gate.reason


def test_the_aggregate_test_is_informational_without_correction() -> None:
    pr = make_bucket("pr", {f"s{i:02d}": (6, 10) for i in range(40)})
    base = make_bucket("main", {f"s{i:02d}": (9, 10) for i in range(40)})
    outcome = Ok(compare_buckets(pr, base, Thresholds(correction=Correction.NONE)))
    assert outcome.comparison.aggregate_test is not None
    assert not outcome.comparison.aggregate_test.gating
    gate = decide_gate(
        outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert not gate.failed
    assert not decide_gate(
        broad_drop(), fail_on=FailOn.NEVER, on_fetch_failure=OnFetchFailure.NEUTRAL
    ).failed


# --- power -------------------------------------------------------------------------------------


def test_power_statement_with_history() -> None:
    pr = make_bucket("pr", {f"s{i}": (3, 3) for i in range(10)})
    base = make_bucket("main", {f"s{i}": (3, 3) for i in range(10)})
    older = [make_bucket(f"m{j}", {f"s{i}": (3, 3) for i in range(10)}) for j in range(9)]
    power = compare_buckets(pr, base, Thresholds(), history=older).power
    assert power is not None
    # Every table is 3/3 vs 30/30: no failure, so the family is empty and one dropped
    # scenario needs p <= 0.03 / 1. 100% -> 70%: the observed drop must reach 30 pp
    # (a <= 2 of 3) and p(2) = C(32, 2) / C(33, 3) = 0.091 is too large, p(1) =
    # 31/5456 and p(0) = 1/5456 pass: P = P(a <= 1) = 0.3^3 + 3 * 0.7 * 0.3^2 = 0.216.
    assert power.drops[0].probability == pytest.approx(0.216)
    assert power_text.statement(power).startswith(
        "with 3 PR trials and 30 baseline trials over 10 runs per scenario, one scenario "
        "dropping 100% → 70%: 22%, 97% → 10%: "
    )
    assert power.can_fail_alone


def test_power_says_when_nothing_can_fail_and_suggests_more_data() -> None:
    # Five scenarios: in a one-scenario suite the suite-wide test can fail on it alone.
    suite = {f"s{i}": (3, 3) for i in range(5)}
    pr, base = bucket("pr", **suite), bucket("main", **suite)
    power = compare_buckets(pr, base, Thresholds()).power
    assert power is not None
    assert "no single scenario can fail the check on its own" in power_text.statement(power)
    assert power_text.suggestion(power) is not None and "repetitions" in power_text.suggestion(
        power
    )


# --- configuration ---------------------------------------------------------------------------


def test_config_keys() -> None:
    settings = parse_config(
        {"alpha": 0.1, "correction": "none", "history": 5, "trend_threshold": 0.02}, source="c"
    )
    assert settings.thresholds.alpha == 0.1
    assert settings.thresholds.correction is Correction.NONE
    assert settings.thresholds.trend_threshold == 0.02
    assert settings.history == 5
    assert settings.thresholds.aggregate_alpha == pytest.approx(0.04)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"alpha": 0}, "alpha: must be in (0, 0.5]"),
        ({"alpha": 0.9}, "alpha: must be in (0, 0.5]"),
        ({"correction": "holm"}, "correction: must be one of bh, none"),
        ({"history": -1}, "history: must be a whole number from 0 to 100"),
        ({"history": 2.5}, "history: must be a whole number from 0 to 100"),
        ({"trend_threshold": "x"}, "trend_threshold: must be a number"),
    ],
)
def test_bad_config_values(doc: dict[str, object], message: str) -> None:
    with pytest.raises(
        InputError,
        match=r"^c: "
        + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]"),
    ):
        parse_config(doc, source="c")


def test_scenario_without_history_has_no_series() -> None:
    comparison = compare_buckets(bucket("pr", a=(1, 3)), bucket("main", a=(3, 3)), Thresholds())
    assert comparison.scenarios[0].series == ()
    assert comparison.trend is None


def test_trend_over_the_window() -> None:
    runs = [make_bucket(f"m{i}", {"a": (10 - i, 10)}) for i in range(4)]
    pr = make_bucket("pr", {"a": (5, 10)})
    comparison = compare_buckets(pr, runs[-1], Thresholds(), history=runs[:-1])
    assert comparison.trend is not None
    assert comparison.trend.direction.value == "worsening"
    assert comparison.trend.slope == pytest.approx(-0.1)


def test_scenario_label_unused() -> None:
    assert Scenario(key="k", passed=0, total=0).display == "k"


def test_the_gating_family_ignores_the_baseline_pass_rate() -> None:
    # Both tables have the same margins (5 passes in 10 trials), so both can reach
    # significance and both belong in the BH family — even the one whose baseline
    # failed everything. Choosing the family by the observed baseline rate would
    # favour lucky baselines (issue 5 §2, bench/bench_stats.py).
    pr = bucket("pr", drop=(0, 5), rise=(5, 5))
    base = bucket("base", drop=(5, 5), rise=(0, 5))
    result = compare_buckets(pr, base, Thresholds())
    assert result.family_size == 2
    by_key = {row.key: row for row in result.scenarios}
    assert by_key["drop"].verdict is Verdict.HARD_REGRESSION
    assert by_key["drop"].q == pytest.approx(2 / 252)


def test_a_significant_drop_from_a_weak_baseline_does_not_gate() -> None:
    # 0/5 vs 30/50 (60%) is significant, but a 60% baseline is below the hard tier's
    # 70%: the veto in the verdict keeps it from gating as a hard regression. (In a
    # one-scenario suite the aggregate test would still see the whole suite drop from
    # 60% to 0% and fail; among 20 unchanged scenarios it does not.)
    unchanged = {f"s{i:02}": (4, 5) for i in range(20)}
    pr = make_bucket("pr", {"weak": (0, 5), **unchanged})
    base = make_bucket("base", {"weak": (30, 50), **{k: (40, 50) for k in unchanged}})
    result = compare_buckets(pr, base, Thresholds())
    verdicts = {row.key: row.verdict for row in result.scenarios}
    assert verdicts["weak"] is Verdict.UNRELIABLE_BASELINE
    gate = decide_gate(
        Ok(result), fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=OnFetchFailure.NEUTRAL
    )
    assert not gate.failed, gate.reason


def test_readme_benchmark_table_meets_the_targets() -> None:
    # docs/statistics.md's tables are bench/bench_stats.py's output; its claims must hold
    # (issue 5 §5, issue 11 §3): every false-fail cell within the budget, the power targets met.
    # Cells the resumable 2,000-per-cell run has not reached yet read "—".
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "statistics.md").read_text(encoding="utf-8")
    section = doc[doc.index("### What the budget buys") :]
    header: list[str] = []
    false_fail: dict[tuple[str, int, str], tuple[float, float]] = {}
    power: dict[tuple[str, str], float] = {}
    conditions = ("iid", "drift-down", "drift-up", "shock-0.1", "shock-0.25")
    rows: set[tuple[str, int]] = set()
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] in ("main", "case", "pattern", "condition"):
            header = cells
        elif cells[0] in conditions and header[0] == "main":
            rows.add((cells[0], int(cells[1])))
            for column, cell in zip(header[2:], cells[2:], strict=True):
                if cell != "—":
                    hard, soft = (float(v) for v in cell.split("/"))
                    false_fail[(cells[0], int(cells[1]), column)] = (hard, soft)
        elif cells[0].startswith("("):
            for column, cell in zip(header[1:], cells[1:], strict=True):
                if cell != "—":
                    power[(cells[0], column)] = float(cell)
    assert rows == {(c, s) for c in conditions for s in (20, 100, 500)}
    assert {c for _, _, c in false_fail} <= {f"N={n} K={k}" for n in (3, 5, 10) for k in (0, 3, 10)}
    assert false_fail, "no measured cell"
    # Each cell is a rate over the document's stated number of simulated PRs: it must not
    # exceed the 0.05 target by more than its 95% sampling error, and almost every cell
    # must be at or below the target itself.
    sims = int(re.search(r"`--sims (\d+)` \((\d+) simulated PRs per", section)[1])  # type: ignore[index]
    assert sims >= 2000
    tolerance = 1.96 * math.sqrt(0.05 * 0.95 / sims)
    rates = [r for pair in false_fail.values() for r in pair]
    assert max(rates) <= 0.05 + tolerance
    assert sum(r > 0.05 for r in rates) <= 2
    assert power[("(a) one scenario 97% → 10%", "N=5 K=10")] >= 0.9
    # Issue 11's (b) target, >= 0.8 at N = 3, is not met, and docs/statistics.md says so
    # with the numbers (the old 0.85 came from pooling 10 runs as one sample); at N = 5 it is.
    assert power[("(b) 20 scenarios 90% → 60%", "N=5 K=10")] >= 0.8
    assert "One target the budget does not allow: (b) at 3 trials" in section
    assert power[("(b) after main drifted up 10 pp", "N=5 K=10")] >= 0.8
