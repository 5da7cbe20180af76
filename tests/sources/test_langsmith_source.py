"""LangSmithSource and the live pipeline: requests, baseline choice, failures, secrets.

Two kinds of fakes, both at the HTTP boundary only:

* ``responses`` mocks the SDK's ``requests`` calls for unit tests of the source
  (payloads shaped like the SDK schemas). It bypasses urllib3, so it cannot
  exercise retries.
* ``tests/fakes/fake_langsmith.py`` is a real HTTP server on 127.0.0.1: retries,
  Retry-After, the retry budget, timeouts and the CLI end to end run against it.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from evalbot.config import Settings
from evalbot.errors import FetchError, InputError
from evalbot.pipeline import Result, run_live
from evalbot.settings import Raw, parse_live
from evalbot.sources.langsmith import paging
from evalbot.sources.langsmith.source import (
    RUN_FIELDS,
    BaselineQuery,
    Connection,
    Experiment,
    LangSmithSource,
    Strategy,
    endpoint_password,
    make_client,
    redact_url,
)

from fake_langsmith import FakeLangSmith
from helpers import flag
from helpers import run_cli as run

ENDPOINT = "https://ls.test"
TENANT = "00000000-0000-4000-8000-0000000000aa"
DS = "11111111-1111-4111-8111-111111111111"
OTHER_DS = "22222222-2222-4222-8222-222222222222"
T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
KEY = "lsv2_sk_SECRET_abc123"
WRONG_KEY = "lsv2_sk_SECRET_wrong987"

Outcome = Callable[[int, int], dict[str, Any]]


def resolve(
    source: LangSmithSource, pr: Experiment, query: BaselineQuery, **kwargs: Any
) -> tuple[Experiment | None, int]:
    """The baseline and how many incomplete candidates were skipped (CLI spelling)."""
    found = source.resolve_baseline(pr, query, name=flag, **kwargs)
    return found.baseline, found.skipped_incomplete


# =====================================================================================
# Unit tests with `responses`
# =====================================================================================


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def session_payload(
    name: str,
    *,
    id: str | None = None,
    dataset_id: str | None = DS,
    start: datetime = T0,
    end: datetime | str | None = "auto",
    metadata: dict[str, Any] | None = None,
    run_count: int | None = 5,
) -> dict[str, Any]:
    """A tracer session as GET /sessions answers it."""
    end_time = start + timedelta(minutes=1) if end == "auto" else end
    assert not isinstance(end_time, str)
    return {
        "id": id or str(uuid.uuid4()),
        "name": name,
        "start_time": _iso(start),
        "end_time": _iso(end_time),
        "description": None,
        "extra": {"metadata": dict(metadata or {})},
        "tenant_id": TENANT,
        "reference_dataset_id": dataset_id,  # the key is required, even when null
        "default_dataset_id": None,
        "run_count": run_count,
        "feedback_stats": None,
    }


def dataset_payload(id: str = DS, *, example_count: int = 5) -> dict[str, Any]:
    return {
        "id": id,
        "name": "support",
        "description": None,
        "data_type": "kv",
        "created_at": _iso(T0 - timedelta(days=30)),
        "modified_at": _iso(T0 - timedelta(days=30)),
        "example_count": example_count,
        "session_count": 3,
        "tenant_id": TENANT,
    }


def example_payload(index: int, dataset_id: str = DS) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=index + 1)),
        "dataset_id": dataset_id,
        "inputs": {"question": f"q{index}?"},
        "outputs": None,
        "metadata": {"scenario": f"s{index}"},
        "created_at": _iso(T0 - timedelta(days=30) + timedelta(microseconds=index)),
    }


def experiment(
    name: str = "pr-7",
    *,
    id: str = "33333333-3333-4333-8333-333333333333",
    dataset_id: str | None = DS,
    start: datetime = T0,
    run_count: int | None = 5,
) -> Experiment:
    return Experiment(
        id=id,
        name=name,
        dataset_id=dataset_id,
        start_time=start,
        end_time=start + timedelta(minutes=1),
        metadata={"branch": "feat"},
        run_count=run_count,
        url=None,
    )


def query(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


@pytest.fixture
def api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def source(api: responses.RequestsMock) -> Iterator[LangSmithSource]:
    src = LangSmithSource(
        Connection(api_key="unit-key", endpoint=ENDPOINT, timeout_s=2, retry_budget_s=0)
    )
    yield src
    src.client.session.close()


def mock_sessions(
    api: responses.RequestsMock, sessions: list[dict[str, Any]]
) -> list[dict[str, list[str]]]:
    """GET /sessions answers ``sessions`` (a list, newest first); returns the query log."""
    log: list[dict[str, list[str]]] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        params = query(request)
        log.append(params)
        if params.get("limit") == ["1"] and set(params) <= {"limit"}:
            return 200, {}, json.dumps(sessions[:1])  # the SDK's tenant lookup
        if "name" in params:
            return 200, {}, json.dumps([s for s in sessions if s["name"] in params["name"]])
        offset = int(params.get("offset", ["0"])[0])
        limit = int(params.get("limit", ["100"])[0])
        return 200, {}, json.dumps(sessions[offset : offset + limit])

    api.add_callback(responses.GET, f"{ENDPOINT}/sessions", callback=callback)
    return log


# --- query_runs ----------------------------------------------------------------------


def test_query_runs_sends_the_documented_body_and_follows_cursors(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    bodies: list[dict[str, Any]] = []
    sizes = [100, 100, 37]

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        bodies.append(json.loads(request.body))
        page = len(bodies)
        runs = [{"id": f"run-{page}-{i}", "status": "success"} for i in range(sizes[page - 1])]
        cursor = f"cursor-{page}" if page < len(sizes) else None
        return 200, {}, json.dumps({"runs": runs, "cursors": {"next": cursor}})

    api.add_callback(responses.POST, f"{ENDPOINT}/runs/query", callback=callback)
    # The session's run count (5) lags behind the runs (237), as LangSmith's stats can
    # right after an experiment ends: within the slack, so still a healthy fetch.
    runs = source.query_runs(experiment(run_count=5))

    assert len(runs) == 237
    assert runs[0]["id"] == "run-1-0" and runs[-1]["id"] == "run-3-36"
    assert len(bodies) == 3
    for page, body in enumerate(bodies):
        assert body["session"] == ["33333333-3333-4333-8333-333333333333"]
        assert body["is_root"] is True
        assert body["select"] == list(RUN_FIELDS)
        assert body["limit"] == 100  # the server rejects more than 100
        assert body.get("cursor") == (None if page == 0 else f"cursor-{page}")
        assert set(body) <= {"session", "is_root", "select", "limit", "cursor"}


def test_query_runs_stops_after_more_pages_than_the_run_count_allows(
    api: responses.RequestsMock, source: LangSmithSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = iter(range(10_000))

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        page = next(calls)
        runs = [{"id": f"run-{page}-{i}"} for i in range(100)]
        return 200, {}, json.dumps({"runs": runs, "cursors": {"next": f"c{page}"}})

    api.add_callback(responses.POST, f"{ENDPOINT}/runs/query", callback=callback)
    with pytest.raises(FetchError, match=r"more pages than its 150 runs allow \(14 pages"):
        source.query_runs(experiment(run_count=150))
    assert len(api.calls) == 14
    # Without a run count, the hard cap (1,000 pages; 40 here to keep the test fast).
    monkeypatch.setattr(paging, "MAX_RUN_PAGES", 40)
    fresh = LangSmithSource(Connection(api_key=KEY, endpoint=ENDPOINT, retry_budget_s=0))
    with pytest.raises(FetchError, match="more pages than the cap of 40 pages"):
        fresh.query_runs(experiment(run_count=None))
    assert len(api.calls) == 14 + 40


def test_query_runs_stops_on_an_empty_page_even_with_a_cursor(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    api.add(
        responses.POST,
        f"{ENDPOINT}/runs/query",
        json={"runs": [], "cursors": {"next": "more?"}},
    )
    assert source.query_runs(experiment()) == []
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"runs": {"id": "r1"}}',
        b'[{"id": "r1"}]',
        b'{"runs": ["r1"]}',
    ],
    ids=["not-json", "runs-not-a-list", "not-an-object", "run-not-an-object"],
)
def test_query_runs_rejects_a_malformed_body(
    api: responses.RequestsMock, source: LangSmithSource, body: bytes
) -> None:
    api.add(responses.POST, f"{ENDPOINT}/runs/query", body=body, status=200)
    with pytest.raises(FetchError, match=r"wrong shape|not JSON"):
        source.query_runs(experiment())


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_a_fetch_error_naming_the_endpoint(
    api: responses.RequestsMock, source: LangSmithSource, status: int
) -> None:
    api.add(responses.POST, f"{ENDPOINT}/runs/query", json={"detail": "no"}, status=status)
    with pytest.raises(FetchError) as info:
        source.query_runs(experiment())
    assert str(info.value) == f"LangSmith rejected the API key for {ENDPOINT}"


def test_a_server_error_is_a_fetch_error(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    api.add(responses.POST, f"{ENDPOINT}/runs/query", json={"detail": "boom"}, status=500)
    with pytest.raises(FetchError, match=r"fetching runs of 'pr-7'.*500"):
        source.query_runs(experiment())


def test_a_404_from_run_query_is_a_fetch_error(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    api.add(responses.POST, f"{ENDPOINT}/runs/query", json={"detail": "gone"}, status=404)
    with pytest.raises(FetchError):
        source.query_runs(experiment())


def test_a_server_error_mentioning_403_in_the_url_is_not_a_key_rejection(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    api.add(responses.GET, f"{ENDPOINT}/sessions", json={"detail": "boom"}, status=500)
    with pytest.raises(FetchError) as info:
        source.read_experiment("pr-403", option="--pr")
    assert "rejected the API key" not in str(info.value)


# --- experiments and baseline resolution -----------------------------------------------


def test_read_experiment_by_name_and_by_id(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    session = session_payload("main-1", metadata={"branch": "main"}, run_count=15)
    log = mock_sessions(api, [session])
    api.add(responses.GET, f"{ENDPOINT}/sessions/{session['id']}", json=session)

    by_name = source.read_experiment("main-1", option="--baseline")
    by_id = source.read_experiment(session["id"], option="--baseline")

    assert by_name == by_id
    assert by_name.id == session["id"] and by_name.name == "main-1"
    assert by_name.dataset_id == DS
    assert by_name.metadata == {"branch": "main"}
    assert by_name.run_count == 15
    assert by_name.start_time == T0 and by_name.end_time == T0 + timedelta(minutes=1)
    assert log[0]["name"] == ["main-1"]
    assert api.calls[-1].request.url.startswith(f"{ENDPOINT}/sessions/{session['id']}")


def test_a_missing_experiment_is_an_input_error_naming_the_option(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    mock_sessions(api, [])
    missing = "44444444-4444-4444-8444-444444444444"
    api.add(responses.GET, f"{ENDPOINT}/sessions/{missing}", json={"detail": "nf"}, status=404)
    with pytest.raises(InputError, match=r"^--baseline: no experiment named or with id 'nope'"):
        source.read_experiment("nope", option="--baseline")
    with pytest.raises(InputError, match=rf"^--pr: .*{missing}"):
        source.read_experiment(missing, option="--pr")


def test_metadata_strategy_filters_on_the_server_and_takes_the_newest_complete(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    main = {"branch": "main"}
    sessions = [  # newest first, as the server lists them
        session_payload("after-pr", start=T0 + timedelta(hours=1), metadata=main),
        session_payload("running", start=T0 - timedelta(hours=1), end=None, metadata=main),
        session_payload(
            "short",
            start=T0 - timedelta(hours=2),
            metadata={**main, "num_repetitions": 3},
            run_count=14,
        ),
        session_payload(
            "good",
            start=T0 - timedelta(hours=3),
            metadata={**main, "num_repetitions": 3},
            run_count=15,
        ),
        session_payload("older", start=T0 - timedelta(days=3), metadata=main),
    ]
    log = mock_sessions(api, sessions)
    chosen, skipped = resolve(
        source, experiment(), BaselineQuery(Strategy.METADATA, main), example_count=lambda: 5
    )
    assert chosen is not None and chosen.name == "good"
    assert skipped == 2  # running (no end time) and short (14 < 5 examples x 3)
    (listing,) = log
    assert listing["reference_dataset"] == [DS]
    assert json.loads(listing["metadata"][0]) == main
    assert listing["include_stats"] == ["True"]
    assert "name_contains" not in listing


def test_completeness_uses_run_count_only_when_the_example_count_is_known(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    mock_sessions(api, [session_payload("tiny", start=T0 - timedelta(hours=1), run_count=1)])
    query_ = BaselineQuery(Strategy.METADATA, {"branch": "main"})
    assert resolve(source, experiment(), query_, example_count=lambda: 5) == (None, 1)
    chosen, skipped = resolve(source, experiment(), query_, example_count=lambda: None)
    assert chosen is not None and chosen.name == "tiny" and skipped == 0


def test_prefix_strategy_rechecks_the_server_substring_match(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    sessions = [
        session_payload("not-main-1", start=T0 - timedelta(hours=1)),
        session_payload("xmain-2", start=T0 - timedelta(hours=2)),
        session_payload("main-1", start=T0 - timedelta(days=1)),
    ]
    log = mock_sessions(api, sessions)
    chosen, skipped = resolve(
        source, experiment(), BaselineQuery(Strategy.PREFIX, "main-"), example_count=lambda: 5
    )
    assert chosen is not None and chosen.name == "main-1"
    assert skipped == 0  # a name that does not match is not an incomplete experiment
    assert log[0]["name_contains"] == ["main-"]
    assert "metadata" not in log[0]


def test_no_candidate_gives_no_baseline(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    mock_sessions(api, [session_payload("not-main-1", start=T0 - timedelta(hours=1))])
    assert resolve(
        source, experiment(), BaselineQuery(Strategy.PREFIX, "main-"), example_count=lambda: 5
    ) == (None, 0)


def test_explicit_baseline_on_another_dataset_needs_the_mismatch_flag(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    mock_sessions(api, [session_payload("other", dataset_id=OTHER_DS)])
    with pytest.raises(InputError, match=r"^--baseline: .*--allow-dataset-mismatch"):
        resolve(
            source, experiment(), BaselineQuery(Strategy.EXPLICIT, "other"), example_count=lambda: 5
        )
    chosen, skipped = resolve(
        source,
        experiment(),
        BaselineQuery(Strategy.EXPLICIT, "other", allow_other_dataset=True),
        example_count=lambda: 5,
    )
    assert chosen is not None and chosen.dataset_id == OTHER_DS and skipped == 0


def test_search_strategies_need_the_pr_dataset(source: LangSmithSource) -> None:
    with pytest.raises(InputError, match=r"^--pr: .*no dataset.*--baseline"):
        resolve(
            source,
            experiment(dataset_id=None),
            BaselineQuery(Strategy.METADATA, {"branch": "main"}),
            example_count=lambda: None,
        )


# --- examples --------------------------------------------------------------------------


def test_examples_are_listed_100_at_a_time(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    mock_sessions(api, [session_payload("any")])
    every = [example_payload(i) for i in range(250)]
    pages: list[dict[str, list[str]]] = []

    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        params = query(request)
        pages.append(params)
        offset, limit = int(params["offset"][0]), int(params["limit"][0])
        return 200, {}, json.dumps(every[offset : offset + limit])

    api.add_callback(responses.GET, f"{ENDPOINT}/examples", callback=callback)
    examples = source.examples(DS)

    assert len(examples) == 250
    first = examples[str(uuid.UUID(int=1))]
    assert first == {
        "id": str(uuid.UUID(int=1)),
        "inputs": {"question": "q0?"},
        "metadata": {"scenario": "s0"},
    }
    assert [p["offset"] for p in pages] == [["0"], ["100"], ["200"]]
    assert all(p["limit"] == ["100"] and p["dataset"] == [DS] for p in pages)


def test_examples_of_a_missing_dataset_and_a_malformed_listing(
    api: responses.RequestsMock, source: LangSmithSource
) -> None:
    mock_sessions(api, [session_payload("any")])
    api.add(responses.GET, f"{ENDPOINT}/examples", json={"detail": "nf"}, status=404)
    with pytest.raises(FetchError, match="not found"):
        source.examples(DS)
    # A source serves one fetch: after a failure every request fails alike.
    with pytest.raises(FetchError, match="not found"):
        source.example_count(DS)
    api.replace(responses.GET, f"{ENDPOINT}/examples", body=b"<html>", status=200)
    fresh = LangSmithSource(Connection(api_key="unit-key", endpoint=ENDPOINT, retry_budget_s=0))
    with pytest.raises(FetchError, match="not JSON"):
        fresh.examples(DS)


# --- the client ------------------------------------------------------------------------


def test_the_client_retries_reads_within_a_budget() -> None:
    client = make_client(Connection(api_key=KEY, endpoint=ENDPOINT, timeout_s=3, retry_budget_s=7))
    try:
        retry = client.session.get_adapter(f"{ENDPOINT}/runs/query").max_retries
        assert retry.budget_s == 7
        assert {408, 429, 500, 502, 503, 504} <= set(retry.status_forcelist)
        assert retry.allowed_methods is None  # POST /runs/query is a read
        assert retry.respect_retry_after_header
    finally:
        client.session.close()


def test_the_connection_repr_hides_the_key() -> None:
    assert KEY not in repr(Connection(api_key=KEY, endpoint=ENDPOINT))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://ls.test/api", "https://ls.test/api"),
        ("http://admin:pw@ls.test", "http://***@ls.test"),
        ("https://admin:p@ss@ls.test/api?x=1", "https://***@ls.test/api?x=1"),
        ("https://token@ls.test", "https://***@ls.test"),
        (
            "connection refused (http://a:b@h:1/x): see HTTP://c:d@h2/y",
            "connection refused (http://***@h:1/x): see HTTP://***@h2/y",
        ),
        ("mailto-ish user@example.com", "mailto-ish user@example.com"),
    ],
)
def test_redact_url_hides_userinfo_in_urls_and_messages(text: str, shown: str) -> None:
    assert redact_url(text) == shown


def test_endpoint_password_is_percent_decoded() -> None:
    assert endpoint_password("http://admin:p%40ss@h") == "p@ss"
    assert endpoint_password("http://admin@h") is None
    assert endpoint_password("http://h") is None


def test_the_experiment_link_never_carries_the_endpoint_password(
    api: responses.RequestsMock,
) -> None:
    # The SDK builds the link from the endpoint, userinfo included (not for 127.0.0.1,
    # which it links as http://localhost, so this needs a real-looking host).
    endpoint = "https://admin:pw-SECRET@ls.test/api"
    api.add(responses.GET, f"{endpoint}/sessions", json=[session_payload("pr-7")])
    source = LangSmithSource(Connection(api_key=KEY, endpoint=endpoint))
    found = source.read_experiment("pr-7", option="--pr")
    assert found.url is not None and found.url.startswith("https://***@ls.test/o/")
    # The password still reaches the server, as HTTP basic auth.
    assert api.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_a_host_name_that_does_not_resolve_is_not_retried() -> None:
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    retry = make_client(Connection(api_key=KEY, endpoint=ENDPOINT, retry_budget_s=60)).session
    policy = retry.get_adapter(f"{ENDPOINT}/runs/query").max_retries
    dns = NameResolutionError("ls.tset", None, OSError("Name or service not known"))  # type: ignore[arg-type]
    with pytest.raises(MaxRetryError, match="host not found"):
        policy.increment("GET", "/sessions", error=dns)
    refused = NewConnectionError(None, "[Errno 111] Connection refused")  # type: ignore[arg-type]
    assert policy.increment("GET", "/sessions", error=refused).total == policy.total - 1


# =====================================================================================
# Against the fake LangSmith server (real HTTP on 127.0.0.1)
# =====================================================================================


def scores(value: float | None, key: str = "correctness", **extra: Any) -> dict[str, Any]:
    return {
        key: {
            "n": 0 if value is None else 1,
            "avg": value,
            "stdev": 0,
            "errors": 1 if value is None else 0,
            "values": {},
            "comments": [],
        },
        **extra,
    }


def passing(_: int, __: int) -> dict[str, Any]:
    return {"feedback_stats": scores(1.0)}


def first_fails(index: int, _: int) -> dict[str, Any]:
    return {"feedback_stats": scores(0.0 if index == 0 else 1.0)}


HARD = 5
"""Repetitions that make ``first_fails`` a hard regression: s0 at 0/5 vs 5/5 (Fisher
p = 1/252) passes the default false-alarm budget; 0/3 vs 3/3 (p = 1/20) is only soft."""


@dataclass
class World:
    """A fake server with one five-example dataset and helpers to add experiments."""

    fake: FakeLangSmith
    ds: str

    def add(
        self,
        name: str,
        *,
        hours: float,
        metadata: dict[str, Any] | None = None,
        outcome: Outcome = passing,
        repetitions: int = 3,
        drop: int = 0,
        end: str | None = "auto",
        dataset_id: str | None = None,
    ) -> str:
        ds = dataset_id or self.ds
        runs = self.fake.make_runs(ds, repetitions=repetitions, outcome=outcome)
        return self.fake.add_experiment(
            name,
            dataset_id=ds,
            metadata=metadata,
            start_time=T0 + timedelta(hours=hours),
            end_time="auto" if end == "auto" else None,
            runs=runs[: len(runs) - drop],
        )

    def pr(self, **kwargs: Any) -> str:
        kwargs.setdefault("metadata", {"branch": "feat"})
        kwargs.setdefault("outcome", first_fails)
        return self.add("pr-7", hours=0, **kwargs)

    def main(self, name: str = "main-1", *, hours: float = -48, **kwargs: Any) -> str:
        kwargs.setdefault("metadata", {"branch": "main"})
        return self.add(name, hours=hours, **kwargs)


def five_examples() -> list[dict[str, Any]]:
    return [{"inputs": {"question": f"q{i}?"}, "metadata": {"scenario": f"s{i}"}} for i in range(5)]


def quiet_hangups(fake: FakeLangSmith) -> None:
    """Don't print a traceback when a client hangs up (e.g. after its timeout).

    socketserver prints it from a server thread, so it can land in another test's
    captured stderr; on CPython 3.11.7 the traceback module's concurrent ``ast``
    use even races with pytest's own traceback formatting (an INTERNALERROR).
    """
    server = getattr(fake, "_server", None)
    if server is None:
        return
    original = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            original(request, client_address)

    server.handle_error = handle_error


def settle(fake: FakeLangSmith, timeout: float = 3.0) -> None:
    """Wait until the fake has answered every request it received (slow handlers)."""
    deadline = time.monotonic() + timeout
    while any(r.status is None for r in fake.requests) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)  # let the handler finish writing to the closed socket


@pytest.fixture
def fake() -> Iterator[FakeLangSmith]:
    with FakeLangSmith(api_key=KEY) as server:
        quiet_hangups(server)
        yield server
        if server.latency_s:
            settle(server)


@pytest.fixture
def world(fake: FakeLangSmith) -> World:
    return World(fake, fake.add_dataset("support", five_examples()))


def live_args(
    fake: FakeLangSmith, *extra: str, key: str = KEY, endpoint: str | None = None
) -> list[str]:
    return [
        "compare",
        "--pr",
        "pr-7",
        "--langsmith-endpoint",
        endpoint or fake.url,
        "--langsmith-api-key",
        key,
        "--timeout",
        "2",
        "--retry-budget",
        "0.5",
        *extra,
    ]


def compare_json(
    fake: FakeLangSmith, *extra: str, key: str = KEY, endpoint: str | None = None
) -> tuple[int, dict[str, Any], str]:
    code, out, err = run(*live_args(fake, "--format", "json", *extra, key=key, endpoint=endpoint))
    assert out, err
    return code, json.loads(out), err


def live(fake: FakeLangSmith, **options: Any) -> Result:
    """run_live with parse_live's validation, like the CLI but without it."""
    defaults: dict[str, Any] = {
        "langsmith_api_key": KEY,
        "langsmith_endpoint": fake.url,
        "pr": "pr-7",
        "timeout": "2",
        "retry_budget": "0.5",
    }
    return run_live(parse_live(Raw(**{**defaults, **options})), Settings())


