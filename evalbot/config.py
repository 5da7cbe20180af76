"""The config file: read, bounded and validated once, up front, into frozen Settings.

The file's threshold keys are the ones :mod:`evalbot.core.thresholds` lists
(the report writes the same shape back). :mod:`evalbot.settings` applies the
command-line flags or action inputs over the file with these validators, so
a bad value gives the same one-sentence message naming the key wherever it
came from. Flags override the file (issue 2 §7).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from evalbot.core.models import (
    Correction,
    CostThresholds,
    DriftThresholds,
    FailOn,
    Levels,
    MetricThresholds,
    OnFetchFailure,
    Sensitivity,
    Thresholds,
)
from evalbot.core.thresholds import Kind, Section, ThresholdKey, key_tree, value_of
from evalbot.errors import InputError
from evalbot.local_files import read_limited_text

DEFAULT_COMMENT_KEY = "default"
# The whole LangSmith fetch: generous for 10,000 runs (a few seconds when healthy),
# short enough that a hung server fails the check well inside a CI job's limit.
DEFAULT_FETCH_DEADLINE = 300.0
MAX_FETCH_DEADLINE = 6 * 3600.0  # GitHub's job time limit: a longer deadline never fires
# The key goes inside an HTML comment marker (`<!-- evalbot:KEY -->`): keep it
# to characters that cannot close the comment or break the marker search.
_COMMENT_KEY = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A config file is a few hundred bytes; these bound what a hostile or mistaken
# one can cost (a pull request can edit .github/evalbot.yml): its size, and the
# values YAML aliases can multiply it into (a "billion laughs" document is 1 KB
# of text and 10^9 values, and error messages repr what they refuse).
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_VALUES = 100_000


class CommentWhen(enum.StrEnum):
    """When the Action posts a new PR comment (issue 13 §12)."""

    ALWAYS = "always"
    # Only when something needs a look: a clean pass posts no new comment (an
    # existing evalbot comment is still updated, so it never shows a stale failure).
    NOTABLE = "notable"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that decides what evalbot computes and how it reports it."""

    fail_on: FailOn = FailOn.HARD_REGRESSION
    on_fetch_failure: OnFetchFailure = OnFetchFailure.NEUTRAL
    thresholds: Thresholds = field(default_factory=Thresholds)
    comment_key: str = DEFAULT_COMMENT_KEY
    template: Path | None = None
    # Baseline runs pooled per comparison (the baseline and history - 1 older
    # ones); 0 or 1 uses the latest baseline only (issue 5 §1).
    history: int = 10
    comment_when: CommentWhen = CommentWhen.ALWAYS
    # Seconds the whole LangSmith fetch may take (issue 10 §2).
    fetch_deadline: float = DEFAULT_FETCH_DEADLINE
    # Compare with a baseline that ran on another dataset (--allow-dataset-mismatch).
    allow_dataset_mismatch: bool = False


E = TypeVar("E", bound=enum.StrEnum)


def parse_enum(enum_type: type[E], value: object, *, name: str) -> E:
    """``value`` as a member of ``enum_type``, or an InputError naming ``name``."""
    allowed = [member.value for member in enum_type]
    if isinstance(value, str) and value in allowed:
        return enum_type(value)
    raise InputError(f"{name}: must be one of {', '.join(allowed)}; got {value!r}")


def parse_secret(value: str, *, name: str) -> str:
    """An API key or token: one word of printable ASCII; else InputError, never echoing it.

    It goes into an HTTP header: requests refuses a value with a line break and
    quotes the whole value in its error, which would then reach the comment and
    the status (and the runner masks a multi-line secret only line by line).
    """
    if not value.isascii() or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InputError(
            f"{name}: must be one line of printable ASCII without spaces "
            "(the value is not shown: it is a secret)"
        )
    return value


def parse_comment_key(value: object, *, name: str = "comment_key") -> str:
    """A comment key: 1-64 letters, digits, '.', '_' or '-'."""
    if isinstance(value, str) and _COMMENT_KEY.fullmatch(value):
        return value
    raise InputError(f"{name}: must be 1-64 letters, digits, '.', '_' or '-'; got {value!r}")


