"""LangSmith runs -> a Bucket: the exact, documented rules (issue 3 §3). Pure.

Input is plain JSON-shaped data (run dicts as ``POST /runs/query`` returns
them, examples as ``{"id", "inputs", "metadata"}``), so these rules are tested
without HTTP and no SDK type reaches the core.

Rules, per root run (one run = one trial):

1. The scenario is chosen by :class:`ScenarioKey`: the run's
   ``reference_example_id`` (``example``), or a field of that example's
   ``metadata`` / ``inputs``. A run without an example is skipped (noted).
2. A run with ``error`` set (the target raised) is a **failed** trial with
   category ``target_error``, plus its categorical label if it has one.
3. Otherwise every pass key must have a score in the run's inline
   ``feedback_stats`` (``{key: {n, avg, stdev, errors, values, comments}}``).
   A key with no score (absent, or ``avg`` null — e.g. the evaluator crashed)
   makes the trial **unscored**: it is left out of passed and total, because
   it says nothing about the application, and counted separately.
4. A scored trial passes when every pass key's score is ``>= threshold``
   (default 1.0, which suits 0/1 evaluators). A failed trial's category is the
   most frequent label of the categorical ``category_key``, if configured.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalbot.errors import InputError
from evalbot.models import Bucket, Scenario

TARGET_ERROR = "target_error"
PREVIEW_CHARS = 60


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
    if not isinstance(stats, Mapping):
        return None
    avg = stats.get("avg")
    return float(avg) if isinstance(avg, int | float) and not isinstance(avg, bool) else None


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
    for field in ("name", "scenario"):
        value = metadata.get(field)
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

    def __post_init__(self) -> None:
        self.categories: dict[str, int] = {}

    def add_category(self, name: str) -> None:
        self.categories[name] = self.categories.get(name, 0) + 1


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
    for run in runs:
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
    return Bucket(
        name=experiment.name,
        scenarios=scenarios,
        url=experiment.url,
        id=experiment.id,
        metadata=experiment.metadata or {},
        started_at=experiment.started_at,
        notes=notes,
    )


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