def by_label(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["label"]: row for row in report["scenarios"]}


# --- 2. baseline strategies through run_live / the CLI ---------------------------------


def test_default_strategy_is_the_newest_complete_branch_main(world: World) -> None:
    world.main("main-old", hours=-72, repetitions=HARD)
    world.main("main-1", hours=-48, repetitions=HARD)
    world.add("dev-1", hours=-24, metadata={"branch": "dev"}, repetitions=HARD)
    world.pr(repetitions=HARD)
    result = live(world.fake)
    report = result.report
    assert report["outcome"] == "ok"
    assert report["baseline"]["name"] == "main-1"
    assert report["fetch"]["baseline_selection"] == {
        "strategy": "metadata",
        "filter": {"branch": "main"},
        "description": 'the newest complete experiment with metadata {"branch": "main"}',
        "skipped_incomplete": 0,
    }
    assert result.selection == (
        'chosen as the newest complete experiment with metadata {"branch": "main"}'
    )
    assert report["counts"]["hard_regression"] == 1
    # The default history window pools the older main runs, never dev-1.
    assert [e["name"] for e in report["history"]["experiments"]] == ["main-old", "main-1"]


def test_newest_complete_one_started_no_later_than_the_pr(world: World) -> None:
    world.main("main-old", hours=-72)
    world.main("main-good", hours=-48)
    world.main("main-running", hours=-24, end=None)
    world.main("main-short", hours=-12, metadata={"branch": "main", "num_repetitions": 3}, drop=1)
    world.pr()
    world.main("main-after", hours=+1)
    result = live(world.fake)
    assert result.report["baseline"]["name"] == "main-good"
    assert result.report["fetch"]["baseline_selection"]["skipped_incomplete"] == 2
    assert result.selection is not None
    assert result.selection.endswith("; 2 incomplete experiments skipped")


