"""The imperative shell's one pipeline: validated settings -> outcome -> gate -> report.

``evalbot compare`` (files or LangSmith), ``evalbot action`` and ``evalbot
publish`` call the same functions here, so a maintainer running the CLI
locally gets the Action's answer. Settings are validated before, once, by
:mod:`evalbot.settings` — before any file is read or request made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalbot.config import Settings
from evalbot.core.compare import compare_buckets, decide_gate, settle
from evalbot.core.models import (
    Bucket,
    FetchFailed,
    Gate,
    NoBaseline,
    Outcome,
    SelfBaseline,
)
from evalbot.core.trend import compute_trend, points_from_buckets
from evalbot.core.verdicts import Trend
from evalbot.errors import FetchError, InputError
from evalbot.output.report import Report
from evalbot.settings import LiveConfig, TrendConfig
from evalbot.sources.experiment_file import load_experiment
from evalbot.sources.history_file import load_history
from evalbot.sources.langsmith.queries import BaselineQuery, Strategy

if TYPE_CHECKING:  # the fetching code is imported by run_live, when it runs
    from evalbot.sources.langsmith.fetch import Fetched


@dataclass(frozen=True, slots=True)
class Result:
    """Everything an entry point needs to print, publish or exit with.

    ``report`` builds its JSON document only when asked (``output.report.Report``).
    """

    outcome: Outcome
    gate: Gate
    report: Report
    selection: str | None = None


def _finish(
    outcome: Outcome,
    settings: Settings,
    *,
    fetch: Mapping[str, Any] | None = None,
    selection: str | None = None,
) -> Result:
    gate = decide_gate(
        outcome, fail_on=settings.fail_on, on_fetch_failure=settings.on_fetch_failure
    )
    policy = {
        "fail_on": settings.fail_on.value,
        "on_fetch_failure": settings.on_fetch_failure.value,
        "comment_key": settings.comment_key,
    }
    return Result(
        outcome=outcome,
        gate=gate,
        report=Report(outcome, gate, settings.thresholds, fetch=fetch, policy=policy),
        selection=selection,
    )


def _same_experiment(a: Bucket, b: Bucket) -> bool:
    """Same experiment: by id when both have one, else by name (issue 11 §5)."""
    if a.id is not None and b.id is not None:
        return a.id == b.id
    return a.name == b.name


def distinct_history(
    pr: Bucket, baseline: Bucket, history: Sequence[Bucket]
) -> tuple[list[Bucket], tuple[str, ...]]:
    """``history`` without the baseline, the PR, or any run given twice; and a note for each.

    Pooling one experiment twice counts its trials twice and makes every
    p-value look surer than it is (the baseline file passed again as
    ``--history-file`` took a p-value from 0.004 to 6e-05), so a repeat is
    pooled once, with a note. The newest occurrence is kept.
    """
    kept: list[Bucket] = []
    notes: list[str] = []
    for bucket in reversed(history):
        basis = "id" if bucket.id is not None else "name"
        if _same_experiment(bucket, pr):
            notes.append(f"history: {bucket.name!r} is the PR experiment itself, left out")
        elif any(_same_experiment(bucket, other) for other in (baseline, *kept)):
            notes.append(f"history: {bucket.name!r} was given twice (same {basis}), pooled once")
        else:
            kept.append(bucket)
    kept.reverse()
    return kept, tuple(reversed(notes))


def compare_loaded(
    pr: Bucket, baseline: Bucket, settings: Settings, *, history: Sequence[Bucket] = ()
) -> Outcome:
    """The outcome for two buckets: self_baseline when they are the same experiment.

    ``history``: older baselines, oldest first; repeats (and the PR itself)
    are dropped with a note on the baseline, then at most
    ``settings.history - 1`` of the newest are pooled with the baseline.
    ``nothing_compared`` when no shared scenario has trials on both sides.
    """
    if pr.id is not None and pr.id == baseline.id:
        return SelfBaseline(pr=pr)
    distinct, notes = distinct_history(pr, baseline, history)
    if notes:
        baseline = replace(baseline, notes=(*baseline.notes, *notes))
    window = distinct[-(settings.history - 1) :] if settings.history > 1 else []
    return settle(compare_buckets(pr, baseline, settings.thresholds, history=window))


def check_file_pass_keys(pass_keys: Sequence[str], buckets: Sequence[Bucket]) -> None:
    """``--pass-key`` with experiment files: always an InputError that says why.

    Files are already judged (``passed`` per trial or per scenario), so a
    pass key cannot apply; a key no trial carries is most likely a typo for
    the LangSmith mode, and silently ignoring it would look green on nothing.
    """
    if not pass_keys:
        return
    seen = sorted({key for b in buckets for s in b.scenarios.values() for key in s.measures.scores})
    listed = ", ".join(seen) if seen else "none"
    for key in pass_keys:
        if key not in seen:
            raise InputError(
                f"--pass-key: no trial in the experiment files carries {key!r} (score keys "
                f"seen: {listed}); files are judged by their passed field, so drop --pass-key"
            )
    raise InputError(
        f"--pass-key: experiment files are judged by their passed field; {pass_keys[0]!r} is "
        "only a score there and cannot re-judge them, so drop --pass-key"
    )


def run_files(
    pr_file: Path,
    baseline_file: Path,
    settings: Settings,
    *,
    history_files: Sequence[Path] = (),
    pass_keys: Sequence[str] = (),
) -> Result:
    """Compare two experiment files (older baselines in ``history_files``, oldest first).

    ``pass_keys`` (``--pass-key``) do not apply to files: any is an InputError.
    """
    pr = load_experiment(pr_file)
    baseline = load_experiment(baseline_file)
    # The window reads a history file's counts alone (history_file); a --pass-key
    # error lists every score key the files carry, so then they are loaded whole.
    load_older = load_experiment if pass_keys else load_history
    history = [load_older(path) for path in history_files]
    check_file_pass_keys(pass_keys, [pr, baseline, *history])
    return _finish(compare_loaded(pr, baseline, settings, history=history), settings)


def run_live(config: LiveConfig, settings: Settings, *, client: Any | None = None) -> Result:
    """Fetch both experiments from LangSmith and compare them.

    A LangSmith or network failure becomes ``fetch_failed`` (the gate then
    follows ``on_fetch_failure``); input errors and bugs propagate.
    """
    from evalbot.sources.langsmith.source import LangSmithSource, fetch

    connection = config.connection
    if connection.fetch_deadline_s is None:
        # The flag or input wins; else the config file's fetch_deadline (or the default).
        connection = replace(connection, fetch_deadline_s=settings.fetch_deadline)
    source = LangSmithSource(connection, client=client)
    try:
        fetched = fetch(
            source,
            config.pr,
            config.baseline,
            rules=config.rules,
            name=config.name,
            history=1 if config.baseline.strategy is Strategy.EXPLICIT else settings.history,
        )
    except FetchError as exc:
        section = {"source": "langsmith", "error": str(exc)}
        return _finish(FetchFailed(error=str(exc)), settings, fetch=section)
    section = _fetch_section(fetched)
    selection = _selection_text(config.baseline, fetched.skipped_incomplete)
    outcome: Outcome
    if fetched.baseline is None:
        searched = f"{config.baseline.describe()} on the PR experiment's dataset"
        if fetched.skipped_incomplete:
            searched += f" ({fetched.skipped_incomplete} incomplete experiments skipped)"
        outcome = NoBaseline(pr=fetched.pr, searched=searched)
    else:
        outcome = compare_loaded(fetched.pr, fetched.baseline, settings, history=fetched.history)
    return _finish(outcome, settings, fetch=section, selection=selection)


def _fetch_section(fetched: Fetched) -> dict[str, Any]:
    """The JSON report's ``fetch`` section, from what the source recorded."""
    query = fetched.query
    return {
        "source": "langsmith",
        "baseline_selection": {
            "strategy": query.strategy.value,
            "filter": query.value if isinstance(query.value, str) else dict(query.value),
            "description": query.describe(),
            "skipped_incomplete": fetched.skipped_incomplete,
        },
        "requests": fetched.requests,
        "seconds": round(fetched.total_seconds, 3),
        "parts": {
            name: {"requests": s.requests, "seconds": round(s.seconds, 3), "runs": s.runs}
            for name, s in fetched.stats.items()
        },
    }


