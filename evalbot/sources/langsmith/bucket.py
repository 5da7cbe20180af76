"""LangSmith runs -> a Bucket: the exact, documented rules (issue 3 §3). Pure.

Input is plain JSON-shaped data (run dicts as ``POST /runs/query`` returns
them, examples as ``{"id", "inputs", "metadata"}``), so these rules are tested
without HTTP and no SDK type reaches the core.

Rules, per root run (one run = one trial). A run whose ``id`` was already
seen (a retried ingestion returns the same run twice) is counted once and the
repeats are noted (issue 11 §5); configured pass keys that no run carries are
an input error (:func:`check_pass_keys`).

1. The scenario is chosen by :class:`ScenarioKey`: the run's
   ``reference_example_id`` (``example``), or a field of that example's
   ``metadata`` / ``inputs``. A run without an example is skipped (noted).
2. A run with ``error`` set (the target raised) is a **failed** trial with
   category ``target_error``, plus its categorical label if it has one.
3. Otherwise every pass key must have a score in the run's inline
   ``feedback_stats`` (``{key: {n, avg, stdev, errors, values, comments}}``).
   A key with no score (absent, or ``avg`` null — e.g. the evaluator crashed)
   makes the trial **unscored**: it is left out of passed and total, because
   it says nothing about the application, and counted separately. So does an
   ``avg`` that is NaN, ±infinity or not a number (a string, a bool): such a
   score cannot pass or fail anything (NaN would fail every comparison and
   +inf pass it); these runs are also counted in a note.
4. A scored trial passes when every pass key's score is ``>= threshold``
   (default 1.0, which suits 0/1 evaluators). A failed trial's category is the
   most frequent label of the categorical ``category_key``, if configured.

Measures (issue 6 §1–§3), per root run that reaches a scenario, appended to
the scenario's :class:`~evalbot.core.models.Measures` in run order. A value that is
missing or invalid is left out for that run, never guessed:

5. Every such run gives ``latency_ms``, ``tokens`` and ``cost`` (§2) —
   errored, unscored and scored runs alike, since they all cost time and
   money. ``latency_ms`` is ``end_time`` − ``start_time`` when both parse as
   ISO 8601 (``datetime.fromisoformat``, a trailing ``Z`` allowed, a naive
   time is UTC) and the span is not negative. ``tokens`` is ``total_tokens``
   and ``cost`` is ``total_cost`` when it is a finite non-negative number
   (not a bool); a cost may also be a decimal string such as ``"0.000123"``,
   as LangSmith serialises costs.
6. Every such run also gives ``scores[key]`` = ``avg`` for each key of its
   ``feedback_stats`` whose ``avg`` is a finite number (not a bool), except
   the pass keys and ``category_key`` (§1). Errored and unscored runs
   contribute the scores they have.
7. A run without ``error`` whose ``outputs`` were fetched gives
   ``output_chars``, the length of its output text (§3), which is the first
   of: (a) ``outputs`` itself when it is a string; ``None`` or ``{}`` is an
   empty output (0 characters); (b) the first of the keys
   :data:`OUTPUT_KEYS` whose value is a string; (c) the string ``content`` of
   a chat message (a dict) under one of those keys, in that order; (d) the
   string ``content`` of the last element of an ``outputs["messages"]``
   list; (e) the first string value of ``outputs``. With none of these the
   run has no ``output_chars``; a run without an ``outputs`` field neither.
8. Such a run gives ``tool_calls`` only when its outputs carry tool calls
   (§3: tool-call silence is judged only then). A message's tool calls are
   its ``tool_calls`` list, else its ``additional_kwargs.tool_calls`` list
   (LangChain keeps the same calls in both, so they are never added up);
   anything but a list does not count. The count is, in order: that of
   ``outputs`` itself taken as a message; that of the first dict under one
   of :data:`OUTPUT_KEYS` that has tool calls; the sum over the messages of
   an ``outputs["messages"]`` list that have tool calls. When no list is
   found the count is unknown and nothing is recorded (not 0).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from evalbot.core.models import TARGET_ERROR, Bucket, Measures, Scenario
from evalbot.errors import InputError
from evalbot.text import truncate

PREVIEW_CHARS = 60
# At most this many feedback keys are listed in an error message.
MAX_KEYS_LISTED = 20
# Where a run's output text is looked for, in order (rule 7).
OUTPUT_KEYS = ("output", "answer", "response", "content", "text", "result")
_MILLISECOND = timedelta(milliseconds=1)
_T = TypeVar("_T")


class KeySource(enum.StrEnum):
    EXAMPLE = "example"
    METADATA = "metadata"
    INPUTS = "inputs"


@dataclass(frozen=True, slots=True)
class ScenarioKey:
    """How runs are grouped into scenarios: ``example``, ``metadata.F`` or ``inputs.F``."""

    source: KeySource = KeySource.EXAMPLE
    field: str | None = None

    @classmethod
    def parse(cls, text: str, *, name: str = "--scenario-key") -> ScenarioKey:
        """Parse the option text; an InputError names ``name`` when it is malformed."""
        if text == "example":
            return cls()
        source, _, field = text.partition(".")
        if source in (KeySource.METADATA, KeySource.INPUTS) and field:
            return cls(KeySource(source), field)
        raise InputError(
            f"{name}: must be 'example', 'metadata.<field>' or 'inputs.<field>'; got {text!r}"
        )

    def __str__(self) -> str:
        return self.source.value if self.field is None else f"{self.source}.{self.field}"


@dataclass(frozen=True, slots=True)
class BucketRules:
    """Everything that decides how runs become trials."""

    pass_keys: tuple[str, ...] = ()
    pass_threshold: float = 1.0
    scenario_key: ScenarioKey = ScenarioKey()
    category_key: str | None = None


@dataclass(frozen=True, slots=True)
class ExperimentInfo:
    """What the bucket needs to know about the experiment itself."""

    name: str
    id: str | None = None
    url: str | None = None
    metadata: Mapping[str, Any] | None = None
    started_at: str | None = None
    example_count: int | None = None
    # For links into LangSmith's web app (see Bucket.web_url).
    dataset_id: str | None = None
    web_url: str | None = None


def check_pass_keys(pass_keys: Sequence[str], runs: Iterable[Mapping[str, Any]]) -> None:
    """InputError when a configured pass key is carried by none of ``runs``.

    ``runs`` are every run fetched (PR, baseline, history): a key that no run
    carries is a typo or the wrong evaluator, and would otherwise leave every
    trial unscored — green on nothing (issue 11 §5). A key carried by the
    baseline only is not an error here (the PR's evaluator may have failed);
    that comparison ends as ``nothing_compared``.
    """
    seen = feedback_keys(runs)
    if not seen:
        # No feedback at all (no runs, or every target raised before any
        # evaluator ran): nothing shows the key is wrong. Such runs are failed
        # or unscored trials, and an empty comparison is nothing_compared.
        return
    for key in pass_keys:
        if key not in seen:
            # Keys are the workspace's own names, but one line must stay one line.
            listed = ", ".join(truncate(k, PREVIEW_CHARS) for k in seen[:MAX_KEYS_LISTED])
            if len(seen) > MAX_KEYS_LISTED:
                listed += f" …and {len(seen) - MAX_KEYS_LISTED} more"
            raise InputError(
                f"--pass-key: no run carries the feedback key {key!r}; keys seen: {listed}"
            )


def feedback_keys(runs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every feedback key seen on the runs, sorted."""
    keys: set[str] = set()
    for run in runs:
        keys.update((run.get("feedback_stats") or {}).keys())
    return sorted(keys)


def infer_pass_keys(runs: Sequence[Mapping[str, Any]], rules: BucketRules) -> tuple[str, ...]:
    """The configured pass keys, or the only feedback key present (issue 3 §3).

    With several candidate keys the choice would be a guess, so it is an
    input error that lists them.
    """
    if rules.pass_keys:
        return rules.pass_keys
    keys = [k for k in feedback_keys(runs) if k != rules.category_key]
    if len(keys) == 1:
        return (keys[0],)
    if not keys:
        raise InputError("--pass-key: the experiment has no feedback keys to judge runs by")
    raise InputError(
        f"--pass-key: the experiment has several feedback keys ({', '.join(keys)}); "
        "choose the one(s) that decide pass/fail"
    )


def _score(stats: Any) -> float | None:
    """The finite numeric ``avg`` of a feedback key, else None (rules 3 and 6)."""
    if not isinstance(stats, Mapping):
        return None
    avg = stats.get("avg")
    if isinstance(avg, bool) or not isinstance(avg, int | float):
        return None
    # float() of a huge int overflows; such a score is as meaningless as inf.
    try:
        value = float(avg)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _invalid_score(stats: Any) -> bool:
    """A pass-key score that is present but not a finite number (rule 3)."""
    return isinstance(stats, Mapping) and stats.get("avg") is not None and _score(stats) is None


def _label(stats: Any) -> str | None:
    """The most frequent categorical value of a feedback key (ties by name)."""
    if not isinstance(stats, Mapping):
        return None
    values = stats.get("values")
    if not isinstance(values, Mapping) or not values:
        return None
    return str(min(values.items(), key=lambda item: (-_int(item[1]), str(item[0])))[0])


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _preview(inputs: Any) -> str:
    if isinstance(inputs, Mapping):
        for value in inputs.values():
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:PREVIEW_CHARS]
    return ""


