"""Which experiments to compare: the PR's, the baseline and its history, found once.

Prefix and metadata strategies take the newest *complete* experiments on the
PR's dataset that started no later than the PR experiment (so on the base
branch the run itself is found: ``self_baseline``); an explicit baseline is
read by name or id. Messages name settings through ``name`` (a setting key ->
how the user spells it in this shell).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evalbot.errors import ExperimentNotFound, InputError
from evalbot.sources.langsmith.answers import sample
from evalbot.sources.langsmith.calls import Calls
from evalbot.sources.langsmith.connection import redact_url
from evalbot.sources.langsmith.queries import BaselineQuery, PrQuery, Strategy

# How many candidate baselines to look at before giving up (newest first).
MAX_CANDIDATES = 200

Name = Callable[[str], str]


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
class Baselines:
    """The baseline (None: none found), older runs of its series newest first, and
    how many incomplete candidates were skipped."""

    baseline: Experiment | None
    older: tuple[Experiment, ...] = ()
    skipped_incomplete: int = 0


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def experiment_of(session: Any) -> Experiment:
    """evalbot's view of an SDK tracer session (no SDK type goes further)."""
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


class Resolver(Calls):
    """Finds experiments: by name or id, or the newest complete ones matching a query."""

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

        return experiment_of(self.guard(what, call, not_found=missing))

    def dataset_id(self, ref: str, *, option: str) -> str:
        """A dataset id from a name or id; InputError naming ``option`` when absent."""
        if _is_uuid(ref):
            return ref
        dataset = self.guard(
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
        response = self.guard(
            what,
            lambda: self.client.request_with_retries("GET", f"/datasets/{dataset_id}"),
        )
        payload = self.json(what, response)
        if not isinstance(payload, dict):
            raise self.fail_shape(what, f"expected a dataset object, got {sample(payload)}")
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
            session = self.guard(what, lambda: next(iterator, None))
            if session is None:
                return
            experiment = experiment_of(session)
            if experiment.id in seen:
                raise self.fail(
                    f"{what}: LangSmith listed experiment {experiment.name!r} twice after "
                    f"{len(seen)} experiments: the server seems to ignore the listing's offset"
                )
            seen.add(experiment.id)
            yield experiment

    def resolve_pr(self, query: PrQuery, *, name: Name) -> Experiment:
        """The PR experiment named by ``pr`` or found by ``pr_metadata``."""
        if query.ref is not None:
            return self.read_experiment(query.ref, option=name("pr"))
        assert query.metadata is not None and query.dataset is not None
        dataset_id = self.dataset_id(query.dataset, option=name("dataset"))
        for experiment in self._candidates(dataset_id, metadata=query.metadata, name_contains=None):
            return experiment
        raise ExperimentNotFound(
            f"{name('pr_metadata')}: no experiment on dataset {query.dataset!r} has metadata "
            f"{json.dumps(query.metadata)}"
        )

    def resolve_baseline(
        self,
        pr: Experiment,
        query: BaselineQuery,
        *,
        name: Name,
        window: int = 1,
        example_count: Callable[[], int | None] = lambda: None,
        explicit: Callable[[], Experiment] | None = None,
    ) -> Baselines:
        """The baseline for ``pr`` and up to ``window - 1`` older runs of its series.

        The one baseline resolution. Explicit: the experiment ``query`` names
        (``explicit`` returns it when its look-up was already started, alongside
        the PR's), which must be on the PR's dataset unless allowed; it has no
        series. Prefix and metadata: one listing (issue 5 §1), see
        :meth:`history`; the newest complete match is the baseline and the rest
        pool with it, unless the baseline is the PR experiment itself.
        """
        if query.strategy is Strategy.EXPLICIT:
            baseline = (
                explicit()
                if explicit is not None
                else self.read_experiment(str(query.value), option=name("baseline"))
            )
            if (
                baseline.dataset_id != pr.dataset_id
                and not query.allow_other_dataset
                and baseline.id != pr.id
            ):
                raise InputError(
                    f"{name('baseline')}: experiment {baseline.name!r} ran on another dataset "
                    f"({baseline.dataset_id}) than the PR experiment ({pr.dataset_id}); "
                    f"pass {name('allow_dataset_mismatch')} to compare them anyway"
                )
            return Baselines(baseline)
        if pr.dataset_id is None:
            raise InputError(
                f"{name('pr')}: experiment {pr.name!r} has no dataset, so no baseline can be "
                f"searched for; pass {name('baseline')}"
            )
        found, skipped = self.history(
            pr.dataset_id,
            query,
            name=name,
            limit=max(1, window),
            started_before=pr.start_time,
            example_count=example_count,
        )
        if not found:
            return Baselines(None, skipped_incomplete=skipped)
        older = tuple(found[1:]) if found[0].id != pr.id else ()
        return Baselines(found[0], older, skipped)

    def history(
        self,
        dataset_id: str,
        query: BaselineQuery,
        *,
        name: Name,
        limit: int,
        started_before: datetime | None = None,
        example_count: Callable[[], int | None] = lambda: None,
    ) -> tuple[list[Experiment], int]:
        """Up to ``limit`` newest complete experiments matching ``query``, newest first.

        The one implementation of the prefix and metadata strategies:
        candidates on ``dataset_id`` newest first, the prefix re-checked (the
        server's filter is a substring match), those that started after
        ``started_before`` (when given) ignored, and incomplete ones (see
        :func:`complete`) skipped and counted. Returns the experiments and the
        number skipped as incomplete before the last one was found. At most
        ``max(MAX_CANDIDATES, limit)`` candidates are looked at. An explicit
        baseline is one experiment, not a series: asking for its history is an
        InputError.
        """
        if query.strategy is Strategy.EXPLICIT:
            raise InputError(
                f"{name('history')}: needs {name('baseline_prefix')} or "
                f"{name('baseline_metadata')} (an explicit baseline has no series)"
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
            if not complete(candidate, example_count):
                skipped += 1
                continue
            found.append(candidate)
            if len(found) >= limit:
                break
        return found, skipped


def complete(experiment: Experiment, example_count: Callable[[], int | None]) -> bool:
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
