"""A tiny local HTTP server standing in for an action's webhook.

It listens on 127.0.0.1 on a free port and records every request (method, path, headers, body).
By default it answers 200 with a small JSON body; tests script what comes next:
``answer(500, times=2)``, ``answer(429, headers={"Retry-After": "30"})``, ``answer(403, body=…)``,
``hang(seconds)`` (answer only after that long, longer than Baton's timeout), ``hold()``
(answer nothing until ``release()``) and ``drip(every)`` (send the answer, status line first, one
byte at a time, `every` seconds apart: each read gets a byte in time, the whole never comes in
time). It counts the requests it is still working on, so a test can see a call in flight, and
the most it ever had at once; `cut` counts the answers whose client left before the last byte.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str]
    times: int
    hang: float = 0.0  # seconds to wait before answering (or until release())
    hold: bool = False  # wait for release() however long it takes
    drip: float = 0.0  # seconds between the bytes of the answer, sent one at a time


class QuietServer(ThreadingHTTPServer):
    """A test server that says nothing when a client goes away before its answer is written (a
    caller that timed out by design); any other error in a handler is still printed."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError
            return
        super().handle_error(request, client_address)


@dataclass
class WebhookServer:
    requests: list[Received] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    answered: int = 0  # requests it finished answering (or gave up on: the client left)
    cut: int = 0  # dripped answers whose client left before the last byte
    default_status: int = 200
    default_body: bytes = b'{"ok": true}'
    _script: list[_Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _port: int = 0  # kept after stop(): a test may check that nothing names it

    # -- scripting -----------------------------------------------------------------------------

    def answer(
        self,
        status: int,
        *,
        body: str | bytes = b"",
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` requests (after those already scripted) get this answer."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._script.append(_Answer(status, data, dict(headers or {}), times))

    def hang(self, seconds: float, *, times: int = 1, status: int = 200) -> None:
        """The next `times` requests are answered only after `seconds` (or release())."""
        with self._lock:
            self._script.append(_Answer(status, self.default_body, {}, times, hang=seconds))

    def hold(self, *, times: int = 1, status: int = 200, body: str = '{"ok": true}') -> None:
        """The next `times` requests wait for release() before they are answered."""
        self._released.clear()
        with self._lock:
            self._script.append(_Answer(status, body.encode(), {}, times, hold=True))

    def drip(self, every: float, *, times: int = 1, status: int = 200, body: str = '{"ok": true}') -> None:
        """The next `times` answers are sent a byte at a time, `every` seconds apart."""
        with self._lock:
            self._script.append(_Answer(status, body.encode(), {}, times, drip=every))

    def release(self) -> None:
        self._released.set()

    def _next(self) -> _Answer:
        with self._lock:
            if not self._script:
                return _Answer(self.default_status, self.default_body, {}, 1)
            first = self._script[0]
            first.times -= 1
            if first.times <= 0:
                self._script.pop(0)
            return first

    # -- reading -------------------------------------------------------------------------------

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 30.0) -> T:
        """Poll until `predicate` returns something truthy (a wait, not an assertion on time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.01)
        raise AssertionError(f"condition not met within {timeout}s; requests: {len(self.received())}")

    # -- serving -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._port, "not started"
        return self._port

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(Received(handler.command, handler.path, headers, body))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = self._next()
            if answer.hold:
                self._released.wait(60)
            elif answer.hang:
                self._released.wait(answer.hang)
            if answer.drip:
                self._drip(handler, answer)
                return
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up waiting (its timeout): nothing to answer to
        finally:
            with self._lock:
                self.in_flight -= 1
                self.answered += 1

    def _drip(self, handler: BaseHTTPRequestHandler, answer: _Answer) -> None:
        head = (
            f"HTTP/1.1 {answer.status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(answer.body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        handler.close_connection = True
        try:
            for byte in head + answer.body:
                if self._released.wait(answer.drip):
                    return  # stop() or release(): no more dripping
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:
            with self._lock:
                self.cut += 1

    def start(self) -> WebhookServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                outer._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                outer._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        server = QuietServer(("127.0.0.1", 0), Handler)
        self._server = server
        self._port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, name="webhook-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def webhook_server() -> Iterator[WebhookServer]:
    server = WebhookServer().start()
    try:
        yield server
    finally:
        server.stop()
