"""Fetching experiments as buckets: one thread pool, every part paged concurrently.

The one way through for ``compare`` (:func:`fetch`), ``export`` and ``trend``
(:func:`history_buckets`): experiments are resolved by :mod:`.resolve`, each
one's runs paged by :mod:`.paging` and digested page by page as they arrive
(:mod:`.run_facts`), each dataset's examples and example count read once, and
the buckets assembled by :mod:`.bucket` when every part is in.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evalbot.core.models import Bucket
from evalbot.errors import InputError
from evalbot.sources.langsmith.bucket import (
    BucketRules,
    ExperimentInfo,
    Tallies,
    bucket_facts,
    check_keys_seen,
    choose_pass_keys,
)
from evalbot.sources.langsmith.calls import FetchStats
from evalbot.sources.langsmith.paging import Pager
from evalbot.sources.langsmith.queries import BaselineQuery, PrQuery, Strategy
from evalbot.sources.langsmith.resolve import Experiment, Name, Resolver
from evalbot.sources.langsmith.run_facts import RunFacts, digest

T = TypeVar("T")
WORKERS = 6


class LangSmithSource(Resolver, Pager):
    """Reads experiments from LangSmith with one client and a request counter (one fetch)."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the source found: buckets to compare, or why there is no baseline, and
    what it took (requests and seconds per part of the fetch)."""

    pr: Bucket
    baseline: Bucket | None
    history: tuple[Bucket, ...]
    query: BaselineQuery
    skipped_incomplete: int
    stats: Mapping[str, FetchStats]
    total_seconds: float

    @property
    def self_baseline(self) -> bool:
        """The baseline found is the PR experiment itself."""
        return self.baseline is not None and self.baseline.id == self.pr.id

    @property
    def requests(self) -> int:
        """Every request the fetch made."""
        return sum(s.requests for s in self.stats.values())


@dataclass(frozen=True, slots=True)
class History:
    """A dataset's run history: buckets oldest first, how many runs, what was skipped."""

    buckets: tuple[Bucket, ...]
    found: int
    skipped_incomplete: int


@dataclass
class _Arriving:
    """One experiment's runs as they arrive: digested, their feedback keys, and the
    scenarios counted so far under the pass keys guessed from them (when they can be)."""

    facts: list[RunFacts] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    tallies: Tallies | None = None
    guess: tuple[str, ...] | None = None
    datasets: tuple[str, ...] = ()
    given_up: bool = False


class _Parts:
    """The parts of one fetch on one thread pool: started once each, measured, then collected."""

    def __init__(
        self, source: LangSmithSource, pool: ThreadPoolExecutor, rules: BucketRules
    ) -> None:
        self.source = source
        self.pool = pool
        self.rules = rules
        self.jobs: dict[str, Future[tuple[Any, FetchStats]]] = {}
        self.stats: dict[str, FetchStats] = {}
        self.datasets: list[str] = []
        self.arriving: dict[str, _Arriving] = {}

    def start(self, tag: str, call: Callable[[], Any]) -> None:
        """Start part ``tag`` (once) on the pool."""
        if tag not in self.jobs:
            self.jobs[tag] = self.pool.submit(self.source.counter.measure, tag, call)

    def result(self, tag: str) -> Any:
        """Part ``tag``'s result (waiting for it); its stats are recorded."""
        value, self.stats[tag] = self.jobs[tag].result()
        return value

    def run(self, tag: str, call: Callable[[], T]) -> T:
        """Run part ``tag`` in this thread, measured."""
        value, self.stats[tag] = self.source.counter.measure(tag, call)
        return value

    def dataset(self, dataset_id: str | None) -> None:
        """Start listing the dataset's examples and reading its example count (once)."""
        if dataset_id and dataset_id not in self.datasets:
            self.datasets.append(dataset_id)
            self.start(f"examples:{dataset_id}", lambda: self.source.examples(dataset_id))
            self.start(f"dataset:{dataset_id}", lambda: self.source.example_count(dataset_id))

    def count_of(self, dataset_id: str | None) -> int | None:
        """The dataset's example count (None: unknown or not read)."""
        tag = f"dataset:{dataset_id}"
        return self.jobs[tag].result()[0] if tag in self.jobs else None

    def runs(self, tag: str, experiment: Experiment) -> None:
        """Start paging the experiment's runs, each page digested and counted as it arrives."""
        arriving = self.arriving[tag] = _Arriving()

        def page_all() -> list[RunFacts]:
            self.source.run_pages(experiment, lambda page: self._arrived(arriving, page))
            return arriving.facts

        self.start(tag, page_all)

    def _arrived(self, arriving: _Arriving, page: list[dict[str, Any]]) -> None:
        """Digest a page; count it too once the examples are in and the pass keys can be
        told (issue 14 §4: no bucketing left for after the last page)."""
        facts = digest(page)
        arriving.facts.extend(facts)
        for run in facts:
            arriving.keys.update(run.feedback)
        if arriving.given_up:
            return
        guess = self._pass_keys_guess(arriving.keys)
        if arriving.tallies is not None:
            if guess == arriving.guess:
                arriving.tallies.add(facts)
            else:  # a new feedback key changed the guess: count at the end instead
                arriving.tallies, arriving.given_up = None, True
            return
        examples = self._examples_if_in()
        if guess is not None and examples is not None:
            arriving.tallies = Tallies(examples, rules=self.rules, pass_keys=guess)
            arriving.guess, arriving.datasets = guess, tuple(self.datasets)
            arriving.tallies.add(arriving.facts)

    def _pass_keys_guess(self, keys: set[str]) -> tuple[str, ...] | None:
        """The pass keys these feedback keys alone would give (None: none can be told)."""
        try:
            return choose_pass_keys(sorted(keys), self.rules, name=str)
        except InputError:
            return None

    def _examples_if_in(self) -> dict[str, dict[str, Any]] | None:
        """Every dataset's examples so far, when all their listings have succeeded."""
        jobs = [self.jobs.get(f"examples:{dataset_id}") for dataset_id in tuple(self.datasets)]
        if not all(job is not None and job.done() and job.exception() is None for job in jobs):
            return None
        examples: dict[str, dict[str, Any]] = {}
        for job in jobs:
            assert job is not None
            examples.update(job.result()[0])
        return examples

    def examples(self) -> tuple[dict[str, dict[str, Any]], dict[str, int | None]]:
        """Every dataset's examples by id, and example counts by dataset id."""
        examples: dict[str, dict[str, Any]] = {}
        counts: dict[str, int | None] = {}
        for dataset_id in self.datasets:
            examples.update(self.result(f"examples:{dataset_id}"))
            counts[dataset_id] = self.result(f"dataset:{dataset_id}")
        return examples, counts


