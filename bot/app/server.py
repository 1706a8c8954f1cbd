"""The HTTP face of Baton: /slack/events, /healthz, /metrics (and /metrics alone on METRICS_PORT),
served by uvicorn (ASGI).

Bolt's dispatch is synchronous and may block briefly (it acks, then runs the listener on its
own thread pool), so it runs on Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import errno
import hmac
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.monitoring import alertmanager, feedback
from bot.store import inbound, replay
from bot.store.runtime import Baton
from bot.store.settings import Settings, SettingsError

log = logging.getLogger(__name__)


# Slack's requests are far smaller (a slash command a few KB, a modal's state tens of KB): a
# body past this is not from Slack, and reading on would only fill memory.
MAX_SLACK_BODY = 1024 * 1024
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


class TooLarge(Exception):
    """The body grew past the endpoint's limit while it was read; reading stopped there."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


def _fresh(request: Request) -> int | None:
    """The request's Slack timestamp when its signing headers could be valid (a signature in
    Slack's form, a timestamp within Slack's 5 minutes of now), else None: checked from the
    headers alone, before a byte of the body is read."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not timestamp.isdigit() or len(timestamp) > 12 or not _SIGNATURE.match(signature):
        return None
    if abs(time.time() - int(timestamp)) > replay.WINDOW.total_seconds():
        return None
    return int(timestamp)


def _signed(verifier: SignatureVerifier, body: bytes, request: Request) -> bool:
    """Slack's signature over the raw body, checked before anything parses the body.

    Bolt checks it too, but only after parsing (a body it cannot parse becomes a 500) and it
    logs a refused request with its body; this check logs neither.
    """
    try:
        return verifier.is_valid_request(body, dict(request.headers))
    except ValueError:  # a timestamp header that is not a number
        return False


def create_http_app(baton: Baton, bolt_app: App | None) -> Starlette:
    """bolt_app is None in Socket Mode: events come over the websocket, not HTTP."""
    secret = baton.settings.signing_secret
    verifier = SignatureVerifier(secret) if bolt_app is not None and secret else None
    signatures = replay.Signatures(baton.engine, baton.clock)

    async def slack_events(request: Request) -> Response:
        if bolt_app is None:
            return JSONResponse(
                {
                    "ok": False,
                    "error": "Baton runs in Socket Mode (SLACK_APP_TOKEN is set): events arrive "
                    "over the websocket; unset SLACK_APP_TOKEN to receive them here.",
                },
                status_code=404,
            )
        timestamp = _fresh(request) if verifier is not None else None
        if verifier is not None and timestamp is None:
            # Refused on its headers: the body is never read, however large it is said or sent.
            return _unsigned()
        try:
            body = await _body(request, MAX_SLACK_BODY)
        except TooLarge as e:
            log.warning("refused a request to /slack/events: %s (413)", e)
            return JSONResponse({"error": f"{e}: no Slack request is"}, status_code=413)
        if verifier is not None:
            if not _signed(verifier, body, request):
                return _unsigned()
            assert timestamp is not None
            signature = request.headers["x-slack-signature"]
            if not await run_in_threadpool(signatures.first_use, signature, timestamp):
                # Slack never sends one signed request twice (its retries are signed anew): this
                # one was captured and replayed. Refused like any request Slack did not sign.
                log.warning(
                    "refused a replayed request to /slack/events: its signature was already used (401)"
                )
                return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            bolt_request = _bolt_request(request, body)
        except ValueError as e:  # json.JSONDecodeError, UnicodeDecodeError, inbound.TooDeep
            log.warning(
                "refused a signed request to /slack/events whose body is not a Slack payload "
                "(%s, %d bytes%s): answered 400",
                request.headers.get("content-type", "no content type"),
                len(body),
                f"; {e}" if isinstance(e, inbound.TooDeep) else "",
            )
            reason = f": {e}" if isinstance(e, inbound.TooDeep) else ""
            return JSONResponse(
                {"error": f"the request body is not a Slack payload{reason}"}, status_code=400
            )
        bolt_response = await run_in_threadpool(bolt_app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    async def healthz(_: Request) -> Response:
        def probe() -> str | None:
            try:
                with baton.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return None
            except Exception as e:  # the probe reports, it does not crash
                return type(e).__name__

        db_error = await run_in_threadpool(probe)
        body: dict[str, Any] = {
            "ok": db_error is None,
            "database": db_error or "ok",
            "mode": "socket" if baton.settings.socket_mode else "http",
        }
        return JSONResponse(body, status_code=200 if db_error is None else 503)

    alert_token = baton.settings.alert_token
    if not alert_token:
        log.info("POST /alerts/alertmanager is off: set BATON_ALERT_TOKEN to receive Alertmanager's alerts")

    alerts = _bearer_endpoint(
        token=alert_token,
        off="the Alertmanager endpoint is off: set BATON_ALERT_TOKEN on Baton",
        unauthorized="send BATON_ALERT_TOKEN as a bearer token (http_config.authorization)",
        max_body=alertmanager.MAX_BODY,
        # Streamed into the reader, which keeps the first alerts and counts the rest: a group of
        # any size is taken (Alertmanager never resends after a 4xx), in bounded memory.
        reader=alertmanager.Reader,
        take=lambda n: _alert_answer(alertmanager.act(baton=baton, n=n)),
        bad_payload=alertmanager.BadPayload,
        what="an Alertmanager notification",
        # Alertmanager sends the notification again after a 5xx.
        failed="Baton could not take the notification; send it again",
        counter=baton.metrics.alert_requests,
    )

    feedback_token = baton.settings.feedback_token
    if not feedback_token:
        log.info("POST /feedback is off: set BATON_FEEDBACK_TOKEN to receive failure cases from the product")
    failure_case = _bearer_endpoint(
        token=feedback_token,
        off="the feedback endpoint is off: set BATON_FEEDBACK_TOKEN on Baton",
        unauthorized="send BATON_FEEDBACK_TOKEN as a bearer token (Authorization: Bearer …)",
        max_body=feedback.MAX_BODY,
        reader=_Whole,
        take=lambda body: _feedback_answer(feedback.receive(baton=baton, body=body)),
        bad_payload=feedback.BadPayload,
        what="a failure case",
        failed="Baton could not take the failure case; send it again",
        counter=baton.metrics.feedback_requests,
    )

    metrics = _metrics_endpoint(baton, on_main_port=True)

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/alerts/alertmanager", alerts, methods=["POST"]),
            Route("/feedback", failure_case, methods=["POST"]),
        ]
    )


def create_metrics_app(baton: Baton) -> Starlette:
    """/metrics alone, for METRICS_PORT: a listener on METRICS_HOST (this machine, by default)."""
    return Starlette(
        routes=[Route("/metrics", _metrics_endpoint(baton, on_main_port=False), methods=["GET"])]
    )


def metrics_where(settings: Settings) -> str:
    """Where /metrics is served, for the start-up log and the refusal on PORT."""
    places = []
    if settings.metrics_port is not None:
        places.append(f"http://{settings.metrics_host}:{settings.metrics_port}/metrics")
    if settings.metrics_token:
        places.append(f"/metrics on port {settings.port} with BATON_METRICS_TOKEN as a bearer token")
    if not places:
        return (
            "nowhere: set BATON_METRICS_TOKEN to scrape /metrics on PORT with that bearer token, or "
            "METRICS_PORT to serve it on a port of its own (on 127.0.0.1 unless METRICS_HOST says otherwise)"
        )
    return " and ".join(places)


def _metrics_endpoint(baton: Baton, *, on_main_port: bool) -> Callable[[Request], Awaitable[Response]]:
    """/metrics: per-area counts and Slack's error names are not for anyone who can reach PORT
    (where /slack/events is public). There it answers only BATON_METRICS_TOKEN as a bearer token;
    without the token it is off there (404, saying where it is). METRICS_PORT's listener, bound to
    this machine by default, answers without one unless the token is set."""
    token = baton.settings.metrics_token

    async def metrics(request: Request) -> Response:
        if token:
            if not _bearer(request, token):
                said = "send BATON_METRICS_TOKEN as a bearer token (authorization in the scrape config)"
                return JSONResponse({"error": said}, status_code=401)
        elif on_main_port:
            said = f"/metrics is not served on this port; it is served {metrics_where(baton.settings)}"
            return JSONResponse({"error": said}, status_code=404)
        payload = await run_in_threadpool(baton.metrics.render)
        return Response(payload, media_type="text/plain; version=0.0.4; charset=utf-8")

    return metrics


def _unsigned() -> Response:
    # No body in the log: it is whatever the sender chose to put there.
    log.info("refused a request to /slack/events without a valid Slack signature (401)")
    return JSONResponse({"error": "invalid request"}, status_code=401)


def _bolt_request(request: Request, body: bytes) -> BoltRequest:
    """Bolt's request, parsed as Bolt parses it, within inbound's nesting limit."""
    try:
        bolt_request = to_bolt_request(request, body)
    except RecursionError:
        raise inbound.TooDeep from None
    inbound.within_depth(bolt_request.body)
    return bolt_request


def _alert_answer(outcome: alertmanager.Outcome) -> dict[str, Any]:
    return {"ok": True, "incident": outcome.incident, "action": outcome.action}


def _feedback_answer(outcome: feedback.Outcome) -> dict[str, Any]:
    answer = {"ok": True, "case": outcome.case, "area": outcome.area}
    return answer | {"incident": outcome.incident, "action": outcome.action, "clipped": outcome.clipped}


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Reader(Protocol[T_co]):
    """Takes a body chunk by chunk as it arrives; `end()` gives what the endpoint acts on."""

    def feed(self, chunk: bytes) -> None: ...

    def end(self) -> T_co: ...


class _Whole:
    """The body whole (already capped by _chunks), for an endpoint that parses it at once."""

    def __init__(self) -> None:
        self._body = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._body += chunk

    def end(self) -> bytes:
        return bytes(self._body)


def _bearer_endpoint(
    *,
    token: str | None,
    off: str,
    unauthorized: str,
    max_body: int,
    reader: Callable[[], Reader[T]],
    take: Callable[[T], dict[str, Any]],
    bad_payload: type[Exception],
    what: str,
    failed: str,
    counter: Any,
) -> Callable[[Request], Awaitable[Response]]:
    """A POST endpoint for another system (Alertmanager, the AI product): off (404) without its
    token, 401 without the bearer token, 413 over `max_body`, 400 with the reason on a bad
    payload, 500 (counted, and the sender retries) when Baton fails; every answer counted by
    status code."""

    async def answer(request: Request) -> tuple[int, dict[str, Any]]:
        if not token:
            return 404, {"error": off}
        if not _bearer(request, token):
            return 401, {"error": unauthorized}
        try:
            read = reader()
            async for chunk in _chunks(request, max_body):
                read.feed(chunk)
            taken = read.end()
        except TooLarge as e:
            return 413, {"error": str(e)}
        except bad_payload as e:
            log.warning("refused %s (400): %s", what, e)
            return 400, {"error": str(e)}
        try:
            return 200, await run_in_threadpool(take, taken)
        except bad_payload as e:
            log.warning("refused %s (400): %s", what, e)
            return 400, {"error": str(e)}

    async def endpoint(request: Request) -> Response:
        try:
            status, body = await answer(request)
        except Exception:  # counted as the 5xx it is; the sender tries again
            log.exception("could not take %s", what)
            status, body = 500, {"error": failed}
        counter.labels(code=str(status)).inc()
        return JSONResponse(body, status_code=status)

    return endpoint


def _bearer(request: Request, token: str) -> bool:
    """The request carries `token` as its bearer token, compared in constant time (how much of
    a guess matched must not show in how long the refusal takes)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode())


