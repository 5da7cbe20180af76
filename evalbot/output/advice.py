"""What to do about an outcome: the what-next line and the likely causes of nothing compared."""

from __future__ import annotations

from evalbot.core.models import (
    Comparison,
    FetchFailed,
    Gate,
    NoBaseline,
    NothingCompared,
    Outcome,
    SelfBaseline,
    Verdict,
)
from evalbot.output.headline import beyond_parts
from evalbot.output.tally import tally

# --- what next (issue 13 §7) ------------------------------------------------------------


def what_next(outcome: Outcome, gate: Gate, compare: str | None = None) -> str:
    """One line on what to do about this outcome (Markdown; ``compare`` is a link or None)."""
    where = f"in LangSmith ({compare})" if compare else "in LangSmith"
    if isinstance(outcome, FetchFailed):
        return (
            "re-run the job once LangSmith answers; if it keeps failing, check the endpoint, "
            "the API key and the experiment name."
        )
    if isinstance(outcome, NoBaseline):
        return (
            "create a baseline: run the eval suite on the base branch (for example on every "
            "push to `main`) with metadata the baseline search matches, or name a baseline "
            "experiment explicitly."
        )
    if isinstance(outcome, SelfBaseline):
        return "nothing to do; pull requests will compare against this run."
    if isinstance(outcome, NothingCompared):
        return (
            "fix the scenario key, dataset or pass key (see the checks listed here), then "
            "re-run the evals; until then this check says nothing about regressions."
        )
    comparison = outcome.comparison
    flagged = any(
        tally(comparison).count(v) for v in (Verdict.HARD_REGRESSION, Verdict.SOFT_REGRESSION)
    )
    if gate.failed:
        if flagged:
            return (
                f"open the regressed scenarios {where}, then fix them or explain them "
                "in the PR; the check runs again with the next eval run."
            )
        broad = (
            f"look for a cause shared by many scenarios {where} (prompt, model, tools); "
            "no single scenario dropped enough on its own"
        )
        test = comparison.aggregate_test
        if any(cost.gating for cost in comparison.costs):
            if test is not None and test.gating and test.significant:
                return f"{broad}; and bring latency, tokens or cost back under the budget."
            return "bring latency, tokens or cost back under the budget, or raise the budget."
        return broad + "."
    if flagged:
        return f"look at the regressed scenarios {where} before merging."
    if tally(comparison).count(Verdict.WATCH):
        return (
            "these swings may be noise: add repetitions (or baseline history) to tell; "
            "see *How sure we are*."
        )
    if beyond_parts(comparison, str):
        return "check *Beyond pass/fail* below before merging."
    if tally(comparison).low_coverage:
        return (
            "run the PR's evals on the baseline's scenarios (see *Other scenarios*: missing "
            "from the PR or without trials on one side); this check says nothing about them."
        )
    return "nothing to do."


def nothing_compared_causes(comparison: Comparison) -> list[str]:
    """The likely causes of ``nothing_compared``, most specific first (plain text)."""
    pr_n, base_n = len(comparison.pr.scenarios), len(comparison.baseline.scenarios)
    causes = []
    if pr_n == 0:
        causes.append(
            "the PR experiment has no scenarios: its run crashed, was cancelled, "
            "or recorded no runs"
        )
    if base_n == 0:
        causes.append("the baseline experiment has no scenarios")
    if pr_n and base_n and not comparison.scenarios:
        causes.append(
            "the two experiments share no scenario key: another dataset, or a "
            "`scenario_key` that names scenarios differently on each side"
        )
    rows = comparison.scenarios
    empty = []
    for side, trials, unscored in (
        ("PR", sum(r.pr.total for r in rows), sum(r.pr.unscored for r in rows)),
        (
            "baseline",
            sum((r.pooled or r.baseline).total for r in rows),
            sum(r.baseline.unscored for r in rows),
        ),
    ):
        if rows and trials == 0 and unscored:
            causes.append(
                f"every trial of the shared scenarios is unscored on the {side} side: the "
                "evaluator crashed, gave NaN, infinite or non-numeric scores, or does not "
                "score the `pass_key`"
            )
        if rows and trials == 0:
            empty.append(side)
    if rows and not empty:
        causes.append(
            "each shared scenario has trials on one side only: unscored on the other, "
            "or missing there"
        )
    elif rows and not any("unscored" in c for c in causes):
        causes.append(f"the shared scenarios have no trials on the {' and '.join(empty)} side")
    return causes


NOTHING_COMPARED_CHECKS = (
    "`scenario_key` is the same for both experiments (default: the dataset example)",
    "both experiments ran on the same dataset and the PR run finished",
    "`pass_key` names the evaluator that scores every run",
)
