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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalbot.core.buckets import checked_scenario
from evalbot.core.measures import checked_measures
from evalbot.core.models import TARGET_ERROR, Bucket, Measures, Scenario
from evalbot.errors import InputError
from evalbot.sources.langsmith.rules import (
    BucketRules,
    ExperimentInfo,
    KeySource,
    ScenarioKey,
)
from evalbot.sources.langsmith.run_facts import (
    RunFacts,
    digest,
    invalid_score,
    label,
)
from evalbot.text import truncate

PREVIEW_CHARS = 60
# At most this many feedback keys are listed in an error message.
MAX_KEYS_LISTED = 20
Name = Callable[[str], str]
# Re-exported: the rules are part of this module's contract.
__all__ = [
    "TARGET_ERROR",
    "BucketRules",
    "ExperimentInfo",
    "KeySource",
    "ScenarioKey",
    "Tallies",
    "bucket_facts",
    "bucket_runs",
    "check_keys_seen",
    "check_pass_keys",
    "choose_pass_keys",
    "feedback_keys",
    "infer_pass_keys",
]


def check_pass_keys(
    pass_keys: Sequence[str], runs: Iterable[Mapping[str, Any]], *, name: Name
) -> None:
    """InputError when a configured pass key is carried by none of ``runs``.

    ``runs`` are every run fetched (PR, baseline, history): a key that no run
    carries is a typo or the wrong evaluator, and would otherwise leave every
    trial unscored — green on nothing (issue 11 §5). A key carried by the
    baseline only is not an error here (the PR's evaluator may have failed);
    that comparison ends as ``nothing_compared``.
    """
    check_keys_seen(pass_keys, feedback_keys(runs), name=name)


def check_keys_seen(pass_keys: Sequence[str], seen: Sequence[str], *, name: Name) -> None:
    """:func:`check_pass_keys` given the feedback keys ``seen`` (sorted) on every run."""
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
                f"{name('pass_key')}: no run carries the feedback key {key!r}; keys seen: {listed}"
            )