def test_explicit_metadata_strategy(world: World) -> None:
    world.main("main-1", hours=-48)
    world.add("release-1", hours=-24, metadata={"branch": "release", "tier": "gold"})
    world.pr()
    report = live(world.fake, baseline_metadata='{"branch": "release"}').report
    assert report["baseline"]["name"] == "release-1"
    assert report["fetch"]["baseline_selection"]["filter"] == {"branch": "release"}


def test_prefix_strategy_is_a_real_prefix(world: World) -> None:
    world.main("main-1", hours=-48, metadata={})
    world.add("not-main-1", hours=-24)
    world.pr()
    report = live(world.fake, baseline_prefix="main-").report
    assert report["baseline"]["name"] == "main-1"
    assert report["fetch"]["baseline_selection"]["strategy"] == "prefix"
    assert report["fetch"]["baseline_selection"]["filter"] == "main-"
    sessions = world.fake.requests_to("/sessions", "GET")
    assert any(r.query.get("name_contains") == ["main-"] for r in sessions)


@pytest.mark.parametrize("by", ["name", "id"])
def test_explicit_baseline_by_name_or_id(world: World, by: str) -> None:
    base_id = world.main("main-1", hours=-48, metadata={"branch": "old"})
    world.main("main-2", hours=-24)
    world.pr()
    report = live(world.fake, baseline="main-1" if by == "name" else base_id).report
    assert report["outcome"] == "ok"
    assert report["baseline"]["name"] == "main-1"
    assert report["baseline"]["id"] == base_id
    assert report["fetch"]["baseline_selection"]["strategy"] == "explicit"


