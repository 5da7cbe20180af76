"""Benchmark: fetching two large LangSmith experiments, against the fake server.

Not a test: run it by hand, ``python bench/bench_fetch.py`` (optionally
``--runs 5000 --latency 0.05``). It prints Markdown tables and PASS/FAIL lines
for the targets, and exits 1 when a target fails.

Data: one dataset of E = ceil(R / 3) examples and two experiments on it (a PR
experiment and a ``main`` baseline) of R root runs each (E examples × 3
repetitions, cut to R), every run with inline ``feedback_stats``. The fake
server (``tests/fake_langsmith.py``) answers every request after ``--latency``
seconds; the latency is set after the data is built. By default the fake runs
in a child process, so its own CPU work does not compete with evalbot for the
GIL (``--in-process`` keeps it in this process, as the tests do).

Measured (wall time with ``time.perf_counter``, requests from the fake's log):

- evalbot ``fetch(...)``, PR by name, baseline by explicit name;
- evalbot ``fetch(...)``, PR by name, baseline by the prefix strategy (``main-``);
- evalbot ``fetch(...)``, PR by name, baseline by the metadata strategy;
- the reference's pattern, written with the SDK (the fair comparison: n8n's
  reference fetches this way): ``client.list_runs(project_name=...,
  is_root=True)`` without ``select``, paged to the end, the PR experiment then
  the baseline, with no request per run (scores come inline in
  ``feedback_stats``); measured on both full experiments;
- the naive per-run pattern: the same ``list_runs``, then
  ``client.list_feedback(run_ids=[id])`` per run. It makes one request per run,
  so it is measured on a SMALL experiment (``--naive-runs``, default 300) and
  extrapolated linearly to two experiments of R runs (see ``extrapolate``).

Every row shows its requests against the floor ("Minimum", pages of
``PAGE_SIZE`` = 100 runs or examples) and the extra requests beyond it.

Formulas (P = 100 runs or examples per page; L = latency):

- minimum requests = 2 × ceil(R / P) run pages + 2 session look-ups
  (1 per experiment) + ceil(E / P) example pages;
- ideal wall time = (max(ceil(R / P), ceil(E / P)) + D) × L. Pages of one
  experiment are sequential (each needs the previous page's cursor), but the
  two experiments and the examples can be paged concurrently, so the longest
  chain of pages plus the D resolution round-trips that must precede it is the
  critical path. D = 1 for an explicit baseline (the PR and baseline look-ups
  are independent, and the PR look-up yields the dataset id the examples need);
  D = 2 for the prefix and metadata strategies (the baseline search needs the
  PR experiment's dataset and start time). The ideal ignores the fake's own
  processing time and evalbot's CPU time (both shown under "Diagnostics").

Targets (each evalbot row): at most 3 requests per experiment above the
minimum (6 in all), and wall time <= 1.2 × the ideal.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import math
import multiprocessing
import statistics
import sys
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "fakes"))

from evalbot.sources.langsmith.bucket import BucketRules  # noqa: E402
from evalbot.sources.langsmith.source import (  # noqa: E402
    PAGE_SIZE,
    BaselineQuery,
    Connection,
    Fetched,
    LangSmithSource,
    PrQuery,
    Strategy,
    fetch,
)

from fake_langsmith import FakeLangSmith, FakeRun  # noqa: E402

API_KEY = "bench-key"
REPETITIONS = 3
PR_NAME = "pr-bench"
BASE_NAME = "main-bench"
NAIVE_NAME = "naive-small"
BASE_METADATA = {"branch": "main"}
BASE_PREFIX = "main-"
MAX_EXTRA_PER_EXPERIMENT = 3
MAX_WALL_RATIO = 1.2
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


# --- the fake server ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timed:
    """One request the fake answered, with server-side arrival and answer times."""

    start: float  # time.monotonic() when the request arrived (before the latency)
    end: float  # when the answer was ready
    method: str
    raw_path: str
    body: bytes
    status: int


class BenchFake(FakeLangSmith):
    """The fake, plus timings per request and ``GET /feedback`` for the naive reference.

    The tests' fake has no feedback endpoint (evalbot never calls it); this one
    answers one feedback object per key of the run's ``feedback_stats``.
    """

    def __init__(self, *, page_cache: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timings: list[Timed] = []
        self.page_cache: dict[str, Any] | None = {} if page_cache else None
        self._run_index: dict[str, tuple[FakeRun, str]] | None = None

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        start = time.monotonic()
        answer = super()._handle(method, raw_path, headers, body)
        timed = Timed(start, time.monotonic(), method, raw_path, body, answer[0])
        with self._lock:
            self.timings.append(timed)
        return answer

    def clear_requests(self) -> None:
        with self._lock:
            super().clear_requests()
            self.timings.clear()

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        if method == "GET" and path == "/feedback":
            return self._list_feedback(query)
        return super()._route(method, path, query, body)

    def _query_runs(self, request: dict[str, Any]) -> dict[str, Any]:
        """The fake's answer, memoised per request body (the data never changes here).

        The fake re-sorts every run of the experiment on each page (~5 ms of CPU
        for 5,000 runs, under its lock), which would add its own service time
        to the latency being modelled; the memo keeps the answers identical.
        """
        if self.page_cache is None:
            return super()._query_runs(request)
        key = json.dumps(request, sort_keys=True)
        answer = self.page_cache.get(key)
        if answer is None:
            answer = self.page_cache[key] = super()._query_runs(request)
        return answer

    def _list_feedback(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        if self._run_index is None:
            self._run_index = {
                run.id: (run, session.id)
                for session in self._sessions.values()
                for run in session.runs
            }
        items: list[dict[str, Any]] = []
        for run_id in query.get("run", []):
            run, session_id = self._run_index.get(run_id, (None, ""))
            if run is None:
                continue
            for key, stats in (run.feedback_stats or {}).items():
                created = (run.end_time or run.start_time).isoformat()
                items.append(
                    {
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run.id}/{key}")),
                        "created_at": created,
                        "modified_at": created,
                        "run_id": run.id,
                        "trace_id": run.id,
                        "key": key,
                        "score": stats.get("avg"),
                        "value": None,
                        "comment": None,
                        "correction": None,
                        "feedback_source": None,
                        "session_id": session_id,
                    }
                )
        return self._page(query, items)


@dataclass(frozen=True, slots=True)
class World:
    """What was built on the fake."""

    url: str
    runs: int
    examples: int
    naive_runs: int
    naive_examples: int


def _outcome(index: int, repetition: int) -> dict[str, Any]:
    """Deterministic, mostly passing runs with tokens, cost, inputs and outputs."""
    passed = (index * 7 + repetition) % 10 != 0
    fields: dict[str, Any] = {
        "feedback_stats": {
            "correctness": {
                "n": 1,
                "avg": 1.0 if passed else 0.0,
                "stdev": 0.0,
                "errors": 0,
                "values": {},
                "comments": [],
            }
        },
        "total_tokens": 420,
        "prompt_tokens": 380,
        "completion_tokens": 40,
        "total_cost": 0.0021,
        "inputs": {"question": f"What is the answer to question number {index}?"},
        "outputs": {"answer": f"The answer to question {index} is {index * 3 + repetition}."},
    }
    if index % 97 == 0 and repetition == 0:
        fields["error"] = "TimeoutError: the model did not answer in time"
    return fields


def build(fake: FakeLangSmith, runs: int, naive_runs: int) -> World:
    """The two large experiments and the small one for the naive reference."""
    examples = math.ceil(runs / REPETITIONS)
    dataset = fake.add_dataset(
        "bench-support",
        (
            {
                "inputs": {"question": f"What is the answer to question number {i}?"},
                "outputs": {"answer": str(i)},
                "metadata": {"scenario": f"scenario-{i}"},
            }
            for i in range(examples)
        ),
    )
    fake.add_experiment(
        BASE_NAME,
        dataset_id=dataset,
        metadata=dict(BASE_METADATA),
        start_time=NOW - dt.timedelta(days=1),
        runs=fake.make_runs(dataset, repetitions=REPETITIONS, outcome=_outcome)[:runs],
    )
    fake.add_experiment(
        PR_NAME,
        dataset_id=dataset,
        metadata={"branch": "feature"},
        start_time=NOW,
        runs=fake.make_runs(dataset, repetitions=REPETITIONS, outcome=_outcome)[:runs],
    )
    naive_examples = math.ceil(naive_runs / REPETITIONS)
    small = fake.add_dataset(
        "bench-small",
        ({"inputs": {"question": f"q{i}?"}} for i in range(naive_examples)),
    )
    fake.add_experiment(
        NAIVE_NAME,
        dataset_id=small,
        start_time=NOW - dt.timedelta(hours=1),
        runs=fake.make_runs(small, repetitions=REPETITIONS, outcome=_outcome)[:naive_runs],
    )
    return World(fake.url, runs, examples, naive_runs, naive_examples)


class Server(Protocol):
    def set_latency(self, seconds: float) -> None: ...
    def clear(self) -> None: ...
    def log(self) -> list[Timed]: ...
    def stop(self) -> None: ...


class InProcessServer:
    """The fake in this process (its CPU work shares the GIL with evalbot)."""

    def __init__(self, runs: int, naive_runs: int, page_cache: bool) -> None:
        self.fake = BenchFake(api_key=API_KEY, page_cache=page_cache)
        self.fake.start()
        self.world = build(self.fake, runs, naive_runs)

    def set_latency(self, seconds: float) -> None:
        self.fake.latency_s = seconds

    def clear(self) -> None:
        self.fake.clear_requests()

    def log(self) -> list[Timed]:
        with self.fake._lock:
            return list(self.fake.timings)

    def stop(self) -> None:
        self.fake.stop()


def _serve(pipe: Pipe, runs: int, naive_runs: int, page_cache: bool) -> None:
    """Child process: build the data, then answer commands from the parent."""
    server = InProcessServer(runs, naive_runs, page_cache)
    pipe.send(server.world)
    try:
        while True:
            command, argument = pipe.recv()
            if command == "latency":
                server.set_latency(float(argument))
                pipe.send(None)
            elif command == "clear":
                server.clear()
                pipe.send(None)
            elif command == "log":
                pipe.send(server.log())
            else:
                break
    finally:
        server.stop()
        with contextlib.suppress(OSError):  # the parent may be gone
            pipe.send(None)


class ChildProcessServer:
    """The fake in a child process, driven over a pipe."""

    def __init__(self, runs: int, naive_runs: int, page_cache: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, runs, naive_runs, page_cache),
            name="bench-fake",
            daemon=True,
        )
        self._process.start()
        self.world: World = self._pipe.recv()

    def _call(self, command: str, argument: Any = None) -> Any:
        self._pipe.send((command, argument))
        return self._pipe.recv()

    def set_latency(self, seconds: float) -> None:
        self._call("latency", seconds)

    def clear(self) -> None:
        self._call("clear")

    def log(self) -> list[Timed]:
        log: list[Timed] = self._call("log")
        return log

    def stop(self) -> None:
        self._call("stop")
        self._process.join(timeout=10)


# --- request analysis ----------------------------------------------------------------------


def classify(request: Timed) -> str:
    """The kind of request, for the breakdown (run pages are keyed by experiment)."""
    parts = urlsplit(request.raw_path)
    path = unquote(parts.path).rstrip("/") or "/"
    query = parse_qs(parts.query, keep_blank_values=True)
    if request.method == "POST" and path == "/runs/query":
        body = json.loads(request.body or b"{}")
        select = body.get("select")
        fields = "all" if select is None else len(select)
        return f"run page ({fields} fields) {(body.get('session') or ['?'])[0]}"
    if request.method == "GET" and path == "/examples":
        return "example page"
    if request.method == "GET" and path == "/feedback":
        return "feedback (per run)"
    if request.method == "GET" and path == "/sessions":
        if set(query) <= {"limit"}:
            return "tenant look-up GET /sessions?limit=1"
        return "session look-up"
    if request.method == "GET" and path.startswith("/sessions/"):
        return "session look-up"
    if request.method == "GET" and path.startswith("/datasets"):
        return "dataset read GET /datasets/…"
    return f"other {request.method} {path}"


def beyond_minimum(counts: Counter[str], world: World) -> list[str]:
    """The requests a fetch made beyond the minimum, by kind."""
    pages = math.ceil(world.runs / PAGE_SIZE)
    expected = {"session look-up": 2, "example page": math.ceil(world.examples / PAGE_SIZE)}
    extra = []
    for kind, count in sorted(counts.items()):
        allowed = pages if kind.startswith("run page") else expected.get(kind, 0)
        if count > allowed:
            extra.append(f"{kind} ×{count - allowed}")
    return extra


def breakdown(log: list[Timed], names: dict[str, str]) -> Counter[str]:
    """Requests per kind; run pages labelled with the experiment's name."""
    counts: Counter[str] = Counter()
    for request in log:
        kind = classify(request)
        for session_id, name in names.items():
            kind = kind.replace(session_id, name)
        counts[kind] += 1
    return counts


