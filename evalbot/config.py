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

import yaml

from evalbot.errors import InputError
from evalbot.models import Correction, FailOn, OnFetchFailure, Thresholds, Tier

DEFAULT_COMMENT_KEY = "default"
# The key goes inside an HTML comment marker (`<!-- evalbot:KEY -->`): keep it
# to characters that cannot close the comment or break the marker search.
_COMMENT_KEY = re.compile(r"[A-Za-z0-9._-]{1,64}")


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


E = TypeVar("E", bound=enum.StrEnum)


def parse_enum(enum_type: type[E], value: object, *, name: str) -> E:
    """``value`` as a member of ``enum_type``, or an InputError naming ``name``."""
    allowed = [member.value for member in enum_type]
    if isinstance(value, str) and value in allowed:
        return enum_type(value)
    raise InputError(f"{name}: must be one of {', '.join(allowed)}; got {value!r}")


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


def parse_thresholds(value: object, *, name: str = "thresholds") -> Thresholds:
    """The ``thresholds`` mapping of the config file, over the defaults."""
    allowed = {"hard": 0, "soft": 0, "watch_delta": 0, "category": 0}
    raw = _mapping(value, name=name, allowed=allowed)
    default = Thresholds()
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
    "template",
    "alpha",
    "correction",
    "history",
    "trend_threshold",
)


def parse_history(value: object, *, name: str = "history") -> int:
    """Baseline runs to pool: a whole number from 0 to 100."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise InputError(f"{name}: must be a whole number from 0 to 100; got {value!r}")
    return value


def parse_alpha(value: object, *, name: str = "alpha") -> float:
    """The false-alarm budget: a probability in (0, 0.5]."""
    return _number(value, name=name, low=0.0, high=0.5, low_open=True)


def parse_trend_threshold(value: object, *, name: str = "trend_threshold") -> float:
    """Slope per run (pass-rate units) beyond which a trend counts: 0 to 1."""
    return _fraction(value, name=name)


def parse_config(data: object, *, source: str) -> Settings:
    """Validate a parsed config document into Settings; errors name ``source`` and the key.

    A ``template`` path is taken relative to the working directory (the
    workspace in GitHub Actions), like every other path evalbot reads.
    """
    if data is None:
        return Settings()
    try:
        raw = _mapping(data, name="top level", allowed=dict.fromkeys(_TOP_KEYS))
        updates: dict[str, Any] = {}
        if "fail_on" in raw:
            updates["fail_on"] = parse_enum(FailOn, raw["fail_on"], name="fail_on")
        if "on_fetch_failure" in raw:
            updates["on_fetch_failure"] = parse_enum(
                OnFetchFailure, raw["on_fetch_failure"], name="on_fetch_failure"
            )
        if "thresholds" in raw:
            updates["thresholds"] = parse_thresholds(raw["thresholds"])
        if "comment_key" in raw:
            updates["comment_key"] = parse_comment_key(raw["comment_key"])
        threshold_updates: dict[str, Any] = {}
        if "alpha" in raw:
            threshold_updates["alpha"] = parse_alpha(raw["alpha"])
        if "correction" in raw:
            threshold_updates["correction"] = parse_enum(
                Correction, raw["correction"], name="correction"
            )
        if "trend_threshold" in raw:
            threshold_updates["trend_threshold"] = parse_trend_threshold(raw["trend_threshold"])
        if threshold_updates:
            updates["thresholds"] = dataclasses.replace(
                updates.get("thresholds", Thresholds()), **threshold_updates
            )
        if "history" in raw:
            updates["history"] = parse_history(raw["history"])
        if "template" in raw:
            if not isinstance(raw["template"], str) or not raw["template"]:
                raise InputError(f"template: must be a file path; got {raw['template']!r}")
            updates["template"] = Path(raw["template"])
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    return Settings(**updates)


def load_config(path: Path) -> Settings:
    """Read and validate a YAML config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise InputError(f"{path}: not valid YAML{at}") from None
    return parse_config(data, source=str(path))


def override(settings: Settings, **changes: Any) -> Settings:
    """Settings with the non-None ``changes`` applied (command-line flags win)."""
    return dataclasses.replace(settings, **{k: v for k, v in changes.items() if v is not None})