def test_the_pr_itself_as_newest_match_is_self_baseline(world: World) -> None:
    world.main("main-1", hours=-48)
    pr_id = world.pr(metadata={"branch": "main"})
    world.fake.clear_requests()
    code, report, _ = compare_json(world.fake)
    assert code == 0
    assert report["outcome"] == "self_baseline"
    assert report["pr"]["id"] == pr_id
    assert "baseline_runs" not in report["fetch"]["parts"]
    assert len(world.fake.requests_to("/runs/query", "POST")) == 1  # the PR's runs only


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ((), '{"branch": "main"}'),
        (("--baseline-prefix", "release-"), "named release-*"),
        (("--baseline-metadata", '{"branch": "trunk"}'), '{"branch": "trunk"}'),
    ],
)
def test_nothing_matching_is_no_baseline(
    world: World, options: tuple[str, ...], named: str
) -> None:
    world.add("dev-1", hours=-24, metadata={"branch": "dev"})
    world.pr()
    code, report, _ = compare_json(world.fake, *options)
    assert code == 0
    assert report["outcome"] == "no_baseline"
    assert report["baseline"] is None
    assert named in report["message"]
    assert report["message"].endswith("on the PR experiment's dataset")


def test_skipped_incomplete_experiments_are_named_in_no_baseline(world: World) -> None:
    world.main("main-running", hours=-24, end=None)
    world.pr()
    code, report, _ = compare_json(world.fake)
    assert (code, report["outcome"]) == (0, "no_baseline")
    assert "(1 incomplete experiments skipped)" in report["message"]
    assert report["fetch"]["baseline_selection"]["skipped_incomplete"] == 1


