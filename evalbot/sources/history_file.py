"""History files (``--history-file``): checked as any experiment file, kept as the window reads.

The baseline window reads an older run's pass counts alone (``passed`` and
``total`` per scenario: pooling, the suite-wide test, the trend and the
report's ``history`` object), never its categories, unscored trials or
measurements. A history file is checked exactly as ``load_experiment`` checks
it (the same message for the same problem) and loaded without those: each
scenario keeps its key, counts and label. Ten 10,000-scenario history files
took longer to load than the PR and the baseline took to compare (issue 14).
"""

from __future__ import annotations

import os
from dataclasses import replace

from evalbot.core.buckets import counts_scenario
from evalbot.core.models import Bucket, Scenario
from evalbot.sources.experiment_file import parse_experiment, read_json_file
from evalbot.sources.file_quick import quick_columns

__all__ = ["load_history", "window_view"]


def load_history(path: str | os.PathLike[str]) -> Bucket:
    """The history file at ``path`` as the window reads it: ``window_view`` of its Bucket.

    Raises InputError exactly as ``load_experiment`` does for the same file.
    """
    source = os.fspath(path)
    data = read_json_file(source)
    if type(data) is dict and "trials" not in data:
        scenarios = data.get("scenarios")
        if type(scenarios) is dict:
            counted = quick_columns(scenarios, extras=False)
            if counted is not None:
                # The top level checked as load_experiment checks it (same fields, same
                # order, same messages); the scenarios were, column by column.
                header = parse_experiment({**data, "scenarios": {}}, source=source)
                return replace(header, scenarios=counted)
    # Anything else (the trial form, measurements, an entry in doubt, an error): the
    # full loader, which words any problem, then the same view of its result.
    return window_view(parse_experiment(data, source=source))


def window_view(bucket: Bucket) -> Bucket:
    """``bucket`` with each scenario's key, counts and label only (what the window reads)."""
    return replace(bucket, scenarios={key: _counts_only(s) for key, s in bucket.scenarios.items()})


def _counts_only(scenario: Scenario) -> Scenario:
    return counts_scenario(scenario.key, scenario.passed, scenario.total, scenario.label)
