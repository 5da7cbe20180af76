"""SDK calls under deadlines, counted per part of the fetch, their failures made evalbot errors.

SDK and HTTP exceptions stop here: an outage, a timeout, exhausted retries, a
malformed body or a rejected key become :class:`~evalbot.errors.FetchError`
(reported as ``fetch_failed``); a caller may say what a 404 means (an
:class:`~evalbot.errors.InputError`, say); a bug in evalbot is neither and
propagates (exit 3).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

import orjson

from evalbot.errors import FetchError
from evalbot.sources.langsmith.answers import (
    Stop,
    check_shape,
    find,
    http_cause,
    one_line,
    read_body,
)
from evalbot.sources.langsmith.client import (
    Request,
    active,
    make_client,
    network_cause,
    set_active,
)
from evalbot.sources.langsmith.connection import (
    DEFAULT_FETCH_DEADLINE_S,
    Connection,
    endpoint_password,
    redact_url,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FetchStats:
    """Requests and wall time spent on one part of the fetch."""

    requests: int
    seconds: float
    runs: int = 0


class Counter:
    """Counts HTTP responses per part of the fetch, via a requests hook.

    Hooks run in the thread that makes the request, so a thread-local tag
    attributes each request to the part (PR runs, baseline runs, examples…)
    being fetched; :meth:`Calls.start` carries the tag over to the thread it
    runs each request in.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    @property
    def tag(self) -> str:
        """The part of the fetch this thread works for."""
        tag: str = getattr(self._local, "tag", "other")
        return tag

    @tag.setter
    def tag(self, value: str) -> None:
        self._local.tag = value

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """The requests response hook: one more request for this thread's part."""
        with self._lock:
            self.counts[self.tag] = self.counts.get(self.tag, 0) + 1
        return response

    def measure(self, tag: str, call: Callable[[], T]) -> tuple[T, FetchStats]:
        """Run ``call`` as part ``tag``: its result, requests and wall time."""
        self.tag = tag
        start = time.perf_counter()
        try:
            result = call()
        finally:
            self.tag = "other"
        seconds = time.perf_counter() - start
        runs = len(result) if isinstance(result, list) else 0
        return result, FetchStats(self.counts.get(tag, 0), seconds, runs)


class _Expired(Exception):
    """The caller stopped waiting for a request (its deadline passed)."""

    def __init__(self, message: str, request: Request) -> None:
        super().__init__(message)
        self.request = request


class Pending(Generic[T]):
    """One SDK call running in its own thread; :meth:`Calls.guard` waits for it."""

    def __init__(self, request: Request, thread: threading.Thread, box: dict[str, Any]) -> None:
        self.request = request
        self.thread = thread
        self.box = box


def _request_of(exc: BaseException) -> Request | None:
    request: Request | None = getattr(exc, "__evalbot_request__", None)
    return request


