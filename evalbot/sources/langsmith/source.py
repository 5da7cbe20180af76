"""LangSmith: the only module that talks to LangSmith (brief: rule 2).

It resolves the PR and baseline experiments, pages their root runs, and hands
plain dicts to :mod:`evalbot.sources.langsmith.bucket`. SDK and HTTP exceptions stop
here: an outage, a timeout, exhausted retries, a malformed body or a rejected
key become :class:`~evalbot.errors.FetchError` (reported as ``fetch_failed``);
a missing experiment or a bad option is an :class:`InputError` (exit 2); a bug
in evalbot is neither and propagates (exit 3).

Requests: one ``POST /runs/query`` per 100 root runs (the server rejects
``limit`` > 100 with a 400), with ``select`` restricted to the fields used and
feedback taken from each run's inline ``feedback_stats`` (never a request per
run); one paginated ``GET /examples`` per dataset; a few session look-ups.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

from evalbot.core.models import Bucket
from evalbot.errors import ExperimentNotFound, FetchError, InputError
from evalbot.sources.langsmith.bucket import (
    BucketRules,
    ExperimentInfo,
    bucket_runs,
    check_pass_keys,
    infer_pass_keys,
)

DEFAULT_ENDPOINT = "https://api.smith.langchain.com"
# POST /runs/query answers 400 to a limit above 100.
PAGE_SIZE = 100
RUN_FIELDS = (
    "id",
    "reference_example_id",
    "status",
    "error",
    "start_time",
    "end_time",
    "feedback_stats",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_cost",
    "outputs",
)
# How many candidate baselines to look at before giving up (newest first).
MAX_CANDIDATES = 200
RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""Largest body evalbot holds for one answer. A page is at most 100 runs with the
fields of RUN_FIELDS (640 KB each); a server streaming more within the timeout
(loopback: gigabytes a second) would otherwise be read into memory whole."""
# Every paging loop is bounded (issue 10 §2). Run pages: at most twice the pages
# the experiment's run count fills, plus RUN_PAGE_SLACK — the count comes from
# session stats, which can lag behind an experiment that has just finished (the
# PR's, typically), so a tight bound would fail healthy fetches; a repeated
# cursor or page is caught at once anyway. When LangSmith gives no count, at
# most MAX_RUN_PAGES pages (100,000 root runs).
MAX_RUN_PAGES = 1000
RUN_PAGE_SLACK = 10
# Examples: at most this many pages of 100 (a dataset of 100,000 examples).
MAX_EXAMPLE_PAGES = 1000
DEFAULT_FETCH_DEADLINE_S = 300.0


@dataclass(frozen=True, slots=True)
class Connection:
    """Where LangSmith is and how patiently to talk to it. The key never prints.

    ``timeout_s``: one attempt, connect to last byte; ``retry_budget_s``: time
    spent retrying one request; ``fetch_deadline_s``: the whole fetch (None:
    the default). ``log``: called with a line per request and failed attempt
    (``-v``).
    """

    api_key: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    timeout_s: float = 30.0
    retry_budget_s: float = 60.0
    fetch_deadline_s: float | None = None
    log: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    @property
    def request_deadline_s(self) -> float:
        """Hard wall-clock limit on one request with its retries: timeout + retry_budget."""
        return self.timeout_s + self.retry_budget_s

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages show it: userinfo redacted."""
        return redact_url(self.endpoint)


class Strategy(enum.StrEnum):
    EXPLICIT = "explicit"
    PREFIX = "prefix"
    METADATA = "metadata"


@dataclass(frozen=True, slots=True)
class BaselineQuery:
    """One baseline strategy: an explicit experiment, a name prefix, or metadata."""

    strategy: Strategy
    value: str | Mapping[str, Any]
    allow_other_dataset: bool = False

    def describe(self) -> str:
        """The strategy and filter in words, for messages and the comment."""
        if self.strategy is Strategy.EXPLICIT:
            return f"experiment {self.value}"
        if self.strategy is Strategy.PREFIX:
            return f"the newest complete experiment named {self.value}*"
        return f"the newest complete experiment with metadata {json.dumps(self.value)}"


@dataclass(frozen=True, slots=True)
class PrQuery:
    """The PR experiment: by name or id, or the newest on a dataset matching metadata."""

    ref: str | None = None
    metadata: Mapping[str, Any] | None = None
    dataset: str | None = None


@dataclass(frozen=True, slots=True)
class Experiment:
    """evalbot's view of a LangSmith experiment (a tracer session)."""

    id: str
    name: str
    dataset_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    metadata: Mapping[str, Any]
    run_count: int | None
    url: str | None
    # The workspace in the web app, ``<web host>/o/<tenant>`` (see _web_url).
    web_url: str | None = None


@dataclass(frozen=True, slots=True)
class FetchStats:
    """Requests and wall time spent on one part of the fetch."""

    requests: int
    seconds: float
    runs: int = 0


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the source found: buckets to compare, or why there is no baseline."""

    pr: Bucket
    baseline: Bucket | None
    history: tuple[Bucket, ...]
    query: BaselineQuery
    skipped_incomplete: int
    stats: Mapping[str, FetchStats]
    total_seconds: float

    @property
    def self_baseline(self) -> bool:
        return self.baseline is not None and self.baseline.id == self.pr.id

    def fetch_section(self) -> dict[str, Any]:
        """The JSON report's ``fetch`` section."""
        return {
            "source": "langsmith",
            "baseline_selection": {
                "strategy": self.query.strategy.value,
                "filter": self.query.value
                if isinstance(self.query.value, str)
                else dict(self.query.value),
                "description": self.query.describe(),
                "skipped_incomplete": self.skipped_incomplete,
            },
            "requests": sum(s.requests for s in self.stats.values()),
            "seconds": round(self.total_seconds, 3),
            "parts": {
                name: {"requests": s.requests, "seconds": round(s.seconds, 3), "runs": s.runs}
                for name, s in self.stats.items()
            },
        }


# --- endpoints and secrets --------------------------------------------------------------

# Userinfo (``user:password@``) in any URL in a text. Greedy up to the last "@"
# before the path, so a raw "@" inside the password is covered too.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")