def test_explicit_baseline_on_another_dataset_exits_2_unless_allowed(world: World) -> None:
    other = world.fake.add_dataset("other", five_examples())
    world.add("elsewhere", hours=-24, dataset_id=other)
    world.pr()
    code, out, err = run(*live_args(world.fake, "--baseline", "elsewhere"))
    assert code == 2
    assert out == ""
    assert err.startswith("evalbot: error: --baseline: experiment 'elsewhere' ran on another")
    assert "--allow-dataset-mismatch" in err and "Traceback" not in err

    code, report, _ = compare_json(
        world.fake, "--baseline", "elsewhere", "--allow-dataset-mismatch"
    )
    # No scenario is shared: each side's examples are its own, so nothing is compared.
    assert report["outcome"] == "nothing_compared"
    assert report["baseline"]["name"] == "elsewhere"
    assert report["scenarios"] == []
    assert len(report["pr_only"]) == len(report["baseline_only"]) == 5


def test_pr_found_by_metadata_on_a_dataset(world: World) -> None:
    world.main("main-1", hours=-48)
    world.add("pr-123-a", hours=-2, metadata={"pr_number": 123})
    world.add("pr-123-b", hours=-1, metadata={"pr_number": 123}, outcome=first_fails)
    report = live(world.fake, pr=None, pr_metadata='{"pr_number": 123}', dataset="support").report
    assert report["pr"]["name"] == "pr-123-b"
    assert report["baseline"]["name"] == "main-1"
    with pytest.raises(InputError, match=r"^--pr-metadata: no experiment"):
        live(world.fake, pr=None, pr_metadata='{"pr_number": 9}', dataset="support")
    with pytest.raises(InputError, match=r"^--dataset: no dataset named 'nope'"):
        live(world.fake, pr=None, pr_metadata='{"pr_number": 123}', dataset="nope")


