"""The HTTP plumbing shared by the test fakes (fake_langsmith, fake_github).

A real server on 127.0.0.1 (random port) in a daemon thread: the SDKs under
test talk real HTTP to it, so only the far end is fake. Subclasses implement
``_handle(method, path, headers, body) -> (status, headers, payload)``.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Trickle:
    """A body sent one byte every ``interval_s`` seconds (each read succeeds, the whole never
    arrives in time): a payload ``_handle`` may return instead of bytes."""

    data: bytes
    interval_s: float
    headers: bool = False  # trickle the status line and headers too, not only the body


DROP = b"\x00evalbot-fake-drop"
"""A payload that makes the server close the connection without answering."""

FLOOD = b"\x00evalbot-fake-flood"
"""A payload that makes the server answer with a body that never ends, sent as fast as
the client reads it (a JSON array of spaces), until the client hangs up."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs when many clients connect at once
    fake: FakeHTTPServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected in the timeout tests;
        # its traceback would land in another test's captured stderr.
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server: _Server

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return self.server.fake.server_version

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, headers, payload = self.server.fake._handle(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        if payload is DROP:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if payload is FLOOD:
            self._flood(status, headers)
            return
        trickle = payload if isinstance(payload, Trickle) else None
        data = trickle.data if trickle is not None else payload
        if trickle is not None and trickle.headers:
            head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
            head += [f"{name}: {value}" for name, value in headers.items()]
            head += [f"Content-Length: {len(data)}", "", ""]
            self._trickle("\r\n".join(head).encode("latin-1") + data, trickle.interval_s)
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if trickle is None:
            self.wfile.write(data)
            return
        self.wfile.flush()
        self._trickle(data, trickle.interval_s)

    def _flood(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(2**40))
        self.end_headers()
        self.close_connection = True
        chunk = b"[" + b" " * 65535
        with contextlib.suppress(OSError):
            for _ in range(2**40 // len(chunk)):
                if self.server.fake._server is None:  # stopped: stop flooding
                    break
                self.wfile.write(chunk)
                chunk = b" " * 65536

    def _trickle(self, data: bytes, interval_s: float) -> None:
        for i in range(len(data)):
            if self.server.fake._server is None:  # stopped: stop trickling
                break
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
            time.sleep(interval_s)


class FakeHTTPServer:
    """Start/stop a threaded server on 127.0.0.1 that answers through ``_handle``."""

    server_version = "Fake/0.0"

    def __init__(self) -> None:
        self.root = ""  # http://127.0.0.1:PORT once started
        self._lock = threading.RLock()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes | Trickle]:
        """Answer one request: status, headers, and the body (bytes, a Trickle, or DROP)."""
        raise NotImplementedError

    def _started(self) -> None:
        """Hook: the server is listening at ``self.root``."""

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        host, port = server.server_address[:2]
        self.root = f"http://{host}:{port}"
        self._started()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how long shutdown() may wait
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        # Close idle keep-alive connections so their handler threads end now.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