def _selection_text(query: BaselineQuery, skipped: int) -> str:
    text = f"chosen as {query.describe()}"
    if skipped:
        text += f"; {_skipped_text(skipped)}"
    return text


@dataclass(frozen=True, slots=True)
class TrendResult:
    """``evalbot trend``'s answer: the trend, and how many incomplete runs were skipped."""

    trend: Trend
    skipped_incomplete: int = 0


def run_trend(config: TrendConfig, *, client: Any | None = None) -> TrendResult:
    """Read the runs (files, oldest first, or the newest on a LangSmith dataset) and trend them.

    Fewer than 2 runs is an InputError: there is no series to gate on. A
    LangSmith failure propagates (a FetchError: the CLI exits 1 with a message).
    """
    skipped = 0
    if config.live is None:
        # Files are given oldest first, so the newest window is the tail.
        buckets = tuple(load_experiment(path) for path in config.files[-config.window :])
        found = len(buckets)
    else:
        from evalbot.sources.langsmith.source import LangSmithSource, history_buckets

        assert config.dataset is not None  # parse_trend: a dataset whenever live
        history = history_buckets(
            LangSmithSource(config.live.connection, client=client),
            config.dataset,
            config.live.baseline,
            limit=config.window,
            rules=config.live.rules,
            name=config.live.name,
        )
        buckets, found, skipped = history.buckets, history.found, history.skipped_incomplete
    if found < 2:
        detail = f" ({_skipped_text(skipped)})" if skipped else ""
        raise InputError(f"trend: need at least 2 runs, found {found}{detail}")
    trend = compute_trend(points_from_buckets(buckets), threshold=config.threshold)
    return TrendResult(trend, skipped)


def _skipped_text(skipped: int) -> str:
    return f"{skipped} incomplete experiment{'s' if skipped != 1 else ''} skipped"