@dataclass(frozen=True, slots=True)
class Timeline:
    """What the fake saw of one fetch."""

    before_first_page: list[Timed]  # requests that arrived before the first run page
    resolution_s: float  # first arrival -> first run page arrival
    sequential_before_pages: int  # of those, how many ran one after another
    page_service_ms: float  # mean time the fake took per run page (latency included)
    page_gap_ms: float  # mean client turnaround between consecutive pages of one run
    span_s: float  # first arrival -> last answer
    # experiment id or "examples" -> (first arrival, last answer, requests), from the
    # first request's arrival
    chains: dict[str, tuple[float, float, int]]


def timeline(log: list[Timed], names: dict[str, str]) -> Timeline:
    ordered = sorted(log, key=lambda r: r.start)
    pages = [
        r for r in ordered if r.method == "POST" and urlsplit(r.raw_path).path == "/runs/query"
    ]
    first_page = pages[0].start if pages else ordered[-1].end
    before = [r for r in ordered if r.start < first_page]
    sequential = 0
    busy_until = -math.inf
    for request in before:  # a request that starts after every earlier one ended
        if request.start >= busy_until:
            sequential += 1
        busy_until = max(busy_until, request.end)
    by_session: dict[str, list[Timed]] = {}
    for page in pages:
        session = (json.loads(page.body or b"{}").get("session") or ["?"])[0]
        by_session.setdefault(session, []).append(page)
    gaps = [
        later.start - earlier.end
        for chain in by_session.values()
        for earlier, later in itertools.pairwise(chain)
    ]
    origin = ordered[0].start
    chains = {
        f"{names.get(session, session)} run pages": (
            chain[0].start - origin,
            chain[-1].end - origin,
            len(chain),
        )
        for session, chain in by_session.items()
    }
    examples = [r for r in ordered if urlsplit(r.raw_path).path == "/examples"]
    if examples:
        chains["example pages"] = (
            examples[0].start - origin,
            examples[-1].end - origin,
            len(examples),
        )
    return Timeline(
        before_first_page=before,
        resolution_s=first_page - ordered[0].start,
        sequential_before_pages=sequential,
        page_service_ms=1000 * statistics.fmean(p.end - p.start for p in pages) if pages else 0,
        page_gap_ms=1000 * statistics.fmean(gaps) if gaps else 0.0,
        span_s=max(r.end for r in ordered) - origin,
        chains=chains,
    )


