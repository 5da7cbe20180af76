"""Paging runs and examples: 100 per request, selected fields only, every loop bounded.

Requests: one ``POST /runs/query`` per 100 root runs (the server rejects
``limit`` > 100 with a 400), with ``select`` restricted to the fields used and
feedback taken from each run's inline ``feedback_stats`` (never a request per
run); one paginated ``GET /examples`` per dataset.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson

from evalbot.errors import FetchError
from evalbot.sources.langsmith.answers import sample
from evalbot.sources.langsmith.calls import Calls
from evalbot.sources.langsmith.client import Request, set_active
from evalbot.sources.langsmith.resolve import Experiment

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

Page = list[dict[str, Any]]


def run_page_limit(experiment: Experiment) -> tuple[int, str]:
    """The most run pages ``experiment`` may take, and that bound in words."""
    if experiment.run_count is None:
        return MAX_RUN_PAGES, f"the cap of {MAX_RUN_PAGES} pages"
    pages = 2 * -(-experiment.run_count // PAGE_SIZE) + RUN_PAGE_SLACK
    return pages, (
        f"its {experiment.run_count} runs allow ({pages} pages of {PAGE_SIZE}, slack included)"
    )


@dataclass
class _Chain:
    """One experiment's chain of run pages: its thread's tag, the request in flight, the
    pages (or the error) handed over, and whether the reader stopped listening."""

    tag: str
    request: Request | None = None
    pages: queue.SimpleQueue[tuple[Page | None, BaseException | None]] = field(
        default_factory=queue.SimpleQueue
    )
    stopped: bool = False


def _reraise(error: BaseException) -> NoReturn:
    raise error


class Pager(Calls):
    """Pages an experiment's root runs and a dataset's examples."""

    def run_pages(self, experiment: Experiment, consume: Callable[[Page], None]) -> int:
        """Hand every page of the experiment's root runs to ``consume``; the number of runs.

        The pages follow a cursor, one request after another, in one thread of
        their own (no thread per request: under load each hand-over between
        threads costs milliseconds, issue 14 §4), while this thread digests
        each page with ``consume`` and holds every request to its deadline as
        :meth:`Calls.start` does. Bounded: a cursor seen before, a page of runs
        seen before, or more pages than the experiment's run count fills
        (MAX_RUN_PAGES when LangSmith does not give the count) is fetch_failed
        naming the cause.
        """
        what = f"fetching runs of {experiment.name!r}"
        chain = _Chain(self.counter.tag)
        thread = threading.Thread(
            target=self._page_chain,
            args=(what, experiment, chain),
            name="evalbot-langsmith-pages",
            daemon=True,
        )
        thread.start()
        runs = 0
        try:
            while True:
                try:
                    page, error = chain.pages.get(timeout=0.1)
                except queue.Empty:
                    self._check_chain(chain)
                    continue
                if error is not None:
                    if isinstance(error, FetchError):
                        raise error
                    self.translated(what, functools.partial(_reraise, error))
                if page is None:
                    return runs
                runs += len(page)
                consume(page)
        finally:
            chain.stopped = True

    def _check_chain(self, chain: _Chain) -> None:
        """Stop waiting when the fetch has failed or the current request's deadline passed."""
        request = chain.request
        if self._failed is not None:
            if request is not None:
                request.abandoned = True
            raise FetchError(self._failed)
        if request is not None and time.monotonic() > request.ends:
            request.abandoned = True
            raise self.fail(
                f"{request.what}: no complete answer within {request.deadline}", request
            )

    def _page_chain(self, what: str, experiment: Experiment, chain: _Chain) -> None:
        """The requests of :meth:`run_pages` (in its own thread): pages or the error, queued."""
        self.counter.tag = chain.tag
        body: dict[str, Any] = {
            "session": [experiment.id],
            "is_root": True,
            "select": list(RUN_FIELDS),
            "limit": PAGE_SIZE,
        }
        max_pages, allowed = run_page_limit(experiment)
        runs = 0
        cursors: set[str] = set()
        pages: set[tuple[str, ...]] = set()
        request = None
        try:
            while not chain.stopped:
                request = chain.request = self.limits(what)
                set_active(request)
                response = self.client.request_with_retries(
                    "POST", "/runs/query", request_kwargs={"data": orjson.dumps(body)}
                )
                chain.request = None
                if request.abandoned:
                    return
                payload = self.json(what, response)
                page, cursor = self._check_page(what, payload, cursors, pages)
                runs += len(page)
                chain.pages.put((page, None))
                if not page or not cursor:
                    chain.pages.put((None, None))
                    return
                if len(pages) >= max_pages:
                    raise self.fail(
                        f"{what}: LangSmith sent more pages than {allowed}; stopped after "
                        f"{len(pages)} pages ({runs} runs)"
                    )
                cursors.add(cursor)
                body["cursor"] = cursor
        except BaseException as exc:  # handed to run_pages' thread
            if request is not None:
                exc.__evalbot_request__ = request  # type: ignore[attr-defined]
            chain.pages.put((None, exc))

    def _check_page(
        self, what: str, payload: Any, cursors: set[str], pages: set[tuple[str, ...]]
    ) -> tuple[Page, str | None]:
        """The runs and next cursor of one answer, checked; the page is remembered."""
        if not isinstance(payload, dict) or not isinstance(payload.get("runs", []), list):
            raise self.fail_shape(
                what, f"expected an object with a 'runs' list, got {sample(payload)}"
            )
        page = payload.get("runs") or []
        ids = []
        for run in page:
            if not isinstance(run, dict) or not isinstance(run.get("id"), str) or not run["id"]:
                raise self.fail_shape(what, f"a run without an id: {sample(run)}")
            ids.append(run["id"])
        cursors_field = payload.get("cursors") or {}
        cursor = cursors_field.get("next") if isinstance(cursors_field, dict) else None
        if cursor is not None and not isinstance(cursor, str):
            raise self.fail_shape(what, f"the next cursor is not a string: {sample(cursor)}")
        if page and cursor and cursor in cursors:
            raise self.fail(
                f"{what}: LangSmith sent the same cursor again after {len(pages) + 1} pages"
            )
        fingerprint = tuple(ids)
        if fingerprint and fingerprint in pages:
            raise self.fail(
                f"{what}: LangSmith sent the same runs again on page {len(pages) + 1}: "
                "the server seems to ignore the cursor"
            )
        pages.add(fingerprint)
        return page, cursor

    def query_runs(self, experiment: Experiment) -> Page:
        """Every root run of the experiment (see :meth:`run_pages`)."""
        runs: Page = []
        self.run_pages(experiment, runs.extend)
        return runs

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
            response = self.guard(
                what,
                lambda params=params: self.client.request_with_retries(  # type: ignore[misc]
                    "GET", "/examples", params=params
                ),
            )
            page = self.json(what, response)
            if not isinstance(page, list) or not all(isinstance(e, dict) for e in page):
                raise self.fail_shape(what, f"expected a list of examples, got {sample(page)}")
            for example in page:
                if not isinstance(example.get("id"), str) or not example["id"]:
                    raise self.fail_shape(what, f"an example without an id: {sample(example)}")
                if example["id"] in out:
                    raise self.fail(
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
        raise self.fail(
            f"{what}: more than {MAX_EXAMPLE_PAGES} pages of {PAGE_SIZE} examples "
            f"(the limit is {MAX_EXAMPLE_PAGES * PAGE_SIZE:,} examples)"
        )
