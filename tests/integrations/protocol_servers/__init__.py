"""Local HTTP servers that speak a web service's protocol, one module per service, for connector
tests and benchmarks. Each wraps pytest-httpserver's `HTTPServer` (a real werkzeug server on a
port) with the service's data, its auth, its paging and a script of faults to inject.

The pattern: `server = XServer(); server.start(); ...; server.stop()`, or the pytest fixture each
test module builds from it. `server.fail(times, status, ...)` makes the next `times` requests
answer that error instead; `server.hold_at(n)` keeps the n-th request
waiting until `server.release()`; `server.requests` keeps what was asked.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import orjson
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass
class Fault:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    args: dict
    json: object
    headers: dict


class ProtocolServer:
    """A service's server: subclasses route requests in `routes()` and answer in handlers."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threaded: bool = False,
        keep_log: bool = True,
    ):
        self.http = HTTPServer(host=host, port=port, threaded=threaded)
        # A benchmark's thousands of pages are not kept (keep_log=False).
        self.requests: deque[SeenRequest] = deque(maxlen=None if keep_log else 0)
        if not keep_log:
            self.http.log = deque(maxlen=0)
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._count = 0
        self._hold_at: int | None = None
        self.held = threading.Event()
        self._released = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ProtocolServer:
        for pattern, method, handler in self.routes():
            self.http.expect_request(pattern, method=method).respond_with_handler(
                self._wrap(handler)
            )
        self.http.start()
        return self

    def stop(self) -> None:
        if self.http.is_running():
            self.http.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.http.host}:{self.http.port}"

    def routes(self) -> list:
        raise NotImplementedError

    # -- faults ------------------------------------------------------------------------------
    def fail(
        self,
        times: int,
        status: int,
        body: object = b"",
        *,
        headers: dict | None = None,
        content_type: str = "application/json",
    ) -> None:
        """The next `times` requests answer `status` with `body` (JSON unless bytes)."""
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        for _ in range(times):
            self._faults.append(Fault(status, raw, dict(headers or {}), content_type))

    def hold_at(self, request_number: int) -> None:
        """The `request_number`-th request from now waits (its reader stuck mid-run, as a worker
        about to be killed) until `release()`; `held` is set when it arrives."""
        with self._lock:
            self._hold_at = self._count + request_number
        self.held.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    @property
    def faults_left(self) -> int:
        return len(self._faults)

    def _wrap(self, handler):
        def handle(request: Request) -> Response:
            with self._lock:
                self.requests.append(
                    SeenRequest(
                        method=request.method,
                        path=request.path,
                        args=request.args.to_dict(flat=True),
                        json=request.get_json(silent=True),
                        headers=dict(request.headers),
                    )
                )
                fault = self._faults.popleft() if self._faults else None
                self._count += 1
                hold = self._count == self._hold_at
            if hold:
                self.held.set()
                self._released.wait(timeout=60)
            if fault is not None:
                return Response(
                    fault.body,
                    status=fault.status,
                    headers=fault.headers,
                    content_type=fault.content_type,
                )
            return handler(request)

        return handle

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def json(body: object, status: int = 200, headers: dict | None = None) -> Response:
        return Response(
            orjson.dumps(body),
            status=status,
            headers=headers or {},
            content_type="application/json",
        )
