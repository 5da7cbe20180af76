"""A small fake GitHub REST API for evalbot's Action tests.

Pure standard library: a ``ThreadingHTTPServer`` on 127.0.0.1 (random port)
answering the few endpoints evalbot's GitHub module uses, through the real
PyGithub client:

* ``GET  /repos/{o}/{r}/issues/{n}/comments`` (``per_page``/``page``, with a
  ``Link: <…>; rel="next"`` header built from the server's own base URL, so
  PyGithub's URL checks accept it),
* ``POST /repos/{o}/{r}/issues/{n}/comments`` (the author is ``bot_login``),
* ``PATCH /repos/{o}/{r}/issues/comments/{id}``,
* ``POST /repos/{o}/{r}/statuses/{sha}``,
* ``GET  /repos/{o}/{r}/pulls/{n}``, ``GET /repos/{o}/{r}/pulls`` (``state``,
  ``head=owner:branch``) and ``GET /repos/{o}/{r}/commits/{sha}/pulls`` (for
  ``evalbot publish``; see :meth:`add_pull`).

Every request needs ``Authorization: token X`` or ``Bearer X`` with the
configured token (else 401 "Bad credentials"). Fault injection:

* :meth:`fail` forces a status on an endpoint (e.g. 403 "Resource not
  accessible by integration", as a fork PR's read-only token gets), with extra
  headers, for the next ``times`` requests only, or *after* doing the work
  (``after=True``: GitHub created the comment, then the proxy answered 502);
* :meth:`rate_limit` answers like GitHub's primary limit (403,
  ``x-ratelimit-remaining: 0``, a reset far away) or secondary limit (403 or
  429 with ``Retry-After``).

``prefix="/api/v3"`` serves the API under a path prefix like GitHub Enterprise
Server.

    with FakeGitHub() as gh:
        env["GITHUB_API_URL"] = gh.url
        ...
        assert gh.comments_on("acme/app", 7)[0].body.startswith("<!-- evalbot")
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fake_http import FakeHTTPServer

__all__ = ["ENDPOINTS", "FakeComment", "FakeGitHub", "GitHubRequest"]

DEFAULT_TOKEN = "ghs_fake_github_token"
BOT_LOGIN = "github-actions[bot]"
FORBIDDEN = "Resource not accessible by integration"
DEFAULT_PER_PAGE = 30  # GitHub's default page size
MAX_PER_PAGE = 100
STATUS_STATES = frozenset({"error", "failure", "pending", "success"})

# Endpoint names accepted by FakeGitHub.fail(); "comments" covers the three comment ones.
ENDPOINTS = (
    "list_comments",
    "create_comment",
    "edit_comment",
    "create_status",
    "get_pull",
    "list_pulls",
    "commit_pulls",
    "comments",
    "statuses",
    "pulls",
    "all",
)
_GROUPS = {
    "comments": ("list_comments", "create_comment", "edit_comment"),
    "statuses": ("create_status",),
    "pulls": ("get_pull", "list_pulls", "commit_pulls"),
    "all": (
        "list_comments",
        "create_comment",
        "edit_comment",
        "create_status",
        "get_pull",
        "list_pulls",
        "commit_pulls",
    ),
}
PRIMARY_LIMIT = "API rate limit exceeded for installation ID 1."
SECONDARY_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)

_REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("GET", "list_comments", re.compile(_REPO + r"/issues/(?P<number>\d+)/comments")),
    ("POST", "create_comment", re.compile(_REPO + r"/issues/(?P<number>\d+)/comments")),
    ("PATCH", "edit_comment", re.compile(_REPO + r"/issues/comments/(?P<id>\d+)")),
    ("POST", "create_status", re.compile(_REPO + r"/statuses/(?P<sha>[^/]+)")),
    ("GET", "get_pull", re.compile(_REPO + r"/pulls/(?P<number>\d+)")),
    ("GET", "list_pulls", re.compile(_REPO + r"/pulls")),
    ("GET", "commit_pulls", re.compile(_REPO + r"/commits/(?P<sha>[^/]+)/pulls")),
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeComment:
    """One issue comment."""

    id: int
    repo: str
    number: int
    body: str
    login: str
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)


@dataclass
class GitHubRequest:
    """One request the fake received (recorded before it is answered)."""

    method: str
    path: str  # without the API prefix
    query: dict[str, list[str]]
    json: Any
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    endpoint: str | None = None  # route name, None when unknown
    status: int | None = None


@dataclass
class _Fault:
    status: int
    message: str
    headers: dict[str, str]
    times: int | None  # None: every request
    after: bool  # do the work, then answer with the fault


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class FakeGitHub(FakeHTTPServer):
    """An in-process fake of the few GitHub REST endpoints evalbot uses."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_login: str = BOT_LOGIN,
        prefix: str = "",
        html_base: str = "https://github.com",
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_login = bot_login
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.html_base = html_base.rstrip("/")
        self.url = ""  # root + prefix: what GITHUB_API_URL should be
        self.requests: list[GitHubRequest] = []
        self.comments: dict[tuple[str, int], list[FakeComment]] = {}
        self.statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.pulls: dict[tuple[str, int], str] = {}  # head sha per PR
        self.pull_heads: dict[tuple[str, int], str] = {}  # "owner:branch" per PR
        self.closed: set[tuple[str, int]] = set()
        self._failures: dict[str, _Fault] = {}
        self._next_id = 1000
        # A broken server or proxy: every comment listing answers the first page, with a
        # `Link: rel="next"` back to the URL asked for (paging that never ends).
        self.loop_comment_pages = False

    # -- lifecycle ---------------------------------------------------------------------------

    server_version = "FakeGitHub/0.0"

    def _started(self) -> None:
        self.url = self.root + self.prefix

    # -- state -------------------------------------------------------------------------------

    def add_comment(self, repo: str, number: int, body: str, *, login: str | None = None) -> int:
        """Seed a comment (by ``login``, default the bot); returns its id."""
        with self._lock:
            return self._create(repo, number, body, login or self.bot_login).id

    def add_pull(
        self,
        repo: str,
        number: int,
        head_sha: str,
        *,
        head: str = "fork-owner:feature",
        state: str = "open",
        by_commit: bool = True,
    ) -> None:
        """A PR with this head SHA: ``GET /repos/{repo}/pulls/{number}`` answers it,
        ``GET /repos/{repo}/pulls?head=`` finds it by ``head`` ("owner:branch"), and
        ``GET /repos/{repo}/commits/{sha}/pulls`` lists it unless ``by_commit`` is False
        (GitHub's answer for some commits from forks)."""
        with self._lock:
            self.pulls[(repo, number)] = head_sha
            self.pull_heads[(repo, number)] = head if by_commit else "!" + head
            if state != "open":
                self.closed.add((repo, number))

    def comments_on(self, repo: str, number: int) -> list[FakeComment]:
        with self._lock:
            return list(self.comments.get((repo, number), []))

    def statuses_on(self, repo: str, sha: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self.statuses.get((repo, sha), [])]

    def all_statuses(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        with self._lock:
            return {k: [dict(s) for s in v] for k, v in self.statuses.items() if v}

    # -- fault injection and the log ---------------------------------------------------------

    def fail(
        self,
        endpoint: str,
        status: int = 403,
        message: str = FORBIDDEN,
        *,
        headers: dict[str, str] | None = None,
        times: int | None = None,
        after: bool = False,
    ) -> None:
        """Answer requests to ``endpoint`` (see ENDPOINTS) with ``status``.

        ``headers``: extra response headers; ``times``: only the next N requests
        (default every one); ``after``: do what the request asks first, then answer
        with the fault (a 502 from a proxy after GitHub created the comment).
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {ENDPOINTS}")
        with self._lock:
            for name in _GROUPS.get(endpoint, (endpoint,)):
                self._failures[name] = _Fault(status, message, dict(headers or {}), times, after)

    def rate_limit(
        self,
        endpoint: str = "all",
        *,
        kind: str = "primary",
        status: int = 403,
        reset_in: int = 3600,
        retry_after: int = 120,
    ) -> int:
        """Answer like GitHub's rate limits; returns the reset time (epoch seconds).

        primary: 403 "API rate limit exceeded", ``x-ratelimit-remaining: 0`` and
        ``x-ratelimit-reset`` ``reset_in`` seconds away. secondary: ``status`` (403
        or 429) "secondary rate limit" with ``Retry-After: retry_after``.
        """
        reset = int(time.time()) + reset_in
        limits = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-used": "5000" if kind == "primary" else "12",
            "x-ratelimit-remaining": "0" if kind == "primary" else "4988",
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "core",
        }
        if kind == "primary":
            self.fail(endpoint, status, PRIMARY_LIMIT, headers=limits)
        elif kind == "secondary":
            limits["retry-after"] = str(retry_after)
            self.fail(endpoint, status, SECONDARY_LIMIT, headers=limits)
        else:
            raise ValueError(f"kind: primary or secondary, not {kind!r}")
        return reset

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def requests_to(self, endpoint: str) -> list[GitHubRequest]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- JSON shapes -------------------------------------------------------------------------

    def _comment_json(self, comment: FakeComment) -> dict[str, Any]:
        api = f"{self.url}/repos/{comment.repo}"
        is_bot = comment.login.endswith("[bot]")
        return {
            "id": comment.id,
            "node_id": f"IC_{comment.id}",
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": (
                f"{self.html_base}/{comment.repo}/pull/{comment.number}#issuecomment-{comment.id}"
            ),
            "issue_url": f"{api}/issues/{comment.number}",
            "body": comment.body,
            "user": {
                "login": comment.login,
                "id": 41898282 if is_bot else 1000 + len(comment.login),
                "type": "Bot" if is_bot else "User",
                "url": f"{self.url}/users/{comment.login}",
            },
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "author_association": "NONE" if is_bot else "MEMBER",
        }

    def _create(self, repo: str, number: int, body: str, login: str) -> FakeComment:
        self._next_id += 1
        comment = FakeComment(id=self._next_id, repo=repo, number=number, body=body, login=login)
        self.comments.setdefault((repo, number), []).append(comment)
        return comment

    # -- request handling --------------------------------------------------------------------

    def _handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw_path)
        full_path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        path = full_path
        in_prefix = not self.prefix or full_path.startswith(self.prefix + "/")
        if in_prefix:
            path = full_path[len(self.prefix) :]
        path = path.rstrip("/") or "/"
        endpoint, params = None, {}
        if in_prefix:
            for verb, name, pattern in _ROUTES:
                match = pattern.fullmatch(path)
                if match and verb == method:
                    endpoint, params = name, match.groupdict()
                    break
        record = GitHubRequest(method, path, query, parsed, headers, body, endpoint)
        out_headers = {"Content-Type": "application/json; charset=utf-8"}
        with self._lock:
            self.requests.append(record)
            try:
                if not self._authorized(headers.get("authorization", "")):
                    raise _HTTPError(401, "Bad credentials")
                if endpoint is None:
                    raise _HTTPError(404, "Not Found")
                fault = self._take_fault(endpoint)
                if fault is not None and not fault.after:
                    raise _HTTPError(fault.status, fault.message, fault.headers)
                status, result = self._route(endpoint, params, query, parsed, out_headers)
                if fault is not None:
                    raise _HTTPError(fault.status, fault.message, fault.headers)
            except _HTTPError as e:
                out_headers.update(e.headers)
                status = e.status
                result = {
                    "message": e.message,
                    "documentation_url": "https://docs.github.com/rest",
                    "status": str(e.status),
                }
            record.status = status
        return status, out_headers, json.dumps(result).encode()

    def _take_fault(self, endpoint: str | None) -> _Fault | None:
        fault = self._failures.get(endpoint) if endpoint else None
        if fault is not None and fault.times is not None:
            fault.times -= 1
            if fault.times <= 0:
                del self._failures[endpoint]  # type: ignore[arg-type]
        return fault

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("token", "bearer") and value.strip() == self.token

    def _route(
        self,
        endpoint: str,
        params: dict[str, str],
        query: dict[str, list[str]],
        body: Any,
        out_headers: dict[str, str],
    ) -> tuple[int, Any]:
        repo = params["repo"]
        if endpoint == "list_comments":
            return 200, self._list_comments(repo, int(params["number"]), query, out_headers)
        if endpoint == "create_comment":
            text = self._body_text(body)
            comment = self._create(repo, int(params["number"]), text, self.bot_login)
            return 201, self._comment_json(comment)
        if endpoint == "edit_comment":
            text = self._body_text(body)
            comment_id = int(params["id"])
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment.id == comment_id and comment.repo == repo:
                    comment.body = text
                    comment.updated_at = _now()
                    return 200, self._comment_json(comment)
            raise _HTTPError(404, "Not Found")
        if endpoint == "create_status":
            return 201, self._create_status(repo, params["sha"], body)
        if endpoint == "get_pull":
            number = int(params["number"])
            if (repo, number) not in self.pulls:
                raise _HTTPError(404, "Not Found")
            return 200, self._pull_json(repo, number)
        if endpoint == "list_pulls":
            state = (query.get("state") or ["open"])[-1]
            head = (query.get("head") or [None])[-1]
            return 200, [
                self._pull_json(r, n)
                for (r, n) in sorted(self.pulls)
                if r == repo
                and (state == "all" or ((r, n) in self.closed) == (state == "closed"))
                and (head is None or self.pull_heads[(r, n)].lstrip("!") == head)
            ]
        if endpoint == "commit_pulls":
            return 200, [
                self._pull_json(r, n)
                for (r, n), sha in sorted(self.pulls.items())
                if r == repo
                and sha == params["sha"]
                and not self.pull_heads[(r, n)].startswith("!")
            ]
        raise _HTTPError(404, "Not Found")  # pragma: no cover

    def _pull_json(self, repo: str, number: int) -> dict[str, Any]:
        owner, _, branch = self.pull_heads[(repo, number)].lstrip("!").partition(":")
        return {
            "id": number,
            "number": number,
            "url": f"{self.url}/repos/{repo}/pulls/{number}",
            "html_url": f"{self.html_base}/{repo}/pull/{number}",
            "state": "closed" if (repo, number) in self.closed else "open",
            "head": {
                "sha": self.pulls[(repo, number)],
                "ref": branch,
                "label": f"{owner}:{branch}",
                "repo": {"full_name": f"{owner}/{repo.split('/')[1]}"},
            },
            "base": {"sha": "0" * 40, "ref": "main", "repo": {"full_name": repo}},
        }

    @staticmethod
    def _body_text(body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise _HTTPError(422, "Invalid request: body is required")
        return str(body["body"])

    def _list_comments(
        self, repo: str, number: int, query: dict[str, list[str]], out_headers: dict[str, str]
    ) -> list[dict[str, Any]]:
        try:
            per_page = int((query.get("per_page") or [DEFAULT_PER_PAGE])[-1])
            page = int((query.get("page") or [1])[-1])
        except ValueError as e:
            raise _HTTPError(422, "per_page and page must be integers") from e
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        page = max(page, 1)
        comments = self.comments.get((repo, number), [])
        if self.loop_comment_pages:
            here = (
                f"{self.url}/repos/{repo}/issues/{number}/comments?per_page={per_page}&page={page}"
            )
            out_headers["Link"] = f'<{here}>; rel="next"'
            return [self._comment_json(c) for c in comments[:per_page]]
        chunk = comments[(page - 1) * per_page : page * per_page]
        pages = max(1, -(-len(comments) // per_page))
        base = f"{self.url}/repos/{repo}/issues/{number}/comments"
        links = []
        if page < pages:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={pages}>; rel="last"')
        if page > 1:
            links.append(f'<{base}?per_page={per_page}&page=1>; rel="first"')
            links.append(f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"')
        if links:
            out_headers["Link"] = ", ".join(links)
        return [self._comment_json(c) for c in chunk]

    def _create_status(self, repo: str, sha: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("state") not in STATUS_STATES:
            raise _HTTPError(422, "Validation Failed: state must be one of " + str(STATUS_STATES))
        status = {
            "state": body["state"],
            "description": body.get("description"),
            "context": body.get("context") or "default",
            "target_url": body.get("target_url"),
        }
        self.statuses.setdefault((repo, sha), []).append(status)
        self._next_id += 1
        return {
            "id": self._next_id,
            "url": f"{self.url}/repos/{repo}/statuses/{sha}",
            **status,
            "created_at": _now(),
            "updated_at": _now(),
        }
