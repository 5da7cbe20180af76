"""The imperative shell's one pipeline: inputs -> outcome -> gate -> report.

``evalbot compare`` (files or LangSmith) and, later, ``evalbot action`` call
the same functions here, so a maintainer running the CLI locally gets the
Action's answer. Validation of live options happens once, up front, in
:func:`parse_live` — before any network call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evalbot.config import MAX_FETCH_DEADLINE, Settings, parse_fetch_deadline, parse_secret
from evalbot.core.compare import compare_buckets, decide_gate, settle
from evalbot.core.models import (
    Bucket,
    FetchFailed,
    Gate,
    NoBaseline,
    Outcome,
    SelfBaseline,
)
from evalbot.errors import FetchError, InputError
from evalbot.output.report import build_report, dumps, json_chunks
from evalbot.sources.experiment_file import load_experiment
from evalbot.sources.langsmith.bucket import BucketRules, ScenarioKey
from evalbot.sources.langsmith.source import (
    DEFAULT_ENDPOINT,
    BaselineQuery,
    Connection,
    PrQuery,
    Strategy,
    validate_endpoint,
)

DEFAULT_BASELINE_METADATA: Mapping[str, Any] = {"branch": "main"}


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Validated LangSmith options: where, what, and how runs become trials."""

    connection: Connection
    pr: PrQuery
    baseline: BaselineQuery
    rules: BucketRules


@dataclass(frozen=True, slots=True, init=False)
class Result:
    """Everything an entry point needs to print, publish or exit with.

    ``report`` may be given as a function that builds it: it is then built on
    first use, once, so ``evalbot compare --format markdown`` never builds a
    JSON report it does not print (issue 14: 2 s of 8 at 100,000 scenarios).
    ``report_json`` may be given as a function that yields the report's JSON
    text in pieces without building it whole (``report.json_chunks``).
    """

    outcome: Outcome
    gate: Gate
    selection: str | None
    _report: list[dict[str, Any] | Callable[[], dict[str, Any]]]
    _report_json: Callable[[], Iterable[str]] | None

    def __init__(
        self,
        outcome: Outcome,
        gate: Gate,
        report: dict[str, Any] | Callable[[], dict[str, Any]],
        selection: str | None = None,
        report_json: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "gate", gate)
        object.__setattr__(self, "selection", selection)
        object.__setattr__(self, "_report", [report])
        object.__setattr__(self, "_report_json", report_json)

    @property
    def report(self) -> dict[str, Any]:
        """The JSON report (built now if it was given as a function)."""
        report = self._report[0]
        if callable(report):
            report = report()
            self._report[0] = report
        return report

    def report_json(self) -> Iterable[str]:
        """The report as JSON text (``report.dumps``), in pieces when it was not built yet."""
        if self._report_json is not None and callable(self._report[0]):
            return self._report_json()
        return (dumps(self.report),)