# --- the measurements ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    requests: int
    minimum: int
    wall_s: float
    ideal_s: float
    checked: bool  # targets apply (evalbot rows)
    counts: Counter[str]
    note: str = ""
    timeline: Timeline | None = None
    walls: tuple[float, ...] = ()

    @property
    def extra(self) -> int:
        return self.requests - self.minimum

    @property
    def ratio(self) -> float:
        return self.wall_s / self.ideal_s

    @property
    def requests_ok(self) -> bool:
        return self.extra <= 2 * MAX_EXTRA_PER_EXPERIMENT

    @property
    def wall_ok(self) -> bool:
        return self.ratio <= MAX_WALL_RATIO


def minimum_requests(world: World) -> int:
    return 2 * math.ceil(world.runs / PAGE_SIZE) + 2 + math.ceil(world.examples / PAGE_SIZE)


def ideal_seconds(world: World, latency: float, resolution_round_trips: int) -> float:
    pages = max(math.ceil(world.runs / PAGE_SIZE), math.ceil(world.examples / PAGE_SIZE))
    return (pages + resolution_round_trips) * latency


def session_ids(world: World) -> dict[str, str]:
    """Experiment id -> name, read from the fake through the SDK."""
    from langsmith import Client

    client = Client(api_url=world.url, api_key=API_KEY, auto_batch_tracing=False)
    return {
        str(client.read_project(project_name=name).id): name
        for name in (PR_NAME, BASE_NAME, NAIVE_NAME)
    }