def redact_url(text: str) -> str:
    """``text`` (a URL, or a message containing URLs) with every URL's userinfo
    (``user:password@``) replaced by ``***@``.

    The one place evalbot hides endpoint credentials: every message, link and
    report field that can show the LangSmith endpoint goes through it.
    """
    return _USERINFO.sub(r"\1***@", text)


def endpoint_password(endpoint: str) -> str | None:
    """The password in ``endpoint``'s userinfo (percent-decoded), if any."""
    try:
        password = urlsplit(endpoint).password
    except ValueError:
        return None
    return unquote(password) if password else None


def validate_endpoint(endpoint: str, *, name: str) -> str:
    """``endpoint`` without a trailing slash, or InputError naming ``name``.

    Only http(s) URLs with a host: the key is sent to it as a header. The URL is
    never echoed with its userinfo.
    """
    shown = redact_url(endpoint)
    if "://" not in shown and "@" in shown:  # userinfo without a scheme: hide it all
        shown = "***@" + shown.rsplit("@", 1)[1]
    # A query or fragment (`?api_key=…`) may carry a credential, and the SDK
    # appends paths after it: refused, and never echoed.
    cut = re.search(r"[?#]", shown)
    if cut:
        shown = shown[: cut.start()] + shown[cut.start()] + "***"
    problem = f"{name}: must be an http(s) URL like {DEFAULT_ENDPOINT}; got {shown!r}"
    if any(ch.isspace() for ch in endpoint) or cut:
        raise InputError(
            problem + (" (no query string or fragment: the API paths go after it)" if cut else "")
        )
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InputError(problem) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(problem)
    return endpoint.rstrip("/")


# --- the client ------------------------------------------------------------------


@dataclass
class _Request:
    """One SDK call in flight (a request and its retries): limits and what happened.

    Set as ``_ACTIVE.request`` in the thread that runs the call, so the retry
    policy and the response hook (which run in that thread) can see it.
    """

    what: str
    tag: str
    ends: float  # monotonic time at which the caller stops waiting
    deadline: str  # which limit ``ends`` is, in words, for messages
    timeout_s: float
    log: Callable[[str], None] | None
    failures: list[str] = field(default_factory=list)  # causes of failed attempts
    started: float = field(default_factory=time.monotonic)
    gave_up: str | None = None  # why the retry policy stopped early, if it did
    abandoned: bool = False  # the caller gave up: stop reading


_ACTIVE = threading.local()


def _active() -> _Request | None:
    request: _Request | None = getattr(_ACTIVE, "request", None)
    return request


def _budget_retry_class() -> type[Any]:
    from urllib3.exceptions import InvalidHeader, MaxRetryError, NameResolutionError, ResponseError
    from urllib3.util.retry import Retry

    class BudgetRetry(Retry):
        """urllib3 Retry that stops once a total time budget would be exceeded.

        Honours Retry-After (429/503) and otherwise backs off exponentially with
        jitter — the run-query endpoint often omits Retry-After (issue 3 §1).
        The budget starts at the first retry of a request. It also stops when
        the wait would pass the request's deadline (README "Retries and
        deadlines"), and never retries a host name that does not resolve: that
        is a typo in the endpoint far more often than a passing DNS hiccup, and
        the runner's resolver has already retried.
        """

        budget_s: float = 60.0
        started: float | None = None

        def parse_retry_after(self, retry_after: str) -> float:
            # urllib3 raises InvalidHeader for a negative, fractional or garbled value
            # ("soon", "-1", "1.5"), which ended the request after one attempt (and
            # leaked its connection): such a header is ignored; the backoff applies.
            try:
                return float(super().parse_retry_after(retry_after))
            except InvalidHeader:
                return 0.0

        def new(self, **kw: Any) -> BudgetRetry:
            retry: BudgetRetry = super().new(**kw)
            retry.budget_s = self.budget_s
            retry.started = self.started if self.started is not None else time.monotonic()
            return retry

        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> BudgetRetry:
            request = _active()
            cause = _attempt_cause(response, error)
            if request is not None:
                request.failures.append(cause)
            if isinstance(error, NameResolutionError):
                self._give_up(request, cause, "a DNS failure, most often a typo in the endpoint")
            retry: BudgetRetry = super().increment(
                method, url, response=response, error=error, _pool=_pool, _stacktrace=_stacktrace
            )
            # Mirror Retry.sleep(): a Retry-After of 0 (or none) means the backoff.
            wait = retry.get_retry_after(response) if response is not None else None
            if not wait:
                wait = retry.get_backoff_time()
            started = retry.started if retry.started is not None else time.monotonic()
            now = time.monotonic()
            if now - started + wait > retry.budget_s:
                self._give_up(
                    request,
                    cause,
                    f"the next retry, in {wait:.1f} s, would overrun the retry_budget of "
                    f"{retry.budget_s:g} s",
                )
            if request is not None and now + wait > request.ends:
                self._give_up(
                    request,
                    cause,
                    f"the next retry, in {wait:.1f} s, would pass {request.deadline}",
                )
            if request is not None and request.log is not None:
                request.log(
                    f"{request.what}: attempt {len(request.failures)} failed: {cause}; "
                    f"retrying in {wait:.2f} s"
                )
            return retry

        @staticmethod
        def _give_up(request: _Request | None, cause: str, why: str) -> None:
            if request is not None:
                request.gave_up = why
                if request.log is not None:
                    request.log(
                        f"{request.what}: attempt {len(request.failures)} failed: {cause}; "
                        f"not retried: {why}"
                    )
            raise MaxRetryError(None, "", ResponseError(f"gave up after {cause}: {why}"))  # type: ignore[arg-type]

    return BudgetRetry


