"""A small fake LangSmith API server for evalbot's end-to-end tests and benchmarks.

Pure standard library: a ``ThreadingHTTPServer`` on 127.0.0.1 (random port) that
answers the handful of endpoints evalbot and the real ``langsmith`` SDK use
(``/info``, ``/sessions``, ``/datasets``, ``/examples``, ``POST /runs/query``) with
the shapes the SDK's pydantic schemas expect. It records every request and can
inject faults (error statuses, ``Retry-After``, malformed or wrong-shaped bodies,
trickled bodies, dropped connections, broken paging) and latency.

    with FakeLangSmith() as fake:
        ds = fake.add_dataset("qa", [{"inputs": {"q": "1+1"}, "outputs": {"a": "2"}}])
        fake.add_experiment("exp-1", dataset_id=ds, runs=fake.make_runs(ds))
        client = langsmith.Client(api_url=fake.url, api_key="test-key",
                                  auto_batch_tracing=False)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from fake_http import DROP, FLOOD, FakeHTTPServer, Trickle

__all__ = ["FakeExample", "FakeLangSmith", "FakeRun", "RecordedRequest"]

TENANT_ID = "00000000-0000-4000-8000-00000000fa4e"
"""The fixed tenant id every session and dataset belongs to."""

MAX_LIMIT = 100

INFO: dict[str, Any] = {
    "version": "0.0-fake",
    "license_expiration_time": None,
    "batch_ingest_config": {
        "scale_up_qsize_trigger": 1000,
        "scale_up_nthreads_limit": 16,
        "scale_down_nempty_trigger": 4,
        "size_limit": 100,
        "size_limit_bytes": 20971520,
    },
    "instance_flags": {},
}

# Fields POST /runs/query may `select` (the SDK's default selection plus a few more).
# Anything else is rejected with 422, as the real server's enum validation does.
RUN_FIELDS = frozenset(
    {
        "id",
        "name",
        "run_type",
        "session_id",
        "trace_id",
        "parent_run_id",
        "parent_run_ids",
        "child_run_ids",
        "is_root",
        "reference_example_id",
        "status",
        "error",
        "start_time",
        "end_time",
        "first_token_time",
        "feedback_stats",
        "total_tokens",
        "prompt_tokens",
        "completion_tokens",
        "total_cost",
        "prompt_cost",
        "completion_cost",
        "outputs",
        "inputs",
        "extra",
        "events",
        "tags",
        "dotted_order",
        "app_path",
        "s3_urls",
        "thread_id",
        "inputs_preview",
        "outputs_preview",
    }
)

# Body keys of POST /runs/query the fake cannot evaluate: a non-null value is a 400,
# so a caller relying on server-side filtering notices instead of getting every run.
UNSUPPORTED_RUN_FILTERS = ("filter", "trace_filter", "tree_filter", "query", "parent_run")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else _aware(value).isoformat()


@dataclass
class FakeRun:
    """One root run of an experiment, as POST /runs/query reports it."""

    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    reference_example_id: str | None = None
    start_time: datetime = field(default_factory=_now)
    end_time: datetime | None = None
    error: str | None = None
    status: str = "success"  # "success" | "error" (anything else passes through)
    feedback_stats: dict[str, Any] | None = None
    total_tokens: int | None = None
    total_cost: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    # A target's answer, as LangSmith's evaluate() records a string return value.
    outputs: dict[str, Any] | None = field(default_factory=lambda: {"output": "ok"})
    name: str = "target"
    inputs: dict[str, Any] | None = None
    prompt_cost: float | None = None
    completion_cost: float | None = None


@dataclass
class FakeExample:
    id: str
    dataset_id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    metadata: dict[str, Any] | None
    created_at: datetime
    modified_at: datetime


@dataclass
class _Dataset:
    id: str
    name: str
    created_at: datetime
    examples: list[FakeExample]


@dataclass
class _Session:
    id: str
    name: str
    dataset_id: str | None
    metadata: dict[str, Any]
    start_time: datetime
    end_time: datetime | None
    runs: list[FakeRun]
    seq: int


@dataclass
class RecordedRequest:
    """One request the fake received (recorded before it is answered)."""

    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    status: int | None = None  # the status answered; None while in flight


@dataclass
class _Fault:
    path: str
    method: str | None
    status: int
    remaining: int
    retry_after: str | None
    body: bytes | None
    trickle_s: float | None = None  # send the (real or given) body one byte at a time
    trickle_headers: bool = False  # ... and the status line and headers before it
    drop: bool = False  # close the connection without answering

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and (self.method is None or self.method == method)


class _HTTPError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class FakeLangSmith(FakeHTTPServer):
    """An in-process fake of the LangSmith REST API (see the module docstring)."""

    def __init__(self, *, api_key: str = "test-key", latency_s: float = 0.0) -> None:
        super().__init__()
        self.api_key = api_key
        self.latency_s = latency_s
        self.url = ""
        self.requests: list[RecordedRequest] = []
        # Filtered, sorted runs per query (minus cursor/limit/select): every page
        # of one query would otherwise re-sort all runs (~5 ms for 5,000).
        self._sorted_runs: dict[str, list[Any]] = {}
        self._faults: list[_Fault] = []
        # Broken paging per path (see break_paging); "endless" pages count here.
        self._paging: dict[str, str] = {}
        self._endless = 0
        self._datasets: dict[str, _Dataset] = {}
        self._sessions: dict[str, _Session] = {}
        self._clock = _now()

    # -- lifecycle ---------------------------------------------------------------------------

    server_version = "FakeLangSmith/0.0"

    def _started(self) -> None:
        self.url = self.root

    # -- data --------------------------------------------------------------------------------

    def add_dataset(self, name: str, examples: Iterable[dict[str, Any]]) -> str:
        """Add a dataset; each example is {"inputs", "outputs", "metadata"}. Returns its id."""
        with self._lock:
            dataset_id = str(uuid.uuid4())
            created = _now()
            built = [
                FakeExample(
                    id=str(uuid.uuid4()),
                    dataset_id=dataset_id,
                    inputs=dict(example.get("inputs") or {}),
                    outputs=example.get("outputs"),
                    metadata=example.get("metadata") or {},
                    # Distinct, increasing creation times keep the order well defined.
                    created_at=created + timedelta(microseconds=i),
                    modified_at=created + timedelta(microseconds=i),
                )
                for i, example in enumerate(examples)
            ]
            self._datasets[dataset_id] = _Dataset(dataset_id, name, created, built)
            return dataset_id

    def examples(self, dataset_id: str) -> list[FakeExample]:
        """The dataset's examples, in creation order."""
        with self._lock:
            return list(self._datasets[dataset_id].examples)

    def add_experiment(
        self,
        name: str,
        *,
        dataset_id: str | None,
        metadata: dict[str, Any] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | Literal["auto"] | None = "auto",
        runs: list[FakeRun] | None = None,
    ) -> str:
        """Add an experiment (session); returns its id.

        ``start_time`` defaults to "now" minus an offset that grows with every call, so
        later-added experiments without an explicit start are OLDER. ``end_time=None``
        marks a running experiment; ``"auto"`` is start_time + 1 minute.
        """
        with self._lock:
            seq = len(self._sessions)
            if start_time is None:
                start_time = self._clock - timedelta(minutes=seq + 1)
            start_time = _aware(start_time)
            if end_time == "auto":
                end_time = start_time + timedelta(minutes=1)
            elif end_time is not None:
                end_time = _aware(end_time)
            session_id = str(uuid.uuid4())
            self._sorted_runs.clear()
            self._sessions[session_id] = _Session(
                id=session_id,
                name=name,
                dataset_id=dataset_id,
                metadata=dict(metadata or {}),
                start_time=start_time,
                end_time=end_time,
                runs=list(runs or []),
                seq=seq,
            )
            return session_id

    def add_runs(self, session_id: str, runs: Iterable[FakeRun]) -> None:
        """Append runs to an existing experiment."""
        with self._lock:
            self._sessions[session_id].runs.extend(runs)
            self._sorted_runs.clear()

    def make_runs(
        self,
        dataset_id: str,
        *,
        repetitions: int = 3,
        outcome: Callable[[int, int], dict[str, Any]] | None = None,
    ) -> list[FakeRun]:
        """One root run per example per repetition (repetition-major order).

        ``outcome(example_index, repetition)`` returns FakeRun keyword overrides. A run
        given an ``error`` but no ``status`` gets status "error".
        """
        examples = self.examples(dataset_id)
        base = _now() - timedelta(hours=1)
        runs = []
        for rep in range(repetitions):
            for index, example in enumerate(examples):
                start = base + timedelta(seconds=rep * len(examples) + index)
                fields: dict[str, Any] = {
                    "reference_example_id": example.id,
                    "start_time": start,
                    "end_time": start + timedelta(milliseconds=500),
                }
                overrides = dict(outcome(index, rep)) if outcome is not None else {}
                if overrides.get("error") is not None and "status" not in overrides:
                    overrides["status"] = "error"
                fields.update(overrides)
                runs.append(FakeRun(**fields))
        return runs

    # -- fault injection and the log ---------------------------------------------------------

    def fail_next(
        self,
        *,
        path: str,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        body: bytes | None = None,
        method: str | None = None,
    ) -> None:
        """The next ``times`` requests whose path starts with ``path`` get ``status``."""
        with self._lock:
            self._faults.append(
                _Fault(path, method and method.upper(), status, times, retry_after, body)
            )

    def wrong_shape_next(
        self, path: str, value: Any, times: int = 1, *, method: str | None = None
    ) -> None:
        """The next ``times`` requests under ``path`` get 200 with ``value`` as JSON
        (valid JSON of the wrong shape, e.g. ``[1]`` for a list of sessions)."""
        body = json.dumps(value).encode()
        self.fail_next(path=path, status=200, times=times, body=body, method=method)

    def trickle_next(
        self,
        path: str,
        *,
        interval_s: float,
        times: int = 1,
        method: str | None = None,
        headers: bool = False,
    ) -> None:
        """The next ``times`` answers under ``path`` (the real ones) are sent one byte every
        ``interval_s`` seconds: every read succeeds, the whole answer takes ages.
        ``headers``: the status line and headers too (no client hook sees them early)."""
        with self._lock:
            self._faults.append(
                _Fault(
                    path,
                    method and method.upper(),
                    200,
                    times,
                    None,
                    None,
                    trickle_s=interval_s,
                    trickle_headers=headers,
                )
            )

    def drop_next(self, path: str, times: int = 1, *, method: str | None = None) -> None:
        """The next ``times`` requests under ``path`` are read, then the connection is
        closed without an answer (a crashed proxy)."""
        with self._lock:
            self._faults.append(
                _Fault(path, method and method.upper(), 0, times, None, None, drop=True)
            )

    def break_paging(self, path: str, how: str) -> None:
        """Page ``path`` wrongly from now on, as a broken server or proxy might.

        ``/runs/query``: ``"repeat_cursor"`` answers the first page and the same next
        cursor every time; ``"ignore_cursor"`` answers the first page with a fresh
        cursor every time; ``"endless"`` answers a full page of new runs (new ids)
        with a fresh cursor every time. ``/examples``, ``/sessions``, ``/datasets``:
        ``"ignore_offset"`` answers the first page whatever the offset.
        """
        allowed = {
            "/runs/query": ("repeat_cursor", "ignore_cursor", "endless"),
            "/examples": ("ignore_offset",),
            "/sessions": ("ignore_offset",),
            "/datasets": ("ignore_offset",),
        }
        if how not in allowed.get(path, ()):
            raise ValueError(f"break_paging: {how!r} is not a way to break {path!r}")
        with self._lock:
            self._paging[path] = how

    def flood_next(self, path: str, times: int = 1, *, method: str | None = None) -> None:
        """The next ``times`` requests under ``path`` get 200 with a body that never ends."""
        self.fail_next(path=path, status=200, times=times, body=FLOOD, method=method)

    def malformed_next(self, path: str, times: int = 1, *, method: str | None = None) -> None:
        """The next ``times`` requests under ``path`` get 200 with the body b"{not json"."""
        self.fail_next(path=path, status=200, times=times, body=b"{not json", method=method)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path is exactly ``path`` (and method, if given)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == path and (method is None or r.method == method.upper())
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- request handling --------------------------------------------------------------------

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes | Trickle]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path).rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        record = RecordedRequest(method, path, query, parsed, headers, body)
        with self._lock:
            self.requests.append(record)
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
        if self.latency_s > 0:
            time.sleep(self.latency_s)

        out_headers = {"Content-Type": "application/json"}
        if fault is not None and fault.drop:
            record.status = 0
            return 0, out_headers, DROP
        if fault is not None and fault.trickle_s is not None:
            trickled, fault = fault, None
        else:
            trickled = None
        if fault is not None:
            status = fault.status
            if fault.retry_after is not None:
                out_headers["Retry-After"] = fault.retry_after
            payload = fault.body
            if payload is None:
                payload = json.dumps({"detail": f"injected {status} for {path}"}).encode()
        else:
            try:
                if headers.get("x-api-key") != self.api_key:
                    raise _HTTPError(401, "Invalid token")
                with self._lock:
                    result = self._route(method, path, query, body)
                status = 200
            except _HTTPError as e:
                status, result = e.status, {"detail": e.detail}
            except Exception as e:  # a bug in the fake: answer like a server would
                status, result = 500, {"detail": f"fake LangSmith error: {e!r}"}
            payload = json.dumps(result).encode()
        record.status = status
        if trickled is not None:
            return (
                status,
                out_headers,
                Trickle(payload, trickled.trickle_s or 0.0, headers=trickled.trickle_headers),
            )
        return status, out_headers, payload

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> Any:
        segments = path.strip("/").split("/")
        if method == "GET":
            if path == "/info":
                return INFO
            if path == "/sessions":
                return self._list_sessions(query)
            if path == "/datasets":
                return self._list_datasets(query)
            if path == "/examples":
                return self._list_examples(query)
            if len(segments) == 2 and segments[0] == "sessions":
                session = self._sessions.get(segments[1])
                if session is None:
                    raise _HTTPError(404, "Session not found")
                return self._session_json(session)
            if len(segments) == 2 and segments[0] == "datasets":
                dataset = self._datasets.get(segments[1])
                if dataset is None:
                    raise _HTTPError(404, "Dataset not found")
                return self._dataset_json(dataset)
            if len(segments) == 2 and segments[0] == "examples":
                for dataset in self._datasets.values():
                    for example in dataset.examples:
                        if example.id == segments[1]:
                            return self._example_json(example)
                raise _HTTPError(404, "Example not found")
            if len(segments) == 2 and segments[0] == "runs":
                for session in self._sessions.values():
                    for run in session.runs:
                        if run.id == segments[1]:
                            return self._run_json(run, session)
                raise _HTTPError(404, "Run not found")
        if method == "POST" and path == "/runs/query":
            try:
                request = json.loads(body) if body else {}
            except ValueError as e:
                raise _HTTPError(422, f"invalid JSON body: {e}") from e
            if not isinstance(request, dict):
                raise _HTTPError(422, "body must be a JSON object")
            return self._query_runs(request)
        raise _HTTPError(404, "Not Found")

    # -- endpoints ---------------------------------------------------------------------------

    @staticmethod
    def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
        values = query.get(name)
        if not values:
            return default
        try:
            return int(values[-1])
        except ValueError as e:
            raise _HTTPError(400, f"{name} must be an integer") from e

    def _page(self, query: dict[str, list[str]], items: list[Any], path: str = "") -> list[Any]:
        limit = self._int_param(query, "limit", MAX_LIMIT)
        offset = self._int_param(query, "offset", 0)
        if self._paging.get(path) == "ignore_offset":
            offset = 0
        if limit > MAX_LIMIT:
            raise _HTTPError(400, f"limit must be <= {MAX_LIMIT}")
        if limit < 1 or offset < 0:
            raise _HTTPError(400, "limit must be >= 1 and offset >= 0")
        return items[offset : offset + limit]

    def _list_sessions(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        sessions = list(self._sessions.values())
        if "name" in query:
            sessions = [s for s in sessions if s.name in query["name"]]
        for needle in query.get("name_contains", []):
            sessions = [s for s in sessions if needle.lower() in s.name.lower()]
        if "reference_dataset" in query:
            wanted = set(query["reference_dataset"])
            sessions = [s for s in sessions if s.dataset_id in wanted]
        if "id" in query:
            ids = set(query["id"])
            sessions = [s for s in sessions if s.id in ids]
        for flag in query.get("reference_free", []):
            free = flag.lower() == "true"
            sessions = [s for s in sessions if (s.dataset_id is None) == free]
        for raw in query.get("metadata", []):
            try:
                wanted_meta = json.loads(raw)
            except ValueError as e:
                raise _HTTPError(400, "metadata must be a JSON object") from e
            if not isinstance(wanted_meta, dict):
                raise _HTTPError(400, "metadata must be a JSON object")
            sessions = [
                s
                for s in sessions
                if all(k in s.metadata and s.metadata[k] == v for k, v in wanted_meta.items())
            ]
        sessions.sort(key=lambda s: (s.start_time, s.seq), reverse=True)
        return [self._session_json(s) for s in self._page(query, sessions, "/sessions")]

    def _list_datasets(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        datasets = list(self._datasets.values())
        if "name" in query:
            datasets = [d for d in datasets if d.name in query["name"]]
        for needle in query.get("name_contains", []):
            datasets = [d for d in datasets if needle.lower() in d.name.lower()]
        if "id" in query:
            ids = set(query["id"])
            datasets = [d for d in datasets if d.id in ids]
        datasets.sort(key=lambda d: d.created_at, reverse=True)
        return [self._dataset_json(d) for d in self._page(query, datasets, "/datasets")]

    def _list_examples(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        if "dataset" in query:
            examples = []
            for dataset_id in query["dataset"]:
                dataset = self._datasets.get(dataset_id)
                if dataset is None:
                    raise _HTTPError(404, "Dataset not found")
                examples.extend(dataset.examples)
        else:
            examples = [e for d in self._datasets.values() for e in d.examples]
        if "id" in query:
            ids = set(query["id"])
            examples = [e for e in examples if e.id in ids]
        examples.sort(key=lambda e: e.created_at)
        return [self._example_json(e) for e in self._page(query, examples, "/examples")]

    def _query_runs(self, request: dict[str, Any]) -> dict[str, Any]:
        for key in UNSUPPORTED_RUN_FILTERS:
            if request.get(key) not in (None, "", []):
                raise _HTTPError(400, f"fake LangSmith does not support {key!r} in /runs/query")
        limit = request.get("limit")
        limit = MAX_LIMIT if limit is None else limit
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise _HTTPError(400, "limit must be a positive integer")
        if limit > MAX_LIMIT:
            raise _HTTPError(400, f"limit must be <= {MAX_LIMIT}")
        select = request.get("select")
        if select is not None:
            unknown = sorted(set(select) - RUN_FIELDS)
            if unknown:
                raise _HTTPError(422, f"unknown select fields: {unknown}")
        broken = self._paging.get("/runs/query")
        if broken is not None:
            return self._broken_runs_page(request, broken, limit, select)
        offset = self._decode_cursor(request.get("cursor"))
        query_key = json.dumps(
            {k: v for k, v in request.items() if k not in ("cursor", "limit", "select")},
            sort_keys=True,
            default=str,
        )
        pairs = self._sorted_runs.get(query_key)
        if pairs is None:
            pairs = self._sorted_runs[query_key] = self._filter_runs(request)
        page = pairs[offset : offset + limit]
        runs = []
        for run, session in page:
            full = self._run_json(run, session)
            if select is not None:
                full = {k: v for k, v in full.items() if k in select or k == "id"}
            runs.append(full)
        more = offset + limit < len(pairs)
        return {
            "runs": runs,
            "cursors": {"next": self._encode_cursor(offset + limit) if more else None},
        }

    def _broken_runs_page(
        self, request: dict[str, Any], how: str, limit: int, select: list[str] | None
    ) -> dict[str, Any]:
        """A /runs/query answer from a server whose paging is broken (see break_paging)."""
        self._endless += 1
        if how == "endless":
            sessions = [
                s for s in self._sessions.values() if s.id in (request.get("session") or [])
            ]
            session = sessions[0] if sessions else next(iter(self._sessions.values()))
            template = session.runs[0] if session.runs else FakeRun()
            pairs = [
                (dataclasses.replace(template, id=str(uuid.uuid4())), session) for _ in range(limit)
            ]
        else:
            query_key = json.dumps(
                {k: v for k, v in request.items() if k not in ("cursor", "limit", "select")},
                sort_keys=True,
                default=str,
            )
            pairs = self._sorted_runs.get(query_key) or self._filter_runs(request)
            self._sorted_runs[query_key] = pairs
            pairs = pairs[:limit]
        runs = []
        for run, session in pairs:
            full = self._run_json(run, session)
            if select is not None:
                full = {k: v for k, v in full.items() if k in select or k == "id"}
            runs.append(full)
        cursor = self._encode_cursor(limit)
        if how != "repeat_cursor":
            cursor += f".{self._endless}"  # a fresh cursor every page
        return {"runs": runs, "cursors": {"next": cursor}}

    def _filter_runs(self, request: dict[str, Any]) -> list[Any]:

        session_ids = request.get("session")
        if isinstance(session_ids, str):
            session_ids = [session_ids]
        sessions = [
            s for s in self._sessions.values() if session_ids is None or s.id in session_ids
        ]
        pairs = [(run, s) for s in sessions for run in s.runs]
        is_root = request.get("is_root")
        if is_root is False:
            pairs = []  # every fake run is a root run
        if request.get("id") is not None:
            ids = set(request["id"])
            pairs = [(r, s) for r, s in pairs if r.id in ids]
        if request.get("trace") is not None:
            pairs = [(r, s) for r, s in pairs if r.id == request["trace"]]
        if request.get("reference_example") is not None:
            refs = set(request["reference_example"])
            pairs = [(r, s) for r, s in pairs if r.reference_example_id in refs]
        if request.get("error") is not None:
            pairs = [(r, s) for r, s in pairs if (r.error is not None) == request["error"]]
        if request.get("run_type") not in (None, "chain"):
            pairs = []
        if request.get("start_time") is not None:
            since = _aware(datetime.fromisoformat(request["start_time"]))
            pairs = [(r, s) for r, s in pairs if _aware(r.start_time) >= since]
        # Like the real server: newest first unless "order": "asc".
        indexed = list(enumerate(pairs))
        indexed.sort(
            key=lambda item: (_aware(item[1][0].start_time), -item[0]),
            reverse=request.get("order", "desc") != "asc",
        )
        return [pair for _, pair in indexed]

    @staticmethod
    def _encode_cursor(offset: int) -> str:
        return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()

    @staticmethod
    def _decode_cursor(cursor: Any) -> int:
        if cursor is None:
            return 0
        try:
            text = base64.urlsafe_b64decode(str(cursor).encode()).decode()
            prefix, _, number = text.partition(":")
            if prefix != "offset":
                raise ValueError(text)
            return max(0, int(number))
        except (ValueError, binascii.Error, UnicodeDecodeError) as e:
            raise _HTTPError(400, "invalid cursor") from e

    # -- JSON shapes -------------------------------------------------------------------------

    def _session_json(self, session: _Session) -> dict[str, Any]:
        starts = [_aware(r.start_time) for r in session.runs]
        return {
            "id": session.id,
            "name": session.name,
            "start_time": _iso(session.start_time),
            "end_time": _iso(session.end_time),
            "description": None,
            "extra": {"metadata": dict(session.metadata)},
            "tenant_id": TENANT_ID,
            "reference_dataset_id": session.dataset_id,
            "default_dataset_id": None,
            "run_count": len(session.runs),
            "last_run_start_time": _iso(max(starts)) if starts else None,
            "latency_p50": None,
            "latency_p99": None,
            "first_token_p50": None,
            "first_token_p99": None,
            "total_tokens": None,
            "prompt_tokens": None,
            "completion_tokens": None,
            "total_cost": None,
            "prompt_cost": None,
            "completion_cost": None,
            "error_rate": None,
            "feedback_stats": None,
            "session_feedback_stats": None,
            "session_feedback_count": 0,
            "run_facets": None,
            "trace_tier": None,
        }

    def _dataset_json(self, dataset: _Dataset) -> dict[str, Any]:
        sessions = [s for s in self._sessions.values() if s.dataset_id == dataset.id]
        last_session = max((s.start_time for s in sessions), default=None)
        modified = max((e.modified_at for e in dataset.examples), default=dataset.created_at)
        return {
            "id": dataset.id,
            "name": dataset.name,
            "description": None,
            "data_type": "kv",
            "created_at": _iso(dataset.created_at),
            "modified_at": _iso(modified),
            "example_count": len(dataset.examples),
            "session_count": len(sessions),
            "last_session_start_time": _iso(last_session),
            "inputs_schema_definition": None,
            "outputs_schema_definition": None,
            "transformations": None,
            "metadata": None,
            "tenant_id": TENANT_ID,
        }

    @staticmethod
    def _example_json(example: FakeExample) -> dict[str, Any]:
        return {
            "id": example.id,
            "dataset_id": example.dataset_id,
            "inputs": example.inputs,
            "outputs": example.outputs,
            "metadata": example.metadata,
            "created_at": _iso(example.created_at),
            "modified_at": _iso(example.modified_at),
            "attachment_urls": None,
            "source_run_id": None,
        }

    @staticmethod
    def _run_json(run: FakeRun, session: _Session) -> dict[str, Any]:
        start = _aware(run.start_time)
        return {
            "id": run.id,
            "name": run.name,
            "run_type": "chain",
            "session_id": session.id,
            "trace_id": run.id,
            "parent_run_id": None,
            "parent_run_ids": [],
            "child_run_ids": None,
            "is_root": True,
            "reference_example_id": run.reference_example_id,
            "status": run.status,
            "error": run.error,
            "start_time": _iso(start),
            "end_time": _iso(run.end_time),
            "first_token_time": None,
            "feedback_stats": run.feedback_stats,
            "total_tokens": run.total_tokens,
            "prompt_tokens": run.prompt_tokens,
            "completion_tokens": run.completion_tokens,
            "total_cost": run.total_cost,
            "prompt_cost": run.prompt_cost,
            "completion_cost": run.completion_cost,
            "outputs": run.outputs,
            "inputs": run.inputs if run.inputs is not None else {},
            "extra": {},
            "events": [],
            "tags": [],
            "dotted_order": f"{start:%Y%m%dT%H%M%S%f}Z{run.id}",
            "app_path": f"/o/{TENANT_ID}/projects/p/{session.id}/r/{run.id}",
            "s3_urls": None,
            "thread_id": None,
            "inputs_preview": None,
            "outputs_preview": None,
        }
