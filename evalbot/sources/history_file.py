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
from itertools import repeat
from operator import itemgetter, le
from typing import Any

from evalbot.core.buckets import counts_scenario
from evalbot.core.models import Bucket, Scenario
from evalbot.sources.experiment_file import parse_experiment, read_json_file
from evalbot.sources.file_fields import MEASURE_FIELDS, SCENARIO_FIELDS
from evalbot.sources.file_quick import extras_valid

__all__ = ["load_history", "window_view"]

_PLAIN_FIELDS = frozenset(SCENARIO_FIELDS) - frozenset(MEASURE_FIELDS)
# A label's absence (dict.get's default): no JSON value is this object.
_MISSING = object()
_LABEL_TYPES = frozenset((str, object))
_passed = itemgetter("passed")
_total = itemgetter("total")


def load_history(path: str | os.PathLike[str]) -> Bucket:
    """The history file at ``path`` as the window reads it: ``window_view`` of its Bucket.

    Raises InputError exactly as ``load_experiment`` does for the same file.
    """
    source = os.fspath(path)
    data = read_json_file(source)
    if type(data) is dict and "trials" not in data:
        scenarios = data.get("scenarios")
        if type(scenarios) is dict:
            counted = _counted(scenarios)
            if counted is not None:
                # The top level checked as load_experiment checks it (same fields, same
                # order, same messages); the scenarios were, column by column.
                header = parse_experiment({**data, "scenarios": {}}, source=source)
                return Bucket(
                    name=header.name,
                    scenarios=counted,
                    url=header.url,
                    id=header.id,
                    metadata=header.metadata,
                    started_at=header.started_at,
                    notes=header.notes,
                )
    # Anything else (the trial form, measurements, an entry in doubt, an error): the
    # full loader, which words any problem, then the same view of its result.
    return window_view(parse_experiment(data, source=source))


def window_view(bucket: Bucket) -> Bucket:
    """``bucket`` with each scenario's key, counts and label only (what the window reads)."""
    return Bucket(
        name=bucket.name,
        scenarios={key: _counts_only(s) for key, s in bucket.scenarios.items()},
        url=bucket.url,
        id=bucket.id,
        metadata=bucket.metadata,
        started_at=bucket.started_at,
        notes=bucket.notes,
        web_url=bucket.web_url,
        dataset_id=bucket.dataset_id,
        example_links=bucket.example_links,
    )


def _counts_only(scenario: Scenario) -> Scenario:
    return counts_scenario(scenario.key, scenario.passed, scenario.total, scenario.label)


def _counted(scenarios: dict[str, Any]) -> dict[str, Scenario] | None:
    """The counts-only scenarios when every entry is one file_quick.quick_scenario accepts
    without measurements, else None (the full loader then decides).

    Checked a column at a time (every total, then every passed count...), in C
    where it can be: per entry in Python, the checks alone took 1.6 µs, a third
    of a history file's loading.
    """
    keys = list(scenarios)
    entries = list(scenarios.values())
    if not entries or "" in scenarios or set(map(type, keys)) != {str}:
        return None
    if set(map(type, entries)) != {dict}:
        return None
    try:
        totals = list(map(_total, entries))
        passed = list(map(_passed, entries))
    except KeyError:
        return None
    # type() is, not isinstance: a JSON true is no count.
    if set(map(type, totals)) != {int} or set(map(type, passed)) != {int}:
        return None
    if min(passed) < 0 or not all(map(le, passed, totals)):
        return None
    found = list(map(dict.get, entries, repeat("label"), repeat(_MISSING)))
    if not set(map(type, found)) <= _LABEL_TYPES:
        return None
    unlabelled = found.count(_MISSING)
    labels = [label if type(label) is str else "" for label in found] if unlabelled else found
    # Each entry has "passed" and "total" (found above), and "label" or not: when the
    # fields number that many in all, no entry has another (counted in C). Otherwise the
    # others may also carry categories and an unscored count: checked, not kept.
    if sum(map(len, entries)) != 3 * len(entries) - unlabelled:
        others = [entry for entry in entries if len(entry) != 2 + ("label" in entry)]
        if not all(map(_PLAIN_FIELDS.issuperset, others)):
            return None
        if not all(extras_valid(entry, entry["total"]) for entry in others):
            return None
    return dict(zip(keys, map(counts_scenario, keys, passed, totals, labels), strict=True))
