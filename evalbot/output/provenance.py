"""Where the run and its experiments come from: links, commits, ages, stale experiments."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evalbot.core.models import (
    Bucket,
)
from evalbot.output.formatting import count, link
from evalbot.output.markdown import code_span, escape_text
from evalbot.output.tally import Recent

# --- facts about the run that are not in the outcome ------------------------------


@dataclass(frozen=True, slots=True)
class RunLinks:
    """Where this run lives, for links and the stale-experiment check.

    Given by the caller (the Action reads them from the runner's variables);
    the renderer never looks at the environment. Every field is optional.
    """

    repository_url: str | None = None  # https://github.com/owner/repo
    run_url: str | None = None  # the workflow run (its page shows the job summary)
    head_sha: str | None = None  # the PR head the check is about
    report_path: str | None = None  # the JSON report file, as the user knows it


SHA_RE = re.compile(r"[0-9a-fA-F]{7,64}")


def commit_link(sha: str | None, links: RunLinks) -> str | None:
    """A short SHA as a code span, linked to the repository's commit page when known."""
    if not sha:
        return None
    text = code_span(sha[:7]) if SHA_RE.fullmatch(sha) else code_span(sha, 12)
    if links.repository_url and SHA_RE.fullmatch(sha):
        return link(text, f"{links.repository_url}/commit/{sha}")
    return text


# --- provenance ---------------------------------------------------------------------


def _trial_range(bucket: Bucket) -> str:
    counts = {s.total for s in bucket.scenarios.values()}
    if not counts:
        return "0"
    low, high = min(counts), max(counts)
    return count(low) if low == high else f"{count(low)}–{count(high)}"


# Each is a pass over every scenario, and the comment describes each side several
# times (provenance, view, statistics): once per bucket (PR, baseline) instead.
_trials_per_scenario = Recent(_trial_range, size=2)


def _count_unscored(bucket: Bucket) -> int:
    return bucket.unscored


_unscored = Recent(_count_unscored, size=2)


def trials_per_scenario(bucket: Bucket) -> str:
    """'5' or '3–10': the fewest and the most trials a scenario of ``bucket`` has."""
    return _trials_per_scenario(bucket)


_COMMIT_KEYS = ("commit", "head_sha", "git_sha", "revision_id")


def experiment_commit(bucket: Bucket) -> str | None:
    """The commit the experiment ran on, from its metadata (first of _COMMIT_KEYS)."""
    return next((str(bucket.metadata[k]) for k in _COMMIT_KEYS if bucket.metadata.get(k)), None)


def experiment_facts(bucket: Bucket, links: RunLinks | None = None) -> dict[str, Any]:
    """One experiment as the comment describes it: name, link, branch, commit, size."""
    commit = experiment_commit(bucket)
    branch = bucket.metadata.get("branch")
    return {
        "name": bucket.name,
        "url": bucket.url,
        "commit": commit[:12] if commit else None,
        "commit_link": commit_link(commit, links or RunLinks()),
        "branch": str(branch) if branch else None,
        "trials_per_scenario": trials_per_scenario(bucket),
        "scenarios": len(bucket.scenarios),
        "unscored": _unscored(bucket),
        "notes": list(bucket.notes),
    }


def experiment_md(side: dict[str, Any]) -> str:
    """An experiment by name, linked when it has a URL; branch and commit after it."""
    text = link(escape_text(side["name"]), side["url"])
    if side["branch"]:
        text += f" on {code_span(side['branch'])}"
    if side["commit_link"]:
        text += f" at {side['commit_link']}"
    return text


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def baseline_age(pr: Bucket, baseline: Bucket) -> str | None:
    """'3 days older than the PR experiment', from both start times when known."""
    pr_time, base_time = _parse_time(pr.started_at), _parse_time(baseline.started_at)
    if pr_time is None or base_time is None:
        return None
    seconds = (pr_time - base_time).total_seconds()
    word = "older" if seconds >= 0 else "newer"
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} {word} than the PR experiment"
    return "started within a minute of the PR experiment"


def stale_warning(pr: Bucket, links: RunLinks, name: Callable[[str], str]) -> str | None:
    """Issue 13 §8: the PR experiment ran on another commit than the PR head.

    Silent when either SHA is unknown; a short SHA in the metadata matches a
    head that starts with it.
    """
    commit, head = experiment_commit(pr), links.head_sha
    if not commit or not head:
        return None
    a, b = commit.lower(), head.lower()
    if a.startswith(b) or b.startswith(a):
        return None
    return (
        f"The PR experiment ran on commit {name(commit)}, not on this PR's head "
        f"{name(head)}: its results may be stale. Re-run the evals on the head commit."
    )