# How long a thread may hold the GIL while another waits for it (CPython's default is
# 5 ms). A page's answer waits behind another thread's digesting for up to that long
# before its next request can go out: 50 pages, two experiments, under load a
# quarter of a second (issue 14 §4). Set for the fetch only, then restored.
GIL_SLICE_S = 0.0005
# The cyclic collector's first-generation threshold during a fetch (CPython's default is
# 700 allocations). Decoding pages and digesting runs allocates some 100 objects per run,
# nearly all acyclic and freed by reference counting, so the default collects every few
# runs and, every tenth time, walks the older generations too, holding the GIL while a
# page chain waits to send its next request: 3-5% of an explicit-baseline fetch's wall
# time in bench/bench_fetch.py. Cycles are still collected, only less often.
GC_THRESHOLD = 50_000


@contextlib.contextmanager
def _fetching(source: LangSmithSource, rules: BucketRules, workers: int) -> Iterator[_Parts]:
    """One fetch's parts on one thread pool, stopped early if the caller leaves, with
    short GIL slices and rarer cyclic collections while it runs."""
    previous = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    sys.setswitchinterval(min(previous, GIL_SLICE_S))
    gc.set_threshold(max(thresholds[0], GC_THRESHOLD), *thresholds[1:])
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool, source.stop_on_exit():
            yield _Parts(source, pool, rules)
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(previous)