def run_evalbot(
    server: Server, world: World, baseline: BaselineQuery
) -> tuple[float, list[Timed], Fetched]:
    """One evalbot fetch with a fresh source (so no SDK cache carries over)."""
    source = LangSmithSource(Connection(api_key=API_KEY, endpoint=world.url))
    server.clear()
    start = time.perf_counter()
    fetched = fetch(
        source, PrQuery(ref=PR_NAME), baseline, rules=BucketRules(), name=lambda key: key
    )
    wall = time.perf_counter() - start
    log = server.log()
    for bucket in (fetched.pr, fetched.baseline):
        assert bucket is not None, "no baseline found"
        trials = bucket.total_trials + bucket.unscored
        assert trials == world.runs, f"{bucket.name}: {trials} trials, expected {world.runs}"
    return wall, log, fetched


def measure_evalbot(
    server: Server,
    world: World,
    latency: float,
    label: str,
    baseline: BaselineQuery,
    *,
    round_trips: int,
    repeat: int,
    names: dict[str, str],
) -> Row:
    walls: list[float] = []
    log: list[Timed] = []
    counted = 0
    for _ in range(repeat):
        wall, log, fetched = run_evalbot(server, world, baseline)
        walls.append(wall)
        counted = fetched.requests
    note = f"evalbot counted {counted} requests itself" if counted != len(log) else ""
    return Row(
        label=label,
        requests=len(log),
        minimum=minimum_requests(world),
        wall_s=statistics.median(walls),
        ideal_s=ideal_seconds(world, latency, round_trips),
        checked=True,
        counts=breakdown(log, names),
        note=note,
        timeline=timeline(log, names),
        walls=tuple(walls),
    )


