"""The required check: settle an outcome, and decide whether the gate fails (issue 2 §4)."""

from __future__ import annotations

from collections.abc import Mapping

from evalbot.core.models import (
    Comparison,
    CostDelta,
    CostMeasure,
    FailOn,
    FetchFailed,
    Gate,
    NoBaseline,
    NothingCompared,
    Ok,
    OnFetchFailure,
    Outcome,
    SelfBaseline,
    Thresholds,
    Verdict,
)

_GATING: Mapping[FailOn, tuple[Verdict, ...]] = {
    FailOn.HARD_REGRESSION: (Verdict.HARD_REGRESSION,),
    FailOn.SOFT_REGRESSION: (Verdict.HARD_REGRESSION, Verdict.SOFT_REGRESSION),
    FailOn.NEVER: (),
}


def settle(comparison: Comparison) -> Ok | NothingCompared:
    """``ok``, or ``nothing_compared`` when no shared scenario has trials on both sides.

    Zero compared scenarios would otherwise read as "no regressions over 0
    scenarios": green on nothing (issue 11 §5).
    """
    return Ok(comparison) if comparison.compared else NothingCompared(comparison)


def decide_gate(outcome: Outcome, *, fail_on: FailOn, on_fetch_failure: OnFetchFailure) -> Gate:
    """Whether the required check fails for this outcome (issue 2 §4).

    Only regressions fail it. A missing or self baseline passes (there is
    nothing to regress from); a fetch failure, and two experiments with no
    scenario to compare, follow ``on_fetch_failure`` and are always flagged
    as a warning, so an outage never looks green.
    """
    if isinstance(outcome, FetchFailed | NothingCompared):
        # Nothing compared is an outage of the data, not of the source: the
        # same policy decides (issue 11 §5), and it is never silently green.
        what = "nothing could be compared: " if isinstance(outcome, NothingCompared) else ""
        failed = on_fetch_failure is OnFetchFailure.FAIL
        reason = f"{what}regression detection did not run (on_fetch_failure: {on_fetch_failure})"
        return Gate(failed, reason, True)
    if isinstance(outcome, NoBaseline):
        return Gate(False, "no baseline experiment found: nothing to compare against")
    if isinstance(outcome, SelfBaseline):
        return Gate(False, "this experiment is its own baseline: nothing to compare against")
    comparison = outcome.comparison
    counts = {v: comparison.count(v) for v in _GATING[fail_on]}
    parts = [f"{n} {_plural(v, n)}" for v, n in counts.items() if n]
    test = comparison.aggregate_test
    if fail_on is not FailOn.NEVER and test is not None and test.gating and test.significant:
        # A broad, moderate drop that no single scenario shows (issue 5 §2).
        parts.append(f"an aggregate regression across scenarios (p = {test.p:.3g})")
    if parts:
        parts = [f"{', '.join(parts)} (fail_on: {fail_on})"]
    if fail_on is not FailOn.NEVER:
        # Opt-in budgets (fail_on_*_increase, issue 6 §2): off unless configured.
        parts.extend(
            _budget_reason(cost, comparison.thresholds) for cost in comparison.costs if cost.gating
        )
    if parts:
        return Gate(True, "; ".join(parts), fail_on=fail_on)
    if fail_on is FailOn.NEVER:
        return Gate(False, "gate disabled (fail_on: never)", fail_on=fail_on)
    return Gate(
        False, f"no {_plural(Verdict(fail_on.value), 2)} (fail_on: {fail_on})", fail_on=fail_on
    )


_BUDGET_SETTING = {
    CostMeasure.LATENCY_P95: "fail_on_latency_increase",
    CostMeasure.TOKENS: "fail_on_tokens_increase",
    CostMeasure.COST: "fail_on_cost_increase",
}


def _budget_reason(cost: CostDelta, thresholds: Thresholds) -> str:
    setting = _BUDGET_SETTING[cost.measure]
    limit = getattr(thresholds.costs, setting)
    name = cost.measure.value.replace("_", " ").replace(" ms", "")
    return f"{name} up {cost.relative or 0:.0%} ({setting}: {limit:g})"


def _plural(verdict: Verdict, n: int) -> str:
    word = verdict.value.replace("_", " ")
    return word if n == 1 else word + "s"