# --- 3. failures become fetch_failed ---------------------------------------------------


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Failure:
    """How to break the fetch, and a fragment of the report's message."""

    message: str
    key: str = KEY
    endpoint: str | None = None
    options: tuple[str, ...] = ()
    fault: dict[str, Any] | None = None  # fail_next keyword arguments
    malformed: str | None = None  # malformed_next path
    latency_s: float = 0.0


TIMEOUT = ("--timeout", "0.2", "--retry-budget", "0.3")
FAILURES = {
    "401": Failure("LangSmith rejected the API key for ", key=WRONG_KEY),
    "500-after-retries": Failure(
        "HTTP 500 Internal Server Error", fault={"path": "/runs/query", "status": 500, "times": 100}
    ),
    "429-budget-exhausted": Failure(
        "HTTP 429 Too Many Requests",
        fault={"path": "/runs/query", "status": 429, "times": 100, "retry_after": "60"},
    ),
    "timeout": Failure("reading experiment 'pr-7'", latency_s=0.5, options=TIMEOUT),
    "connection-refused": Failure("reading experiment 'pr-7'", endpoint="unused"),
    "malformed-runs": Failure("not JSON", malformed="/runs/query"),
    "malformed-session": Failure("not JSON", malformed="/sessions"),
}


def break_fetch(world: World, failure: Failure) -> tuple[int, dict[str, Any], str]:
    """Apply ``failure`` to the fake and run the CLI's JSON comparison."""
    if failure.fault is not None:
        world.fake.fail_next(**failure.fault)
    if failure.malformed is not None:
        world.fake.malformed_next(failure.malformed)
    world.fake.latency_s = failure.latency_s
    endpoint = failure.endpoint
    if endpoint == "unused":
        endpoint = f"http://127.0.0.1:{unused_port()}"
    return compare_json(world.fake, *failure.options, key=failure.key, endpoint=endpoint)


@pytest.mark.parametrize("case", FAILURES)
def test_failures_are_fetch_failed_and_neutral_by_default(world: World, case: str) -> None:
    world.main()
    world.pr()
    world.fake.clear_requests()
    started = time.monotonic()
    code, report, err = break_fetch(world, FAILURES[case])
    elapsed = time.monotonic() - started
    assert code == 0, err
    assert report["outcome"] == "fetch_failed"
    assert report["gate"] == {
        "failed": False,
        "reason": "regression detection did not run (on_fetch_failure: neutral)",
        "warning": True,
    }
    assert FAILURES[case].message in report["message"]
    assert report["fetch"] == {"source": "langsmith", "error": report["message"]}
    assert report["pr"] is None and report["scenarios"] == []
    assert elapsed < 1.5  # no Retry-After sleep, no default 30 s timeout
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("case", "cause"),
    [("timeout", "timed out"), ("connection-refused", "refused")],
)
def test_a_network_failure_message_names_its_cause(world: World, case: str, cause: str) -> None:
    world.main()
    world.pr()
    _, report, _ = break_fetch(world, FAILURES[case])
    assert report["outcome"] == "fetch_failed"
    assert cause in report["message"].lower()
    assert "url:  " not in report["message"]


def test_401_message_names_the_endpoint(world: World) -> None:
    world.pr()
    code, report, _ = compare_json(world.fake, key=WRONG_KEY)
    assert code == 0
    assert report["message"] == f"LangSmith rejected the API key for {world.fake.url}"


def test_retries_happen_before_giving_up(world: World) -> None:
    world.main()
    world.pr()
    world.fake.clear_requests()
    world.fake.fail_next(path="/runs/query", status=500, times=100)
    _, report, _ = compare_json(world.fake)
    assert report["outcome"] == "fetch_failed"
    posts = world.fake.requests_to("/runs/query", "POST")
    # A run query is tried more than once before the budget runs out (the other one
    # stops at its next request once the first has failed), and the message says so.
    assert len(posts) >= 2
    assert {r.status for r in posts} == {500}
    assert re.search(r"gave up after [2-9] attempts", report["message"]), report["message"]


def test_429_with_a_long_retry_after_fails_fast_instead_of_sleeping(world: World) -> None:
    world.pr(metadata={"branch": "main"})  # self baseline: a single run query
    world.fake.clear_requests()
    world.fake.fail_next(path="/runs/query", status=429, times=100, retry_after="60")
    started = time.monotonic()
    code, report, _ = compare_json(world.fake, "--retry-budget", "5")
    assert time.monotonic() - started < 1.0
    assert (code, report["outcome"]) == (0, "fetch_failed")
    assert [r.status for r in world.fake.requests_to("/runs/query", "POST")] == [429]


def test_fetch_failure_fails_the_gate_when_configured(world: World, tmp_path: Path) -> None:
    config = tmp_path / "evalbot.yml"
    config.write_text("on_fetch_failure: fail\n", encoding="utf-8")
    world.pr()
    code, report, _ = compare_json(world.fake, "--config", str(config), key=WRONG_KEY)
    assert code == 1
    assert report["outcome"] == "fetch_failed"
    assert report["gate"]["failed"] is True
    assert report["gate"]["reason"] == "regression detection did not run (on_fetch_failure: fail)"


def test_markdown_for_a_fetch_failure(world: World) -> None:
    world.pr()
    code, out, _ = run(*live_args(world.fake, key=WRONG_KEY))
    assert code == 0
    assert "> ⚠️ **evalbot passes without checking**: regression detection did not run" in out
    assert "LangSmith rejected the API key for" in out