def reference_fetch(url: str, experiments: tuple[str, ...]) -> int:
    """The reference's pattern: every root run of each experiment, all fields, in turn."""
    from langsmith import Client

    client = Client(api_url=url, api_key=API_KEY, auto_batch_tracing=False)
    runs = 0
    with warnings.catch_warnings():
        # list_runs() is deprecated in langsmith 0.15 (the script would warn).
        warnings.simplefilter("ignore", DeprecationWarning)
        for experiment in experiments:
            runs += sum(1 for _ in client.list_runs(project_name=experiment, is_root=True))
    return runs


def measure_reference(
    server: Server, world: World, latency: float, names: dict[str, str], *, repeat: int
) -> Row:
    walls: list[float] = []
    log: list[Timed] = []
    for _ in range(repeat):
        server.clear()
        start = time.perf_counter()
        runs = reference_fetch(world.url, (PR_NAME, BASE_NAME))
        walls.append(time.perf_counter() - start)
        log = server.log()
        assert runs == 2 * world.runs, f"reference: {runs} runs, expected {2 * world.runs}"
    return Row(
        label="reference pattern: SDK list_runs per experiment, no per-run requests",
        requests=len(log),
        minimum=minimum_requests(world),
        wall_s=statistics.median(walls),
        ideal_s=ideal_seconds(world, latency, 1),
        checked=False,
        counts=breakdown(log, names),
        note=(
            "experiments one after the other, all fields (no select), examples not "
            "listed (favours the reference: it does not learn the dataset's size)"
        ),
        timeline=timeline(log, names),
        walls=tuple(walls),
    )


def naive_fetch(url: str, experiment: str) -> tuple[int, int]:
    """The naive SDK script: every root run with all fields, then feedback per run."""
    from langsmith import Client

    client = Client(api_url=url, api_key=API_KEY, auto_batch_tracing=False)
    feedback = 0
    with warnings.catch_warnings():
        # list_runs() is deprecated in langsmith 0.15 (the naive script would warn).
        warnings.simplefilter("ignore", DeprecationWarning)
        runs = list(client.list_runs(project_name=experiment, is_root=True))
    for run in runs:
        feedback += len(list(client.list_feedback(run_ids=[run.id])))
    return len(runs), feedback


def extrapolate(counts: Counter[str], measured_runs: int, runs: int) -> int:
    """Requests of the naive script for ``runs`` runs, from a measured breakdown.

    Per experiment: session look-ups stay as measured, run pages become
    ceil(runs / 100), and per-run requests (feedback) scale by runs / measured_runs.
    """
    total = 0
    for kind, count in counts.items():
        if kind.startswith("run page"):
            total += math.ceil(runs / PAGE_SIZE)
        elif kind.startswith("feedback"):
            total += math.ceil(count * runs / measured_runs)
        else:
            total += count
    return total


