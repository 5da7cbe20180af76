"""Settings: parsed and validated once, up front, into a frozen dataclass.

The config file (YAML) and command-line flags feed the same validators, so a
bad value gives the same one-sentence message naming the key wherever it came
from. Flags override the file (issue 2 §7).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping
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
    Tier,
)
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


def _probability(value: object, *, name: str) -> float:
    return _number(value, name=name, low=0.0, high=1.0, low_open=True)


def _fraction(value: object, *, name: str) -> float:
    return _number(value, name=name, low=0.0, high=1.0, low_open=False)


def _mapping(value: object, *, name: str, allowed: Mapping[str, object]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{name}: must be a mapping; got {value!r}")
    for key in value:
        if key not in allowed:
            keys = ", ".join(allowed)
            raise InputError(f"{name}: unknown key {key!r} (allowed: {keys})")
    return value


_TIER_KEYS: Mapping[str, Callable[..., float]] = {
    "max_p": _probability,
    "min_delta": _fraction,
    "min_baseline_rate": _fraction,
}


def _tier(value: object, default: Tier, *, name: str) -> Tier:
    raw = _mapping(value, name=name, allowed=_TIER_KEYS)
    updates = {key: _TIER_KEYS[key](raw[key], name=f"{name}.{key}") for key in raw}
    return dataclasses.replace(default, **updates)


def _category(value: object, default: Thresholds, *, name: str) -> dict[str, float]:
    raw = _mapping(value, name=name, allowed={"min_rate_gap": 0, "min_count_gap": 0})
    out: dict[str, float] = {}
    if "min_rate_gap" in raw:
        out["category_min_rate_gap"] = _fraction(raw["min_rate_gap"], name=f"{name}.min_rate_gap")
    if "min_count_gap" in raw:
        out["category_min_count_gap"] = _number(
            raw["min_count_gap"], name=f"{name}.min_count_gap", low=0, high=1e9, low_open=False
        )
    return out


def parse_thresholds(
    value: object, *, name: str = "thresholds", base: Thresholds | None = None
) -> Thresholds:
    """The ``thresholds`` mapping of the config file, over ``base`` (the defaults)."""
    allowed = {"hard": 0, "soft": 0, "watch_delta": 0, "category": 0}
    raw = _mapping(value, name=name, allowed=allowed)
    default = base or Thresholds()
    updates: dict[str, Any] = {}
    if "hard" in raw:
        updates["hard"] = _tier(raw["hard"], default.hard, name=f"{name}.hard")
    if "soft" in raw:
        updates["soft"] = _tier(raw["soft"], default.soft, name=f"{name}.soft")
    if "watch_delta" in raw:
        updates["watch_delta"] = _fraction(raw["watch_delta"], name=f"{name}.watch_delta")
    if "category" in raw:
        updates.update(_category(raw["category"], default, name=f"{name}.category"))
    return dataclasses.replace(default, **updates)


_TOP_KEYS = (
    "fail_on",
    "on_fetch_failure",
    "thresholds",
    "comment_key",
    "comment_when",
    "template",
    "alpha",
    "correction",
    "history",
    "trend_threshold",
    "sensitivity",
    "metrics",
    "costs",
    "drift",
    "fail_on_latency_increase",
    "fail_on_tokens_increase",
    "fail_on_cost_increase",
    "fetch_deadline",
)


# --- Issue 6: sensitivity presets, metric / cost / drift thresholds -------------------------

# What each sensitivity word sets (README "Sensitivity presets" shows this table).
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


def _relative_increase(value: object, *, name: str) -> float:
    """A relative increase: 0.5 means +50%; above 0 and at most 100 (+10,000%)."""
    return _number(value, name=name, low=0.0, high=100.0, low_open=True)


def _levels(value: object, default: Levels, *, name: str, ratio: bool) -> Levels:
    raw = _mapping(value, name=name, allowed={"mild": 0, "severe": 0})
    levels = dataclasses.replace(
        default, **{key: _fraction(raw[key], name=f"{name}.{key}") for key in raw}
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


_DRIFT_KEYS = ("error_rate", "empty_output", "output_length", "tool_silence", "max_p")


def parse_drift(value: object, base: DriftThresholds, *, name: str = "drift") -> DriftThresholds:
    """The ``drift`` mapping: ``{signal: {mild, severe}}`` and ``max_p``, over ``base``."""
    raw = _mapping(value, name=name, allowed=dict.fromkeys(_DRIFT_KEYS))
    updates: dict[str, Any] = {}
    for key in raw:
        if key == "max_p":
            updates[key] = _probability(raw[key], name=f"{name}.max_p")
        else:
            updates[key] = _levels(
                raw[key], getattr(base, key), name=f"{name}.{key}", ratio=key == "output_length"
            )
    return dataclasses.replace(base, **updates)


def parse_metrics(
    value: object, base: MetricThresholds, *, name: str = "metrics"
) -> MetricThresholds:
    """The ``metrics`` mapping: ``min_effect``, ``min_effect_by_key``, ``max_p``, over ``base``."""
    allowed = {"min_effect": 0, "min_effect_by_key": 0, "max_p": 0}
    raw = _mapping(value, name=name, allowed=allowed)
    updates: dict[str, Any] = {}
    if "min_effect" in raw:
        updates["min_effect"] = _non_negative(raw["min_effect"], name=f"{name}.min_effect")
    if "max_p" in raw:
        updates["max_p"] = _probability(raw["max_p"], name=f"{name}.max_p")
    if "min_effect_by_key" in raw:
        by_key = raw["min_effect_by_key"]
        where = f"{name}.min_effect_by_key"
        if not isinstance(by_key, Mapping) or not all(isinstance(k, str) and k for k in by_key):
            raise InputError(f"{where}: must map feedback keys to numbers; got {by_key!r}")
        updates["by_key"] = tuple(
            (key, _non_negative(by_key[key], name=f"{where}.{key}")) for key in sorted(by_key)
        )
    return dataclasses.replace(base, **updates)


def parse_costs(value: object, base: CostThresholds, *, name: str = "costs") -> CostThresholds:
    """The ``costs`` mapping: relative increases that are notable, over ``base``."""
    raw = _mapping(value, name=name, allowed={"latency": 0, "tokens": 0, "cost": 0})
    updates = {key: _relative_increase(raw[key], name=f"{name}.{key}") for key in raw}
    return dataclasses.replace(base, **updates)


def parse_fail_on_increase(value: object, *, name: str) -> float:
    """A ``fail_on_*_increase`` setting: the relative increase that fails the check."""
    return _relative_increase(value, name=name)


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


def parse_alpha(value: object, *, name: str = "alpha") -> float:
    """The false-alarm budget: a probability in (0, 0.5]."""
    return _number(value, name=name, low=0.0, high=0.5, low_open=True)


def parse_trend_threshold(value: object, *, name: str = "trend_threshold") -> float:
    """Slope per run (pass-rate units) beyond which a trend counts: 0 to 1."""
    return _fraction(value, name=name)


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
        raw = _mapping(data, name="top level", allowed=dict.fromkeys(_TOP_KEYS))
        if "sensitivity" in raw:
            # Validated even when a flag overrides it: a typo is never silently ignored.
            in_file = parse_enum(Sensitivity, raw["sensitivity"], name="sensitivity")
            sensitivity = sensitivity or in_file
        base = sensitivity_preset(sensitivity or Sensitivity.NORMAL)
        updates: dict[str, Any] = {"thresholds": base}
        if "fail_on" in raw:
            updates["fail_on"] = parse_enum(FailOn, raw["fail_on"], name="fail_on")
        if "on_fetch_failure" in raw:
            updates["on_fetch_failure"] = parse_enum(
                OnFetchFailure, raw["on_fetch_failure"], name="on_fetch_failure"
            )
        if "thresholds" in raw:
            updates["thresholds"] = parse_thresholds(raw["thresholds"], base=base)
        if "comment_key" in raw:
            updates["comment_key"] = parse_comment_key(raw["comment_key"])
        if "comment_when" in raw:
            updates["comment_when"] = parse_enum(
                CommentWhen, raw["comment_when"], name="comment_when"
            )
        threshold_updates: dict[str, Any] = {}
        if "alpha" in raw:
            threshold_updates["alpha"] = parse_alpha(raw["alpha"])
        if "correction" in raw:
            threshold_updates["correction"] = parse_enum(
                Correction, raw["correction"], name="correction"
            )
        if "trend_threshold" in raw:
            threshold_updates["trend_threshold"] = parse_trend_threshold(raw["trend_threshold"])
        if "metrics" in raw:
            threshold_updates["metrics"] = parse_metrics(raw["metrics"], base.metrics)
        if "drift" in raw:
            threshold_updates["drift"] = parse_drift(raw["drift"], base.drift)
        costs = base.costs
        if "costs" in raw:
            costs = parse_costs(raw["costs"], costs)
        for what in ("latency", "tokens", "cost"):
            key = f"fail_on_{what}_increase"
            if key in raw:
                costs = dataclasses.replace(
                    costs, **{key: parse_fail_on_increase(raw[key], name=key)}
                )
        if costs is not base.costs:
            threshold_updates["costs"] = costs
        if threshold_updates:
            updates["thresholds"] = dataclasses.replace(updates["thresholds"], **threshold_updates)
        if "history" in raw:
            updates["history"] = parse_history(raw["history"])
        if "fetch_deadline" in raw:
            updates["fetch_deadline"] = parse_fetch_deadline(raw["fetch_deadline"])
        if "template" in raw:
            if not isinstance(raw["template"], str) or not raw["template"]:
                raise InputError(f"template: must be a file path; got {raw['template']!r}")
            updates["template"] = Path(raw["template"])
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return Settings(**updates)


# A config file is a few hundred bytes of thresholds; 1 MiB is generous, and a
# bound keeps a mistaken path (a log, a dataset) from being read into memory.
MAX_CONFIG_BYTES = 2**20


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


def override_statistics(
    settings: Settings,
    *,
    alpha: float | None,
    correction: str | None,
    trend_threshold: float | None,
    name: Callable[[str], str],
) -> Settings:
    """Settings with the statistics flags (or action inputs) applied over the thresholds.

    Validated like the config keys; ``name`` turns a key into how the user
    wrote it ("--trend-threshold" on the command line), for error messages.
    """
    updates: dict[str, Any] = {}
    if alpha is not None:
        updates["alpha"] = parse_alpha(alpha, name=name("alpha"))
    if correction is not None:
        updates["correction"] = parse_enum(Correction, correction, name=name("correction"))
    if trend_threshold is not None:
        updates["trend_threshold"] = parse_trend_threshold(
            trend_threshold, name=name("trend_threshold")
        )
    if not updates:
        return settings
    return dataclasses.replace(
        settings, thresholds=dataclasses.replace(settings.thresholds, **updates)
    )


def override(settings: Settings, **changes: Any) -> Settings:
    """Settings with the non-None ``changes`` applied (command-line flags win)."""
    return dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
