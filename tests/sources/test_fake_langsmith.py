"""The fake LangSmith server, exercised through the real langsmith SDK."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import langsmith
import pytest
import requests
import urllib3
from langsmith.utils import (
    LangSmithAuthError,
    LangSmithError,
    LangSmithNotFoundError,
)

from fake_langsmith import FakeLangSmith, FakeRun

T0 = datetime(2025, 1, 1, tzinfo=UTC)

MakeClient = Callable[..., langsmith.Client]


@pytest.fixture
def fake() -> Iterator[FakeLangSmith]:
    with FakeLangSmith() as server:
        yield server


@pytest.fixture
def make_client(fake: FakeLangSmith) -> Iterator[MakeClient]:
    clients: list[langsmith.Client] = []

    def make(*, api_key: str = "test-key", retries: bool = True) -> langsmith.Client:
        kwargs: dict[str, Any] = {}
        if not retries:
            kwargs["retry_config"] = urllib3.util.Retry(total=0, raise_on_status=False)
        client = langsmith.Client(
            api_url=fake.url, api_key=api_key, auto_batch_tracing=False, **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.session.close()


@pytest.fixture
def client(make_client: MakeClient) -> langsmith.Client:
    return make_client()


def _examples(n: int) -> list[dict[str, Any]]:
    return [
        {"inputs": {"q": f"question {i}"}, "outputs": {"a": str(i)}, "metadata": {"i": i}}
        for i in range(n)
    ]


def _query_runs(client: langsmith.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.request_with_retries(
        "POST", "/runs/query", request_kwargs={"data": json.dumps(body).encode()}
    )
    result: dict[str, Any] = response.json()
    return result


# -- projects (sessions) -------------------------------------------------------------------------


def test_read_project_by_name_and_id(fake: FakeLangSmith, client: langsmith.Client) -> None:
    ds = fake.add_dataset("qa", _examples(2))
    runs = fake.make_runs(ds, repetitions=2)
    sid = fake.add_experiment("exp-a", dataset_id=ds, metadata={"branch": "main"}, runs=runs)
    fake.add_experiment("exp-b", dataset_id=None, end_time=None)

    by_name = client.read_project(project_name="exp-a")
    assert str(by_name.id) == sid
    assert by_name.name == "exp-a"
    assert str(by_name.reference_dataset_id) == ds
    assert by_name.metadata == {"branch": "main"}
    assert by_name.run_count == 4
    assert by_name.end_time is not None
    assert by_name.end_time - by_name.start_time == timedelta(minutes=1)
    assert by_name.last_run_start_time == max(r.start_time for r in runs)

    by_id = client.read_project(project_id=sid)
    assert by_id.id == by_name.id and by_id.name == "exp-a"

    running = client.read_project(project_name="exp-b")
    assert running.end_time is None and running.reference_dataset_id is None
    assert running.run_count == 0
    assert [r.path for r in fake.requests] == ["/sessions", f"/sessions/{sid}", "/sessions"]
    assert fake.requests[0].query["name"] == ["exp-a"]

    with pytest.raises(LangSmithNotFoundError):
        client.read_project(project_name="no-such-project")
    with pytest.raises(LangSmithNotFoundError):
        client.read_project(project_id="00000000-0000-0000-0000-000000000000")


def test_list_projects_filters_sorts_and_pages(
    fake: FakeLangSmith, client: langsmith.Client
) -> None:
    ds = fake.add_dataset("qa", _examples(1))
    other_ds = fake.add_dataset("other", _examples(1))
    rng = random.Random(7)
    minutes = list(range(160))
    rng.shuffle(minutes)
    expected: dict[str, datetime] = {}
    for i, minute in enumerate(minutes):
        start = T0 + timedelta(minutes=minute)
        if i < 130:
            meta = {"branch": "main", "model": "m1"}
            sid = fake.add_experiment(f"exp-{i}", dataset_id=ds, metadata=meta, start_time=start)
            expected[sid] = start
        elif i < 145:  # right dataset, wrong metadata
            meta = {"branch": "feature", "model": "m1"}
            fake.add_experiment(f"exp-{i}", dataset_id=ds, metadata=meta, start_time=start)
        else:  # right metadata, wrong dataset
            meta = {"branch": "main", "model": "m1"}
            fake.add_experiment(f"exp-{i}", dataset_id=other_ds, metadata=meta, start_time=start)

    projects = list(
        client.list_projects(reference_dataset_id=ds, metadata={"branch": "main", "model": "m1"})
    )

    newest_first = sorted(expected, key=lambda sid: expected[sid], reverse=True)
    assert [str(p.id) for p in projects] == newest_first
    assert all(p.metadata["branch"] == "main" for p in projects)
    pages = fake.requests_to("/sessions", "GET")
    assert [r.query["offset"] for r in pages] == [["0"], ["100"]]
    assert all(r.query["reference_dataset"] == [ds] for r in pages)
    assert json.loads(pages[0].query["metadata"][0]) == {"branch": "main", "model": "m1"}

    only_branch = list(client.list_projects(metadata={"branch": "feature"}))
    assert len(only_branch) == 15


def test_list_projects_name_contains_is_a_substring_match(
    fake: FakeLangSmith, client: langsmith.Client
) -> None:
    for name in ("abc-first", "x-abc-middle", "last-abc", "unrelated", "ab-c"):
        fake.add_experiment(name, dataset_id=None)

    names = {p.name for p in client.list_projects(name_contains="abc")}

    assert names == {"abc-first", "x-abc-middle", "last-abc"}


def test_list_projects_rejects_limit_over_100(make_client: MakeClient) -> None:
    client = make_client(retries=False)
    with pytest.raises(LangSmithError, match="400"):
        client.request_with_retries("GET", "/sessions", params={"limit": 101})


# -- datasets and examples ---------------------------------------------------------------------


def test_read_dataset_by_name_and_id(fake: FakeLangSmith, client: langsmith.Client) -> None:
    ds = fake.add_dataset("qa", _examples(3))
    fake.add_dataset("other", _examples(1))
    fake.add_experiment("exp", dataset_id=ds)

    by_name = client.read_dataset(dataset_name="qa")
    by_id = client.read_dataset(dataset_id=ds)

    for dataset in (by_name, by_id):
        assert str(dataset.id) == ds
        assert dataset.name == "qa"
        assert dataset.example_count == 3
        assert dataset.session_count == 1
        assert dataset.data_type is not None and dataset.data_type.value == "kv"
    with pytest.raises(LangSmithNotFoundError):
        client.read_dataset(dataset_name="missing")


def test_list_examples_pages_250_examples_in_three_requests(
    fake: FakeLangSmith, client: langsmith.Client
) -> None:
    ds = fake.add_dataset("big", _examples(250))
    fake.add_dataset("noise", _examples(5))
    # The SDK looks the tenant id up (GET /sessions?limit=1) for every example until
    # some project exists, as against the real server.
    fake.add_experiment("exp", dataset_id=ds)

    examples = list(client.list_examples(dataset_id=ds))

    assert [str(e.id) for e in examples] == [e.id for e in fake.examples(ds)]
    assert examples[7].inputs == {"q": "question 7"}
    assert examples[7].outputs == {"a": "7"}
    assert examples[7].metadata == {"i": 7}
    assert all(str(e.dataset_id) == ds for e in examples)
    pages = fake.requests_to("/examples", "GET")
    assert len(pages) == 3
    assert [r.query["offset"] for r in pages] == [["0"], ["100"], ["200"]]


# -- runs ----------------------------------------------------------------------------------------


def test_runs_query_pages_with_cursor_and_honours_select(
    fake: FakeLangSmith, client: langsmith.Client
) -> None:
    ds = fake.add_dataset("qa", _examples(50))
    stats = {"correctness": {"n": 1, "avg": 1.0, "stdev": 0, "errors": 0, "values": {}}}
    runs = fake.make_runs(ds, repetitions=5, outcome=lambda i, r: {"feedback_stats": stats})
    sid = fake.add_experiment("exp", dataset_id=ds, runs=runs)
    fake.add_experiment("noise", dataset_id=ds, runs=fake.make_runs(ds, repetitions=1))

    select = ["id", "reference_example_id", "feedback_stats"]
    body: dict[str, Any] = {"session": [sid], "is_root": True, "select": select, "limit": 100}
    seen: list[dict[str, Any]] = []
    cursors: list[str | None] = []
    while True:
        page = _query_runs(client, body)
        seen.extend(page["runs"])
        cursors.append(page["cursors"]["next"])
        if not page["cursors"]["next"]:
            break
        body["cursor"] = page["cursors"]["next"]

    assert len(seen) == 250
    assert {r["id"] for r in seen} == {r.id for r in runs}
    assert all(set(r) == set(select) for r in seen)
    assert seen[0]["feedback_stats"] == stats
    sent = fake.requests_to("/runs/query", "POST")
    assert len(sent) == 3
    assert [r.json.get("cursor") for r in sent] == [None, *cursors[:2]]
    assert cursors[2] is None


def test_runs_query_full_run_shape_and_filters(
    fake: FakeLangSmith, client: langsmith.Client
) -> None:
    ds = fake.add_dataset("qa", _examples(2))
    runs = fake.make_runs(
        ds,
        repetitions=1,
        outcome=lambda i, r: {"error": "boom"} if i == 1 else {"total_tokens": 7},
    )
    sid = fake.add_experiment("exp", dataset_id=ds, runs=runs)

    page = _query_runs(client, {"session": [sid], "is_root": True})
    by_ref = {r["reference_example_id"]: r for r in page["runs"]}
    first, second = (by_ref[e.id] for e in fake.examples(ds))
    assert first["status"] == "success" and first["total_tokens"] == 7
    assert second["status"] == "error" and second["error"] == "boom"
    assert first["session_id"] == sid and first["trace_id"] == first["id"]
    assert first["is_root"] is True and first["parent_run_id"] is None
    assert first["run_type"] == "chain" and first["name"] == "target"
    assert first["dotted_order"].endswith(first["id"])
    assert datetime.fromisoformat(first["end_time"]) > datetime.fromisoformat(first["start_time"])
    # Newest first, like the real server.
    assert [r["start_time"] for r in page["runs"]] == sorted(
        (r["start_time"] for r in page["runs"]), reverse=True
    )
    assert page["cursors"]["next"] is None
    assert _query_runs(client, {"session": [sid], "is_root": False})["runs"] == []
    assert len(_query_runs(client, {"session": [sid], "error": True})["runs"]) == 1


def test_runs_query_limit_over_100_is_a_400(fake: FakeLangSmith, make_client: MakeClient) -> None:
    client = make_client(retries=False)
    with pytest.raises(LangSmithError, match="400"):
        _query_runs(client, {"session": [], "limit": 101})
    [sent] = fake.requests
    assert sent.status == 400


def test_runs_query_rejects_filters_it_cannot_evaluate(make_client: MakeClient) -> None:
    client = make_client(retries=False)
    with pytest.raises(LangSmithError, match="400"):
        _query_runs(client, {"session": [], "filter": "eq(is_root, true)"})


# -- auth, faults, latency -----------------------------------------------------------------------


def test_wrong_api_key_is_a_401(fake: FakeLangSmith, make_client: MakeClient) -> None:
    fake.add_experiment("exp", dataset_id=None)
    client = make_client(api_key="wrong-key", retries=False)

    with pytest.raises(LangSmithAuthError):
        client.read_project(project_name="exp")
    response = requests.get(f"{fake.url}/info", headers={"x-api-key": "nope"}, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}
    assert fake.requests[0].headers["x-api-key"] == "wrong-key"


def test_info_and_unknown_paths(fake: FakeLangSmith, make_client: MakeClient) -> None:
    client = make_client(retries=False)
    assert client.info.version == "0.0-fake"
    assert client.info.batch_ingest_config is not None
    with pytest.raises(LangSmithNotFoundError):
        client.request_with_retries("GET", "/nowhere")
    assert fake.requests[-1].status == 404


def test_fail_next_503_then_success_is_visible_in_the_log(
    fake: FakeLangSmith, make_client: MakeClient
) -> None:
    fake.add_experiment("exp", dataset_id=None)

    # Raw: the first request sees the injected 503 and its Retry-After header.
    fake.fail_next(path="/sessions", status=503, retry_after="0")
    headers = {"x-api-key": "test-key"}
    first = requests.get(f"{fake.url}/sessions", headers=headers, timeout=5)
    assert first.status_code == 503 and first.headers["Retry-After"] == "0"
    assert requests.get(f"{fake.url}/sessions", headers=headers, timeout=5).status_code == 200

    # Through the SDK with its default retries: 503 then 200, one successful call.
    fake.clear_requests()
    fake.fail_next(path="/sessions", status=503, retry_after="0", method="GET")
    project = make_client().read_project(project_name="exp")
    assert project.name == "exp"
    assert [(r.path, r.status) for r in fake.requests] == [("/sessions", 503), ("/sessions", 200)]

    # Without retries the SDK surfaces the failure; the fault is consumed.
    fake.clear_requests()
    fake.fail_next(path="/sessions", status=503, times=1)
    client = make_client(retries=False)
    with pytest.raises(LangSmithError, match="503"):
        client.read_project(project_name="exp")
    assert client.read_project(project_name="exp").name == "exp"
    assert [r.status for r in fake.requests] == [503, 200]


def test_fail_next_matches_path_prefix_and_method(
    fake: FakeLangSmith, make_client: MakeClient
) -> None:
    client = make_client(retries=False)
    fake.fail_next(path="/runs", status=429, method="POST", body=b'{"detail": "slow down"}')
    client.request_with_retries("GET", "/info")  # other path: untouched
    with pytest.raises(LangSmithError, match="429"):
        _query_runs(client, {"session": []})
    assert _query_runs(client, {"session": []}) == {"runs": [], "cursors": {"next": None}}
    assert [r.status for r in fake.requests] == [200, 429, 200]


def test_malformed_next_returns_unparseable_200(
    fake: FakeLangSmith, make_client: MakeClient
) -> None:
    client = make_client(retries=False)
    fake.malformed_next("/runs/query", times=2)

    for _ in range(2):
        response = client.request_with_retries(
            "POST", "/runs/query", request_kwargs={"data": b'{"session": []}'}
        )
        assert response.status_code == 200
        assert response.content == b"{not json"
        with pytest.raises(requests.JSONDecodeError):
            response.json()
    assert _query_runs(client, {"session": []})["runs"] == []


def test_latency_applies_to_every_request(fake: FakeLangSmith, client: langsmith.Client) -> None:
    fake.latency_s = 0.2
    started = time.perf_counter()
    client.request_with_retries("GET", "/info")
    assert time.perf_counter() - started >= 0.2
    fake.latency_s = 0.0
    started = time.perf_counter()
    client.request_with_retries("GET", "/info")
    assert time.perf_counter() - started < 0.2


def test_requests_are_served_concurrently(fake: FakeLangSmith, client: langsmith.Client) -> None:
    fake.latency_s = 0.2
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: client.request_with_retries("GET", "/info"), range(16)))
    assert time.perf_counter() - started < 16 * 0.2 / 2  # serial would take 3.2 s
    assert len(fake.requests) == 16


# -- the data model ------------------------------------------------------------------------------


def test_make_runs_one_run_per_example_per_repetition(fake: FakeLangSmith) -> None:
    ds = fake.add_dataset("qa", _examples(4))

    def outcome(index: int, rep: int) -> dict[str, Any]:
        return {"error": "boom"} if (index, rep) == (2, 1) else {"total_tokens": index}

    runs = fake.make_runs(ds, repetitions=3, outcome=outcome)

    assert len(runs) == 12 and len({r.id for r in runs}) == 12
    example_ids = [e.id for e in fake.examples(ds)]
    assert [r.reference_example_id for r in runs] == example_ids * 3
    failed = [r for r in runs if r.status == "error"]
    assert len(failed) == 1 and failed[0].error == "boom"
    assert failed[0].reference_example_id == example_ids[2]
    assert runs[1].total_tokens == 1


def test_default_start_times_are_distinct_and_stop_closes_the_port() -> None:
    with FakeLangSmith(api_key="k") as server:
        a = server.add_experiment("a", dataset_id=None)
        b = server.add_experiment("b", dataset_id=None, runs=[FakeRun()])
        headers = {"x-api-key": "k"}
        with requests.Session() as session:
            listed = session.get(f"{server.url}/sessions", headers=headers, timeout=5).json()
            assert [s["id"] for s in listed] == [a, b]  # later-added defaults are older
            assert listed[1]["run_count"] == 1
            # keep-alive: a second request on the same pooled connection works
            assert session.get(f"{server.url}/sessions/{b}", headers=headers, timeout=5).ok
        url = server.url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/info", timeout=2)
