"""What the shells ask the LangSmith source for: the PR experiment and a baseline strategy.

Plain values without I/O, apart from the modules that resolve them, so that
validating settings (and comparing files) does not import the fetching code.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Strategy(enum.StrEnum):
    """How the baseline is chosen."""

    EXPLICIT = "explicit"
    PREFIX = "prefix"
    METADATA = "metadata"


@dataclass(frozen=True, slots=True)
class BaselineQuery:
    """One baseline strategy: an explicit experiment, a name prefix, or metadata."""

    strategy: Strategy
    value: str | Mapping[str, Any]
    allow_other_dataset: bool = False

    def describe(self) -> str:
        """The strategy and filter in words, for messages and the comment."""
        if self.strategy is Strategy.EXPLICIT:
            return f"experiment {self.value}"
        if self.strategy is Strategy.PREFIX:
            return f"the newest complete experiment named {self.value}*"
        return f"the newest complete experiment with metadata {json.dumps(self.value)}"


@dataclass(frozen=True, slots=True)
class PrQuery:
    """The PR experiment: by name or id, or the newest on a dataset matching metadata."""

    ref: str | None = None
    metadata: Mapping[str, Any] | None = None
    dataset: str | None = None