def _buckets(
    parts: _Parts,
    series: Sequence[tuple[Experiment, str]],
    *,
    rules: BucketRules,
    name: Name,
) -> list[Bucket]:
    """Bucket every experiment of ``series`` (with the tag of its runs), with the pass
    keys of the first one's runs.

    Every run of the series is judged by the same keys; a configured key no
    run carries is an input error. Scenarios counted while the pages arrived
    are kept when they were counted under these keys and these examples.
    """
    facts = [parts.result(tag) for _, tag in series]
    examples, counts = parts.examples()
    seen = [parts.arriving[tag].keys for _, tag in series]
    pass_keys = choose_pass_keys(sorted(seen[0]) if seen else [], rules, name=name)
    check_keys_seen(rules.pass_keys, sorted(set().union(*seen)), name=name)
    buckets = []
    for (experiment, tag), runs in zip(series, facts, strict=True):
        info = _info(experiment, counts.get(experiment.dataset_id or ""))
        arriving = parts.arriving[tag]
        if (
            arriving.tallies is not None
            and arriving.guess == pass_keys
            and arriving.datasets == tuple(parts.datasets)
        ):
            buckets.append(arriving.tallies.bucket(info))
        else:
            buckets.append(bucket_facts(info, runs, examples, rules=rules, pass_keys=pass_keys))
    return buckets


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
    name: Name,
    history: int = 1,
    workers: int = WORKERS,
) -> Fetched:
    """Resolve both experiments and fetch their runs and examples concurrently.

    ``history``: how many baseline runs to pool (the baseline included); the
    older ones come from the same listing as the baseline and are paged
    concurrently with everything else. An explicit baseline has no history.
    ``name`` spells a setting key as the user wrote it (for messages).

    The critical path is the longest cursor chain of run pages, so paging
    starts as soon as the PR experiment is known, while the baseline is still
    being resolved; an explicit baseline is looked up alongside the PR.
    """
    started = time.perf_counter()
    with _fetching(source, rules, workers) as parts:
        parts.start("resolve_pr", lambda: source.resolve_pr(pr_query, name=name))
        explicit: Callable[[], Experiment] | None = None
        if baseline_query.strategy is Strategy.EXPLICIT:
            ref = str(baseline_query.value)
            parts.start(
                "resolve_baseline",
                lambda: source.read_experiment(ref, option=name("baseline")),
            )

            def explicit() -> Experiment:
                baseline: Experiment = parts.result("resolve_baseline")
                return baseline

        pr: Experiment = parts.result("resolve_pr")
        parts.runs("pr_runs", pr)
        parts.dataset(pr.dataset_id)
        dataset_id = pr.dataset_id

        def resolve() -> Any:
            return source.resolve_baseline(
                pr,
                baseline_query,
                name=name,
                window=history,
                example_count=lambda: parts.count_of(dataset_id),
                explicit=explicit,
            )

        found = resolve() if explicit is not None else parts.run("resolve_baseline", resolve)
        baseline = found.baseline
        if baseline is not None and baseline.id != pr.id:
            parts.dataset(baseline.dataset_id)
            parts.runs("baseline_runs", baseline)
        tags = {}
        for old in found.older:
            # Two runs of a series may share a name: each is paged (and counted) on its own.
            tag = f"history:{old.name}"
            tags[old.id] = tag if tag not in parts.jobs else f"{tag} ({old.id})"
            parts.runs(tags[old.id], old)
        series = [(pr, "pr_runs")]
        if baseline is not None and baseline.id != pr.id:
            series.append((baseline, "baseline_runs"))
        for _, tag in series:  # waited for in this order, so the stats are in it too
            parts.result(tag)
        for old in found.older:
            parts.result(tags[old.id])
        # Older runs oldest first, as compare_buckets expects.
        older = [(old, tags[old.id]) for old in reversed(found.older)]
        buckets = _buckets(parts, [*series, *older], rules=rules, name=name)
    pr_bucket = buckets[0]
    baseline_bucket = None if baseline is None else buckets[1] if len(series) > 1 else pr_bucket
    return Fetched(
        pr=pr_bucket,
        baseline=baseline_bucket,
        history=tuple(buckets[len(series) :]),
        query=baseline_query,
        skipped_incomplete=found.skipped_incomplete,
        stats=parts.stats,
        total_seconds=time.perf_counter() - started,
    )


def export(
    source: LangSmithSource, ref: str, *, rules: BucketRules, name: Name, option: str
) -> Bucket:
    """One experiment as a Bucket (for ``evalbot export``); ``option`` names ``ref``."""
    with _fetching(source, rules, WORKERS) as parts:
        experiment = source.read_experiment(ref, option=option)
        parts.runs("runs", experiment)
        parts.dataset(experiment.dataset_id)
        return _buckets(parts, [(experiment, "runs")], rules=rules, name=name)[0]


def history_buckets(
    source: LangSmithSource,
    dataset: str,
    query: BaselineQuery,
    *,
    limit: int,
    rules: BucketRules,
    name: Name,
    min_runs: int = 2,
    workers: int = WORKERS,
) -> History:
    """The newest ``limit`` complete runs on ``dataset`` (name or id), oldest first.

    For ``evalbot trend``: the dataset's examples and example count are read
    while the experiments are listed, then every run is paged concurrently,
    with pass keys inferred from the newest run. With fewer than ``min_runs``
    complete runs there is no series to fetch: the buckets are empty and
    ``found`` says how many there were.
    """
    dataset_id = source.dataset_id(dataset, option=name("dataset"))
    with _fetching(source, rules, workers) as parts:
        parts.dataset(dataset_id)
        experiments, skipped = source.history(
            dataset_id,
            query,
            name=name,
            limit=limit,
            example_count=lambda: parts.count_of(dataset_id),
        )
        if len(experiments) < min_runs:
            return History(buckets=(), found=len(experiments), skipped_incomplete=skipped)
        for index, experiment in enumerate(experiments):
            parts.runs(f"history:{index}", experiment)
        series = [(e, f"history:{i}") for i, e in enumerate(experiments)]
        buckets = _buckets(parts, series, rules=rules, name=name)
    return History(
        buckets=tuple(reversed(buckets)), found=len(experiments), skipped_incomplete=skipped
    )