def _number(value: object, *, name: str, low: float, high: float, low_open: bool) -> float:
    # bool is an int in Python, but `max_p: true` is a typo, not a number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name}: must be a number; got {value!r}")
    number = float(value)
    too_low = number <= low if low_open else number < low
    if too_low or number > high or number != number:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise InputError(f"{name}: must be in {interval}; got {value!r}")
    return number


def _mapping(value: object, *, name: str, allowed: Mapping[str, object]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{name}: must be a mapping; got {value!r}")
    for key in value:
        if key not in allowed:
            keys = ", ".join(allowed)
            raise InputError(f"{name}: unknown key {key!r} (allowed: {keys})")
    return value


# --- Issue 6: sensitivity presets, metric / cost / drift thresholds -------------------------

# What each sensitivity word sets (docs/statistics.md, "Sensitivity presets", shows this table).
# Only effect sizes move: the false-alarm budget (alpha, correction) and the
# tiers' significance levels stay put, so "high" finds smaller changes, never
# more noise than alpha allows.
_PRESETS: Mapping[Sensitivity, Mapping[str, Any]] = {
    Sensitivity.LOW: {
        "hard_min_delta": 0.40,
        "soft_min_delta": 0.25,
        "watch_delta": 0.45,
        "metrics": MetricThresholds(min_effect=0.10),
        "costs": CostThresholds(latency=0.50, tokens=0.40, cost=0.40),
        "drift": DriftThresholds(
            error_rate=Levels(0.10, 0.25),
            empty_output=Levels(0.10, 0.25),
            output_length=Levels(0.5, 0.3),
            tool_silence=Levels(0.20, 0.50),
        ),
    },
    Sensitivity.NORMAL: {},
    Sensitivity.HIGH: {
        "hard_min_delta": 0.20,
        "soft_min_delta": 0.10,
        "watch_delta": 0.25,
        "metrics": MetricThresholds(min_effect=0.02),
        "costs": CostThresholds(latency=0.10, tokens=0.10, cost=0.10),
        "drift": DriftThresholds(
            error_rate=Levels(0.02, 0.08),
            empty_output=Levels(0.02, 0.08),
            output_length=Levels(0.8, 0.5),
            tool_silence=Levels(0.05, 0.15),
        ),
    },
}


def sensitivity_preset(level: Sensitivity) -> Thresholds:
    """The thresholds one sensitivity word sets (issue 6 §3); ``normal`` is the defaults."""
    preset = dict(_PRESETS[level])
    default = Thresholds()
    updates: dict[str, Any] = {"sensitivity": level}
    if "hard_min_delta" in preset:
        updates["hard"] = dataclasses.replace(default.hard, min_delta=preset.pop("hard_min_delta"))
    if "soft_min_delta" in preset:
        updates["soft"] = dataclasses.replace(default.soft, min_delta=preset.pop("soft_min_delta"))
    updates.update(preset)
    return dataclasses.replace(default, **updates)


def _non_negative(value: object, *, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e9:
        raise InputError(f"{name}: must be a number at least 0; got {value!r}")
    return float(value)


def _levels(value: object, default: Levels, *, name: str, ratio: bool) -> Levels:
    raw = _mapping(value, name=name, allowed={"mild": 0, "severe": 0})
    levels = dataclasses.replace(
        default,
        **{key: parse_threshold(Kind.FRACTION, raw[key], name=f"{name}.{key}") for key in raw},
    )
    if ratio and levels.severe > levels.mild:
        raise InputError(
            f"{name}: severe must be at most mild (a smaller length ratio is worse); "
            f"got mild {levels.mild:g}, severe {levels.severe:g}"
        )
    if not ratio and levels.severe < levels.mild:
        raise InputError(
            f"{name}: severe must be at least mild; got mild {levels.mild:g}, "
            f"severe {levels.severe:g}"
        )
    return levels


def _by_key(value: object, *, name: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise InputError(f"{name}: must map feedback keys to numbers; got {value!r}")
    return tuple((key, _non_negative(value[key], name=f"{name}.{key}")) for key in sorted(value))


# (low, high, low end open) of each numeric kind of threshold.
_RANGES: Mapping[Kind, tuple[float, float, bool]] = {
    Kind.PROBABILITY: (0.0, 1.0, True),
    Kind.FRACTION: (0.0, 1.0, False),
    Kind.ALPHA: (0.0, 0.5, True),
    Kind.COUNT: (0.0, 1e9, False),
    # 0.5 means +50%; at most 100 (+10,000%).
    Kind.INCREASE: (0.0, 100.0, True),
}


def parse_threshold(kind: Kind, value: object, current: Any = None, *, name: str) -> Any:
    """One threshold value of ``kind`` (``current``: the value it refines, for levels)."""
    if kind in _RANGES:
        low, high, low_open = _RANGES[kind]
        return _number(value, name=name, low=low, high=high, low_open=low_open)
    if kind is Kind.NON_NEGATIVE:
        return _non_negative(value, name=name)
    if kind is Kind.CORRECTION:
        return parse_enum(Correction, value, name=name)
    if kind is Kind.SENSITIVITY:
        return parse_enum(Sensitivity, value, name=name)
    if kind is Kind.BY_KEY:
        return _by_key(value, name=name)
    return _levels(value, current, name=name, ratio=kind is Kind.RATIO_LEVELS)


def _set(thresholds: Any, attr: tuple[str, ...], value: Any) -> Any:
    """``thresholds`` with the value at ``attr`` (a path of attributes) replaced."""
    head, *rest = attr
    if rest:
        value = _set(getattr(thresholds, head), tuple(rest), value)
    return dataclasses.replace(thresholds, **{head: value})


def _apply(
    value: object, tree: Mapping[str, Any], thresholds: Thresholds, *, name: str
) -> Thresholds:
    """``thresholds`` with the keys of ``value`` (shaped like ``tree``) applied, in tree order.

    ``name``: where ``value`` is in the file ("thresholds.hard"; "" at the top level).
    """
    raw = _mapping(value, name=name, allowed=tree)
    for key, node in tree.items():
        if key not in raw:
            continue
        where = f"{name}.{key}" if name else key
        if isinstance(node, ThresholdKey):
            current = value_of(thresholds, node.attr)
            thresholds = _set(
                thresholds, node.attr, parse_threshold(node.kind, raw[key], current, name=where)
            )
        else:
            thresholds = _apply(raw[key], node, thresholds, name=where)
    return thresholds


def parse_history(value: object, *, name: str = "history") -> int:
    """Baseline runs to pool: a whole number from 0 to 100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InputError(f"{name}: must be a whole number from 0 to 100; got {value!r}")
    return value


def parse_fetch_deadline(value: object, *, name: str = "fetch_deadline") -> float:
    """Seconds the whole LangSmith fetch may take: above 0, at most 6 hours."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_FETCH_DEADLINE
    ):
        raise InputError(
            f"{name}: must be a number of seconds above 0 and at most "
            f"{MAX_FETCH_DEADLINE:g}; got {value!r}"
        )
    return float(value)


# Keys of the config file that are not thresholds (core.thresholds lists those).
_SETTING_KEYS = (
    *("fail_on", "on_fetch_failure", "thresholds", "comment_key", "comment_when", "template"),
    *("history", "fetch_deadline", "allow_dataset_mismatch"),
)
_IN_THRESHOLDS = key_tree(Section.THRESHOLDS)
_AT_TOP = key_tree(Section.TOP)
TOP_KEYS: tuple[str, ...] = (*_SETTING_KEYS, *_AT_TOP)
"""Every key the top level of a config file may have."""


def parse_flag(value: object, *, name: str) -> bool:
    """A yes/no setting: YAML true or false."""
    if not isinstance(value, bool):
        raise InputError(f"{name}: must be true or false; got {value!r}")
    return value


def parse_config(data: object, *, source: str, sensitivity: Sensitivity | None = None) -> Settings:
    """Validate a parsed config document into Settings; errors name ``source`` and the key.

    ``sensitivity`` (a command-line flag or action input) wins over the
    file's ``sensitivity`` key; the preset it names is the base that every
    explicit threshold key in the file then overrides (issue 6 §3).

    A ``template`` path is taken relative to the working directory (the
    workspace in GitHub Actions), like every other path evalbot reads.
    """
    if data is None:
        data = {}
    try:
        raw = _mapping(data, name="top level", allowed=dict.fromkeys(TOP_KEYS))
        if "sensitivity" in raw:
            # Validated even when a flag overrides it: a typo is never silently ignored.
            in_file = parse_enum(Sensitivity, raw["sensitivity"], name="sensitivity")
            sensitivity = sensitivity or in_file
        thresholds = sensitivity_preset(sensitivity or Sensitivity.NORMAL)
        updates: dict[str, Any] = {}
        if "fail_on" in raw:
            updates["fail_on"] = parse_enum(FailOn, raw["fail_on"], name="fail_on")
        if "on_fetch_failure" in raw:
            updates["on_fetch_failure"] = parse_enum(
                OnFetchFailure, raw["on_fetch_failure"], name="on_fetch_failure"
            )
        if "thresholds" in raw:
            thresholds = _apply(raw["thresholds"], _IN_THRESHOLDS, thresholds, name="thresholds")
        if "comment_key" in raw:
            updates["comment_key"] = parse_comment_key(raw["comment_key"])
        if "comment_when" in raw:
            updates["comment_when"] = parse_enum(
                CommentWhen, raw["comment_when"], name="comment_when"
            )
        # The sensitivity preset is the base, applied above; the rest of the top-level keys.
        top = {key: raw[key] for key in _AT_TOP if key in raw and key != "sensitivity"}
        thresholds = _apply(top, _AT_TOP, thresholds, name="")
        updates["thresholds"] = thresholds
        if "history" in raw:
            updates["history"] = parse_history(raw["history"])
        if "fetch_deadline" in raw:
            updates["fetch_deadline"] = parse_fetch_deadline(raw["fetch_deadline"])
        if "allow_dataset_mismatch" in raw:
            updates["allow_dataset_mismatch"] = parse_flag(
                raw["allow_dataset_mismatch"], name="allow_dataset_mismatch"
            )
        if "template" in raw:
            if not isinstance(raw["template"], str) or not raw["template"]:
                raise InputError(f"template: must be a file path; got {raw['template']!r}")
            updates["template"] = Path(raw["template"])
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return Settings(**updates)


def load_config(path: Path | None, *, sensitivity: Sensitivity | None = None) -> Settings:
    """Read and validate a YAML config file (None: no file, the defaults).

    ``sensitivity`` is the command-line / action-input preset; see parse_config.
    """
    if path is None:
        return parse_config(None, source="settings", sensitivity=sensitivity)
    import yaml  # here, not at the top: most runs have no config file (issue 14)

    text = read_limited_text(path, limit=MAX_CONFIG_BYTES, kind="config file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise InputError(f"{path}: not valid YAML{at}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid YAML (nested too deeply)") from None
    if _values_over(data, MAX_CONFIG_VALUES):
        raise InputError(
            f"{path}: more than {MAX_CONFIG_VALUES:,} values once YAML aliases are expanded"
        )
    return parse_config(data, source=str(path), sensitivity=sensitivity)


def _values_over(data: object, limit: int) -> bool:
    """Does ``data`` hold more than ``limit`` values, counting each alias use again?

    Iterative and stopped at ``limit``, so a self-referencing alias (``&a [*a]``)
    or an alias bomb costs ``limit`` steps, not a hang.
    """
    stack, seen = [data], 0
    while stack:
        seen += 1
        if seen > limit:
            return True
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def override(settings: Settings, **changes: Any) -> Settings:
    """Settings with the non-None ``changes`` applied (command-line flags win)."""
    return dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
