"""FakeSlack: the stand-in's HTTP server at ``http://127.0.0.1:PORT/api/<method>``, and what it
does to each call before the method runs: record it, delay or hold it, inject faults, hold it to
a rate limit (off unless a caller opts in), check the token and the required arguments.

Like Slack, API errors are HTTP 200 with ``{"ok": false, "error": ...}``; only unknown methods
(404), rate limits (429) and injected server errors (5xx) use other statuses.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.slack.standin import (
    httpd,
    methods_bookmarks,
    methods_chat,
    methods_conversations,
    methods_files,
    methods_users,
    methods_views,
)
from bot.slack.standin.records import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    TEAM_ID,
    ApiError,
    Call,
)
from bot.slack.standin.spec import METHODS_PATH, authenticate, check_required, load_spec
from bot.slack.standin.state import Handler, Workspace

if TYPE_CHECKING:  # the Socket Mode stand-in needs `websockets` (a test extra): imported on first use
    from bot.slack.standin.socketmode import SocketModeStandIn

T = TypeVar("T")

_5XX_ERRORS = {
    500: "fatal_error",
    502: "service_unavailable",
    503: "service_unavailable",
    504: "request_timeout",
}
HANDLERS: dict[str, Handler] = {
    **methods_users.HANDLERS,
    **methods_conversations.HANDLERS,
    **methods_chat.HANDLERS,
    **methods_views.HANDLERS,
    **methods_files.HANDLERS,
    **methods_bookmarks.HANDLERS,
}


@dataclass
class _Fault:
    status: int
    retry_after: int
    remaining: int
    error: str | None
    effect: bool = False  # the call is carried out, then answered with the fault (a lost answer)
    when: Callable[[Mapping[str, Any]], bool] | None = None  # only calls whose params match


class FakeSlack(Workspace):
    """A stateful stand-in of Slack's Web API on a local port; see the package docstring."""

    bot_token = BOT_TOKEN
    app_token = APP_TOKEN
    bot_user_id = BOT_USER_ID
    bot_id = BOT_ID
    team_id = TEAM_ID
    app_id = APP_ID

    def __init__(self, *, methods_path: Path = METHODS_PATH) -> None:
        super().__init__()
        self.spec = load_spec(methods_path)
        self.calls: list[Call] = []
        self.arrivals: list[tuple[str, float]] = []  # (method, time.monotonic()) as each call arrived
        # The clock rate limits count their window on (seconds); a test may drive it by hand.
        self.limit_clock: Callable[[], float] = time.monotonic
        self._socket: SocketModeStandIn | None = None
        self._faults: dict[str, list[_Fault]] = {}
        self._latency: dict[str, float] = {}
        self._held: dict[str, threading.Event] = {}
        self._limits: dict[str, tuple[int, float, deque[float]]] = {}  # method -> (calls, window, accepted)
        self._server: httpd.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Start the HTTP server on a free port (the Socket Mode stand-in starts on first use)."""
        if self._server is not None:
            return self
        server = httpd.Server(self)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeslack", daemon=True
        )
        self._thread.start()
        with self._lock:
            if self._socket is not None:
                self._socket.start()
        return self

    def stop(self) -> None:
        """Stop both servers. Close Socket Mode clients first, or they will try to reconnect."""
        with self._lock:
            for release in self._held.values():
                release.set()  # a held answer never outlives its test
            socket = self._socket
        if socket is not None:
            socket.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def socket(self) -> SocketModeStandIn:
        """The Socket Mode stand-in whose URL apps.connections.open returns (started with the fake)."""
        with self._lock:
            if self._socket is None:
                from bot.slack.standin.socketmode import SocketModeStandIn

                self._socket = SocketModeStandIn(app_id=APP_ID)
                if self._server is not None:
                    self._socket.start()
            return self._socket

    # -- assertion helpers -------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one method, in arrival order of their answers."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.arrivals.clear()

    def arrived(self, method: str) -> float | None:
        """When the first call of `method` arrived (time.monotonic()), answered or not yet."""
        with self._lock:
            return next((at for m, at in self.arrivals if m == method), None)

    def arrived_count(self, method: str) -> int:
        """How many calls of `method` arrived, answered or not."""
        with self._lock:
            return sum(1 for m, _ in self.arrivals if m == method)

    def answered(self, method: str) -> int:
        """How many calls of `method` were answered (arrivals not yet answered are not counted)."""
        return len(self.calls_to(method))

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 30.0,  # a guard against a hang, not a deadline under test
        *,
        interval: float = 0.02,
        message: str = "",
    ) -> T:
        """Poll ``predicate`` until it returns something truthy and return that.

        LookupError/AssertionError raised by the predicate count as "not yet" (so
        ``lambda: fake.messages(c)[-1]`` works). On timeout raises AssertionError with the last
        value/exception and the most recent calls.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = predicate()
                if last:
                    return last
            except (LookupError, AssertionError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                with self._lock:
                    recent = [f"{c.method}->{c.http_status} {c.error or 'ok'}" for c in self.calls[-10:]]
                raise AssertionError(
                    f"condition not met within {timeout}s{': ' + message if message else ''}; "
                    f"last result: {last!r}; recent calls: {recent}"
                )
            time.sleep(interval)

    # -- fault injection ---------------------------------------------------------------------

    def inject(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        error: str | None = None,
        effect: bool = False,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any) fail (only those whose params
        ``when`` accepts, if given).

        429 answers carry ``Retry-After: retry_after`` and ``ratelimited``; 5xx answer a JSON error;
        ``status=200, error="..."`` answers a plain ``ok: false`` (e.g. to simulate fatal_error);
        ``status=0`` closes the connection without an answer (a connection reset after the
        request was sent: the client cannot tell whether Slack acted).
        ``effect=True`` carries the call out first and then answers with the fault, as when a
        gateway times out after Slack did the work: the caller cannot tell it happened.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(status, retry_after, times, error, effect, when)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()
            self._limits.clear()

    def rate_limit(self, method: str, *, per_minute: int, window: float = 60.0) -> None:
        """Hold ``method`` to ``per_minute`` calls in any sliding ``window`` seconds, as Slack's
        tiers do (Tier 2: 20 a minute); beyond that it answers 429 ``ratelimited`` with a
        Retry-After (whole seconds, rounded up) saying when the oldest accepted call leaves the
        window. Refused calls do not count. ``window`` < 60 replays the same shape faster;
        ``per_minute=0`` removes the limit."""
        with self._lock:
            if per_minute > 0:
                self._limits[method] = (per_minute, window, deque())
            else:
                self._limits.pop(method, None)

    def _rate_limited(self, method: str) -> int | None:
        """Retry-After seconds if ``method`` is over its limit now; else count the call and None."""
        with self._lock:
            limit = self._limits.get(method)
            if limit is None:
                return None
            calls, window, accepted = limit
            now = self.limit_clock()
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) >= calls:
                return max(1, math.ceil(accepted[0] + window - now))
            accepted.append(now)
            return None

    def hold(self, method_or_star: str) -> threading.Event:
        """Hold the answers of one method (or "*": every method) until the returned Event is set:
        a test proves something did not wait for Slack by finishing while a call is unanswered.
        (A guard of a minute lets a test that forgot to release end.)"""
        release = threading.Event()
        with self._lock:
            self._held[method_or_star] = release
        return release

    def set_latency(self, method_or_star: str, seconds: float) -> None:
        """Delay answers of one method (or "*" = every method without its own delay); 0 removes."""
        with self._lock:
            if seconds > 0:
                self._latency[method_or_star] = seconds
            else:
                self._latency.pop(method_or_star, None)

    def _take_fault(self, method: str, params: Mapping[str, Any]) -> _Fault | None:
        with self._lock:
            for key in (method, "*"):
                for fault in self._faults.get(key, []):
                    if fault.when is not None and not fault.when(params):
                        continue
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults[key].remove(fault)
                    return fault
            return None

    # -- request pipeline --------------------------------------------------------------------

    def handle_api(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        http_method: str,
        content_type: str,
        received: tuple[float, float],
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Answer one API call: (status, extra headers, JSON body). Records it in ``calls``."""
        with self._lock:
            # Recorded as it arrives: `calls` records a call once answered, after any latency.
            self.arrivals.append((method, received[0]))
            delay = self._latency.get(method, self._latency.get("*", 0.0))
            held = self._held.get(method, self._held.get("*"))
        if delay:
            time.sleep(delay)
        if held is not None:
            held.wait(60)
        status, headers, body = self._answer(method, params, token)
        if token == self.bot_token:
            with self._lock:
                headers = {**headers, "X-OAuth-Scopes": ",".join(sorted(self.scopes))}
        with self._lock:
            self.calls.append(
                Call(method, params, status, received[0], received[1], http_method, content_type, token, body)
            )
        return status, headers, body

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        fault = self._take_fault(method, params)
        if fault is not None and fault.effect:
            self._carry_out(method, params, token)
        if fault is not None:
            if fault.status == httpd.DROPPED:
                return httpd.DROPPED, {}, {"ok": False, "error": "connection dropped by the fake"}
            if fault.status == 429:
                return 429, {"Retry-After": str(fault.retry_after)}, {"ok": False, "error": "ratelimited"}
            code = fault.error or _5XX_ERRORS.get(fault.status, "fatal_error")
            return fault.status, {}, {"ok": False, "error": code}
        retry_after = self._rate_limited(method)
        if retry_after is not None:
            return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
        return self._carry_out(method, params, token)

    def _carry_out(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        spec = self.spec.get(method)
        if spec is None:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        try:
            authenticate(spec, token, self.bot_token, self.app_token)
            check_required(spec, params)
            handler = HANDLERS.get(method)
            if method == "apps.connections.open":  # the one method that needs the Socket Mode stand-in
                result: dict[str, Any] = {"url": self.socket.new_url()}
            else:
                with self._lock:
                    result = handler(self, params) if handler is not None else {}
            return 200, {}, {"ok": True, **result}
        except ApiError as err:
            return 200, {}, {"ok": False, "error": err.code, **err.extra}
