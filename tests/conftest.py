"""Fixtures for every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real LangSmith settings or EVALBOT_* options leak in from the environment."""
    for name in list(os.environ):
        # EVALBOT_UPDATE_GOLDEN is the test suite's own switch (tests/helpers.py), not an option.
        if name == "EVALBOT_UPDATE_GOLDEN":
            continue
        if name.startswith(("EVALBOT_", "LANGSMITH_", "LANGCHAIN_")):
            monkeypatch.delenv(name)
