"""evalbot's expected errors, each mapped to an exit code (brief: rule 4).

Exit codes are a contract: 0 gate passed, 1 gate failed, 2 usage/config/input
error, 3 internal error. Only *expected* failures are EvalbotError subclasses;
anything else is a bug and exits 3 with a traceback.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class EvalbotError(Exception):
    """An expected failure, shown to the user as one sentence."""

    exit_code = EXIT_USAGE


class InputError(EvalbotError):
    """A user-supplied input (option, config key, file) is invalid: exit 2."""

    exit_code = EXIT_USAGE


class ExperimentNotFound(InputError):
    """No PR experiment matches the query: an input error for ``compare`` and the
    Action, but for ``evalbot publish`` the expected answer when evals never ran
    for the PR's head commit."""


class FetchError(EvalbotError):
    """An external system (LangSmith, network) could not be read.

    ``compare`` and ``action`` turn it into a ``fetch_failed`` outcome so the
    gate follows ``on_fetch_failure``; ``export``, which has no gate, exits 1.
    """

    exit_code = EXIT_GATE_FAILED
