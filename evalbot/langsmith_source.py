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
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from evalbot.errors import FetchError, InputError
from evalbot.langsmith_bucket import BucketRules, ExperimentInfo, bucket_runs, infer_pass_keys
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

        def increment(self, *args: Any, **kwargs: Any) -> BudgetRetry:
            retry: BudgetRetry = super().increment(*args, **kwargs)
            response = kwargs.get("response")
            wait = retry.get_retry_after(response) if response is not None else None
            if wait is None:
                wait = retry.get_backoff_time()
            started = retry.started if retry.started is not None else time.monotonic()
            if time.monotonic() - started + wait > retry.budget_s:
                raise MaxRetryError(
                    kwargs.get("_pool"),  # type: ignore[arg-type]
                    kwargs.get("url") or "",
                    ResponseError(f"retry budget of {retry.budget_s:g} s exhausted"),
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


class _NotFound(Exception):
    pass


def _guard(connection: Connection, what: str, call: Callable[[], T]) -> T:
    """Run an SDK call; turn every LangSmith/network failure into FetchError."""
    import pydantic
    import requests
    from langsmith import utils as ls_utils

    try:
        return call()
    except ls_utils.LangSmithNotFoundError:
        raise _NotFound(what) from None
    except ls_utils.LangSmithAuthError:
        raise FetchError(f"LangSmith rejected the API key for {connection.endpoint}") from None
    except ls_utils.LangSmithError as exc:
        text = str(exc)
        if "403" in text or "Forbidden" in text:
            raise FetchError(f"LangSmith rejected the API key for {connection.endpoint}") from None
        raise FetchError(f"{what}: {_scrub(text, connection)}") from None
    except requests.exceptions.JSONDecodeError:
        raise FetchError(f"{what}: LangSmith sent a malformed (non-JSON) response") from None
    except (requests.RequestException, pydantic.ValidationError) as exc:
        raise FetchError(f"{what}: {_scrub(_first_line(exc), connection)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _scrub(text: str, connection: Connection) -> str:
    """Never echo the key, even if a server put it in an error body."""
    text = text.strip().splitlines()[0] if text.strip() else text
    if connection.api_key:
        text = text.replace(connection.api_key, "***")
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
        what = f"{option}: reading experiment {ref!r}"

        def call() -> Any:
            if _is_uuid(ref):
                return self.client.read_project(project_id=ref)
            return self.client.read_project(project_name=ref)

        try:
            return _experiment(_guard(self.connection, what, call))
        except _NotFound:
            raise InputError(
                f"{option}: no experiment named or with id {ref!r} on {self.connection.endpoint}"
            ) from None

    def dataset_id(self, ref: str, *, option: str = "--dataset") -> str:
        """A dataset id from a name or id."""
        if _is_uuid(ref):
            return ref
        try:
            dataset = _guard(
                self.connection,
                f"{option}: reading dataset {ref!r}",
                lambda: self.client.read_dataset(dataset_name=ref),
            )
        except _NotFound:
            raise InputError(f"{option}: no dataset named {ref!r}") from None
        return str(dataset.id)

    def example_count(self, dataset_id: str) -> int | None:
        dataset = _guard(
            self.connection,
            "reading the dataset",
            lambda: self.client.read_dataset(dataset_id=dataset_id),
        )
        count = getattr(dataset, "example_count", None)
        return count if isinstance(count, int) else None

    def _candidates(
        self, dataset_id: str, *, metadata: Mapping[str, Any] | None, name_contains: str | None
    ) -> Iterator[Experiment]:
        """Experiments on a dataset, newest first, lazily paged by the SDK."""
        what = "listing experiments"
        try:
            iterator = iter(
                self.client.list_projects(
                    reference_dataset_id=dataset_id,
                    metadata=dict(metadata) if metadata else None,
                    name_contains=name_contains,
                    include_stats=True,
                )
            )
            while True:
                session = _guard(self.connection, what, lambda: next(iterator, None))
                if session is None:
                    return
                yield _experiment(session)
        except _NotFound:
            return

    def resolve_pr(self, query: PrQuery) -> Experiment:
        """The PR experiment named by ``--pr`` or found by ``--pr-metadata``."""
        if query.ref is not None:
            return self.read_experiment(query.ref, option="--pr")
        assert query.metadata is not None and query.dataset is not None
        dataset_id = self.dataset_id(query.dataset)
        for experiment in self._candidates(dataset_id, metadata=query.metadata, name_contains=None):
            return experiment
        raise InputError(
            f"--pr-metadata: no experiment on dataset {query.dataset!r} has metadata "
            f"{json.dumps(query.metadata)}"
        )

    def resolve_baseline(
        self, pr: Experiment, query: BaselineQuery, *, example_count: int | None
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
            return baseline, 0
        if pr.dataset_id is None:
            raise InputError(
                f"--pr: experiment {pr.name!r} has no dataset, so no baseline can be searched "
                "for; pass --baseline"
            )
        prefix = str(query.value) if query.strategy is Strategy.PREFIX else None
        metadata = query.value if isinstance(query.value, Mapping) else None
        skipped = 0
        for seen, candidate in enumerate(
            self._candidates(pr.dataset_id, metadata=metadata, name_contains=prefix)
        ):
            if seen >= MAX_CANDIDATES:
                break
            # The server's name filter is a substring match: re-check the prefix.
            if prefix is not None and not candidate.name.startswith(prefix):
                continue
            if pr.start_time and candidate.start_time and candidate.start_time > pr.start_time:
                continue
            if not _complete(candidate, example_count):
                skipped += 1
                continue
            return candidate, skipped
        return None, skipped

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
        """The dataset's examples by id: one paginated listing, never per run."""
        what = "listing dataset examples"
        iterator = iter(self.client.list_examples(dataset_id=dataset_id))
        out: dict[str, dict[str, Any]] = {}
        while True:
            try:
                example = _guard(self.connection, what, lambda: next(iterator, None))
            except _NotFound:
                raise FetchError(f"{what}: dataset {dataset_id} not found") from None
            if example is None:
                return out
            out[str(example.id)] = {
                "id": str(example.id),
                "inputs": dict(example.inputs or {}),
                "metadata": dict(example.metadata or {}),
            }


def _complete(experiment: Experiment, example_count: int | None) -> bool:
    if experiment.end_time is None:
        return False
    if experiment.run_count is None or not example_count:
        return True
    repetitions = experiment.metadata.get("num_repetitions")
    if not isinstance(repetitions, int) or isinstance(repetitions, bool) or repetitions < 1:
        repetitions = 1
    return experiment.run_count >= example_count * repetitions


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
    workers: int = 4,
) -> Fetched:
    """Resolve both experiments, then fetch runs and examples concurrently."""
    started = time.perf_counter()
    counter = source.counter
    pr, resolve_pr = counter.measure("resolve_pr", lambda: source.resolve_pr(pr_query))
    dataset_ids = {pr.dataset_id} if pr.dataset_id else set()
    example_counts: dict[str, int | None] = {}

    def resolve() -> tuple[Experiment | None, int]:
        if pr.dataset_id:
            example_counts[pr.dataset_id] = source.example_count(pr.dataset_id)
        return source.resolve_baseline(
            pr, baseline_query, example_count=example_counts.get(pr.dataset_id or "")
        )

    (baseline, skipped), resolve_base = counter.measure("resolve_baseline", resolve)
    if baseline is not None and baseline.dataset_id:
        dataset_ids.add(baseline.dataset_id)
    stats: dict[str, FetchStats] = {"resolve_pr": resolve_pr, "resolve_baseline": resolve_base}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pr_runs = pool.submit(counter.measure, "pr_runs", lambda: source.query_runs(pr))
        base_runs = (
            pool.submit(counter.measure, "baseline_runs", lambda: source.query_runs(baseline))
            if baseline is not None and baseline.id != pr.id
            else None
        )
        example_jobs = {
            ds: pool.submit(counter.measure, f"examples:{ds}", lambda ds=ds: source.examples(ds))
            for ds in sorted(dataset_ids)
        }
        pr_list, stats["pr_runs"] = pr_runs.result()
        examples: dict[str, dict[str, Any]] = {}
        for ds, job in example_jobs.items():
            part, stats[f"examples:{ds}"] = job.result()
            examples.update(part)
        base_list: list[dict[str, Any]] | None = None
        if base_runs is not None:
            base_list, stats["baseline_runs"] = base_runs.result()
    pass_keys = infer_pass_keys(pr_list, rules)
    pr_bucket = bucket_runs(
        _info(pr, example_counts.get(pr.dataset_id or "")),
        pr_list,
        examples,
        rules=rules,
        pass_keys=pass_keys,
    )
    baseline_bucket: Bucket | None = None
    if baseline is not None:
        baseline_bucket = (
            pr_bucket
            if base_list is None
            else bucket_runs(
                _info(baseline, example_counts.get(baseline.dataset_id or "")),
                base_list,
                examples,
                rules=rules,
                pass_keys=pass_keys,
            )
        )
    return Fetched(
        pr=pr_bucket,
        baseline=baseline_bucket,
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
    return bucket_runs(
        _info(experiment, count),
        runs,
        examples,
        rules=rules,
        pass_keys=infer_pass_keys(runs, rules),
    )
