"""The power statement in words: what the check could have caught (issue 11 §4).

The numbers come from core.power (exact enumeration); this module only says
them, for the comment and the JSON report alike.
"""

from __future__ import annotations

from evalbot.core.models import Power, PowerDrop
from evalbot.core.power import POWER_TARGET

__all__ = ["drop_label", "statement", "suggestion"]


def _chance(probability: float) -> str:
    if probability >= 0.995:
        return "> 99%"
    if 0 < probability < 0.005:
        return "< 1%"
    return f"{probability:.0%}"


def drop_label(drop: PowerDrop) -> str:
    """The named drop: "100% → 70% on one scenario", "5 pp across the suite"."""
    if drop.scope == "suite":
        return f"{-drop.to_rate * 100:.0f} pp across the suite"
    return f"{drop.from_rate:.0%} → {drop.to_rate:.0%} on one scenario"


def statement(power: Power) -> str:
    """One sentence: the counts, what one scenario's drop would do, and a suite-wide drop."""
    n, m = power.pr_trials, power.baseline_trials
    if n == 0 or m == 0 or power.extreme_p is None:
        return "no scenario has trials on both sides"
    used, rejected = power.baseline_runs, power.rejected
    counts = (
        f"with {n} PR trials and {m} baseline trials"
        + (f" over {used} runs" if used > 1 else "")
        + " per scenario"
    )
    parts = []
    if rejected:
        parts.append(
            f"{rejected} scenario{'s' if rejected != 1 else ''} already fail"
            f"{'s' if rejected == 1 else ''} the check"
        )
    extreme, threshold = power.extreme_p, power.threshold
    if power.only_through_suite:
        parts.append(
            "one scenario failing every trial fails the check only through the suite-wide "
            f"test (as a scenario, even 0/{n} against {m}/{m} has p = {extreme:.2g}, "
            f"above the {threshold:.2g} needed)"
        )
    elif power.can_fail_alone:
        parts.append(
            "one scenario dropping "
            + ", ".join(
                f"{d.from_rate:.0%} → {d.to_rate:.0%}: {_chance(d.probability)}"
                for d in power.drops
                if d.scope == "scenario"
            )
        )
    else:
        parts.append(
            "no single scenario can fail the check on its own "
            f"(even 0/{n} against {m}/{m} has p = {extreme:.2g}, "
            f"above the {threshold:.2g} needed)"
        )
    suite = [d for d in power.drops if d.scope == "suite"]
    if suite:
        chance = _chance(suite[0].probability)
        parts.append(
            f"a {drop_label(suite[0]).removesuffix(' across the suite')} drop across the suite: "
            f"{chance if chance[0] in '<>' else 'about ' + chance}"
        )
    return f"{counts}, " + "; ".join(parts)


def suggestion(power: Power) -> str | None:
    """The repetitions or history that would catch the design drop 80% of the time, if any."""
    options = []
    if power.suggested_repetitions is not None:
        options.append(f"{power.suggested_repetitions} repetitions")
    if power.suggested_history is not None:
        options.append(f"a history of {power.suggested_history} baseline runs")
    if not options:
        return None
    return (
        f"to catch a scenario dropping 100% → {power.target_rate:.0%} "
        f"at least {POWER_TARGET:.0%} of the time, use {' or '.join(options)}"
    )