def feedback_keys(runs: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every feedback key seen on the runs, sorted."""
    keys: set[str] = set()
    for run in runs:
        keys.update((run.get("feedback_stats") or {}).keys())
    return sorted(keys)


def infer_pass_keys(
    runs: Sequence[Mapping[str, Any]], rules: BucketRules, *, name: Name
) -> tuple[str, ...]:
    """The configured pass keys, or the only feedback key present (issue 3 §3)."""
    return choose_pass_keys(feedback_keys(runs), rules, name=name)


def choose_pass_keys(seen: Sequence[str], rules: BucketRules, *, name: Name) -> tuple[str, ...]:
    """:func:`infer_pass_keys` given the feedback keys ``seen`` (sorted) on the PR's runs.

    With several candidate keys the choice would be a guess, so it is an
    input error that lists them.
    """
    if rules.pass_keys:
        return rules.pass_keys
    keys = [k for k in seen if k != rules.category_key]
    if len(keys) == 1:
        return (keys[0],)
    if not keys:
        raise InputError(
            f"{name('pass_key')}: the experiment has no feedback keys to judge runs by"
        )
    raise InputError(
        f"{name('pass_key')}: the experiment has several feedback keys ({', '.join(keys)}); "
        "choose the one(s) that decide pass/fail"
    )


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

    def add_measures(self, run: RunFacts, scores: Mapping[str, float]) -> None:
        """Rules 5-8 for one run that reached this scenario."""
        for key, value in scores.items():
            self.scores.setdefault(key, []).append(value)
        if run.latency_ms is not None:
            self.latency_ms.append(run.latency_ms)
        if run.tokens is not None:
            self.tokens.append(run.tokens)
        if run.cost is not None:
            self.cost.append(run.cost)
        if run.output_chars is not None:
            self.output_chars.append(run.output_chars)
        if run.tool_calls is not None:
            self.tool_calls.append(run.tool_calls)

    def measures(self) -> Measures:
        return checked_measures(  # values already checked by RunFacts (issue 14 §4)
            {key: tuple(values) for key, values in self.scores.items()},
            tuple(self.latency_ms),
            tuple(self.tokens),
            tuple(self.cost),
            tuple(self.output_chars),
            tuple(self.tool_calls),
        )


def bucket_runs(
    experiment: ExperimentInfo,
    runs: Sequence[Mapping[str, Any]],
    examples: Mapping[str, Mapping[str, Any]],
    *,
    rules: BucketRules,
    pass_keys: tuple[str, ...],
) -> Bucket:
    """Group root runs into scenarios and count passes (see the module docstring)."""
    return bucket_facts(experiment, digest(runs), examples, rules=rules, pass_keys=pass_keys)


def bucket_facts(
    experiment: ExperimentInfo,
    runs: Sequence[RunFacts],
    examples: Mapping[str, Mapping[str, Any]],
    *,
    rules: BucketRules,
    pass_keys: tuple[str, ...],
) -> Bucket:
    """:func:`bucket_runs` for runs already digested (:func:`.run_facts.digest`)."""
    tallies = Tallies(examples, rules=rules, pass_keys=pass_keys)
    tallies.add(runs)
    return tallies.bucket(experiment)


class Tallies:
    """An experiment's scenarios counted so far: runs are added a page at a time,
    in run order, and :meth:`bucket` gives what :func:`bucket_facts` gives for them all."""

    def __init__(
        self,
        examples: Mapping[str, Mapping[str, Any]],
        *,
        rules: BucketRules,
        pass_keys: tuple[str, ...],
    ) -> None:
        self.examples = examples
        self.rules = rules
        self.pass_keys = pass_keys
        self.excluded = (*pass_keys, rules.category_key) if rules.category_key else pass_keys
        self.tallies: dict[str, _Tally] = {}
        self.no_example = self.no_field = self.repeated = self.invalid = 0
        self.runs_per_example: dict[str, int] = {}
        self.seen_ids: set[str] = set()

    def add(self, runs: Iterable[RunFacts]) -> None:
        """Count ``runs`` (the rules of the module docstring)."""
        key_rule, rules, pass_keys, excluded = (
            self.rules.scenario_key,
            self.rules,
            self.pass_keys,
            self.excluded,
        )
        tallies, seen_ids, runs_per_example = self.tallies, self.seen_ids, self.runs_per_example
        for run in runs:
            if run.run_id is not None:
                if run.run_id in seen_ids:
                    self.repeated += 1
                    continue
                seen_ids.add(run.run_id)
            example_id = run.example_id
            if example_id is None:
                self.no_example += 1
                continue
            runs_per_example[example_id] = runs_per_example.get(example_id, 0) + 1
            example = self.examples.get(example_id, {})
            key, keyed_by_field = example_id, False
            if key_rule.field is not None:
                value = (example.get(key_rule.source.value) or {}).get(key_rule.field)
                if value is None or value == "":
                    self.no_field += 1
                else:
                    key, keyed_by_field = str(value), True
            tally = tallies.get(key)
            if tally is None:  # the label of a scenario's first run names it
                name = key if keyed_by_field else _example_label(example)
                tally = tallies[key] = _Tally(label=name)
            stats = run.feedback
            tally.add_measures(run, {k: v for k, v in run.scores.items() if k not in excluded})
            category = label(stats.get(rules.category_key)) if rules.category_key else None
            if run.error:
                tally.total += 1
                tally.add_category(TARGET_ERROR)
                if category:
                    tally.add_category(category)
                continue
            scores = [run.scores.get(k) for k in pass_keys]  # score(stats.get(k)), read once
            if any(s is None for s in scores):
                tally.unscored += 1
                self.invalid += any(invalid_score(stats.get(k)) for k in pass_keys)
                continue
            tally.total += 1
            if all(s is not None and s >= rules.pass_threshold for s in scores):
                tally.passed += 1
            elif category:
                tally.add_category(category)

    def bucket(self, experiment: ExperimentInfo) -> Bucket:
        """The Bucket of every run added."""
        key_rule = self.rules.scenario_key
        scenarios = {
            key: checked_scenario(  # counted here: 0 <= passed <= total (issue 14 §4)
                key,
                t.passed,
                t.total,
                t.label if t.label != key else "",
                t.categories,
                t.unscored,
                t.measures(),
            )
            for key, t in self.tallies.items()
        }
        notes = _notes(
            experiment,
            # Only runs that reached a scenario count towards completeness.
            runs=sum(self.runs_per_example.values()),
            runs_per_example=self.runs_per_example,
            scenarios=scenarios.values(),
            no_example=self.no_example,
            no_field=self.no_field,
            key_rule=key_rule,
        )
        if self.repeated:
            notes += (
                f"{_runs(self.repeated)} repeated an earlier run id and "
                f"{'was' if self.repeated == 1 else 'were'} counted once",
            )
        if self.invalid:
            notes += (
                f"{_runs(self.invalid)} had a NaN, infinite or non-numeric pass-key score and "
                f"{'was' if self.invalid == 1 else 'were'} left unscored",
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