def _example_label(example: Mapping[str, Any]) -> str:
    metadata = example.get("metadata") or {}
    for meta_key in ("name", "scenario"):
        value = metadata.get(meta_key)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            return str(value)
    name = example.get("name")
    if isinstance(name, str) and name:
        return name
    return _preview(example.get("inputs"))


# --- measures (rules 5-8): small pure helpers over one run's JSON ---


def _number(value: Any) -> float | None:
    """A finite non-negative number (not a bool) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _cost(value: Any) -> float | None:
    """``total_cost``: a number or a decimal string (rule 5)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return _number(value)


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time; a trailing Z is UTC and so is a naive time."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _latency_ms(run: Mapping[str, Any]) -> float | None:
    """``end_time`` − ``start_time`` in milliseconds; None if unknown or negative."""
    start, end = _timestamp(run.get("start_time")), _timestamp(run.get("end_time"))
    if start is None or end is None or end < start:
        return None
    return (end - start) / _MILLISECOND


def _extra_scores(stats: Mapping[str, Any], excluded: Iterable[str]) -> dict[str, float]:
    """The numeric feedback scores other than ``excluded`` keys (rule 6)."""
    skip = set(excluded)
    scores = {}
    for key, entry in stats.items():
        score = _score(entry)
        if key not in skip and score is not None and math.isfinite(score):
            scores[str(key)] = score
    return scores


