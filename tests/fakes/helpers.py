"""Shared test helpers: bucket builders and golden-file comparison (imported as `helpers`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from evalbot.core.models import Bucket, Scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def make_bucket(
    name: str,
    scenarios: Mapping[str, tuple[int, int]] | Mapping[str, tuple[int, int, Mapping[str, int]]],
    **kwargs: object,
) -> Bucket:
    """A bucket from {key: (passed, total[, categories])}."""
    built = {}
    for key, value in scenarios.items():
        categories = value[2] if len(value) == 3 else {}  # type: ignore[misc]
        built[key] = Scenario(key=key, passed=value[0], total=value[1], categories=categories)
    return Bucket(name=name, scenarios=built, **kwargs)  # type: ignore[arg-type]


def assert_golden(name: str, text: str) -> None:
    """Compare ``text`` with tests/golden/NAME; EVALBOT_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("EVALBOT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"missing golden file {path}; run with EVALBOT_UPDATE_GOLDEN=1 and review it")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


class _Main:
    """Adapts evalbot.cli.main() (the exit-code contract) to CliRunner.invoke."""

    name = "evalbot"

    def main(self, args: list[str], **_: object) -> None:
        from evalbot.cli import main

        sys.exit(main(args))


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI through main() with captured output: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(_Main(), list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def live_args(url: str, key: str) -> list[str]:
    """CLI options that point evalbot at a fake LangSmith, with short timeouts."""
    return [
        "--langsmith-endpoint",
        url,
        "--langsmith-api-key",
        key,
        "--timeout",
        "2",
        "--retry-budget",
        "0.5",
    ]


def flag(key: str) -> str:
    """A setting key as the CLI spells it (``pass_key`` -> ``--pass-key``), for ``name=``."""
    return "--" + key.replace("_", "-")