def measure_naive(server: Server, world: World, latency: float, names: dict[str, str]) -> Row:
    server.clear()
    start = time.perf_counter()
    runs, feedback = naive_fetch(world.url, NAIVE_NAME)
    wall = time.perf_counter() - start
    log = server.log()
    assert runs == world.naive_runs, f"naive: {runs} runs, expected {world.naive_runs}"
    assert feedback == world.naive_runs, f"naive: {feedback} feedback, expected one per run"
    counts = breakdown(log, names)
    # Two experiments of world.runs runs, one after the other; time scales with requests.
    requests = 2 * extrapolate(counts, world.naive_runs, world.runs)
    return Row(
        label=f"naive per-run feedback (EXTRAPOLATED from {world.naive_runs} runs)",
        requests=requests,
        minimum=minimum_requests(world),
        wall_s=wall * requests / len(log),
        ideal_s=ideal_seconds(world, latency, 1),
        checked=False,
        counts=counts,
        note=(
            f"measured on one {world.naive_runs}-run experiment: {len(log)} requests, "
            f"{wall:.2f} s; scaled to 2 × {world.runs:,} runs in proportion to requests; "
            "examples not listed (favours the naive script)"
        ),
    )


def langsmith_version() -> str:
    from importlib.metadata import version

    return version("langsmith")


# --- the report ------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "**FAIL**"