def _last_message(outputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    messages = outputs.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
        return messages[-1]
    return None


def _output_text(outputs: Any) -> str | None:
    """The output text by rule 7, or None when there is none to find."""
    if outputs is None:
        return ""
    if isinstance(outputs, str):
        return outputs
    if not isinstance(outputs, Mapping):
        return None
    if not outputs:
        return ""
    for key in OUTPUT_KEYS:
        if isinstance(outputs.get(key), str):
            return str(outputs[key])
    for key in OUTPUT_KEYS:
        message = outputs.get(key)
        if isinstance(message, Mapping) and isinstance(message.get("content"), str):
            return str(message["content"])
    last = _last_message(outputs)
    if last is not None and isinstance(last.get("content"), str):
        return str(last["content"])
    return next((value for value in outputs.values() if isinstance(value, str)), None)


def _message_tool_calls(message: Any) -> int | None:
    """The length of a message's tool-call list, or None when it has none (rule 8)."""
    if not isinstance(message, Mapping):
        return None
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        return len(calls)
    extra = message.get("additional_kwargs")
    if isinstance(extra, Mapping) and isinstance(extra.get("tool_calls"), list):
        return len(extra["tool_calls"])
    return None


def _tool_calls(outputs: Any) -> int | None:
    """How many tool calls the outputs carry (rule 8); None when they say nothing."""
    if not isinstance(outputs, Mapping):
        return None
    for message in (outputs, *(outputs.get(key) for key in OUTPUT_KEYS)):
        count = _message_tool_calls(message)
        if count is not None:
            return count
    messages = outputs.get("messages")
    if not isinstance(messages, list):
        return None
    counts = [c for c in map(_message_tool_calls, messages) if c is not None]
    return sum(counts) if counts else None


@dataclass
class _Tally:
    passed: int = 0
    total: int = 0
    unscored: int = 0
    label: str = ""
    categories: dict[str, int] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    latency_ms: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    output_chars: list[int] = field(default_factory=list)
    tool_calls: list[int] = field(default_factory=list)

    def add_category(self, name: str) -> None:
        self.categories[name] = self.categories.get(name, 0) + 1

    def add_measures(self, run: Mapping[str, Any], scores: Mapping[str, float]) -> None:
        """Rules 5-8 for one run that reached this scenario."""
        for key, score in scores.items():
            self.scores.setdefault(key, []).append(score)
        _append(self.latency_ms, _latency_ms(run))
        _append(self.tokens, _number(run.get("total_tokens")))
        _append(self.cost, _cost(run.get("total_cost")))
        if run.get("error") or "outputs" not in run:
            return
        text = _output_text(run["outputs"])
        _append(self.output_chars, None if text is None else len(text))
        _append(self.tool_calls, _tool_calls(run["outputs"]))

    def measures(self) -> Measures:
        return Measures(
            scores={key: tuple(values) for key, values in self.scores.items()},
            latency_ms=tuple(self.latency_ms),
            tokens=tuple(self.tokens),
            cost=tuple(self.cost),
            output_chars=tuple(self.output_chars),
            tool_calls=tuple(self.tool_calls),
        )


def _append(values: list[_T], value: _T | None) -> None:
    if value is not None:
        values.append(value)


def bucket_runs(
    experiment: ExperimentInfo,
    runs: Sequence[Mapping[str, Any]],
    examples: Mapping[str, Mapping[str, Any]],
    *,
    rules: BucketRules,
    pass_keys: tuple[str, ...],
) -> Bucket:
    """Group root runs into scenarios and count passes (see the module docstring)."""
    key_rule = rules.scenario_key
    tallies: dict[str, _Tally] = {}
    no_example = no_field = 0
    runs_per_example: dict[str, int] = {}
    seen_ids: set[str] = set()
    repeated = invalid = 0
    for run in runs:
        run_id = run.get("id")
        if run_id is not None:
            if str(run_id) in seen_ids:
                repeated += 1
                continue
            seen_ids.add(str(run_id))
        example_id = run.get("reference_example_id")
        if not example_id:
            no_example += 1
            continue
        example_id = str(example_id)
        runs_per_example[example_id] = runs_per_example.get(example_id, 0) + 1
        example = examples.get(example_id, {})
        key, label = example_id, _example_label(example)
        if key_rule.field is not None:
            value = (example.get(key_rule.source.value) or {}).get(key_rule.field)
            if value is None or value == "":
                no_field += 1
            else:
                key = label = str(value)
        tally = tallies.setdefault(key, _Tally(label=label))
        stats = run.get("feedback_stats") or {}
        excluded = (*pass_keys, rules.category_key) if rules.category_key else pass_keys
        tally.add_measures(run, _extra_scores(stats, excluded))
        category = _label(stats.get(rules.category_key)) if rules.category_key else None
        if run.get("error"):
            tally.total += 1
            tally.add_category(TARGET_ERROR)
            if category:
                tally.add_category(category)
            continue
        scores = [_score(stats.get(k)) for k in pass_keys]
        if any(score is None for score in scores):
            tally.unscored += 1
            invalid += any(_invalid_score(stats.get(k)) for k in pass_keys)
            continue
        tally.total += 1
        if all(score is not None and score >= rules.pass_threshold for score in scores):
            tally.passed += 1
        elif category:
            tally.add_category(category)
    scenarios = {
        key: Scenario(
            key=key,
            passed=t.passed,
            total=t.total,
            label=t.label if t.label != key else "",
            categories=t.categories,
            unscored=t.unscored,
            measures=t.measures(),
        )
        for key, t in tallies.items()
    }
    notes = _notes(
        experiment,
        # Only runs that reached a scenario count towards completeness.
        runs=sum(runs_per_example.values()),
        runs_per_example=runs_per_example,
        scenarios=scenarios.values(),
        no_example=no_example,
        no_field=no_field,
        key_rule=key_rule,
    )
    if repeated:
        notes += (
            f"{_runs(repeated)} repeated an earlier run id and "
            f"{'was' if repeated == 1 else 'were'} counted once",
        )
    if invalid:
        notes += (
            f"{_runs(invalid)} had a NaN, infinite or non-numeric pass-key score and "
            f"{'was' if invalid == 1 else 'were'} left unscored",
        )
    return Bucket(
        name=experiment.name,
        scenarios=scenarios,
        url=experiment.url,
        id=experiment.id,
        metadata=experiment.metadata or {},
        started_at=experiment.started_at,
        notes=notes,
        web_url=experiment.web_url,
        dataset_id=experiment.dataset_id,
        example_links=key_rule.field is None,
    )


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def _notes(
    experiment: ExperimentInfo,
    *,
    runs: int,
    runs_per_example: Mapping[str, int],
    scenarios: Iterable[Scenario],
    no_example: int,
    no_field: int,
    key_rule: ScenarioKey,
) -> tuple[str, ...]:
    """Completeness remarks (issue 3 §3): partial experiments, uneven trials."""
    notes = []
    metadata = experiment.metadata or {}
    repetitions = metadata.get("num_repetitions")
    if not isinstance(repetitions, int) or isinstance(repetitions, bool) or repetitions < 1:
        repetitions = max(runs_per_example.values(), default=1)
    if experiment.example_count:
        expected = experiment.example_count * repetitions
        if runs < expected:
            notes.append(f"partial: {runs} of {expected} runs")
    trials = {s.total + s.unscored for s in scenarios}
    if len(trials) > 1:
        notes.append(f"uneven: {min(trials)}–{max(trials)} trials per scenario")
    if no_example:
        notes.append(f"{no_example} runs without a dataset example were skipped")
    if no_field:
        notes.append(f"{no_field} runs had no {key_rule} and were keyed by example id")
    return tuple(notes)