class Calls:
    """One client, its request counter and the fetch deadline: every SDK call goes through here."""

    def __init__(self, connection: Connection, *, client: Any | None = None) -> None:
        self.connection = connection
        self.client = client if client is not None else make_client(connection)
        self.counter = Counter()
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

    # -- one call: a thread, a hard wall-clock limit --

    def limits(self, what: str) -> Request:
        """A new request's limits: the request deadline, or the fetch's if sooner.

        FetchError when the fetch has failed already or its deadline has passed.
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
        return Request(
            what=what,
            tag=self.counter.tag,
            ends=now + limit,
            deadline=deadline,
            timeout_s=self.connection.timeout_s,
            log=self.connection.log,
        )

    def start(self, what: str, call: Callable[[], T]) -> Pending[T]:
        """Start one SDK call (a request with its retries) under a hard wall-clock limit.

        Why a thread per request: urllib3's timeouts bound each socket read, not
        the request, so a server trickling a byte every half second keeps a
        request alive indefinitely; headers can be trickled too, before any hook
        runs. Waiting on the call with ``join(timeout)`` is the one limit that
        holds whatever the server does: the caller moves on at the deadline. The
        abandoned thread is a daemon (it never keeps the process alive) and
        stops soon on its own: the response hook checks the deadline between
        body reads, and the retry policy does not retry past it. (A chain of
        pages runs its requests in one such thread: :meth:`.Pager.run_pages`.)
        """
        request = self.limits(what)
        box: dict[str, Any] = {}

        def run() -> None:
            set_active(request)
            self.counter.tag = request.tag
            try:
                box["value"] = call()
            except BaseException as exc:  # handed to the caller's thread in _wait
                box["error"] = exc

        thread = threading.Thread(target=run, name="evalbot-langsmith-request", daemon=True)
        thread.start()
        return Pending(request, thread, box)

    def _wait(self, pending: Pending[T]) -> T:
        request, thread, box = pending.request, pending.thread, pending.box
        # In slices: when another part of the fetch fails, stop waiting now.
        while thread.is_alive() and time.monotonic() < request.ends and self._failed is None:
            thread.join(min(0.1, max(0.0, request.ends - time.monotonic())))
        if thread.is_alive() and self._failed is not None:
            request.abandoned = True
            raise FetchError(self._failed)
        if thread.is_alive():
            request.abandoned = True
            raise _Expired(f"{request.what}: no complete answer within {request.deadline}", request)
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

    # -- error translation --

    def guard(
        self,
        what: str,
        call: Callable[[], T] | Pending[T],
        *,
        not_found: Callable[[], Exception] | None = None,
    ) -> T:
        """Run an SDK call (or wait for a started one); every LangSmith/network failure
        becomes FetchError (see :meth:`translated`)."""
        pending = call if isinstance(call, Pending) else self.start(what, call)
        return self.translated(what, lambda: self._wait(pending), not_found=not_found)

    def translated(
        self, what: str, run: Callable[[], T], *, not_found: Callable[[], Exception] | None = None
    ) -> T:
        """``run()``, with every LangSmith/network failure it raises made a FetchError.

        A 404 is a FetchError too, unless ``not_found`` says what it means here
        (e.g. "no experiment named X" is an input error). Only the errors of
        the SDK, requests/urllib3 and the hook's own are caught: anything else
        is a bug in evalbot and propagates (exit 3).
        """
        import pydantic
        import requests
        from langsmith import utils as ls_utils

        try:
            return run()
        except _Expired as exc:
            raise self.fail(str(exc), exc.request) from None
        except ls_utils.LangSmithNotFoundError:
            if not_found is not None:
                raise not_found() from None
            raise self.fail(f"{what}: LangSmith answered 404 (not found)") from None
        except ls_utils.LangSmithAuthError:
            raise self.fail(
                f"LangSmith rejected the API key for {self.connection.shown_endpoint}"
            ) from None
        except (ls_utils.LangSmithError, requests.RequestException) as exc:
            stop = find(exc, Stop)
            if stop is not None:
                raise self.fail(f"{what}: {stop}", _request_of(exc)) from None
            http = find(exc, requests.HTTPError)
            response = getattr(http, "response", None)
            if response is not None and response.status_code in (401, 403):
                raise self.fail(
                    f"LangSmith rejected the API key for {self.connection.shown_endpoint}"
                ) from None
            if isinstance(exc, requests.exceptions.JSONDecodeError):
                raise self.fail(
                    f"{what}: LangSmith answered with something that is not JSON"
                ) from None
            request = _request_of(exc)
            if response is not None:
                cause = http_cause(response)
            elif request is not None and request.failures:
                cause = request.failures[-1]  # what the retry policy saw last
            else:
                cause = network_cause(exc)
            raise self.fail(f"{what}: {cause}", request, located=True) from None
        except pydantic.ValidationError as exc:
            raise self.fail(
                f"{what}: LangSmith answered with the wrong shape: {one_line(str(exc))}"
            ) from None

    def fail(
        self, message: str, request: Request | None = None, *, located: bool = False
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
        text = redact_url(one_line(text))
        secrets = [self.connection.api_key]
        password = endpoint_password(self.connection.endpoint)
        if password:
            secrets += [password, quote(password, safe="")]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def fail_shape(self, what: str, detail: str) -> FetchError:
        """The FetchError for an answer of the wrong shape."""
        return self.fail(f"{what}: LangSmith answered with the wrong shape ({detail})")

    def json(self, what: str, response: Any) -> Any:
        """The JSON body of a response already read; FetchError when it is not JSON.

        orjson first (a page of runs decodes in a third of the stdlib's time);
        whatever it refuses — NaN, an integer beyond 64 bits, a lone surrogate,
        all of which the stdlib accepts — goes to the stdlib, so the value is
        the stdlib's either way.
        """
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            pass
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise self.fail(
                f"{what}: LangSmith answered with something that is not JSON "
                f"(HTTP {response.status_code}, starts {response.content[:60]!r})"
            ) from None

    def _on_response(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """Response hook (runs in the request's thread, before the body is read):
        read the body under the deadline, check the shape of what the SDK parses."""
        request = active()
        if request is None:
            return response
        if request.log is not None:
            path = urlsplit(str(response.url)).path
            request.log(
                f"{response.request.method} {path}: HTTP {response.status_code} "
                f"({response.elapsed.total_seconds():.2f} s to the headers)"
            )
        read_body(response, request)
        if 200 <= response.status_code < 300:
            check_shape(str(response.request.method), str(response.url), response.content)
        return response
