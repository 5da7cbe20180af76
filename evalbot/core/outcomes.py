"""How a run ended, as a tagged union the renderer and the gate handle distinctly, and the gate.

ok, no_baseline, self_baseline, fetch_failed and nothing_compared are reported
honestly and distinctly: an outage or a missing baseline never looks green.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from evalbot.core.buckets import Bucket
from evalbot.core.threshold_values import FailOn
from evalbot.core.verdicts import Comparison

__all__ = [
    "FetchFailed",
    "Gate",
    "NoBaseline",
    "NothingCompared",
    "Ok",
    "Outcome",
    "OutcomeKind",
    "SelfBaseline",
]


class OutcomeKind(enum.StrEnum):
    OK = "ok"
    NO_BASELINE = "no_baseline"
    SELF_BASELINE = "self_baseline"
    FETCH_FAILED = "fetch_failed"
    NOTHING_COMPARED = "nothing_compared"


@dataclass(frozen=True, slots=True)
class Ok:
    """Both experiments were found and compared."""

    comparison: Comparison
    kind: OutcomeKind = OutcomeKind.OK


@dataclass(frozen=True, slots=True)
class NoBaseline:
    """No baseline experiment matched; ``searched`` says what was looked for."""

    pr: Bucket
    searched: str
    kind: OutcomeKind = OutcomeKind.NO_BASELINE


@dataclass(frozen=True, slots=True)
class SelfBaseline:
    """The chosen baseline is this very experiment (e.g. a run on main)."""

    pr: Bucket
    kind: OutcomeKind = OutcomeKind.SELF_BASELINE


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """Regression detection did not run: the source could not be read."""

    error: str
    kind: OutcomeKind = OutcomeKind.FETCH_FAILED


@dataclass(frozen=True, slots=True)
class NothingCompared:
    """Both experiments were found, but no shared scenario has trials on both sides.

    Regression detection did not run: a wrong ``scenario_key``, a PR run that
    crashed before any scored trial, another dataset, or a pass key the PR's
    evaluators never scored. ``comparison`` still lists what each side held
    (PR-only, baseline-only, shared scenarios without trials), so the comment
    can say what to check; none of its verdicts or statistics mean anything.
    """

    comparison: Comparison
    kind: OutcomeKind = OutcomeKind.NOTHING_COMPARED


Outcome = Ok | NoBaseline | SelfBaseline | FetchFailed | NothingCompared


@dataclass(frozen=True, slots=True)
class Gate:
    """Whether the required check fails, and a one-line reason."""

    failed: bool
    reason: str
    warning: bool = False
    # The policy that decided a comparison (None for outcomes without one), so the
    # renderer reads it as data instead of parsing ``reason``.
    fail_on: FailOn | None = None