async def _chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body as it arrives; TooLarge once more than `limit` bytes are said (Content-Length)
    or seen (a chunked body says nothing), so no endpoint ever holds more than `limit` of it.
    Every endpoint reads its body through here."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(limit)
        yield chunk


async def _body(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes (TooLarge past that), before anything parses it."""
    body = bytearray()
    async for chunk in _chunks(request, limit):
        body += chunk
    return bytes(body)


class HttpServer:
    """uvicorn in-process, on its own thread (the main thread waits for signals).

    The socket is bound here rather than by uvicorn, so a port in use is a SettingsError at
    construction (before anything starts) instead of uvicorn's log line and sys.exit on its thread.
    """

    def __init__(self, app: Starlette, *, host: str, port: int):
        self.socket = _listen(host, port)
        self._port = int(self.socket.getsockname()[1])  # the real one when port is 0
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    def start(self, *, timeout: float = 10.0) -> None:
        """Serve on a thread; return once the socket is listening."""
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="baton-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError(f"the HTTP server did not start within {timeout:.0f} s on port {self.port}")

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.socket.close()


def check_port(host: str, port: int) -> None:
    """SettingsError now if host:port cannot be listened on, before start-up does any work."""
    _listen(host, port).close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; SettingsError (what to do) when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said out loud: asyncio sets TCP_NODELAY only on sockets whose proto is
    # IPPROTO_TCP, and accepted sockets inherit 0 from socket(family, SOCK_STREAM). Without it
    # the answer's body waits for the client's delayed ACK of its headers: 40 ms per answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # As uvicorn does: a restart may bind while the old process's connections are in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise SettingsError(
                f"port {port} is already in use (another baton serve?): stop what listens there, "
                "or set PORT to a free port."
            ) from None
        if e.errno == errno.EACCES:
            raise SettingsError(
                f"not allowed to listen on port {port}: set PORT to a port above 1023 (e.g. 3000)."
            ) from None
        raise SettingsError(
            f"cannot listen on {host}:{port} ({e.strerror or e}): set PORT to a free port."
        ) from None
    sock.set_inheritable(True)
    return sock
