"""A threaded local HTTP server that speaks one service's protocol, with scripted failures.

The destination servers (webhook receiver, Mailchimp, Meta) are built on it: unlike a server
answering one request at a time, it keeps answering others while one request hangs. Each service
module subclasses `ScriptedServer` and implements `handle(request) -> Reply`, keeping
what it received as the real service would (members of a list, people in an audience). Tests
then script trouble in front of the protocol with `fail_next`:

    server.fail_next("429", times=2, retry_after=1)   # 429 with Retry-After: 1
    server.fail_next("503", times=3)                  # a burst of 5xx
    server.fail_next("hang", times=1)                 # no answer until the client gives up
    server.fail_next("malformed", times=1)            # 200 with a body that is not JSON
    server.fail_next("reset", times=1)                # the connection closed with no answer

A scripted failure answers before the request reaches the protocol, so nothing is stored.
`fail_next("after_store:503")` stores first and then fails: a lost answer, after which a retry must
not store twice. Every request is kept in `requests` (method, path, headers, raw body).
"""

import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson

HANG_SECONDS = 30.0


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    def json(self):
        return orjson.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict/list -> JSON; bytes/str as they are
    headers: dict = field(default_factory=dict)


def json_reply(status: int, body: object, **headers: str) -> Reply:
    return Reply(status, body, headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this each small answer waits ~40 ms.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format, *args):
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.owner.serve(request)
        if reply is None:  # "reset": close without answering
            self.close_connection = True
            return
        payload = reply.body
        if isinstance(payload, dict | list):
            payload = orjson.dumps(payload)
            reply.headers.setdefault("Content-Type", "application/json")
        elif isinstance(payload, str):
            payload = payload.encode()
        payload = payload or b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "ScriptedServer"

    def handle_error(self, request, client_address):
        # A client that gave up on a hanging answer has closed its socket: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """Start with `start()` (or `with`), stop with `stop()`; `url` is its base URL."""

    def __init__(self, *, keep_requests: bool = True):
        # Off for benchmarks: a million records' bodies need not stay in memory.
        self.keep_requests = keep_requests
        self.requests: list[Request] = []
        # Held while a subclass changes what it stores: requests arrive on many threads.
        self.state_lock = threading.RLock()
        self._failures: deque[tuple[str, float | None]] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle --------------------------------------------------------------------------------

    def start(self) -> "ScriptedServer":
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging answers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # Scripted trouble -------------------------------------------------------------------------

    def fail_next(self, mode: str, *, times: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `times` requests with `mode` (see the module docstring)."""
        with self._lock:
            self._failures.extend([(mode, retry_after)] * times)

    def _next_failure(self) -> tuple[str, float | None] | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def serve(self, request: Request) -> Reply | None:
        if self.keep_requests:
            with self._lock:
                self.requests.append(request)
        failure = self._next_failure()
        if failure is None:
            with self.state_lock:
                return self.handle(request)
        mode, retry_after = failure
        if mode.startswith("after_store:"):
            with self.state_lock:
                self.handle(request)
            mode = mode.split(":", 1)[1]
        return self._failure_reply(mode, retry_after)

    def _failure_reply(self, mode: str, retry_after: float | None) -> Reply | None:
        if mode == "hang":
            self._stopping.wait(HANG_SECONDS)
            return Reply(504, {"detail": "gave up hanging"})
        if mode == "reset":
            return None
        if mode == "malformed":
            return Reply(200, b"<html>upstream proxy error", {"Content-Type": "text/html"})
        status = int(mode)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return Reply(status, self.error_body(status), headers)

    # What a subclass provides ----------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def error_body(self, status: int) -> object:
        return {"message": f"scripted failure {status}"}
