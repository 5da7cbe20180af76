"""How LangSmith runs become trials (the settings), and what a bucket knows of its experiment."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalbot.errors import InputError


class KeySource(enum.StrEnum):
    """Where a scenario key comes from: the example id, its metadata or its inputs."""

    EXAMPLE = "example"
    METADATA = "metadata"
    INPUTS = "inputs"


@dataclass(frozen=True, slots=True)
class ScenarioKey:
    """How runs are grouped into scenarios: ``example``, ``metadata.F`` or ``inputs.F``."""

    source: KeySource = KeySource.EXAMPLE
    field: str | None = None

    @classmethod
    def parse(cls, text: str, *, name: str) -> ScenarioKey:
        """Parse the setting's text; an InputError names ``name`` (the setting as the user
        spells it) when it is malformed."""
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