def test_a_bug_is_not_an_outage(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: bucketing raises; that is exit 3 with a traceback, not fetch_failed."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("injected")

    # Counting runs raises, while the pages arrive (in a paging thread).
    monkeypatch.setattr("evalbot.sources.langsmith.bucket.Tallies.add", broken)
    world.main()
    world.pr()
    code, out, err = run(*live_args(world.fake, "--format", "json"))
    assert code == 3
    assert out == ""
    assert "Traceback (most recent call last)" in err
    assert "ZeroDivisionError: injected" in err
    assert "internal error — this is a bug in evalbot" in err


def test_a_deleted_dataset_is_not_an_internal_error(world: World) -> None:
    world.main()
    runs = world.fake.make_runs(world.ds, outcome=passing)
    world.fake.add_experiment("pr-7", dataset_id=str(uuid.uuid4()), start_time=T0, runs=runs)
    code, _, err = run(*live_args(world.fake, "--format", "json"))
    assert code in (0, 2)
    assert "internal error" not in err


# --- 4. retries that succeed -----------------------------------------------------------


def test_429_with_retry_after_zero_then_success(world: World) -> None:
    world.main(repetitions=HARD)
    world.pr(repetitions=HARD)
    world.fake.clear_requests()
    world.fake.fail_next(path="/runs/query", status=429, retry_after="0")
    code, report, _ = compare_json(world.fake)
    assert (code, report["outcome"]) == (1, "ok")
    statuses = [r.status for r in world.fake.requests_to("/runs/query", "POST")]
    assert statuses.count(429) == 1 and statuses.count(200) == 2
    assert len(statuses) == 3  # the throttled query was sent again


def test_429_without_retry_after_then_success(world: World) -> None:
    world.pr(metadata={"branch": "main"})  # one run query, so the 429 hits it
    world.fake.clear_requests()
    world.fake.fail_next(path="/runs/query", status=429)
    code, report, _ = compare_json(world.fake)
    assert (code, report["outcome"]) == (0, "self_baseline")
    posts = world.fake.requests_to("/runs/query", "POST")
    assert [r.status for r in posts] == [429, 200]
    assert posts[0].json == posts[1].json


def test_503_twice_then_success(world: World) -> None:
    world.main(repetitions=HARD)
    world.pr(repetitions=HARD)
    world.fake.clear_requests()
    # The first request (reading the PR experiment) is answered 503 twice; the second
    # retry backs off 1-1.5 s (backoff_factor 0.5), within a 5 s budget.
    world.fake.fail_next(path="/sessions", status=503, times=2)
    code, report, _ = compare_json(world.fake, "--retry-budget", "5")
    assert (code, report["outcome"]) == (1, "ok")
    first = world.fake.requests[:3]
    assert [(r.method, r.path, r.status) for r in first] == [("GET", "/sessions", 503)] * 2 + [
        ("GET", "/sessions", 200)
    ]
    assert all(r.query.get("name") == ["pr-7"] for r in first)


def test_retry_after_zero_does_not_overrun_the_budget(world: World) -> None:
    world.main()
    world.pr()
    world.fake.fail_next(path="/sessions", status=503, times=2, retry_after="0")
    started = time.monotonic()
    compare_json(world.fake, "--retry-budget", "0.3")
    assert time.monotonic() - started < 0.9


# --- 5. evaluator errors, target errors, partial experiments ----------------------------


def test_evaluator_errors_target_errors_and_partial_runs(world: World) -> None:
    def pr_outcome(index: int, rep: int) -> dict[str, Any]:
        if index == 0:  # the evaluator crashed on every trial: no score
            return {"feedback_stats": scores(None)}
        if index == 1 and rep == 0:  # the target raised
            return {"error": "ValueError: boom", "feedback_stats": scores(None)}
        if index == 2 and rep == 1:  # target error with a category label
            return {
                "error": "Timeout",
                "feedback_stats": scores(0.0, label={"n": 1, "values": {"timeout": 1}}),
            }
        return {"feedback_stats": scores(1.0, label={"n": 1, "values": {}})}

    world.main(outcome=lambda i, r: {"feedback_stats": scores(1.0, label={"n": 0})})
    world.pr(outcome=pr_outcome, drop=2)  # 13 of 15 runs
    code, report, _ = compare_json(world.fake, "--category-key", "label")
    assert (code, report["outcome"]) == (0, "ok")
    rows = by_label(report)
    # No scored trial left for s0: no data, not a regression.
    assert rows["s0"]["verdict"] == "insufficient_data"
    assert {k: v for k, v in rows["s0"]["pr"].items() if k != "measures"} == {
        "passed": 0,
        "total": 0,
        "unscored": 3,
        "categories": {},
    }
    # Unscored trials still ran: their latency and output are measured.
    assert rows["s0"]["pr"]["measures"] == {"latency_ms": [500.0] * 3, "output_chars": [2] * 3}
    assert rows["s1"]["pr"]["categories"] == {"target_error": 1}
    assert rows["s1"]["pr"]["total"] == 3 and rows["s1"]["pr"]["passed"] == 2
    assert rows["s2"]["pr"]["categories"] == {"target_error": 1, "timeout": 1}
    assert report["pr"]["unscored"] == 3
    assert "partial: 13 of 15 runs" in report["pr"]["notes"]
    assert report["baseline"]["notes"] == []


# --- 6. pass-key inference ---------------------------------------------------------------


def test_the_only_feedback_key_is_the_pass_key(world: World) -> None:
    world.main(repetitions=HARD)
    world.pr(repetitions=HARD)
    code, report, _ = compare_json(world.fake)
    assert (code, report["outcome"]) == (1, "ok")
    assert report["counts"]["hard_regression"] == 1
    s0 = by_label(report)["s0"]
    assert s0["verdict"] == "hard_regression"
    assert (s0["pr"]["passed"], s0["pr"]["total"]) == (0, 5)
    assert (s0["baseline"]["passed"], s0["baseline"]["total"]) == (5, 5)


def test_several_feedback_keys_need_pass_key(world: World) -> None:
    def two_keys(index: int, _: int) -> dict[str, Any]:
        return {"feedback_stats": {**scores(1.0), **scores(0.0, "helpfulness")}}

    world.main(outcome=two_keys)
    world.pr(outcome=two_keys)
    code, out, err = run(*live_args(world.fake))
    assert code == 2
    assert out == ""
    assert err == (
        "evalbot: error: --pass-key: the experiment has several feedback keys "
        "(correctness, helpfulness); choose the one(s) that decide pass/fail\n"
    )
    code, report, _ = compare_json(world.fake, "--pass-key", "helpfulness")
    assert report["outcome"] == "ok"
    assert report["aggregate"]["pr"]["passed"] == 0
    code, report, _ = compare_json(world.fake, "--pass-key", "correctness")
    assert report["aggregate"]["pr"]["rate"] == 1.0


# --- 7. the API key never shows -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "fmt", "setup"),
    [
        (KEY, "markdown", None),
        (KEY, "json", None),
        (KEY, "text", None),
        (WRONG_KEY, "markdown", None),
        (WRONG_KEY, "json", None),
        (KEY, "markdown", "echo-key-500"),
        (KEY, "json", "echo-key-500"),
        (KEY, "markdown", "refused"),
    ],
)
def test_the_api_key_never_appears(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    fmt: str,
    setup: str | None,
) -> None:
    world.main()
    world.pr()
    endpoint = None
    if setup == "echo-key-500":  # a server that puts the key in its error body
        body = json.dumps({"detail": f"bad token {key}"}).encode()
        world.fake.fail_next(path="/runs/query", status=500, times=100, body=body)
    elif setup == "refused":
        endpoint = f"http://127.0.0.1:{unused_port()}"
    argv = live_args(world.fake, "--format", fmt, "--verbose", key=key, endpoint=endpoint)
    monkeypatch.setattr(sys, "argv", ["evalbot", *argv])  # as the console script sees it
    code, out, err = run(*argv)
    assert code in (0, 1), err
    assert "SECRET" not in out and "SECRET" not in err
    if fmt == "markdown":
        footer = next(line for line in out.splitlines() if "Reproduce locally" in line)
        assert "evalbot compare --pr pr-7" in footer
        assert "--langsmith-api-key" not in footer and "SECRET" not in footer
    if key == KEY and setup is None:
        assert "LangSmith total:" in err  # --verbose printed the request summary