def parse_json_object(text: str, *, name: str) -> dict[str, Any]:
    """A JSON object given on the command line; InputError naming ``name``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON ({exc.msg}); got {text!r}") from None
    except RecursionError:  # e.g. 100,000 nested arrays: bad input, not a crash
        raise InputError(f"{name}: not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict) or not value:
        raise InputError(f'{name}: must be a non-empty JSON object like {{"branch": "main"}}')
    return value


# Seconds. The SDK takes its timeout in whole milliseconds (below 1 ms it becomes
# 0, which urllib3 refuses); past GitHub's 6-hour job limit a wait never ends in a
# job, and 1e308 s overflowed the conversion to milliseconds (an internal error).
_MIN_TIMEOUT_S = 0.001


def _positive(value: float | None, *, name: str, default: float, zero_ok: bool = False) -> float:
    if value is None:
        return default
    low = 0.0 if zero_ok else _MIN_TIMEOUT_S
    if not math.isfinite(value) or not low <= value <= MAX_FETCH_DEADLINE:
        raise InputError(
            f"{name}: must be a {'non-negative' if zero_ok else 'positive'} number of seconds "
            f"from {low:g} to {MAX_FETCH_DEADLINE:g}; got {value:g}"
        )
    return value


def parse_live(
    *,
    langsmith_api_key: str | None,
    langsmith_endpoint: str | None,
    pr: str | None,
    pr_metadata: str | None,
    dataset: str | None,
    baseline: str | None,
    baseline_prefix: str | None,
    baseline_metadata: str | None,
    allow_dataset_mismatch: bool,
    pass_keys: Sequence[str],
    pass_threshold: float | None,
    scenario_key: str | None,
    category_key: str | None,
    timeout: float | None = None,
    retry_budget: float | None = None,
    fetch_deadline: float | None = None,
) -> LiveConfig:
    """Validate every LangSmith option at once, before any request is made."""
    if (pr is None) == (pr_metadata is None):
        raise InputError("--pr / --pr-metadata: give exactly one to name the PR experiment")
    if pr_metadata is not None and not dataset:
        raise InputError("--dataset: required with --pr-metadata (the dataset to search)")
    pr_query = PrQuery(
        ref=pr,
        metadata=None
        if pr_metadata is None
        else parse_json_object(pr_metadata, name="--pr-metadata"),
        dataset=dataset,
    )
    strategies = [
        (Strategy.EXPLICIT, "--baseline", baseline),
        (Strategy.PREFIX, "--baseline-prefix", baseline_prefix),
        (Strategy.METADATA, "--baseline-metadata", baseline_metadata),
    ]
    given = [(s, n, v) for s, n, v in strategies if v is not None]
    if len(given) > 1:
        names = " and ".join(n for _, n, _ in given)
        raise InputError(f"{names}: choose one baseline strategy, not several")
    value: str | Mapping[str, Any]
    if not given:
        strategy, value = Strategy.METADATA, DEFAULT_BASELINE_METADATA
    else:
        strategy, name, text = given[0]
        if not text:
            raise InputError(f"{name}: must not be empty")
        value = parse_json_object(text, name=name) if strategy is Strategy.METADATA else text
    if not langsmith_api_key:
        raise InputError("--langsmith-api-key: required (or set LANGSMITH_API_KEY)")
    parse_secret(langsmith_api_key, name="--langsmith-api-key")
    endpoint = validate_endpoint(
        langsmith_endpoint or DEFAULT_ENDPOINT, name="--langsmith-endpoint"
    )
    if any(not key for key in pass_keys):
        raise InputError("--pass-key: must not be empty")
    if pass_threshold is not None and not math.isfinite(pass_threshold):
        raise InputError("--pass-threshold: must be a finite number")
    if category_key is not None and not category_key:
        raise InputError("--category-key: must not be empty")
    return LiveConfig(
        connection=Connection(
            api_key=langsmith_api_key,
            endpoint=endpoint,
            timeout_s=_positive(timeout, name="--timeout", default=30.0),
            retry_budget_s=_positive(
                retry_budget, name="--retry-budget", default=60.0, zero_ok=True
            ),
            fetch_deadline_s=None
            if fetch_deadline is None
            else parse_fetch_deadline(fetch_deadline, name="--fetch-deadline"),
        ),
        pr=pr_query,
        baseline=BaselineQuery(strategy, value, allow_other_dataset=allow_dataset_mismatch),
        rules=BucketRules(
            pass_keys=tuple(pass_keys),
            pass_threshold=1.0 if pass_threshold is None else pass_threshold,
            scenario_key=ScenarioKey.parse(scenario_key or "example"),
            category_key=category_key,
        ),
    )


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
    thresholds = settings.thresholds
    return Result(
        outcome=outcome,
        gate=gate,
        report=lambda: build_report(
            outcome, gate, thresholds=thresholds, fetch=fetch, policy=policy
        ),
        selection=selection,
        report_json=lambda: json_chunks(
            outcome, gate, thresholds=thresholds, fetch=fetch, policy=policy
        ),
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
    history = [load_experiment(path) for path in history_files]
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
            history=1 if config.baseline.strategy is Strategy.EXPLICIT else settings.history,
        )
    except FetchError as exc:
        section = {"source": "langsmith", "error": str(exc)}
        return _finish(FetchFailed(error=str(exc)), settings, fetch=section)
    section = fetched.fetch_section()
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


def _selection_text(query: BaselineQuery, skipped: int) -> str:
    text = f"chosen as {query.describe()}"
    if skipped:
        text += f"; {skipped} incomplete experiment{'s' if skipped != 1 else ''} skipped"
    return text
