"""One LangSmith run's facts for bucketing, read once as its page arrives (rules 3, 5-8). Pure.

:func:`digest` reads what does not depend on the pass keys or the dataset's
examples (its example, error, feedback, latency, tokens, cost, output length and
tool calls), so a fetch digests each page while the next one is on its way and
:func:`~evalbot.sources.langsmith.bucket.bucket_facts` only groups and counts.
The rules are in :mod:`evalbot.sources.langsmith.bucket`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Where a run's output text is looked for, in order (rule 7).
OUTPUT_KEYS = ("output", "answer", "response", "content", "text", "result")
_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What bucketing needs from one root run.

    ``run_id`` is the id as text (None: the run has none); ``example_id`` the
    reference example's (None: no example); ``feedback`` the run's
    ``feedback_stats`` as sent and ``scores`` its keys' finite numeric
    ``avg`` (:func:`score`; rules 3 and 6). ``output_chars`` and ``tool_calls``
    are None for an errored run or one without an ``outputs`` field (rules 7-8).
    """

    run_id: str | None
    example_id: str | None
    error: bool
    feedback: Mapping[str, Any]
    scores: Mapping[str, float]
    latency_ms: float | None
    tokens: float | None
    cost: float | None
    output_chars: int | None
    tool_calls: int | None


def digest(runs: Iterable[Mapping[str, Any]]) -> list[RunFacts]:
    """The facts of each run, in order."""
    return [_facts(run) for run in runs]


def _facts(run: Mapping[str, Any]) -> RunFacts:
    run_id = run.get("id")
    example_id = run.get("reference_example_id")
    error = bool(run.get("error"))
    output_chars = tool_calls = None
    if not error and "outputs" in run:
        text = _output_text(run["outputs"])
        output_chars = None if text is None else len(text)
        tool_calls = _tool_calls(run["outputs"])
    feedback = run.get("feedback_stats") or {}
    return RunFacts(
        run_id=None if run_id is None else str(run_id),
        example_id=str(example_id) if example_id else None,
        error=error,
        feedback=feedback,
        scores=extra_scores(feedback, ()),
        latency_ms=_latency_ms(run),
        tokens=_number(run.get("total_tokens")),
        cost=_cost(run.get("total_cost")),
        output_chars=output_chars,
        tool_calls=tool_calls,
    )


def score(stats: Any) -> float | None:
    """The finite numeric ``avg`` of a feedback key, else None (rules 3 and 6)."""
    # A dict is what JSON gives: the Mapping ABC check is slower and rarely needed.
    if type(stats) is not dict and not isinstance(stats, Mapping):
        return None
    avg: Any = stats.get("avg")
    if type(avg) is float:
        return avg if math.isfinite(avg) else None
    if isinstance(avg, bool) or not isinstance(avg, int | float):
        return None
    # float() of a huge int overflows; such a score is as meaningless as inf.
    try:
        value = float(avg)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def invalid_score(stats: Any) -> bool:
    """A pass-key score that is present but not a finite number (rule 3)."""
    return isinstance(stats, Mapping) and stats.get("avg") is not None and score(stats) is None


def label(stats: Any) -> str | None:
    """The most frequent categorical value of a feedback key (ties by name)."""
    if not isinstance(stats, Mapping):
        return None
    values = stats.get("values")
    if not isinstance(values, Mapping) or not values:
        return None
    return str(min(values.items(), key=lambda item: (-_int(item[1]), str(item[0])))[0])


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Any) -> float | None:
    """A finite non-negative number (not a bool) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None


def _cost(value: Any) -> float | None:
    """``total_cost``: a number or a decimal string (rule 5)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    return _number(value)


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time; a trailing Z is UTC and so is a naive time."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _latency_ms(run: Mapping[str, Any]) -> float | None:
    """``end_time`` − ``start_time`` in milliseconds; None if unknown or negative."""
    start, end = _timestamp(run.get("start_time")), _timestamp(run.get("end_time"))
    if start is None or end is None or end < start:
        return None
    return (end - start) / _MILLISECOND


def extra_scores(stats: Mapping[str, Any], excluded: Iterable[str]) -> dict[str, float]:
    """The numeric feedback scores other than ``excluded`` keys (rule 6)."""
    skip = set(excluded)
    scores = {}
    for key, entry in stats.items():
        value = score(entry)
        if key not in skip and value is not None and math.isfinite(value):
            scores[str(key)] = value
    return scores


def _last_message(outputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    messages = outputs.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
        return messages[-1]
    return None


def _output_text(outputs: Any) -> str | None:
    """The output text by rule 7, or None when there is none to find."""
    if outputs is None:
        return ""
    if isinstance(outputs, str):
        return outputs
    if not isinstance(outputs, Mapping):
        return None
    if not outputs:
        return ""
    for key in OUTPUT_KEYS:
        if isinstance(outputs.get(key), str):
            return str(outputs[key])
    for key in OUTPUT_KEYS:
        message = outputs.get(key)
        if isinstance(message, Mapping) and isinstance(message.get("content"), str):
            return str(message["content"])
    last = _last_message(outputs)
    if last is not None and isinstance(last.get("content"), str):
        return str(last["content"])
    return next((value for value in outputs.values() if isinstance(value, str)), None)


def _message_tool_calls(message: Any) -> int | None:
    """The length of a message's tool-call list, or None when it has none (rule 8)."""
    if not isinstance(message, Mapping):
        return None
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        return len(calls)
    extra = message.get("additional_kwargs")
    if isinstance(extra, Mapping) and isinstance(extra.get("tool_calls"), list):
        return len(extra["tool_calls"])
    return None


def _tool_calls(outputs: Any) -> int | None:
    """How many tool calls the outputs carry (rule 8); None when they say nothing."""
    if not isinstance(outputs, Mapping):
        return None
    for message in (outputs, *(outputs.get(key) for key in OUTPUT_KEYS)):
        count = _message_tool_calls(message)
        if count is not None:
            return count
    messages = outputs.get("messages")
    if not isinstance(messages, list):
        return None
    counts = [c for c in map(_message_tool_calls, messages) if c is not None]
    return sum(counts) if counts else None
