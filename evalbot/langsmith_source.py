"""LangSmith: the only module that talks to LangSmith (brief: rule 2).

It resolves the PR and baseline experiments, pages their root runs, and hands
plain dicts to :mod:`evalbot.langsmith_bucket`. SDK and HTTP exceptions stop
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

from evalbot.errors import ExperimentNotFound, FetchError, InputError
from evalbot.langsmith_bucket import (
    BucketRules,
    ExperimentInfo,
    bucket_runs,
    check_pass_keys,
    infer_pass_keys,
)
from evalbot.models import Bucket

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


@dataclass(frozen=True, slots=True)
class Connection:
    """Where LangSmith is and how patiently to talk to it. The key never prints."""

    api_key: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    timeout_s: float = 30.0
    retry_budget_s: float = 60.0


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


# --- the client ------------------------------------------------------------------


def _budget_retry_class() -> type[Any]:
    from urllib3.exceptions import MaxRetryError, ResponseError
    from urllib3.util.retry import Retry

    class BudgetRetry(Retry):
        """urllib3 Retry that stops once a total time budget would be exceeded.

        Honours Retry-After (429/503) and otherwise backs off exponentially with
        jitter — the run-query endpoint often omits Retry-After (issue 3 §1).
        The budget starts at the first retry of a request.
        """

        budget_s: float = 60.0
        started: float | None = None

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
            retry: BudgetRetry = super().increment(
                method, url, response=response, error=error, _pool=_pool, _stacktrace=_stacktrace
            )
            # Mirror Retry.sleep(): a Retry-After of 0 (or none) means the backoff.
            wait = retry.get_retry_after(response) if response is not None else None
            if not wait:
                wait = retry.get_backoff_time()
            started = retry.started if retry.started is not None else time.monotonic()
            if time.monotonic() - started + wait > retry.budget_s:
                cause = (
                    f"HTTP {response.status}"
                    if response is not None
                    else _first_line(error)
                    if error is not None
                    else "an error"
                )
                raise MaxRetryError(
                    _pool,
                    url or "",
                    ResponseError(f"gave up after {cause}: retry budget of {retry.budget_s:g} s"),
                )
            return retry

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


def _guard(
    connection: Connection,
    what: str,
    call: Callable[[], T],
    *,
    not_found: Callable[[], Exception] | None = None,
) -> T:
    """Run an SDK call; turn every LangSmith/network failure into FetchError.

    A 404 is a FetchError too, unless ``not_found`` says what it means here
    (e.g. "no experiment named X" is an input error).
    """
    import pydantic
    import requests
    from langsmith import utils as ls_utils

    try:
        return call()
    except ls_utils.LangSmithNotFoundError:
        if not_found is not None:
            raise not_found() from None
        raise FetchError(f"{what}: LangSmith answered 404 (not found)") from None
    except ls_utils.LangSmithAuthError:
        raise FetchError(f"LangSmith rejected the API key for {connection.endpoint}") from None
    except ls_utils.LangSmithError as exc:
        text = str(exc)
        # requests' HTTPError text for a 403: "403 Client Error: Forbidden for url: …".
        if re.search(r"\b403 Client Error\b", text):
            raise FetchError(f"LangSmith rejected the API key for {connection.endpoint}") from None
        raise FetchError(f"{what}: {_scrub(text, connection)}") from None
    except requests.exceptions.JSONDecodeError:
        raise FetchError(f"{what}: LangSmith sent a malformed (non-JSON) response") from None
    except (requests.RequestException, pydantic.ValidationError) as exc:
        raise FetchError(f"{what}: {_scrub(_first_line(exc), connection)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


# Causes worth naming first: the SDK wraps them in long urllib3 text.
_CAUSES = (
    (re.compile(r"Connection refused", re.I), "connection refused"),
    (re.compile(r"Read timed out|timed out", re.I), "timed out"),
    (
        re.compile(r"Name or service not known|nodename nor servname|getaddrinfo failed", re.I),
        "host not found",
    ),
    (re.compile(r"gave up after HTTP (\d+)"), r"HTTP \1, retries exhausted"),
    (re.compile(r"\b(429|5\d\d) (?:Client|Server) Error"), r"HTTP \1"),
)


def _scrub(text: str, connection: Connection) -> str:
    """A short message naming the cause; never the key, even if a server echoed it."""
    text = " ".join(text.split())
    if connection.api_key:
        text = text.replace(connection.api_key, "***")
    for pattern, label in _CAUSES:
        match = pattern.search(text)
        if match:
            return f"{match.expand(label)} ({connection.endpoint}): {text[:200]}"
    return text[:300]


def _malformed(what: str, detail: str) -> FetchError:
    return FetchError(f"{what}: LangSmith sent a malformed response ({detail})")


# --- request counting -------------------------------------------------------------------


class _Counter:
    """Counts HTTP responses per part of the fetch, via a requests hook.

    Hooks run in the calling thread, so a thread-local tag attributes each
    request to the part (PR runs, baseline runs, examples…) being fetched.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        tag = getattr(self._local, "tag", "other")
        with self._lock:
            self.counts[tag] = self.counts.get(tag, 0) + 1
        return response

    def measure(self, tag: str, call: Callable[[], T]) -> tuple[T, FetchStats]:
        self._local.tag = tag
        start = time.perf_counter()
        try:
            result = call()
        finally:
            self._local.tag = "other"
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
        url=getattr(session, "url", None),
    )


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
                f"{option}: no experiment named or with id {ref!r} on {self.connection.endpoint}"
            )

        return _experiment(_guard(self.connection, what, call, not_found=missing))

    def dataset_id(self, ref: str, *, option: str = "--dataset") -> str:
        """A dataset id from a name or id."""
        if _is_uuid(ref):
            return ref
        dataset = _guard(
            self.connection,
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
        response = _guard(
            self.connection,
            what,
            lambda: self.client.request_with_retries("GET", f"/datasets/{dataset_id}"),
        )
        payload = _guard(self.connection, what, response.json)
        if not isinstance(payload, dict):
            raise _malformed(what, "expected a dataset object")
        count = payload.get("example_count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    def _candidates(
        self, dataset_id: str, *, metadata: Mapping[str, Any] | None, name_contains: str | None
    ) -> Iterator[Experiment]:
        """Experiments on a dataset, newest first, lazily paged by the SDK."""
        iterator = iter(
            self.client.list_projects(
                reference_dataset_id=dataset_id,
                metadata=dict(metadata) if metadata else None,
                name_contains=name_contains,
                include_stats=True,
            )
        )
        while True:
            session = _guard(self.connection, "listing experiments", lambda: next(iterator, None))
            if session is None:
                return
            yield _experiment(session)

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
        """Every root run of the experiment, 100 per request, selected fields only."""
        what = f"fetching runs of {experiment.name!r}"
        body: dict[str, Any] = {
            "session": [experiment.id],
            "is_root": True,
            "select": list(RUN_FIELDS),
            "limit": PAGE_SIZE,
        }
        runs: list[dict[str, Any]] = []
        while True:
            data = json.dumps(body)
            response = _guard(
                self.connection,
                what,
                lambda data=data: self.client.request_with_retries(  # type: ignore[misc]
                    "POST", "/runs/query", request_kwargs={"data": data}
                ),
            )
            payload = _guard(self.connection, what, response.json)
            if not isinstance(payload, dict) or not isinstance(payload.get("runs", []), list):
                raise _malformed(what, "expected an object with a 'runs' list")
            page = payload.get("runs") or []
            if not all(isinstance(run, dict) for run in page):
                raise _malformed(what, "a run is not an object")
            runs.extend(page)
            cursors = payload.get("cursors") or {}
            cursor = cursors.get("next") if isinstance(cursors, dict) else None
            if not page or not cursor:
                return runs
            body["cursor"] = cursor

    def examples(self, dataset_id: str) -> dict[str, dict[str, Any]]:
        """The dataset's examples by id: one paginated listing, never per run.

        Raw ``GET /examples`` pages of 100: only id, inputs and metadata are
        used, and the SDK's ``list_examples`` would add a tenant look-up and
        build an object per example.
        """
        what = "listing dataset examples"
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            params = {"dataset": dataset_id, "limit": PAGE_SIZE, "offset": offset}
            response = _guard(
                self.connection,
                what,
                lambda params=params: self.client.request_with_retries(  # type: ignore[misc]
                    "GET", "/examples", params=params
                ),
            )
            page = _guard(self.connection, what, response.json)
            if not isinstance(page, list) or not all(isinstance(e, dict) for e in page):
                raise _malformed(what, "expected a list of examples")
            for example in page:
                if "id" not in example:
                    raise _malformed(what, "an example has no id")
                out[str(example["id"])] = {
                    "id": str(example["id"]),
                    "inputs": example.get("inputs") or {},
                    "metadata": example.get("metadata") or {},
                }
            if len(page) < PAGE_SIZE:
                return out
            offset += len(page)


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
    with ThreadPoolExecutor(max_workers=workers) as pool:
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
