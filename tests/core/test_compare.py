"""Tests for evalbot.core.compare: verdicts, aggregate, category drift and the gate."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalbot.core import stats
from evalbot.core.compare import category_drift, compare_buckets, compare_scenario, decide_gate
from evalbot.core.models import (
    Bucket,
    CategoryDrift,
    Comparison,
    Correction,
    FailOn,
    FetchFailed,
    NoBaseline,
    Ok,
    OnFetchFailure,
    Scenario,
    SelfBaseline,
    Thresholds,
    Tier,
    Verdict,
)
from evalbot.core.stats import fisher_better, fisher_worse

# No example database (no .hypothesis/ folder in the repo), no deadline (uncached first calls).
PROPERTY = settings(database=None, deadline=None, max_examples=300)


def core(**kwargs: object) -> Thresholds:
    """The core issue's per-scenario classifier: no multiplicity correction, no history.

    Issue 5 keeps it reachable unchanged as ``correction: none``; these tests pin it.
    """
    return Thresholds(correction=Correction.NONE, **kwargs)  # type: ignore[arg-type]


DEFAULT = core()
F = Fraction

HARD = Verdict.HARD_REGRESSION
SOFT = Verdict.SOFT_REGRESSION
WATCH = Verdict.WATCH
IMPROVEMENT = Verdict.IMPROVEMENT
STABLE = Verdict.STABLE
UNRELIABLE = Verdict.UNRELIABLE_BASELINE
INSUFFICIENT = Verdict.INSUFFICIENT_DATA


def bucket(name: str, **scenarios: tuple[Any, ...]) -> Bucket:
    """A bucket from ``key=(passed, total)`` or ``key=(passed, total, {category: count})``."""
    built = {}
    for key, spec in scenarios.items():
        passed, total, *rest = spec
        built[key] = Scenario(
            key=key, passed=passed, total=total, categories=rest[0] if rest else {}
        )
    return Bucket(name=name, scenarios=built)


def verdict(
    pr: tuple[int, int], base: tuple[int, int], thresholds: Thresholds = DEFAULT
) -> Verdict:
    return compare_scenario(Scenario("s", *pr), Scenario("s", *base), thresholds).verdict


# --- 1. the verdict table -----------------------------------------------------------------


def case(
    pr: tuple[int, int],
    base: tuple[int, int],
    expected: Verdict,
    thresholds: Thresholds = DEFAULT,
    *,
    id: str,
) -> Any:
    return pytest.param(pr, base, expected, thresholds, id=id)


STRICT_HARD_P = core(hard=Tier(max_p=0.01, min_delta=0.30, min_baseline_rate=0.70))

VERDICT_TABLE = [
    # (pr passed/total, baseline passed/total, expected verdict[, thresholds]), id
    # The examples.
    case((0, 3), (3, 3), HARD, id="hard-0/3v3/3-p-exactly-0.05"),
    case((0, 10), (4, 10), UNRELIABLE, id="unreliable-0/10v4/10"),
    case((1, 2), (2, 2), WATCH, id="watch-1/2v2/2-50pp-not-significant"),
    case((1, 3), (3, 3), SOFT, id="soft-1/3v3/3-p-exactly-0.2"),
    case((3, 3), (0, 3), IMPROVEMENT, id="improvement-3/3v0/3-p-exactly-0.05"),
    case((3, 3), (1, 3), WATCH, id="watch-3/3v1/3-gain-not-significant"),
    case((0, 0), (3, 3), INSUFFICIENT, id="insufficient-pr-empty"),
    case((3, 3), (0, 0), INSUFFICIENT, id="insufficient-baseline-empty"),
    case((0, 0), (0, 0), INSUFFICIENT, id="insufficient-both-empty"),
    case((2, 3), (3, 3), STABLE, id="stable-2/3v3/3"),
    case((5, 10), (5, 10), STABLE, id="stable-identical"),
    case((0, 5), (0, 5), STABLE, id="stable-all-fail-both-sides"),
    # Hard tier edges.
    case((70, 100), (100, 100), HARD, id="hard-drop-exactly-30pp"),
    case((71, 100), (100, 100), SOFT, id="soft-drop-29pp-just-below-hard"),
    case((40, 100), (70, 100), HARD, id="hard-baseline-exactly-70pct-drop-exactly-30pp"),
    case((39, 100), (69, 100), UNRELIABLE, id="unreliable-baseline-69pct-beats-soft"),
    case((4, 10), (7, 10), SOFT, id="soft-7/10-to-4/10-delta-met-p-not"),
    case((1, 4), (4, 4), SOFT, id="soft-p-1/14-just-above-hard-p"),
    # Soft tier edges.
    case((85, 100), (100, 100), SOFT, id="soft-drop-exactly-15pp"),
    case((86, 100), (100, 100), STABLE, id="stable-drop-14pp"),
    case((55, 100), (70, 100), SOFT, id="soft-drop-exactly-15pp-float-trap"),
    case((56, 100), (70, 100), STABLE, id="stable-drop-14pp-from-70pct"),
    case((35, 100), (50, 100), SOFT, id="soft-baseline-exactly-50pct"),
    case((34, 100), (49, 100), STABLE, id="stable-baseline-49pct"),
    case((2, 4), (4, 4), WATCH, id="watch-p-3/14-just-above-soft-p"),
    # Watch edges.
    case((2, 5), (3, 4), WATCH, id="watch-drop-exactly-35pp"),
    case((3, 4), (2, 5), WATCH, id="watch-gain-exactly-35pp"),
    case((0, 6), (7, 20), WATCH, id="watch-drop-35pp-baseline-below-soft-gate"),
    case((1, 2), (21, 25), STABLE, id="stable-drop-34pp"),
    case((21, 25), (1, 2), STABLE, id="stable-gain-34pp"),
    # Improvement edges (no baseline-rate gate).
    case((100, 100), (70, 100), IMPROVEMENT, id="improvement-gain-exactly-30pp"),
    case((99, 100), (70, 100), STABLE, id="stable-gain-29pp"),
    case((30, 100), (0, 100), IMPROVEMENT, id="improvement-from-0pct-baseline"),
    case((4, 4), (1, 4), WATCH, id="watch-gain-p-1/14-just-above-hard-p"),
    # Custom thresholds.
    case((0, 3), (3, 3), SOFT, STRICT_HARD_P, id="custom-hard-p-0.01-0/3v3/3-is-soft"),
    case((3, 3), (0, 3), WATCH, STRICT_HARD_P, id="custom-hard-p-0.01-3/3v0/3-is-watch"),
    case(
        (0, 10),
        (4, 10),
        HARD,
        core(hard=Tier(max_p=0.05, min_delta=0.30, min_baseline_rate=0.40)),
        id="custom-hard-baseline-gate-40pct-edge",
    ),
    case(
        (1, 3),
        (3, 3),
        WATCH,
        core(soft=Tier(max_p=0.19, min_delta=0.15, min_baseline_rate=0.50)),
        id="custom-soft-p-0.19-1/3v3/3-is-watch",
    ),
    case(
        (70, 100),
        (100, 100),
        SOFT,
        core(hard=Tier(max_p=0.05, min_delta=0.35, min_baseline_rate=0.70)),
        id="custom-hard-delta-35pp-30pp-drop-is-soft",
    ),
    case(
        (100, 100),
        (70, 100),
        STABLE,
        core(hard=Tier(max_p=0.05, min_delta=0.35, min_baseline_rate=0.70)),
        id="custom-hard-delta-35pp-30pp-gain-is-stable",
    ),
    case((1, 2), (2, 2), WATCH, core(watch_delta=0.5), id="custom-watch-0.5-edge"),
    case((1, 2), (2, 2), STABLE, core(watch_delta=0.51), id="custom-watch-0.51"),
]


@pytest.mark.parametrize(("pr", "base", "expected", "thresholds"), VERDICT_TABLE)
def test_verdict_table(
    pr: tuple[int, int], base: tuple[int, int], expected: Verdict, thresholds: Thresholds
) -> None:
    row = compare_scenario(Scenario("s", *pr), Scenario("s", *base), thresholds)
    assert row.verdict is expected
    if expected is INSUFFICIENT:
        assert row.delta is None
    else:
        assert row.delta == float(F(pr[0], pr[1]) - F(base[0], base[1]))
        assert row.p_worse == fisher_worse(*pr, *base)
        assert row.p_better == fisher_better(*pr, *base)


# The premises the table's edge rows rely on: each row sits where its id says it does.
TABLE_PREMISES = [
    pytest.param(fisher_worse(0, 3, 3, 3) == F(1, 20), id="0/3v3/3-p_worse-1/20"),
    pytest.param(fisher_better(3, 3, 0, 3) == F(1, 20), id="3/3v0/3-p_better-1/20"),
    pytest.param(fisher_worse(1, 3, 3, 3) == F(1, 5), id="1/3v3/3-p_worse-1/5"),
    pytest.param(fisher_better(3, 3, 1, 3) == F(1, 5), id="3/3v1/3-p_better-1/5"),
    pytest.param(fisher_worse(0, 10, 4, 10) == F(14, 323) < F(1, 20), id="0/10v4/10-hard-p"),
    pytest.param(fisher_worse(1, 2, 2, 2) == F(1, 2), id="1/2v2/2-p_worse-1/2"),
    pytest.param(fisher_worse(2, 3, 3, 3) == F(1, 2), id="2/3v3/3-p_worse-1/2"),
    pytest.param(fisher_worse(1, 4, 4, 4) == F(1, 14), id="1/4v4/4-p_worse-1/14"),
    pytest.param(fisher_better(4, 4, 1, 4) == F(1, 14), id="4/4v1/4-p_better-1/14"),
    pytest.param(fisher_worse(2, 4, 4, 4) == F(3, 14), id="2/4v4/4-p_worse-3/14"),
    pytest.param(fisher_worse(2, 5, 3, 4) == F(5, 14), id="2/5v3/4-p_worse-5/14"),
    pytest.param(fisher_better(3, 4, 2, 5) == F(5, 14), id="3/4v2/5-p_better-5/14"),
    pytest.param(F(1, 20) < fisher_worse(0, 6, 7, 20) < F(1, 5), id="0/6v7/20-p-between"),
    pytest.param(F(1, 20) < fisher_worse(4, 10, 7, 10) <= F(1, 5), id="4/10v7/10-soft-p-only"),
    pytest.param(fisher_worse(70, 100, 100, 100) <= F(1, 20), id="70v100-hard-p"),
    pytest.param(fisher_worse(71, 100, 100, 100) <= F(1, 20), id="71v100-hard-p"),
    pytest.param(fisher_worse(40, 100, 70, 100) <= F(1, 20), id="40v70-hard-p"),
    pytest.param(fisher_worse(39, 100, 69, 100) <= F(1, 20), id="39v69-hard-p"),
    pytest.param(fisher_worse(85, 100, 100, 100) <= F(1, 5), id="85v100-soft-p"),
    pytest.param(fisher_worse(86, 100, 100, 100) <= F(1, 5), id="86v100-soft-p"),
    pytest.param(fisher_worse(55, 100, 70, 100) <= F(1, 5), id="55v70-soft-p"),
    pytest.param(fisher_worse(56, 100, 70, 100) <= F(1, 5), id="56v70-soft-p"),
    pytest.param(fisher_worse(35, 100, 50, 100) <= F(1, 5), id="35v50-soft-p"),
    pytest.param(fisher_worse(34, 100, 49, 100) <= F(1, 5), id="34v49-soft-p"),
    pytest.param(fisher_worse(1, 2, 21, 25) > F(1, 5), id="1/2v21/25-not-soft-p"),
    pytest.param(fisher_better(21, 25, 1, 2) > F(1, 20), id="21/25v1/2-not-hard-p"),
    pytest.param(fisher_better(100, 100, 70, 100) <= F(1, 20), id="100v70-hard-p"),
    pytest.param(fisher_better(99, 100, 70, 100) <= F(1, 20), id="99v70-hard-p"),
    pytest.param(fisher_better(30, 100, 0, 100) <= F(1, 20), id="30v0-hard-p"),
    # Why exactness matters: in floats these drops miss thresholds they meet exactly.
    pytest.param(0.7 - 0.4 < 0.3, id="float-trap-30pp"),
    pytest.param(0.7 - 0.55 < 0.15, id="float-trap-15pp"),
]


@pytest.mark.parametrize("premise", TABLE_PREMISES)
def test_table_premises(premise: bool) -> None:
    assert premise


# --- 2. properties ------------------------------------------------------------------------

# How strongly a verdict says "regression". Losing a pass can only move a verdict up:
# p_worse shrinks, the drop grows, p_better grows, the baseline rate is unchanged. So
# - hard and unreliable_baseline are absorbing (their conditions stay met, the baseline
#   gate that separates them is fixed), and they rank together: soft can turn into
#   unreliable_baseline (1/6 vs 4/6 -> 0/6 vs 4/6), because unreliable is checked first;
# - soft stays soft or becomes hard/unreliable;
# - stable and watch can swap (a +35 pp gain shrinking to +25 pp is watch -> stable);
# - nothing becomes an improvement, and insufficient_data (a side with 0 trials) stays.
REGRESSION_RANK = {
    IMPROVEMENT: 0,
    STABLE: 1,
    WATCH: 1,
    INSUFFICIENT: 1,
    SOFT: 2,
    HARD: 3,
    UNRELIABLE: 3,
}
ABSORBING = {HARD, UNRELIABLE, INSUFFICIENT}


def check_losing_a_pass(pr_passed: int, pr_total: int, base_passed: int, base_total: int) -> None:
    assert pr_passed >= 1
    pr, base = Scenario("s", pr_passed, pr_total), Scenario("s", base_passed, base_total)
    worse = Scenario("s", pr_passed - 1, pr_total)
    before = compare_scenario(pr, base, DEFAULT)
    after = compare_scenario(worse, base, DEFAULT)
    assert after.p_worse <= before.p_worse
    assert after.p_better >= before.p_better
    assert REGRESSION_RANK[after.verdict] >= REGRESSION_RANK[before.verdict], (before, after)
    if before.verdict in ABSORBING:
        assert after.verdict is before.verdict
    if before.verdict is not IMPROVEMENT:
        assert after.verdict is not IMPROVEMENT


def small_tables(max_total: int) -> list[tuple[int, int, int, int]]:
    return [
        (pr_passed, pr_total, base_passed, base_total)
        for pr_total in range(1, max_total + 1)
        for pr_passed in range(pr_total + 1)
        for base_total in range(max_total + 1)
        for base_passed in range(base_total + 1)
    ]


def test_losing_a_pass_never_lowers_regression_rank_exhaustive() -> None:
    transitions = set()
    for pr_passed, pr_total, base_passed, base_total in small_tables(8):
        if pr_passed == 0:
            continue
        check_losing_a_pass(pr_passed, pr_total, base_passed, base_total)
        transitions.add(
            (
                verdict((pr_passed, pr_total), (base_passed, base_total)),
                verdict((pr_passed - 1, pr_total), (base_passed, base_total)),
            )
        )
    # The ranking is tight: these moves really happen, so no stricter order holds.
    assert (SOFT, UNRELIABLE) in transitions
    assert (WATCH, STABLE) in transitions
    assert (STABLE, WATCH) in transitions
    assert verdict((1, 6), (4, 6)) is SOFT
    assert verdict((0, 6), (4, 6)) is UNRELIABLE


@st.composite
def counts(draw: st.DrawFn, min_total: int = 0, max_total: int = 30) -> tuple[int, int]:
    """A (passed, total) pair with 0 <= passed <= total."""
    total = draw(st.integers(min_value=min_total, max_value=max_total))
    return draw(st.integers(min_value=0, max_value=total)), total


@PROPERTY
@given(pr=counts(min_total=1), base=counts())
def test_losing_a_pass_never_lowers_regression_rank(
    pr: tuple[int, int], base: tuple[int, int]
) -> None:
    pr_passed, pr_total = pr
    if pr_passed == 0:
        pr_passed = pr_total
    check_losing_a_pass(pr_passed, pr_total, *base)


def check_swap(pr: tuple[int, int], base: tuple[int, int], thresholds: Thresholds) -> None:
    forward = compare_scenario(Scenario("s", *pr), Scenario("s", *base), thresholds)
    swapped = compare_scenario(Scenario("s", *base), Scenario("s", *pr), thresholds)
    assert swapped.p_better == forward.p_worse
    assert swapped.p_worse == forward.p_better
    if forward.verdict is HARD:
        assert swapped.verdict is IMPROVEMENT
    if forward.verdict is IMPROVEMENT:
        assert swapped.verdict in (HARD, UNRELIABLE)


def test_swap_turns_hard_into_improvement_exhaustive() -> None:
    seen = set()
    for pr_passed, pr_total, base_passed, base_total in small_tables(8):
        check_swap((pr_passed, pr_total), (base_passed, base_total), DEFAULT)
        seen.add(verdict((pr_passed, pr_total), (base_passed, base_total)))
    assert seen == set(Verdict)  # small tables reach every verdict


thresholds_strategy = st.builds(
    Thresholds,
    correction=st.just(Correction.NONE),
    hard=st.builds(
        Tier,
        max_p=st.sampled_from([0.001, 0.01, 0.05, 0.1]),
        min_delta=st.sampled_from([0.1, 0.25, 0.3, 0.5]),
        min_baseline_rate=st.sampled_from([0.0, 0.5, 0.7, 0.9]),
    ),
    watch_delta=st.sampled_from([0.2, 0.35, 0.6]),
)


@PROPERTY
@given(pr=counts(), base=counts(), thresholds=st.one_of(st.just(DEFAULT), thresholds_strategy))
def test_swap_turns_hard_into_improvement(
    pr: tuple[int, int], base: tuple[int, int], thresholds: Thresholds
) -> None:
    check_swap(pr, base, thresholds)


scenario_counts = st.dictionaries(st.sampled_from("abcdefgh"), counts(), max_size=6)


@PROPERTY
@given(pr=scenario_counts, base=scenario_counts)
def test_every_row_has_p_values_in_unit_interval(
    pr: dict[str, tuple[int, int]], base: dict[str, tuple[int, int]]
) -> None:
    comparison = compare_buckets(bucket("pr", **pr), bucket("base", **base), DEFAULT)
    assert {row.key for row in comparison.scenarios} == pr.keys() & base.keys()
    for row in comparison.scenarios:
        assert isinstance(row.p_worse, Fraction)
        assert isinstance(row.p_better, Fraction)
        assert 0 <= row.p_worse <= 1
        assert 0 <= row.p_better <= 1
        assert (row.delta is None) == (row.verdict is INSUFFICIENT)


# --- 3. compare_buckets -------------------------------------------------------------------

# Key order deliberately differs from severity order, and insertion order from both.
PR = bucket(
    "pr",
    c_stable=(3, 4),
    z_hard=(0, 3),
    b_watch=(2, 2),
    a_stable=(5, 5),
    m_soft=(1, 3),
    d_improvement=(3, 3),
    e_unreliable=(0, 10),
    f_insufficient=(0, 0),
    pr_only_b=(1, 5),
    pr_only_a=(2, 2),
)
BASE = bucket(
    "base",
    a_stable=(5, 5),
    b_watch=(1, 2),
    c_stable=(4, 4),
    d_improvement=(0, 3),
    e_unreliable=(4, 10),
    f_insufficient=(3, 3),
    m_soft=(3, 3),
    z_hard=(3, 3),
    base_only=(0, 7),
)
SHARED_ORDER = [
    ("z_hard", HARD),
    ("m_soft", SOFT),
    ("d_improvement", IMPROVEMENT),
    ("b_watch", WATCH),
    ("e_unreliable", UNRELIABLE),
    ("a_stable", STABLE),
    ("c_stable", STABLE),
    ("f_insufficient", INSUFFICIENT),
]


def test_rows_sorted_by_severity_then_key() -> None:
    comparison = compare_buckets(PR, BASE, DEFAULT)
    assert [(row.key, row.verdict) for row in comparison.scenarios] == SHARED_ORDER
    assert comparison.count(STABLE) == 2
    assert [row.key for row in comparison.of(STABLE)] == ["a_stable", "c_stable"]


def test_aggregate_is_micro_average_over_shared_scenarios() -> None:
    aggregate = compare_buckets(PR, BASE, DEFAULT).aggregate
    # Shared only: 3+0+2+5+1+3+0+0 = 14 of 4+3+2+5+3+3+10+0 = 30 on the PR side,
    # 5+1+4+0+4+3+3+3 = 23 of 5+2+4+3+10+3+3+3 = 33 on the baseline side.
    assert (aggregate.pr.passed, aggregate.pr.total) == (14, 30)
    assert (aggregate.baseline.passed, aggregate.baseline.total) == (23, 33)
    assert aggregate.scenarios == 8
    assert aggregate.pr.rate == pytest.approx(14 / 30)
    assert aggregate.baseline.rate == pytest.approx(23 / 33)
    assert aggregate.delta == pytest.approx(14 / 30 - 23 / 33)
    assert (aggregate.pr.low, aggregate.pr.high) == pytest.approx(stats.wilson_interval(14, 30))
    assert (aggregate.baseline.low, aggregate.baseline.high) == pytest.approx(
        stats.wilson_interval(23, 33)
    )


def test_one_sided_scenarios_listed_sorted_and_kept_out_of_aggregate() -> None:
    comparison = compare_buckets(PR, BASE, DEFAULT)
    assert [s.key for s in comparison.pr_only] == ["pr_only_a", "pr_only_b"]
    assert comparison.pr_only == (PR.scenarios["pr_only_a"], PR.scenarios["pr_only_b"])
    assert comparison.baseline_only == (BASE.scenarios["base_only"],)
    shared_keys = {key for key, _ in SHARED_ORDER}
    trimmed = compare_buckets(
        Bucket("pr", {k: v for k, v in PR.scenarios.items() if k in shared_keys}),
        Bucket("base", {k: v for k, v in BASE.scenarios.items() if k in shared_keys}),
        DEFAULT,
    )
    assert trimmed.pr_only == trimmed.baseline_only == ()
    assert trimmed.aggregate == comparison.aggregate
    assert trimmed.scenarios == comparison.scenarios


def test_aggregate_with_no_shared_scenarios() -> None:
    comparison = compare_buckets(bucket("pr", a=(1, 2)), bucket("base", b=(2, 2)), DEFAULT)
    assert comparison.scenarios == ()
    assert comparison.aggregate.scenarios == 0
    assert comparison.aggregate.delta is None
    assert comparison.aggregate.pr.rate is None
    assert (comparison.aggregate.pr.low, comparison.aggregate.pr.high) == (0.0, 1.0)
    assert [s.key for s in comparison.pr_only] == ["a"]
    assert [s.key for s in comparison.baseline_only] == ["b"]


# --- 4. category drift --------------------------------------------------------------------


def test_category_drift_rows_and_order() -> None:
    # PR: 200 trials (one scenario PR-only); baseline: 100 trials (one baseline-only).
    # Counts are summed over all scenarios of each side, shared or not.
    pr = bucket(
        "pr",
        s1=(70, 100, {"crash": 10, "decode": 10, "zero": 0}),
        s2=(72, 80, {"alpha": 8}),
        s4=(0, 20, {"crash": 20}),
    )
    base = bucket(
        "base",
        s1=(30, 40, {"timeout": 4, "decode": 2, "zero": 0}),
        s2=(28, 40, {"timeout": 8, "gone": 4}),
        s3=(15, 20, {"crash": 5}),
    )
    rows = category_drift(pr, base, DEFAULT)
    assert rows == (
        # Gone on the PR: 0/200 vs 12/100, gap -12 pp, count gap |0 - 12 * 200/100| = 24.
        CategoryDrift("timeout", 0, 12, 0.0, 0.12, -0.12, notable=True, new=False),
        # 30/200 vs 5/100: gap 10 pp, count gap |30 - 5 * 2| = 20 -> notable.
        CategoryDrift("crash", 30, 5, 0.15, 0.05, 0.1, notable=True, new=False),
        # New: 8/200 = 4 pp (< 5 pp) though the count gap is 8 -> not notable.
        CategoryDrift("alpha", 8, 0, 0.04, 0.0, 0.04, notable=False, new=True),
        # Count gap |0 - 4 * 2| = 8 but gap -4 pp; ties alpha on |delta|, sorted by name.
        CategoryDrift("gone", 0, 4, 0.0, 0.04, -0.04, notable=False, new=False),
        # 10/200 vs 2/100: count gap |10 - 4| = 6 >= 3 but gap 3 pp < 5 pp -> not notable.
        CategoryDrift("decode", 10, 2, 0.05, 0.02, float(F(3, 100)), notable=False, new=False),
    )  # "zero" (0 on both sides) is omitted.


def test_category_big_rate_gap_small_count_gap_is_not_notable() -> None:
    # 10 trials a side: "flaky" 2 vs 0 is a 20 pp gap but only 2 failures -> not notable;
    # "timeout" 5 vs 1 is a 40 pp gap and 4 failures -> notable.
    pr = bucket("pr", s=(3, 10, {"flaky": 2, "timeout": 5}))
    base = bucket("base", s=(9, 10, {"timeout": 1}))
    rows = {row.category: row for row in category_drift(pr, base, DEFAULT)}
    assert [r.category for r in category_drift(pr, base, DEFAULT)] == ["timeout", "flaky"]
    assert rows["flaky"] == CategoryDrift("flaky", 2, 0, 0.2, 0.0, 0.2, notable=False, new=True)
    assert rows["timeout"].notable
    assert not rows["timeout"].new


def test_category_notable_exactly_on_both_edges() -> None:
    # 60 trials a side: 6 vs 3 is exactly 5 pp and exactly 3 failures apart.
    pr = bucket("pr", s=(54, 60, {"edge": 6}))
    base = bucket("base", s=(57, 60, {"edge": 3}))
    assert category_drift(pr, base, DEFAULT)[0].notable
    # 100 trials a side: 15 vs 10 is exactly 5 pp, though 0.15 - 0.10 < 0.05 in floats.
    assert 0.15 - 0.10 < 0.05
    pr = bucket("pr", s=(85, 100, {"edge": 15}))
    base = bucket("base", s=(90, 100, {"edge": 10}))
    assert category_drift(pr, base, DEFAULT)[0].notable
    # Just below on counts: 60 trials a side, 5 vs 3 is 3.3 pp and 2 failures.
    pr = bucket("pr", s=(55, 60, {"edge": 5}))
    base = bucket("base", s=(57, 60, {"edge": 3}))
    assert not category_drift(pr, base, DEFAULT)[0].notable


def test_category_drift_is_part_of_compare_buckets() -> None:
    pr = bucket("pr", s=(3, 10, {"timeout": 5}))
    base = bucket("base", s=(9, 10, {"timeout": 1}))
    assert compare_buckets(pr, base, DEFAULT).categories == category_drift(pr, base, DEFAULT)


# --- 5. the gate --------------------------------------------------------------------------


def ok(**scenarios: tuple[tuple[int, int], tuple[int, int]]) -> Ok:
    pr = bucket("pr", **{key: pair[0] for key, pair in scenarios.items()})
    base = bucket("base", **{key: pair[1] for key, pair in scenarios.items()})
    comparison: Comparison = compare_buckets(pr, base, DEFAULT)
    return Ok(comparison)


HARD_PAIR = ((0, 3), (3, 3))
SOFT_PAIR = ((1, 3), (3, 3))
STABLE_PAIR = ((3, 3), (3, 3))
HARMLESS = ok(
    s=STABLE_PAIR,
    i=((3, 3), (0, 3)),  # improvement
    w=((1, 2), (2, 2)),  # watch
    u=((0, 10), (4, 10)),  # unreliable_baseline
    n=((0, 0), (3, 3)),  # insufficient_data
)
OUTCOMES = {
    "clean": (HARMLESS, 0, 0),
    "1-hard": (ok(a=HARD_PAIR, s=STABLE_PAIR), 1, 0),
    "2-hard": (ok(a=HARD_PAIR, b=HARD_PAIR), 2, 0),
    "1-soft": (ok(a=SOFT_PAIR, s=STABLE_PAIR), 0, 1),
    "2-soft": (ok(a=SOFT_PAIR, b=SOFT_PAIR), 0, 2),
    "1-hard-1-soft": (ok(a=HARD_PAIR, b=SOFT_PAIR), 1, 1),
}


def test_gate_fixtures_have_the_counts_they_claim() -> None:
    for outcome, hard, soft in OUTCOMES.values():
        assert outcome.comparison.count(HARD) == hard
        assert outcome.comparison.count(SOFT) == soft
    assert {row.verdict for row in HARMLESS.comparison.scenarios} == {
        STABLE,
        IMPROVEMENT,
        WATCH,
        UNRELIABLE,
        INSUFFICIENT,
    }


def mentions(reason: str, n: int, what: str) -> bool:
    """Whether ``reason`` says "n what" with the right plural, e.g. "1 hard regression"."""
    if n == 1:
        return f"1 {what}" in reason and f"1 {what}s" not in reason
    return f"{n} {what}s" in reason


@pytest.mark.parametrize("on_fetch_failure", list(OnFetchFailure))
@pytest.mark.parametrize("fail_on", list(FailOn))
@pytest.mark.parametrize("name", list(OUTCOMES))
def test_gate_on_comparisons(name: str, fail_on: FailOn, on_fetch_failure: OnFetchFailure) -> None:
    outcome, hard, soft = OUTCOMES[name]
    gate = decide_gate(outcome, fail_on=fail_on, on_fetch_failure=on_fetch_failure)
    expect_fail = {
        FailOn.HARD_REGRESSION: hard > 0,
        FailOn.SOFT_REGRESSION: hard + soft > 0,
        FailOn.NEVER: False,
    }[fail_on]
    assert gate.failed is expect_fail
    assert gate.warning is False
    assert gate.reason and "\n" not in gate.reason
    if expect_fail:
        if hard:
            assert mentions(gate.reason, hard, "hard regression"), gate.reason
        if soft and fail_on is FailOn.SOFT_REGRESSION:
            assert mentions(gate.reason, soft, "soft regression"), gate.reason


@pytest.mark.parametrize("on_fetch_failure", list(OnFetchFailure))
@pytest.mark.parametrize("fail_on", list(FailOn))
@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(NoBaseline(bucket("pr", a=(1, 1)), searched="main"), id="no-baseline"),
        pytest.param(SelfBaseline(bucket("pr", a=(1, 1))), id="self-baseline"),
    ],
)
def test_gate_passes_without_a_baseline(
    outcome: NoBaseline | SelfBaseline, fail_on: FailOn, on_fetch_failure: OnFetchFailure
) -> None:
    gate = decide_gate(outcome, fail_on=fail_on, on_fetch_failure=on_fetch_failure)
    assert gate.failed is False
    assert gate.warning is False
    assert gate.reason and "\n" not in gate.reason


@pytest.mark.parametrize("fail_on", list(FailOn))
@pytest.mark.parametrize(
    ("on_fetch_failure", "expect_fail"),
    [(OnFetchFailure.NEUTRAL, False), (OnFetchFailure.FAIL, True)],
)
def test_gate_on_fetch_failure(
    fail_on: FailOn, on_fetch_failure: OnFetchFailure, expect_fail: bool
) -> None:
    gate = decide_gate(FetchFailed("HTTP 503"), fail_on=fail_on, on_fetch_failure=on_fetch_failure)
    assert gate.failed is expect_fail
    assert gate.warning is True
    assert gate.reason and "\n" not in gate.reason


def test_scenario_row_builds_the_constructors_value() -> None:
    from dataclasses import FrozenInstanceError

    from evalbot.core.verdicts import ScenarioComparison, scenario_row

    pr, base = Scenario("a", 2, 3), Scenario("a", 3, 3, label="A")
    fields: tuple[Any, ...] = (
        "a",
        "A",
        Verdict.WATCH,
        pr,
        base,
        -1 / 3,
        Fraction(1, 2),
        Fraction(1),
        base,
        0.25,
        (1.0,),
        0.0,
    )
    built = scenario_row(*fields)
    assert type(built) is ScenarioComparison
    assert built == ScenarioComparison(*fields)
    with pytest.raises(FrozenInstanceError):
        built.key = "b"  # type: ignore[misc]
