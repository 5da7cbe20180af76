"""Fixtures for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from action_harness import LangSmith, Runner, make_github, make_langsmith, make_runner
from fake_github import FakeGitHub


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real LangSmith settings or EVALBOT_* options leak in from the environment."""
    for name in list(os.environ):
        # EVALBOT_UPDATE_GOLDEN is the test suite's own switch (fakes/helpers.py), not an option.
        if name == "EVALBOT_UPDATE_GOLDEN":
            continue
        if name.startswith(("EVALBOT_", "LANGSMITH_", "LANGCHAIN_")):
            monkeypatch.delenv(name)


@pytest.fixture
def langsmith() -> Iterator[LangSmith]:
    """The fake LangSmith with main-1, pr-bad and pr-good (tests/fakes/action_harness.py)."""
    yield from make_langsmith()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """The fake GitHub API."""
    yield from make_github()


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    """The runner's files (workspace, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, event) for one job."""
    return make_runner(tmp_path)