def print_report(rows: list[Row], world: World, floor_s: float, args: argparse.Namespace) -> bool:
    latency: float = args.latency
    pages = math.ceil(world.runs / PAGE_SIZE)
    example_pages = math.ceil(world.examples / PAGE_SIZE)
    print(f"# evalbot fetch benchmark ({world.runs:,} runs × 2 experiments)\n")
    print(
        f"- Data: one dataset of {world.examples:,} examples; PR `{PR_NAME}` and baseline "
        f"`{BASE_NAME}` with {world.runs:,} root runs each ({REPETITIONS} repetitions, cut "
        f"to {world.runs:,})."
    )
    print(
        f"- Fake LangSmith {'in this process' if args.in_process else 'in a child process'}, "
        f"{latency * 1000:g} ms latency on every request"
        + (
            "; run pages re-sorted by the fake on every request (--no-page-cache)"
            if args.no_page_cache
            else "; run pages memoised by the bench's fake subclass (same answers, no "
            "per-page sort of all runs)"
        )
        + f"; Python {sys.version.split()[0]}, langsmith {langsmith_version()}."
    )
    print(
        f"- Minimum requests = 2 × ceil({world.runs}/{PAGE_SIZE}) run pages + 2 session "
        f"look-ups + ceil({world.examples}/{PAGE_SIZE}) example pages = 2 × {pages} + 2 + "
        f"{example_pages} = {minimum_requests(world)}."
    )
    print(
        f"- Ideal wall time = (max(run pages per experiment, example pages) + D) × latency "
        f"= (max({pages}, {example_pages}) + D) × {latency:g} s, where D is the number of "
        "resolution round-trips that must precede the longest page chain: D = 1 with an "
        "explicit baseline (PR and baseline look-ups can run concurrently), D = 2 with the "
        "prefix and metadata strategies (the baseline search needs the PR's dataset and "
        "start time). "
        "Pages of one experiment are sequential (cursor); experiments and examples are "
        "paged concurrently."
    )
    print(
        f"- Targets (evalbot rows): requests <= minimum + {MAX_EXTRA_PER_EXPERIMENT} per "
        f"experiment (+{2 * MAX_EXTRA_PER_EXPERIMENT}); wall time <= "
        f"{MAX_WALL_RATIO:g} × ideal. Wall time is the median of the repeats.\n"
    )
    print(
        "| Fetcher | Requests | Minimum | Extra | Wall (s) | Ideal (s) | Wall / ideal "
        "| Requests target | Wall target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    ok = True
    for row in rows:
        if row.checked:
            ok = ok and row.requests_ok and row.wall_ok
            targets = f"{_verdict(row.requests_ok)} | {_verdict(row.wall_ok)}"
        else:
            targets = "— | —"
        print(
            f"| {row.label} | {row.requests:,} | {row.minimum:,} | {row.extra:+,} "
            f"| {row.wall_s:.2f} | {row.ideal_s:.2f} | {row.ratio:.3f}× | {targets} |"
        )
    print()
    for row in rows:
        if row.note:
            print(f"- {row.label}: {row.note}.")
        if row.walls:
            print(f"- {row.label}: wall times " + ", ".join(f"{w:.2f} s" for w in row.walls))
    print("\n## Requests by kind\n")
    kinds = sorted({kind for row in rows for kind in row.counts})
    print("| Kind | " + " | ".join(row.label for row in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for kind in kinds:
        print(f"| {kind} | " + " | ".join(str(row.counts.get(kind, 0)) for row in rows) + " |")
    print("\n(The naive per-run column is the measured small experiment, not the extrapolation.)")
    print("\n## Diagnostics (server-side times from the fake)\n")
    print(
        f"- The same explicit-baseline fetch with 0 latency takes {floor_s:.2f} s "
        "(CPU floor: evalbot + SDK + the fake)."
    )
    for row in rows:
        line = row.timeline
        if line is None:
            continue
        before = ", ".join(classify(r).split(" GET")[0] for r in line.before_first_page)
        print(
            f"- {row.label}: {len(line.before_first_page)} requests before the first run "
            f"page ({before}), {line.sequential_before_pages} of them one after another, "
            f"taking {line.resolution_s:.3f} s; run pages take {line.page_service_ms:.1f} ms "
            f"each at the fake (latency included) and the client waits "
            f"{line.page_gap_ms:.1f} ms between a page's answer and its next request; "
            f"first request to last answer: {line.span_s:.2f} s."
        )
        extra = beyond_minimum(row.counts, world)
        print(f"  - beyond the minimum: {', '.join(extra) or 'nothing'}")
        for chain, (first, last, count) in line.chains.items():
            print(f"  - {chain}: {count} requests, from {first:.3f} s to {last:.3f} s")
    print()
    print(f"Overall: {_verdict(ok)}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5000, help="root runs per experiment")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument(
        "--naive-runs", type=int, default=300, help="runs of the naive reference's experiment"
    )
    parser.add_argument("--repeat", type=int, default=3, help="evalbot fetches per row")
    parser.add_argument("--in-process", action="store_true", help="run the fake in this process")
    parser.add_argument(
        "--no-page-cache",
        action="store_true",
        help="let the fake re-sort every run on each page (adds its CPU time to each page)",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    page_cache = not args.no_page_cache
    server: InProcessServer | ChildProcessServer = (
        InProcessServer(args.runs, args.naive_runs, page_cache)
        if args.in_process
        else ChildProcessServer(args.runs, args.naive_runs, page_cache)
    )
    world = server.world
    explicit = BaselineQuery(Strategy.EXPLICIT, BASE_NAME)
    try:
        names = session_ids(world)
        server.set_latency(0.0)
        run_evalbot(server, world, explicit)  # warm-up: the fake's page memo, imports
        floor_s = run_evalbot(server, world, explicit)[0]
        server.set_latency(args.latency)
        rows = [
            measure_evalbot(
                server,
                world,
                args.latency,
                "evalbot fetch, explicit baseline",
                explicit,
                round_trips=1,
                repeat=args.repeat,
                names=names,
            ),
            measure_evalbot(
                server,
                world,
                args.latency,
                "evalbot fetch, prefix baseline",
                BaselineQuery(Strategy.PREFIX, BASE_PREFIX),
                round_trips=2,
                repeat=args.repeat,
                names=names,
            ),
            measure_evalbot(
                server,
                world,
                args.latency,
                "evalbot fetch, metadata baseline",
                BaselineQuery(Strategy.METADATA, dict(BASE_METADATA)),
                round_trips=2,
                repeat=args.repeat,
                names=names,
            ),
            measure_reference(server, world, args.latency, names, repeat=args.repeat),
            measure_naive(server, world, args.latency, names),
        ]
    finally:
        server.stop()
    ok = print_report(rows, world, floor_s, args)
    print(f"\n(The benchmark took {time.perf_counter() - started:.1f} s.)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
