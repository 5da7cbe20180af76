"""LangSmith's answers at the boundary: bodies read under the deadline and size cap, shapes checked.

Problems found here end the request early as a :class:`Stop`, raised inside
the request's thread; :mod:`.calls` finds it in the SDK's exception chain
and words the FetchError.
"""

from __future__ import annotations

import json
import time
from typing import Any, TypeVar
from urllib.parse import urlsplit

from evalbot.sources.langsmith.client import Request, phrase

MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""Largest body evalbot holds for one answer. A page is at most 100 runs with the
fields of RUN_FIELDS (640 KB each); a server streaming more within the timeout
(loopback: gigabytes a second) would otherwise be read into memory whole."""


class Stop(Exception):
    """Raised by the response hook (in the request's thread) to end a request early:
    the SDK wraps it, :meth:`Calls.guard` finds it in the chain."""


class DeadlineExceeded(Stop):
    """The answer did not arrive whole within the attempt's timeout or the deadline."""


class WrongShape(Stop):
    """An answer the SDK would parse is not the shape it expects."""


class TooLarge(Stop):
    """An answer larger than MAX_ANSWER_BYTES."""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def sample(value: Any, limit: int = 120) -> str:
    """A short sample of a JSON value for a message ("…" marks a cut sample)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


E = TypeVar("E", bound=BaseException)


def find(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of ``kind`` in ``exc``'s cause/context chain."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        if isinstance(current, kind):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None


def http_cause(response: Any) -> str:
    """An HTTP error answer as "HTTP 503 Service Unavailable: <what the server said>"."""
    status = response.status_code
    text = one_line(response.text or "") if response.content is not None else ""
    # The server's explanation is part of the cause; an HTML error page is not
    # worth more than a glimpse, and "…" says the sample was cut.
    if len(text) > 500:
        text = text[:500] + "…"
    head = f"HTTP {status} {response.reason or phrase(status)}".rstrip()
    return f"{head}: {text}" if text else head


def read_body(response: Any, request: Request) -> None:
    """Read the whole body now, checking the deadline between reads.

    requests would read it after the hooks with per-read timeouts only; here
    each read returns what has arrived (``read1``), so a trickled body is cut
    at the attempt's ``timeout`` (or the request's deadline, if sooner). The
    body is then stored where requests keeps a read body.
    """
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error

    raw = response.raw
    if raw is None or getattr(response, "_content_consumed", False):
        return
    attempt_started = time.monotonic() - response.elapsed.total_seconds()
    ends = min(attempt_started + request.timeout_s, request.ends)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if request.abandoned or time.monotonic() > ends:
                raw.close()
                raise DeadlineExceeded(
                    "LangSmith did not send the whole answer within "
                    + (
                        f"the {request.timeout_s:g} s timeout"
                        if ends < request.ends
                        else request.deadline
                    )
                    + f" ({sum(map(len, chunks))} bytes arrived)"
                )
            chunk = raw.read1(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raw.close()
                raise TooLarge(
                    f"LangSmith's answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB; "
                    "evalbot stopped reading it"
                )
    except (Urllib3Error, OSError) as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    # requests' own attributes for a body it has read (Response.content).
    response._content = b"".join(chunks)
    response._content_consumed = True


def check_shape(method: str, url: str, body: bytes) -> None:
    """Validate, at the boundary, the answers the SDK parses itself.

    The SDK builds objects from them with ``**item``, so ``[1]`` or a missing
    id would be a TypeError deep inside it: an internal error instead of an
    answer LangSmith got wrong. Answers evalbot parses (runs, examples, the
    dataset) are checked where they are read.
    """
    path = urlsplit(url).path.rstrip("/")
    segments = path.split("/")
    listing = method == "GET" and segments[-1] in ("sessions", "datasets")
    single = method == "GET" and len(segments) >= 2 and segments[-2] == "sessions"
    if not listing and not single:
        return
    what = f"GET /{segments[-1] if listing else 'sessions/{id}'}"
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WrongShape(
            f"{what} answered with something that is not JSON (starts {body[:60]!r})"
        ) from None
    items = value if listing else [value]
    expected = "a list of objects with an id" if listing else "an object with an id"
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] for item in items
    ):
        raise WrongShape(
            f"{what} answered with the wrong shape: expected {expected}, got {sample(value)}"
        )