# --- 8. request budget ------------------------------------------------------------------


def test_request_budget_for_250_runs(fake: FakeLangSmith) -> None:
    ds = fake.add_dataset(
        "big", [{"inputs": {"q": f"{i}"}, "metadata": {"scenario": f"s{i}"}} for i in range(250)]
    )
    base_id = fake.add_experiment(
        "main-1",
        dataset_id=ds,
        metadata={"branch": "main"},
        start_time=T0 - timedelta(days=1),
        runs=fake.make_runs(ds, repetitions=1, outcome=passing),
    )
    pr_id = fake.add_experiment(
        "pr-7",
        dataset_id=ds,
        start_time=T0,
        runs=fake.make_runs(ds, repetitions=1, outcome=passing),
    )
    fake.clear_requests()
    code, report, _ = compare_json(fake)
    assert (code, report["outcome"]) == (0, "ok")
    assert report["pr"]["trials"] == 250

    queries = fake.requests_to("/runs/query", "POST")
    pr_queries = [r for r in queries if r.json["session"] == [pr_id]]
    base_queries = [r for r in queries if r.json["session"] == [base_id]]
    assert len(pr_queries) == 3 and len(base_queries) == 3
    assert all(r.json["limit"] <= 100 for r in queries)
    assert len(fake.requests_to("/examples", "GET")) == 3
    paths = [r.path for r in fake.requests]
    assert not [p for p in paths if p.startswith("/runs/") and p != "/runs/query"]
    assert not [p for p in paths if "feedback" in p]
    assert not [p for p in paths if p.startswith("/examples/")]

    parts = report["fetch"]["parts"]
    assert parts["pr_runs"] == {**parts["pr_runs"], "requests": 3, "runs": 250}
    assert parts["baseline_runs"]["requests"] == 3
    assert parts[f"examples:{ds}"]["requests"] == 3
    assert report["fetch"]["requests"] == len(fake.requests)


@pytest.mark.parametrize(
    ("api_url", "web"),
    [
        ("https://api.smith.langchain.com", "https://smith.langchain.com"),
        ("https://eu.api.smith.langchain.com", "https://eu.smith.langchain.com"),
        ("https://langsmith.corp.example/api", "https://langsmith.corp.example"),
        ("https://langsmith.corp.example/api/v1", "https://langsmith.corp.example"),
    ],
)
def test_experiment_knows_its_workspace_in_the_web_app(api_url: str, web: str) -> None:
    """Links into LangSmith (issue 13 §4) use the SDK's own API -> web host mapping."""
    from langsmith import Client
    from langsmith.schemas import TracerSession

    from evalbot.sources.langsmith.resolve import experiment_of as _experiment

    client = Client(api_url=api_url, api_key="k", auto_batch_tracing=False)
    tenant, dataset = "00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb"
    session = TracerSession(
        id="00000000-0000-4000-8000-0000000000cc",
        name="pr-1",
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        tenant_id=tenant,
        reference_dataset_id=dataset,
        _host_url=client._host_url,
    )
    experiment = _experiment(session)
    assert experiment.web_url == f"{web}/o/{tenant}"
    assert experiment.dataset_id == dataset


def test_experiment_links_never_carry_the_endpoint_password() -> None:
    """The SDK builds the session URL from the endpoint, userinfo included: both the
    experiment link and the workspace URL (compare links) are redacted."""
    from langsmith import Client
    from langsmith.schemas import TracerSession

    from evalbot.sources.langsmith.resolve import experiment_of as _experiment

    client = Client(
        api_url="https://bot:s3cret@langsmith.corp.example/api",
        api_key="k",
        auto_batch_tracing=False,
    )
    tenant = "00000000-0000-4000-8000-0000000000aa"
    session = TracerSession(
        id="00000000-0000-4000-8000-0000000000cc",
        name="pr-1",
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        tenant_id=tenant,
        reference_dataset_id="00000000-0000-4000-8000-0000000000bb",
        _host_url=client._host_url,
    )
    raw = session.url
    experiment = _experiment(session)
    assert raw is not None and "s3cret" in raw  # what the SDK hands over
    assert experiment.url is not None and experiment.web_url is not None
    assert "s3cret" not in experiment.url + experiment.web_url
    assert experiment.web_url == f"https://***@langsmith.corp.example/o/{tenant}"
