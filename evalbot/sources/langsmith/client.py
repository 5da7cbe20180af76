"""Building the langsmith Client: no background tracing, and a retry policy with a time budget.

The policy lives in urllib3 (the SDK's session retries through it); it sees the
request in flight through :func:`active`, set by :mod:`.calls` in the thread
that runs each SDK call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evalbot.sources.langsmith.connection import Connection

RETRY_STATUSES = (408, 429, 500, 502, 503, 504)


@dataclass
class Request:
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


def active() -> Request | None:
    """The request in flight in this thread, if any."""
    request: Request | None = getattr(_ACTIVE, "request", None)
    return request


def set_active(request: Request) -> None:
    """Mark ``request`` as the one this thread runs (for the retry policy and hooks)."""
    _ACTIVE.request = request


def _budget_retry_class() -> type[Any]:
    from urllib3.exceptions import InvalidHeader, MaxRetryError, NameResolutionError, ResponseError
    from urllib3.util.retry import Retry

    class BudgetRetry(Retry):
        """urllib3 Retry that stops once a total time budget would be exceeded.

        Honours Retry-After (429/503) and otherwise backs off exponentially with
        jitter — the run-query endpoint often omits Retry-After (issue 3 §1).
        The budget starts at the first retry of a request. It also stops when
        the wait would pass the request's deadline (docs/langsmith.md, "Retries and
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
            request = active()
            cause = attempt_cause(response, error)
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
        def _give_up(request: Request | None, cause: str, why: str) -> None:
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
    client = Client(
        api_url=connection.endpoint,
        api_key=connection.api_key,
        auto_batch_tracing=False,
        timeout_ms=int(connection.timeout_s * 1000),
        retry_config=retry,
    )
    _read_environment_once(client.session, connection.endpoint)
    return client


def _read_environment_once(session: Any, endpoint: str) -> None:
    """Apply the environment's proxy, CA bundle and netrc settings once, not per request.

    With ``trust_env`` requests re-reads them on every request (every variable
    of ``os.environ`` scanned for proxies, ``~/.netrc`` looked up: about 1 ms a
    page, issue 14 §4). Every request goes to ``endpoint``'s host, so the
    settings requests would compute are the same each time: computed here with
    requests' own functions, then fixed on the session.
    """
    from requests.utils import get_netrc_auth

    settings = session.merge_environment_settings(endpoint, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    if settings["cert"] is not None:
        session.cert = settings["cert"]
    auth = get_netrc_auth(endpoint)
    if auth and session.auth is None:
        session.auth = auth
    session.trust_env = False


def attempt_cause(response: Any, error: BaseException | None) -> str:
    """Why one attempt failed, in words, from urllib3's response or error."""
    if response is not None:
        status = getattr(response, "status", None)
        reason = getattr(response, "reason", None) or phrase(status)
        return f"HTTP {status} {reason}".rstrip()
    if error is not None:
        return network_cause(error)
    return "an unknown error"


def phrase(status: Any) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(int(status)).phrase
    except (TypeError, ValueError):
        return ""


def network_cause(error: BaseException) -> str:
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
