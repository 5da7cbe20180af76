"""What each command imports (issue 14: `evalbot --help` in 0.1 s; timed in bench/, not here)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from helpers import EXAMPLES
from helpers import run_cli as run

HEAVY = ("jinja2", "yaml", "langsmith", "github", "requests", "orjson")


def modules_after(*args: str) -> set[str]:
    """Top-level modules (and evalbot's own) loaded by ``evalbot ARGS`` in a fresh process."""
    script = (
        "import json, sys\n"
        "from evalbot.cli import main\n"
        f"code = main({list(args)!r})\n"
        "print(json.dumps(sorted(m for m in sys.modules if '.' not in m or "
        "m.startswith('evalbot.'))), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("compare", "--help")])
def test_help_loads_only_click(args: tuple[str, ...]) -> None:
    loaded = modules_after(*args)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    own = {m for m in loaded if m.startswith("evalbot.")}
    # The command-line modules themselves (each command's own module) and the errors.
    assert all(m == "evalbot.errors" or m.split(".")[1].startswith("cli") for m in own), own


def test_comparing_files_loads_no_sdk() -> None:
    pr, base = str(EXAMPLES / "pr.json"), str(EXAMPLES / "baseline.json")
    loaded = modules_after("compare", "--pr-file", pr, "--baseline-file", base, "-o", "/dev/null")
    assert "evalbot.output.render" in loaded  # it did compare and render
    assert not loaded & {"langsmith", "github", "requests", "yaml"}


def test_the_cyclic_collector_is_back_on_after_a_comparison() -> None:
    pr, base = str(EXAMPLES / "pr.json"), str(EXAMPLES / "baseline.json")
    assert gc.isenabled()
    code, _, _ = run("compare", "--pr-file", pr, "--baseline-file", base)
    assert code == 1
    assert gc.isenabled()
    code, _, _ = run("compare", "--pr-file", pr, "--baseline-file", "/nonexistent.json")
    assert code == 2
    assert gc.isenabled()
