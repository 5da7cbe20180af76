"""The LangSmith source as the shells see it: its public names, from the modules that hold them.

The package is the only code that talks to LangSmith (brief: rule 2):

- :mod:`.connection`: where LangSmith is, the key, the time limits;
- :mod:`.client`: the langsmith Client and its retry policy;
- :mod:`.calls` and :mod:`.answers`: deadlines, request counting, error translation;
- :mod:`.queries` and :mod:`.resolve`: what is asked for, and finding the PR experiment, the
  baseline and its history;
- :mod:`.paging`: pages of runs and examples, bounded;
- :mod:`.run_facts` and :mod:`.bucket`: runs -> a Bucket (pure);
- :mod:`.fetch`: the one orchestration, on one thread pool.
"""

from __future__ import annotations

from evalbot.sources.langsmith.calls import FetchStats
from evalbot.sources.langsmith.client import make_client
from evalbot.sources.langsmith.connection import (
    DEFAULT_ENDPOINT,
    DEFAULT_FETCH_DEADLINE_S,
    Connection,
    endpoint_password,
    redact_url,
    validate_endpoint,
)
from evalbot.sources.langsmith.fetch import (
    Fetched,
    History,
    LangSmithSource,
    export,
    fetch,
    history_buckets,
)
from evalbot.sources.langsmith.paging import PAGE_SIZE, RUN_FIELDS
from evalbot.sources.langsmith.queries import BaselineQuery, PrQuery, Strategy
from evalbot.sources.langsmith.resolve import Baselines, Experiment

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_FETCH_DEADLINE_S",
    "PAGE_SIZE",
    "RUN_FIELDS",
    "BaselineQuery",
    "Baselines",
    "Connection",
    "Experiment",
    "FetchStats",
    "Fetched",
    "History",
    "LangSmithSource",
    "PrQuery",
    "Strategy",
    "endpoint_password",
    "export",
    "fetch",
    "history_buckets",
    "make_client",
    "redact_url",
    "validate_endpoint",
]