def make_client(connection: Connection) -> Any:
    """A langsmith Client for reading experiments.

    ``auto_batch_tracing=False``: otherwise the client starts a background
    tracing thread and calls ``/info`` on construction.
    """
    from langsmith import Client

    retry = _budget_retry_class()(
        total=10,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        backoff_max=20,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,  # POST /runs/query is a read: retry it too
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    retry.budget_s = connection.retry_budget_s
    return Client(
        api_url=connection.endpoint,
        api_key=connection.api_key,
        auto_batch_tracing=False,
        timeout_ms=int(connection.timeout_s * 1000),
        retry_config=retry,
    )


# --- error translation -----------------------------------------------------------------

T = TypeVar("T")


class _Stop(Exception):
    """Raised by the response hook (in the request's thread) to end a request early:
    the SDK wraps it, :meth:`LangSmithSource._guard` finds it in the chain."""


class _DeadlineExceeded(_Stop):
    pass


class _WrongShape(_Stop):
    pass


class _TooLarge(_Stop):
    pass


def _attempt_cause(response: Any, error: BaseException | None) -> str:
    """Why one attempt failed, in words, from urllib3's response or error."""
    if response is not None:
        status = getattr(response, "status", None)
        reason = getattr(response, "reason", None) or _phrase(status)
        return f"HTTP {status} {reason}".rstrip()
    if error is not None:
        return _network_cause(error)
    return "an unknown error"


def _phrase(status: Any) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(int(status)).phrase
    except (TypeError, ValueError):
        return ""


def _network_cause(error: BaseException) -> str:
    """A network error as "what happened: the library's full text" (one line)."""
    from urllib3 import exceptions as u3

    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain and len(chain) < 20:
        chain.append(current)
        reason = getattr(current, "reason", None)
        if isinstance(current, u3.MaxRetryError) and isinstance(reason, BaseException):
            current = reason
            continue
        args = getattr(current, "args", ())
        if args and isinstance(args[0], BaseException):
            current = args[0]
            continue
        current = current.__cause__ or current.__context__
    text = " ".join(str(chain[-1]).split())
    kinds = (
        (u3.NameResolutionError, "host not found (DNS)"),
        (u3.NewConnectionError, "connection failed"),
        (u3.ConnectTimeoutError, "timed out connecting"),
        (u3.ReadTimeoutError, "timed out waiting for an answer"),
        (u3.SSLError, "TLS error"),
        (u3.ProtocolError, "LangSmith closed the connection without an answer"),
        (ConnectionRefusedError, "connection refused"),
        (ConnectionResetError, "LangSmith closed the connection without an answer"),
        (TimeoutError, "timed out"),
    )
    label = None
    for exc in reversed(chain):
        for kind, words in kinds:
            if isinstance(exc, kind):
                label = words
                break
        if label is not None:
            break
    if label == "connection failed" and "refused" in text.lower():
        label = "connection refused"
    return f"{label}: {text}" if label else f"{type(chain[-1]).__name__}: {text}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _sample(value: Any, limit: int = 120) -> str:
    """A short sample of a JSON value for a message ("…" marks a cut sample)."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Expired(Exception):
    """The caller stopped waiting for a request (its deadline passed)."""

    def __init__(self, message: str, request: _Request) -> None:
        super().__init__(message)
        self.request = request


E = TypeVar("E", bound=BaseException)


def _find(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of ``kind`` in ``exc``'s cause/context chain."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        if isinstance(current, kind):
            return current
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None


def _request_of(exc: BaseException) -> _Request | None:
    request: _Request | None = getattr(exc, "__evalbot_request__", None)
    return request


def _http_cause(response: Any) -> str:
    """An HTTP error answer as "HTTP 503 Service Unavailable: <what the server said>"."""
    status = response.status_code
    text = _one_line(response.text or "") if response.content is not None else ""
    # The server's explanation is part of the cause; an HTML error page is not
    # worth more than a glimpse, and "…" says the sample was cut.
    if len(text) > 500:
        text = text[:500] + "…"
    head = f"HTTP {status} {response.reason or _phrase(status)}".rstrip()
    return f"{head}: {text}" if text else head


def _read_body(response: Any, request: _Request) -> None:
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
                raise _DeadlineExceeded(
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
                raise _TooLarge(
                    f"LangSmith's answer is larger than {MAX_ANSWER_BYTES // 2**20} MiB; "
                    "evalbot stopped reading it"
                )
    except (Urllib3Error, OSError) as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    # requests' own attributes for a body it has read (Response.content).
    response._content = b"".join(chunks)
    response._content_consumed = True


def _check_shape(method: str, url: str, body: bytes) -> None:
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
        raise _WrongShape(
            f"{what} answered with something that is not JSON (starts {body[:60]!r})"
        ) from None
    items = value if listing else [value]
    expected = "a list of objects with an id" if listing else "an object with an id"
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] for item in items
    ):
        raise _WrongShape(
            f"{what} answered with the wrong shape: expected {expected}, got {_sample(value)}"
        )


# --- request counting -------------------------------------------------------------------


class _Counter:
    """Counts HTTP responses per part of the fetch, via a requests hook.

    Hooks run in the thread that makes the request, so a thread-local tag
    attributes each request to the part (PR runs, baseline runs, examples…)
    being fetched; :meth:`LangSmithSource._call` carries the tag over to the
    thread it runs each request in.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    @property
    def tag(self) -> str:
        tag: str = getattr(self._local, "tag", "other")
        return tag

    @tag.setter
    def tag(self, value: str) -> None:
        self._local.tag = value

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.counts[self.tag] = self.counts.get(self.tag, 0) + 1
        return response

    def measure(self, tag: str, call: Callable[[], T]) -> tuple[T, FetchStats]:
        self.tag = tag
        start = time.perf_counter()
        try:
            result = call()
        finally:
            self.tag = "other"
        seconds = time.perf_counter() - start
        runs = len(result) if isinstance(result, list) else 0
        return result, FetchStats(self.counts.get(tag, 0), seconds, runs)


# --- the source --------------------------------------------------------------------------


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _experiment(session: Any) -> Experiment:
    dataset = getattr(session, "reference_dataset_id", None)
    run_count = getattr(session, "run_count", None)
    return Experiment(
        id=str(session.id),
        name=str(session.name or session.id),
        dataset_id=str(dataset) if dataset else None,
        start_time=_aware(getattr(session, "start_time", None)),
        end_time=_aware(getattr(session, "end_time", None)),
        metadata=dict(getattr(session, "metadata", None) or {}),
        run_count=run_count if isinstance(run_count, int) else None,
        url=_shown_url(getattr(session, "url", None)),
        web_url=_web_url(_shown_url(getattr(session, "url", None))),
    )


def _shown_url(url: Any) -> str | None:
    """The experiment's link, never with the endpoint's userinfo (the SDK builds it
    from the endpoint, password included)."""
    return redact_url(url) if isinstance(url, str) else None


def _web_url(session_url: str | None) -> str | None:
    """The workspace URL in LangSmith's web app, from the SDK's (redacted) session URL.

    The SDK builds ``TracerSession.url`` as ``<web host>/o/<tenant>/projects/p/<id>``,
    deriving the web host from the API endpoint (``langsmith.utils.get_host_url``:
    ``api.smith.langchain.com`` -> ``smith.langchain.com``, ``eu.api…`` -> ``eu.smith…``,
    a self-hosted ``<host>/api`` or ``<host>/api/v1`` -> ``<host>``, localhost ->
    ``http://localhost``), so evalbot reuses that mapping rather than guessing its own.
    It is given the URL already redacted: the endpoint's userinfo never reaches a link.
    """
    if session_url is None or "/o/" not in session_url:
        return None
    workspace, sep, _ = session_url.rpartition("/projects/p/")
    return workspace if sep else None


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class LangSmithSource:
    """Reads experiments from LangSmith with one client and a request counter."""

    def __init__(self, connection: Connection, *, client: Any | None = None) -> None:
        self.connection = connection
        self.client = client if client is not None else make_client(connection)
        self.counter = _Counter()
        self.client.session.hooks["response"].append(self.counter.hook)
        self.client.session.hooks["response"].append(self._on_response)
        self.fetch_deadline_s = (
            DEFAULT_FETCH_DEADLINE_S
            if connection.fetch_deadline_s is None
            else connection.fetch_deadline_s
        )
        # The fetch deadline runs from here: a source serves one fetch.
        self._fetch_ends = time.monotonic() + self.fetch_deadline_s
        # The first failure's message: once one part of the fetch has failed, the
        # others stop at their next request instead of running to the deadline.
        self._failed: str | None = None

    # -- requests: deadlines, error translation --

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one SDK call (a request with its retries) under a hard wall-clock limit.

        Why a thread per request: urllib3's timeouts bound each socket read, not
        the request, so a server trickling a byte every half second keeps a
        request alive indefinitely; headers can be trickled too, before any hook
        runs. Waiting on the call with ``join(timeout)`` is the one limit that
        holds whatever the server does: the caller moves on at the deadline. The
        abandoned thread is a daemon (it never keeps the process alive) and
        stops soon on its own: the response hook checks the deadline between
        body reads, and the retry policy does not retry past it.
        """
        if self._failed is not None:
            raise FetchError(self._failed)
        now = time.monotonic()
        left = self._fetch_ends - now
        if left <= 0:
            raise FetchError(f"{what}: {self._fetch_deadline_words()} passed")
        request_limit = self.connection.request_deadline_s
        if left < request_limit:
            limit, deadline = left, self._fetch_deadline_words()
        else:
            limit = request_limit
            deadline = (
                f"the request deadline of {request_limit:g} s "
                f"(timeout {self.connection.timeout_s:g} s + "
                f"retry_budget {self.connection.retry_budget_s:g} s)"
            )
        request = _Request(
            what=what,
            tag=self.counter.tag,
            ends=now + limit,
            deadline=deadline,
            timeout_s=self.connection.timeout_s,
            log=self.connection.log,
        )
        box: dict[str, Any] = {}

        def run() -> None:
            _ACTIVE.request = request
            self.counter.tag = request.tag
            try:
                box["value"] = call()
            except BaseException as exc:  # handed to the caller's thread below
                box["error"] = exc

        thread = threading.Thread(target=run, name="evalbot-langsmith-request", daemon=True)
        thread.start()
        # In slices: when another part of the fetch fails, stop waiting now.
        while thread.is_alive() and time.monotonic() < request.ends and self._failed is None:
            thread.join(min(0.1, max(0.0, request.ends - time.monotonic())))
        if thread.is_alive() and self._failed is not None:
            request.abandoned = True
            raise FetchError(self._failed)
        if thread.is_alive():
            request.abandoned = True
            raise _Expired(f"{what}: no complete answer within {deadline}", request)
        if "error" in box:
            error: BaseException = box["error"]
            error.__evalbot_request__ = request  # type: ignore[attr-defined]
            raise error
        value: T = box["value"]
        return value

    @contextlib.contextmanager
    def stop_on_exit(self) -> Iterator[None]:
        """Stop every part of the fetch at its next request or wait when the caller
        leaves early (Ctrl-C, SIGTERM on a cancelled job, a bug): otherwise the
        thread pool's exit would wait for each part until its request deadline."""
        try:
            yield
        except BaseException:
            if self._failed is None:
                self._failed = "the fetch was stopped"
            raise

    def _fetch_deadline_words(self) -> str:
        return f"the fetch deadline of {self.fetch_deadline_s:g} s (fetch_deadline)"

    def _guard(
        self,
        what: str,
        call: Callable[[], T],
        *,
        not_found: Callable[[], Exception] | None = None,
    ) -> T:
        """Run an SDK call; turn every LangSmith/network failure into FetchError.

        A 404 is a FetchError too, unless ``not_found`` says what it means here
        (e.g. "no experiment named X" is an input error). Only the errors of
        the SDK, requests/urllib3 and the hook's own are caught: anything else
        is a bug in evalbot and propagates (exit 3).
        """
        import pydantic
        import requests
        from langsmith import utils as ls_utils

        try:
            return self._call(what, call)
        except _Expired as exc:
            raise self._fail(str(exc), exc.request) from None
        except ls_utils.LangSmithNotFoundError:
            if not_found is not None:
                raise not_found() from None
            raise self._fail(f"{what}: LangSmith answered 404 (not found)") from None
        except ls_utils.LangSmithAuthError:
            raise self._fail(
                f"LangSmith rejected the API key for {self.connection.shown_endpoint}"
            ) from None
        except (ls_utils.LangSmithError, requests.RequestException) as exc:
            stop = _find(exc, _Stop)
            if stop is not None:
                raise self._fail(f"{what}: {stop}", _request_of(exc)) from None
            http = _find(exc, requests.HTTPError)
            response = getattr(http, "response", None)
            if response is not None and response.status_code in (401, 403):
                raise self._fail(
                    f"LangSmith rejected the API key for {self.connection.shown_endpoint}"
                ) from None
            if isinstance(exc, requests.exceptions.JSONDecodeError):
                raise self._fail(
                    f"{what}: LangSmith answered with something that is not JSON"
                ) from None
            request = _request_of(exc)
            if response is not None:
                cause = _http_cause(response)
            elif request is not None and request.failures:
                cause = request.failures[-1]  # what the retry policy saw last
            else:
                cause = _network_cause(exc)
            raise self._fail(f"{what}: {cause}", request, located=True) from None
        except pydantic.ValidationError as exc:
            raise self._fail(
                f"{what}: LangSmith answered with the wrong shape: {_one_line(str(exc))}"
            ) from None

    def _fail(
        self, message: str, request: _Request | None = None, *, located: bool = False
    ) -> FetchError:
        """The FetchError for ``message``: retries and endpoint named, secrets removed;
        the first one also stops the rest of the fetch."""
        if request is not None and request.failures:
            attempts = len(request.failures)
            seconds = time.monotonic() - request.started
            if attempts > 1:
                message += f"; gave up after {attempts} attempts in {seconds:.1f} s"
                if request.gave_up:
                    message += f" ({request.gave_up})"
            elif request.gave_up:
                message += f"; not retried: {request.gave_up}"
        if located:
            message += f"; endpoint {self.connection.shown_endpoint}"
        message = self._scrub(message)
        if self._failed is None:
            self._failed = message
        if self.connection.log is not None:
            self.connection.log(f"failed: {message}")
        return FetchError(message)

    def _scrub(self, text: str) -> str:
        """One line, never the key or the endpoint's password, even if a server echoed them."""
        text = redact_url(_one_line(text))
        secrets = [self.connection.api_key]
        password = endpoint_password(self.connection.endpoint)
        if password:
            secrets += [password, quote(password, safe="")]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _fail_shape(self, what: str, detail: str) -> FetchError:
        return self._fail(f"{what}: LangSmith answered with the wrong shape ({detail})")

    def _json(self, what: str, response: Any) -> Any:
        """The JSON body of a response already read; FetchError when it is not JSON."""
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise self._fail(
                f"{what}: LangSmith answered with something that is not JSON "
                f"(HTTP {response.status_code}, starts {response.content[:60]!r})"
            ) from None

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Response hook (runs in the request's thread, before the body is read):
        read the body under the deadline, check the shape of what the SDK parses."""
        request = _active()
        if request is None:
            return response
        if request.log is not None:
            path = urlsplit(str(response.url)).path
            request.log(
                f"{response.request.method} {path}: HTTP {response.status_code} "
                f"({response.elapsed.total_seconds():.2f} s to the headers)"
            )
        _read_body(response, request)
        if 200 <= response.status_code < 300:
            _check_shape(str(response.request.method), str(response.url), response.content)
        return response

    # -- experiments --

    def read_experiment(self, ref: str, *, option: str) -> Experiment:
        """An experiment by id or name; InputError naming ``option`` when absent."""
        what = f"reading experiment {ref!r}"

        def call() -> Any:
            if _is_uuid(ref):
                return self.client.read_project(project_id=ref)
            return self.client.read_project(project_name=ref)

        def missing() -> Exception:
            return InputError(
                f"{option}: no experiment named or with id {ref!r} on "
                f"{self.connection.shown_endpoint}"
            )

        return _experiment(self._guard(what, call, not_found=missing))

    def dataset_id(self, ref: str, *, option: str = "--dataset") -> str:
        """A dataset id from a name or id."""
        if _is_uuid(ref):
            return ref
        dataset = self._guard(
            f"reading dataset {ref!r}",
            lambda: self.client.read_dataset(dataset_name=ref),
            not_found=lambda: InputError(f"{option}: no dataset named {ref!r}"),
        )
        return str(dataset.id)

    def example_count(self, dataset_id: str) -> int | None:
        """The dataset's example count, or None when LangSmith does not say.

        A raw GET: the SDK's ``read_dataset`` adds a tenant look-up to build a
        URL evalbot does not need.
        """
        what = "reading the dataset"
        response = self._guard(
            what,
            lambda: self.client.request_with_retries("GET", f"/datasets/{dataset_id}"),
        )
        payload = self._json(what, response)
        if not isinstance(payload, dict):
            raise self._fail_shape(what, f"expected a dataset object, got {_sample(payload)}")
        count = payload.get("example_count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _candidates(
        self, dataset_id: str, *, metadata: Mapping[str, Any] | None, name_contains: str | None
    ) -> Iterator[Experiment]:
        """Experiments on a dataset, newest first, lazily paged by the SDK.

        An experiment listed twice means the server ignored the listing's
        ``offset`` (the SDK would page the same sessions forever): fetch_failed.
        Callers stop after MAX_CANDIDATES.
        """
        iterator = iter(
            self.client.list_projects(
                reference_dataset_id=dataset_id,
                metadata=dict(metadata) if metadata else None,
                name_contains=name_contains,
                include_stats=True,
            )
        )
        what = "listing experiments"
        seen: set[str] = set()
        while True:
            session = self._guard(what, lambda: next(iterator, None))
            if session is None:
                return
            experiment = _experiment(session)
            if experiment.id in seen:
                raise self._fail(
                    f"{what}: LangSmith listed experiment {experiment.name!r} twice after "
                    f"{len(seen)} experiments: the server seems to ignore the listing's offset"
                )
            seen.add(experiment.id)
            yield experiment

    def resolve_pr(self, query: PrQuery) -> Experiment:
        """The PR experiment named by ``--pr`` or found by ``--pr-metadata``."""
        if query.ref is not None:
            return self.read_experiment(query.ref, option="--pr")
        assert query.metadata is not None and query.dataset is not None
        dataset_id = self.dataset_id(query.dataset)
        for experiment in self._candidates(dataset_id, metadata=query.metadata, name_contains=None):
            return experiment
        raise ExperimentNotFound(
            f"--pr-metadata: no experiment on dataset {query.dataset!r} has metadata "
            f"{json.dumps(query.metadata)}"
        )

    def check_explicit(self, pr: Experiment, baseline: Experiment, query: BaselineQuery) -> None:
        """An explicit baseline must be on the PR's dataset unless allowed."""
        if (
            baseline.dataset_id != pr.dataset_id
            and not query.allow_other_dataset
            and baseline.id != pr.id
        ):
            raise InputError(
                f"--baseline: experiment {baseline.name!r} ran on another dataset "
                f"({baseline.dataset_id}) than the PR experiment ({pr.dataset_id}); "
                "pass --allow-dataset-mismatch to compare them anyway"
            )

    def resolve_baseline(
        self,
        pr: Experiment,
        query: BaselineQuery,
        *,
        example_count: Callable[[], int | None] = lambda: None,
    ) -> tuple[Experiment | None, int]:
        """The baseline experiment and how many incomplete candidates were skipped.

        Prefix and metadata strategies take the newest *complete* experiment on
        the PR's dataset that started no later than the PR experiment (so on
        the base branch the run itself is found: ``self_baseline``).
        Complete: it has an end time and, when its run count and the dataset's
        example count are known, at least examples × repetitions runs.
        """
        if query.strategy is Strategy.EXPLICIT:
            baseline = self.read_experiment(str(query.value), option="--baseline")
            self.check_explicit(pr, baseline, query)
            return baseline, 0
        if pr.dataset_id is None:
            raise InputError(
                f"--pr: experiment {pr.name!r} has no dataset, so no baseline can be searched "
                "for; pass --baseline"
            )
        found, skipped = self.history(
            pr.dataset_id,
            query,
            limit=1,
            started_before=pr.start_time,
            example_count=example_count,
        )
        return (found[0] if found else None), skipped

    def history(
        self,
        dataset_id: str,
        query: BaselineQuery,
        *,
        limit: int,
        started_before: datetime | None = None,
        example_count: Callable[[], int | None] = lambda: None,
    ) -> tuple[list[Experiment], int]:
        """Up to ``limit`` newest complete experiments matching ``query``, newest first.

        The one implementation of the prefix and metadata strategies (the
        baseline is ``history(..., limit=1)``): candidates on ``dataset_id``
        newest first, the prefix re-checked (the server's filter is a substring
        match), those that started after ``started_before`` (when given)
        ignored, and incomplete ones (see :func:`_complete`) skipped and
        counted. Returns the experiments and the number skipped as incomplete
        before the last one was found. At most ``max(MAX_CANDIDATES, limit)``
        candidates are looked at. An explicit baseline is one experiment, not a
        series: asking for its history is an InputError.
        """
        if query.strategy is Strategy.EXPLICIT:
            raise InputError(
                "--history: needs --baseline-prefix or --baseline-metadata "
                "(an explicit baseline has no series)"
            )
        if limit < 1:
            raise ValueError(f"history: limit must be at least 1, got {limit}")
        prefix = str(query.value) if query.strategy is Strategy.PREFIX else None
        metadata = query.value if isinstance(query.value, Mapping) else None
        found: list[Experiment] = []
        skipped = 0
        for seen, candidate in enumerate(
            self._candidates(dataset_id, metadata=metadata, name_contains=prefix)
        ):
            if seen >= max(MAX_CANDIDATES, limit):
                break
            # The server's name filter is a substring match: re-check the prefix.
            if prefix is not None and not candidate.name.startswith(prefix):
                continue
            if (
                started_before is not None
                and candidate.start_time is not None
                and candidate.start_time > started_before
            ):
                continue
            if not _complete(candidate, example_count):
                skipped += 1
                continue
            found.append(candidate)
            if len(found) >= limit:
                break
        return found, skipped

    # -- runs and examples --

    def query_runs(self, experiment: Experiment) -> list[dict[str, Any]]:
        """Every root run of the experiment, 100 per request, selected fields only.

        Bounded: a cursor seen before, a page of runs seen before, or more pages
        than the experiment's run count fills (MAX_RUN_PAGES when LangSmith does
        not give the count) is fetch_failed naming the cause.
        """
        what = f"fetching runs of {experiment.name!r}"
        body: dict[str, Any] = {
            "session": [experiment.id],
            "is_root": True,
            "select": list(RUN_FIELDS),
            "limit": PAGE_SIZE,
        }
        if experiment.run_count is None:
            max_pages, allowed = MAX_RUN_PAGES, f"the cap of {MAX_RUN_PAGES} pages"
        else:
            max_pages = 2 * -(-experiment.run_count // PAGE_SIZE) + RUN_PAGE_SLACK
            allowed = (
                f"its {experiment.run_count} runs allow ({max_pages} pages of {PAGE_SIZE}, "
                "slack included)"
            )
        runs: list[dict[str, Any]] = []
        cursors: set[str] = set()
        pages: set[tuple[str, ...]] = set()
        while True:
            data = json.dumps(body)
            response = self._guard(
                what,
                lambda data=data: self.client.request_with_retries(  # type: ignore[misc]
                    "POST", "/runs/query", request_kwargs={"data": data}
                ),
            )
            payload = self._json(what, response)
            if not isinstance(payload, dict) or not isinstance(payload.get("runs", []), list):
                raise self._fail_shape(
                    what, f"expected an object with a 'runs' list, got {_sample(payload)}"
                )
            page = payload.get("runs") or []
            ids = []
            for run in page:
                if not isinstance(run, dict) or not isinstance(run.get("id"), str) or not run["id"]:
                    raise self._fail_shape(what, f"a run without an id: {_sample(run)}")
                ids.append(run["id"])
            cursors_field = payload.get("cursors") or {}
            cursor = cursors_field.get("next") if isinstance(cursors_field, dict) else None
            if cursor is not None and not isinstance(cursor, str):
                raise self._fail_shape(what, f"the next cursor is not a string: {_sample(cursor)}")
            if page and cursor and cursor in cursors:
                raise self._fail(
                    f"{what}: LangSmith sent the same cursor again after {len(pages) + 1} pages"
                )
            fingerprint = tuple(ids)
            if fingerprint and fingerprint in pages:
                raise self._fail(
                    f"{what}: LangSmith sent the same runs again on page {len(pages) + 1}: "
                    "the server seems to ignore the cursor"
                )
            pages.add(fingerprint)
            runs.extend(page)
            if not page or not cursor:
                return runs
            if len(pages) >= max_pages:
                raise self._fail(
                    f"{what}: LangSmith sent more pages than {allowed}; stopped after "
                    f"{len(pages)} pages ({len(runs)} runs)"
                )
            cursors.add(cursor)
            body["cursor"] = cursor

    def examples(self, dataset_id: str) -> dict[str, dict[str, Any]]:
        """The dataset's examples by id: one paginated listing, never per run.

        Raw ``GET /examples`` pages of 100: only id, inputs and metadata are
        used, and the SDK's ``list_examples`` would add a tenant look-up and
        build an object per example. Bounded: an example seen on an earlier
        page (the server ignored ``offset``) or more than MAX_EXAMPLE_PAGES
        pages is fetch_failed.
        """
        what = "listing dataset examples"
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        for number in range(1, MAX_EXAMPLE_PAGES + 1):
            params = {"dataset": dataset_id, "limit": PAGE_SIZE, "offset": offset}
            response = self._guard(
                what,
                lambda params=params: self.client.request_with_retries(  # type: ignore[misc]
                    "GET", "/examples", params=params
                ),
            )
            page = self._json(what, response)
            if not isinstance(page, list) or not all(isinstance(e, dict) for e in page):
                raise self._fail_shape(what, f"expected a list of examples, got {_sample(page)}")
            for example in page:
                if not isinstance(example.get("id"), str) or not example["id"]:
                    raise self._fail_shape(what, f"an example without an id: {_sample(example)}")
                if example["id"] in out:
                    raise self._fail(
                        f"{what}: LangSmith sent the same examples again on page {number} "
                        f"(offset {offset}): the server seems to ignore the offset"
                    )
                out[example["id"]] = {
                    "id": example["id"],
                    "inputs": example.get("inputs") or {},
                    "metadata": example.get("metadata") or {},
                }
            if len(page) < PAGE_SIZE:
                return out
            offset += len(page)
        raise self._fail(
            f"{what}: more than {MAX_EXAMPLE_PAGES} pages of {PAGE_SIZE} examples "
            f"(the limit is {MAX_EXAMPLE_PAGES * PAGE_SIZE:,} examples)"
        )


def _complete(experiment: Experiment, example_count: Callable[[], int | None]) -> bool:
    """Ended, and (when both are known) at least examples × repetitions runs."""
    if experiment.end_time is None:
        return False
    if experiment.run_count is None:
        return True
    count = example_count()
    if not count:
        return True
    repetitions = experiment.metadata.get("num_repetitions")
    if not isinstance(repetitions, int) or isinstance(repetitions, bool) or repetitions < 1:
        repetitions = 1
    return experiment.run_count >= count * repetitions


def _info(experiment: Experiment, example_count: int | None) -> ExperimentInfo:
    return ExperimentInfo(
        name=experiment.name,
        id=experiment.id,
        url=experiment.url,
        metadata=experiment.metadata,
        started_at=experiment.start_time.isoformat() if experiment.start_time else None,
        example_count=example_count,
        dataset_id=experiment.dataset_id,
        web_url=experiment.web_url,
    )


def fetch(
    source: LangSmithSource,
    pr_query: PrQuery,
    baseline_query: BaselineQuery,
    *,
    rules: BucketRules,
    history: int = 1,
    workers: int = 6,
) -> Fetched:
    """Resolve both experiments and fetch their runs and examples concurrently.

    ``history``: how many baseline runs to pool (the baseline included); the
    older ones come from the same listing as the baseline and are paged
    concurrently with everything else. An explicit baseline has no history.

    The critical path is the longest cursor chain of run pages, so paging
    starts as soon as the PR experiment is known, while the baseline is still
    being resolved; an explicit baseline is looked up alongside the PR.
    """
    started = time.perf_counter()
    measure = source.counter.measure
    stats: dict[str, FetchStats] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool, source.stop_on_exit():
        pr_job = pool.submit(measure, "resolve_pr", lambda: source.resolve_pr(pr_query))
        explicit = baseline_query.strategy is Strategy.EXPLICIT
        base_job = (
            pool.submit(
                measure,
                "resolve_baseline",
                lambda: source.read_experiment(str(baseline_query.value), option="--baseline"),
            )
            if explicit
            else None
        )
        pr, stats["resolve_pr"] = pr_job.result()
        pr_runs_job = pool.submit(measure, "pr_runs", lambda: source.query_runs(pr))
        example_jobs: dict[str, Future[tuple[dict[str, dict[str, Any]], FetchStats]]] = {}
        count_jobs: dict[str, Future[tuple[int | None, FetchStats]]] = {}

        def start_dataset(dataset_id: str | None) -> None:
            if dataset_id and dataset_id not in example_jobs:
                example_jobs[dataset_id] = pool.submit(
                    measure, f"examples:{dataset_id}", lambda: source.examples(dataset_id)
                )
                count_jobs[dataset_id] = pool.submit(
                    measure, f"dataset:{dataset_id}", lambda: source.example_count(dataset_id)
                )

        def count_of(dataset_id: str | None) -> int | None:
            return count_jobs[dataset_id].result()[0] if dataset_id in count_jobs else None

        start_dataset(pr.dataset_id)
        baseline: Experiment | None
        older: list[Experiment] = []
        if base_job is not None:
            baseline, stats["resolve_baseline"] = base_job.result()
            source.check_explicit(pr, baseline, baseline_query)
            skipped = 0
        elif pr.dataset_id is None:
            raise InputError(
                f"--pr: experiment {pr.name!r} has no dataset, so no baseline can be searched "
                "for; pass --baseline"
            )
        else:
            # One listing gives the baseline and its history window (issue 5 §1):
            # the newest complete match is the baseline, the rest pool with it.
            dataset_id = pr.dataset_id
            (window, skipped), stats["resolve_baseline"] = measure(
                "resolve_baseline",
                lambda: source.history(
                    dataset_id,
                    baseline_query,
                    limit=max(1, history),
                    started_before=pr.start_time,
                    example_count=lambda: count_of(dataset_id),
                ),
            )
            baseline = window[0] if window else None
            older = window[1:] if baseline is not None and baseline.id != pr.id else []
        base_runs_job = None
        if baseline is not None and baseline.id != pr.id:
            start_dataset(baseline.dataset_id)
            base_runs_job = pool.submit(
                measure, "baseline_runs", lambda: source.query_runs(baseline)
            )
        history_jobs = [
            pool.submit(measure, f"history:{old.name}", lambda old=old: source.query_runs(old))
            for old in older
        ]
        pr_runs, stats["pr_runs"] = pr_runs_job.result()
        base_runs: list[dict[str, Any]] | None = None
        if base_runs_job is not None:
            base_runs, stats["baseline_runs"] = base_runs_job.result()
        history_runs: list[list[dict[str, Any]]] = []
        for old, history_job in zip(older, history_jobs, strict=True):
            runs, stats[f"history:{old.name}"] = history_job.result()
            history_runs.append(runs)
        examples: dict[str, dict[str, Any]] = {}
        for dataset_id, job in example_jobs.items():
            part, stats[f"examples:{dataset_id}"] = job.result()
            examples.update(part)
            _, stats[f"dataset:{dataset_id}"] = count_jobs[dataset_id].result()
        counts = {dataset_id: count_of(dataset_id) for dataset_id in count_jobs}
    pass_keys = infer_pass_keys(pr_runs, rules)
    check_pass_keys(rules.pass_keys, itertools.chain(pr_runs, base_runs or (), *history_runs))

    def bucket(experiment: Experiment, runs: list[dict[str, Any]]) -> Bucket:
        info = _info(experiment, counts.get(experiment.dataset_id or ""))
        return bucket_runs(info, runs, examples, rules=rules, pass_keys=pass_keys)

    pr_bucket = bucket(pr, pr_runs)
    baseline_bucket: Bucket | None = None
    if baseline is not None:
        baseline_bucket = pr_bucket if base_runs is None else bucket(baseline, base_runs)
    # Older runs oldest first, as compare_buckets expects.
    older_buckets = tuple(
        bucket(old, runs) for old, runs in reversed(list(zip(older, history_runs, strict=True)))
    )
    return Fetched(
        pr=pr_bucket,
        baseline=baseline_bucket,
        history=older_buckets,
        query=baseline_query,
        skipped_incomplete=skipped,
        stats=stats,
        total_seconds=time.perf_counter() - started,
    )


def export(source: LangSmithSource, ref: str, *, rules: BucketRules) -> Bucket:
    """One experiment as a Bucket (for ``evalbot export``)."""
    experiment = source.read_experiment(ref, option="EXPERIMENT")
    count = source.example_count(experiment.dataset_id) if experiment.dataset_id else None
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs_job = pool.submit(source.query_runs, experiment)
        examples_job = (
            pool.submit(source.examples, experiment.dataset_id) if experiment.dataset_id else None
        )
        runs = runs_job.result()
        examples = examples_job.result() if examples_job is not None else {}
    check_pass_keys(rules.pass_keys, runs)
    return bucket_runs(
        _info(experiment, count),
        runs,
        examples,
        rules=rules,
        pass_keys=infer_pass_keys(runs, rules),
    )


def fetch_history(
    source: LangSmithSource,
    experiments: Sequence[Experiment],
    *,
    rules: BucketRules,
    pass_keys: tuple[str, ...] | None,
    examples: Mapping[str, dict[str, Any]] | None = None,
    example_counts: Mapping[str, int | None] | None = None,
    workers: int = 6,
) -> list[Bucket]:
    """Every experiment as a Bucket, in the order given; runs paged concurrently.

    Each experiment's run pages follow a cursor, so they are sequential, but
    the experiments are paged side by side (the wall time is the longest
    chain, not the sum); 100 runs per request, never a request per run.
    ``examples`` (by id) is reused when given, else each distinct dataset's
    examples are listed once, alongside the runs. ``pass_keys`` None infers
    them from the *first* experiment's runs — pass experiments newest first,
    as :meth:`LangSmithSource.history` lists them — and applies them to all,
    so every run of the series is judged by the same keys. ``example_counts``
    (by dataset id) only feeds the buckets' completeness notes.
    """
    if not experiments:
        return []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        run_jobs = [pool.submit(source.query_runs, experiment) for experiment in experiments]
        example_jobs: dict[str, Future[dict[str, dict[str, Any]]]] = {}
        if examples is None:
            for experiment in experiments:
                dataset_id = experiment.dataset_id
                if dataset_id and dataset_id not in example_jobs:
                    example_jobs[dataset_id] = pool.submit(source.examples, dataset_id)
        runs = [job.result() for job in run_jobs]
        listed: dict[str, dict[str, Any]] = dict(examples or {})
        for job in example_jobs.values():
            listed.update(job.result())
    keys = pass_keys if pass_keys is not None else infer_pass_keys(runs[0], rules)
    check_pass_keys(rules.pass_keys, itertools.chain.from_iterable(runs))
    counts = example_counts or {}
    return [
        bucket_runs(
            _info(experiment, counts.get(experiment.dataset_id or "")),
            experiment_runs,
            listed,
            rules=rules,
            pass_keys=keys,
        )
        for experiment, experiment_runs in zip(experiments, runs, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class History:
    """A dataset's run history: buckets oldest first, how many runs, what was skipped."""

    buckets: tuple[Bucket, ...]
    found: int
    skipped_incomplete: int


def history_buckets(
    source: LangSmithSource,
    dataset: str,
    query: BaselineQuery,
    *,
    limit: int,
    rules: BucketRules,
    min_runs: int = 2,
    workers: int = 6,
) -> History:
    """The newest ``limit`` complete runs on ``dataset`` (name or id), oldest first.

    For ``evalbot trend``: the dataset's examples and example count are read
    while the experiments are listed, then every run is paged concurrently by
    :func:`fetch_history`, with pass keys inferred from the newest run. With
    fewer than ``min_runs`` complete runs there is no series to fetch: the
    buckets are empty and ``found`` says how many there were.
    """
    dataset_id = source.dataset_id(dataset)
    with ThreadPoolExecutor(max_workers=2) as pool:
        examples_job = pool.submit(source.examples, dataset_id)
        count_job = pool.submit(source.example_count, dataset_id)
        experiments, skipped = source.history(
            dataset_id, query, limit=limit, example_count=count_job.result
        )
        examples = examples_job.result()
        count = count_job.result()
    if len(experiments) < min_runs:
        return History(buckets=(), found=len(experiments), skipped_incomplete=skipped)
    buckets = fetch_history(
        source,
        experiments,
        rules=rules,
        pass_keys=None,
        examples=examples,
        example_counts={dataset_id: count},
        workers=workers,
    )
    return History(
        buckets=tuple(reversed(buckets)), found=len(experiments), skipped_incomplete=skipped
    )
