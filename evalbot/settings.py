"""One settings assembler for the command line and the Action: raw values in, frozen settings out.

Each shell reads what the user gave it as text (click options, ``INPUT_*``
variables) into a :class:`Raw`; :func:`assemble` validates all of it once, up
front, before any file is read or request made, over the config file. Every
message names the setting the way the user wrote it in that shell, through a
``name`` callable: :func:`cli_name` ("--allow-dataset-mismatch") or
:func:`action_name` ("experiment", or "`allow_dataset_mismatch` in
.github/evalbot.yml" for a setting the Action has no input for).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalbot.config import (
    MAX_FETCH_DEADLINE,
    CommentWhen,
    Settings,
    load_config,
    override,
    parse_comment_key,
    parse_enum,
    parse_fetch_deadline,
    parse_history,
    parse_secret,
    parse_threshold,
)
from evalbot.core.models import FailOn, OnFetchFailure, Sensitivity
from evalbot.core.thresholds import THRESHOLD_KEYS, Kind
from evalbot.errors import InputError

# The value modules, not the fetching code: validating settings (and comparing files)
# needs none of it (issue 14: start-up).
from evalbot.sources.langsmith.connection import DEFAULT_ENDPOINT, Connection, validate_endpoint
from evalbot.sources.langsmith.queries import BaselineQuery, PrQuery, Strategy
from evalbot.sources.langsmith.rules import BucketRules, ScenarioKey

Name = Callable[[str], str]
"""A setting key (config spelling, "fetch_deadline") -> how the user spells it in this shell."""

DEFAULT_ACTION_CONFIG = ".github/evalbot.yml"
DEFAULT_BASELINE_METADATA: Mapping[str, Any] = {"branch": "main"}

# Settings the command line takes only from the config file.
_CONFIG_ONLY_ON_CLI = frozenset({"on_fetch_failure", "comment_when"})
# Settings whose action input is spelled otherwise than the key.
_ACTION_INPUTS = {"pr": "experiment", "pr_metadata": "experiment_metadata"}
# Settings the Action has no input for: the config file is where it takes them.
_CONFIG_ONLY_IN_ACTION = frozenset({"allow_dataset_mismatch"})


# Where else the key comes from, by how the shell spells it.
_KEY_HINTS = {
    "--langsmith-api-key": " (or set LANGSMITH_API_KEY)",
    "langsmith_api_key": " (pass secrets.LANGSMITH_API_KEY)",
}


def cli_name(key: str) -> str:
    """How the command line spells setting ``key``: its flag, or its config-file key."""
    if key in _CONFIG_ONLY_ON_CLI:
        return f"`{key}` in the config file"
    return "--" + key.replace("_", "-")


def action_name(config: str = DEFAULT_ACTION_CONFIG) -> Name:
    """How the Action spells a setting key: its input, or its key in ``config``."""

    def name(key: str) -> str:
        if key in _CONFIG_ONLY_IN_ACTION:
            return f"`{key}` in {config}"
        return _ACTION_INPUTS.get(key, key)

    return name


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """Validated LangSmith options: where, what, and how runs become trials."""

    connection: Connection
    pr: PrQuery
    baseline: BaselineQuery
    rules: BucketRules
    # How messages found later (no such experiment) name the settings.
    name: Name = field(default=cli_name, repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Raw:
    """What one shell was given, as the user wrote it (None: not given); nothing checked yet."""

    # Which experiments, and how LangSmith is read.
    langsmith_api_key: str | None = None
    langsmith_endpoint: str | None = None
    pr: str | None = None
    pr_metadata: str | None = None
    dataset: str | None = None
    baseline: str | None = None
    baseline_prefix: str | None = None
    baseline_metadata: str | None = None
    allow_dataset_mismatch: bool = False
    pass_key: Sequence[str] = ()
    pass_threshold: str | None = None
    scenario_key: str | None = None
    category_key: str | None = None
    timeout: str | None = None
    retry_budget: str | None = None
    fetch_deadline: str | None = None
    # Policy and statistics, applied over the config file.
    config: Path | None = None
    sensitivity: str | None = None
    fail_on: str | None = None
    on_fetch_failure: str | None = None
    comment_key: str | None = None
    comment_when: str | None = None
    template: Path | None = None
    history: str | None = None
    alpha: str | None = None
    correction: str | None = None
    trend_threshold: str | None = None


RAW_KEYS = frozenset(f.name for f in dataclasses.fields(Raw))
"""The setting keys a :class:`Raw` holds."""


@dataclass(frozen=True, slots=True)
class Assembled:
    """The frozen settings of one run: policy and statistics, and the LangSmith options."""

    settings: Settings
    live: LiveConfig | None


def _as_given(path: Path, name: str) -> Path:
    return path


def assemble(
    raw: Raw,
    *,
    name: Name,
    live: bool,
    config_label: str | None = None,
    path: Callable[[Path, str], Path] = _as_given,
) -> Assembled:
    """Validate ``raw`` over its config file into frozen settings; InputError names the setting.

    ``live``: also validate the LangSmith options (the PR experiment is then
    required). ``path`` checks a file path the user gave, given the path and
    how to name it (the Action: inside the workspace). ``config_label``: the
    config file as the user named it, for messages (default ``raw.config``).
    """
    sensitivity = raw.sensitivity
    settings = load_config(
        raw.config,
        sensitivity=None
        if sensitivity is None
        else parse_enum(Sensitivity, sensitivity, name=name("sensitivity")),
    )

    def enum_value(key: str, enum_type: Any) -> Any:
        value = getattr(raw, key)
        return None if value is None else parse_enum(enum_type, value, name=name(key))

    settings = override(
        settings,
        fail_on=enum_value("fail_on", FailOn),
        on_fetch_failure=enum_value("on_fetch_failure", OnFetchFailure),
        comment_key=None
        if raw.comment_key is None
        else parse_comment_key(raw.comment_key, name=name("comment_key")),
        comment_when=enum_value("comment_when", CommentWhen),
    )
    # The template is code a pull request can change (the input, or the config file's
    # `template:`): ``path`` decides where it may be; render.py runs it sandboxed.
    if raw.template is not None:
        settings = override(settings, template=path(raw.template, name("template")))
    elif settings.template is not None:
        where = f"{config_label or raw.config}: template"
        settings = override(settings, template=path(settings.template, where))
    settings = _statistics(settings, raw, name=name)
    if raw.history is not None:
        text = raw.history.strip()
        if not (text.isascii() and text.isdigit()):
            raise InputError(
                f"{name('history')}: must be a whole number from 0 to 100; got {raw.history!r}"
            )
        settings = override(settings, history=parse_history(int(text), name=name("history")))
    if not live:
        return Assembled(settings, None)
    allow = raw.allow_dataset_mismatch or settings.allow_dataset_mismatch
    return Assembled(settings, parse_live(raw, name=name, allow_dataset_mismatch=allow))


# The thresholds a flag or an input sets too (the rest only the config file); their kind
# comes from the one mapping, so a flag is checked like the config key.
_FLAG_THRESHOLDS = [
    e for e in THRESHOLD_KEYS if e.key in {("alpha",), ("correction",), ("trend_threshold",)}
]


def _statistics(settings: Settings, raw: Raw, *, name: Name) -> Settings:
    """``settings`` with the statistics flags or inputs applied over the thresholds."""
    updates: dict[str, Any] = {}
    for entry in _FLAG_THRESHOLDS:
        key = entry.key[0]
        value = getattr(raw, key)
        if value is None:
            continue
        typed = value if entry.kind is Kind.CORRECTION else number(value, name=name(key))
        updates[key] = parse_threshold(entry.kind, typed, name=name(key))
    if not updates:
        return settings
    return override(settings, thresholds=dataclasses.replace(settings.thresholds, **updates))


def number(text: str | float, *, name: str) -> float:
    """A number the user wrote (a float passes through); InputError naming ``name``."""
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{name}: must be a number; got {text!r}") from None


def parse_json_object(text: str, *, name: str) -> dict[str, Any]:
    """A JSON object given as text; InputError naming ``name``."""
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


def _seconds(
    text: str | float | None, *, name: str, default: float, zero_ok: bool = False
) -> float:
    if text is None:
        return default
    value = number(text, name=name)
    low = 0.0 if zero_ok else _MIN_TIMEOUT_S
    if not math.isfinite(value) or not low <= value <= MAX_FETCH_DEADLINE:
        raise InputError(
            f"{name}: must be a {'non-negative' if zero_ok else 'positive'} number of seconds "
            f"from {low:g} to {MAX_FETCH_DEADLINE:g}; got {value:g}"
        )
    return value


def parse_connection(raw: Raw, *, name: Name) -> Connection:
    """Where LangSmith is, the key, and how patiently to talk to it."""
    if not raw.langsmith_api_key:
        where = name("langsmith_api_key")
        raise InputError(f"{where}: required{_KEY_HINTS.get(where, '')}")
    parse_secret(raw.langsmith_api_key, name=name("langsmith_api_key"))
    endpoint = validate_endpoint(
        raw.langsmith_endpoint or DEFAULT_ENDPOINT, name=name("langsmith_endpoint")
    )
    deadline = raw.fetch_deadline
    return Connection(
        api_key=raw.langsmith_api_key,
        endpoint=endpoint,
        timeout_s=_seconds(raw.timeout, name=name("timeout"), default=30.0),
        retry_budget_s=_seconds(
            raw.retry_budget, name=name("retry_budget"), default=60.0, zero_ok=True
        ),
        fetch_deadline_s=None
        if deadline is None
        else parse_fetch_deadline(
            number(deadline, name=name("fetch_deadline")), name=name("fetch_deadline")
        ),
    )


def parse_baseline(raw: Raw, *, name: Name, allow_dataset_mismatch: bool) -> BaselineQuery:
    """The one baseline strategy given (default: metadata ``{"branch": "main"}``)."""
    strategies = [
        (Strategy.EXPLICIT, "baseline", raw.baseline),
        (Strategy.PREFIX, "baseline_prefix", raw.baseline_prefix),
        (Strategy.METADATA, "baseline_metadata", raw.baseline_metadata),
    ]
    given = [(s, name(k), v) for s, k, v in strategies if v is not None]
    if len(given) > 1:
        names = " and ".join(n for _, n, _ in given)
        raise InputError(f"{names}: choose one baseline strategy, not several")
    value: str | Mapping[str, Any]
    if not given:
        strategy, value = Strategy.METADATA, DEFAULT_BASELINE_METADATA
    else:
        strategy, where, text = given[0]
        if not text:
            raise InputError(f"{where}: must not be empty")
        value = parse_json_object(text, name=where) if strategy is Strategy.METADATA else text
    return BaselineQuery(strategy, value, allow_other_dataset=allow_dataset_mismatch)


def parse_rules(raw: Raw, *, name: Name) -> BucketRules:
    """How runs become trials: the pass keys and threshold, scenario and category keys."""
    if any(not key for key in raw.pass_key):
        raise InputError(f"{name('pass_key')}: must not be empty")
    threshold = None
    if raw.pass_threshold is not None:
        threshold = number(raw.pass_threshold, name=name("pass_threshold"))
        if not math.isfinite(threshold):
            raise InputError(f"{name('pass_threshold')}: must be a finite number")
    if raw.category_key is not None and not raw.category_key:
        raise InputError(f"{name('category_key')}: must not be empty")
    return BucketRules(
        pass_keys=tuple(raw.pass_key),
        pass_threshold=1.0 if threshold is None else threshold,
        scenario_key=ScenarioKey.parse(raw.scenario_key or "example", name=name("scenario_key")),
        category_key=raw.category_key,
    )


def parse_live(
    raw: Raw, *, name: Name = cli_name, allow_dataset_mismatch: bool | None = None
) -> LiveConfig:
    """Validate every LangSmith option at once, before any request is made."""
    if (raw.pr is None) == (raw.pr_metadata is None):
        raise InputError(
            f"{name('pr')} / {name('pr_metadata')}: give exactly one to name the PR experiment"
        )
    if raw.pr_metadata is not None and not raw.dataset:
        raise InputError(
            f"{name('dataset')}: required with {name('pr_metadata')} (the dataset to search)"
        )
    pr = PrQuery(
        ref=raw.pr,
        metadata=None
        if raw.pr_metadata is None
        else parse_json_object(raw.pr_metadata, name=name("pr_metadata")),
        dataset=raw.dataset,
    )
    allow = raw.allow_dataset_mismatch if allow_dataset_mismatch is None else allow_dataset_mismatch
    baseline = parse_baseline(raw, name=name, allow_dataset_mismatch=allow)
    return LiveConfig(
        connection=parse_connection(raw, name=name),
        pr=pr,
        baseline=baseline,
        rules=parse_rules(raw, name=name),
        name=name,
    )


@dataclass(frozen=True, slots=True)
class TrendConfig:
    """``evalbot trend``, validated: which runs (files, or a dataset in LangSmith) and the gate."""

    window: int
    threshold: float
    files: tuple[Path, ...] = ()
    # LangSmith: the dataset, the runs that form the series, how runs become trials.
    dataset: str | None = None
    live: LiveConfig | None = None


def parse_trend(
    raw: Raw, *, files: Sequence[Path], window: int, threshold: float, name: Name = cli_name
) -> TrendConfig:
    """Validate ``evalbot trend``'s options at once, before any file is read or request made."""
    if (raw.dataset is None) == (not files):
        raise InputError(
            f"{name('dataset')} / {name('history_file')}: give exactly one (the runs to trend)"
        )
    if raw.dataset == "":
        raise InputError(f"{name('dataset')}: must not be empty")
    if window < 2:
        raise InputError(f"{name('window')}: must be an integer of at least 2; got {window}")
    if not math.isfinite(threshold) or threshold < 0:
        raise InputError(f"{name('threshold')}: must be a non-negative number; got {threshold}")
    if files:
        for key in ("baseline_metadata", "baseline_prefix"):
            if getattr(raw, key) is not None:
                raise InputError(f"{name(key)}: cannot be combined with {name('history_file')}")
        return TrendConfig(window, threshold, files=tuple(files))
    # The series is every run the baseline strategy matches: no PR experiment here.
    baseline = parse_baseline(raw, name=name, allow_dataset_mismatch=False)
    live = LiveConfig(
        connection=parse_connection(raw, name=name),
        pr=PrQuery(dataset=raw.dataset),
        baseline=baseline,
        rules=parse_rules(raw, name=name),
        name=name,
    )
    return TrendConfig(window, threshold, dataset=raw.dataset, live=live)
