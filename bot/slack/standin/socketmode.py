"""A local stand-in for Slack's Socket Mode websocket endpoint.

Speaks the Socket Mode envelope protocol (https://docs.slack.dev/apis/events-api/using-socket-mode/):
the server greets each connection with ``{"type": "hello", ...}``, pushes envelopes
``{"envelope_id", "type", "accepts_response_payload", "payload"}`` and expects the client to ack
each one with ``{"envelope_id": ..., "payload": ...optional}``.

Works with slack_sdk's builtin ``SocketModeClient`` (which Bolt's ``SocketModeHandler`` uses): that
client talks plain TCP to any port other than 443 whatever the URL scheme, sends websocket pings
every ``ping_interval`` seconds and treats the link as stale without pongs. The ``websockets``
library answers pings automatically, so nothing extra is needed here.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Literal

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

EnvelopeType = Literal["slash_commands", "interactive", "events_api"]

# What Slack puts in accepts_response_payload when the caller does not say: events cannot carry a
# response payload, slash commands and interactivity can.
_DEFAULT_ACCEPTS_RESPONSE: dict[str, bool] = {
    "slash_commands": True,
    "interactive": True,
    "events_api": False,
}


class SocketModeStandIn:
    """Websocket server at ``ws://127.0.0.1:PORT/link/`` speaking Slack's Socket Mode protocol."""

    def __init__(
        self, *, app_id: str = "A0FAKE", host: str = "127.0.0.1", ping_interval: float = 0.2
    ) -> None:
        self.app_id = app_id
        self.host = host
        self.ping_interval = ping_interval
        self.port = 0
        self.connected = threading.Event()
        #: Every JSON message received from clients (acks and anything else), in arrival order.
        self.received: list[dict[str, Any]] = []
        #: Envelopes sent with send_envelope, in order.
        self.envelopes: list[dict[str, Any]] = []
        #: Tickets handed out by new_url() (i.e. by apps.connections.open).
        self.tickets: list[str] = []
        self.total_connections = 0
        self._acks: dict[str, dict[str, Any]] = {}
        self._conns: list[ServerConnection] = []
        self._cond = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SocketModeStandIn:
        """Bind a free port and serve in a daemon thread."""
        if self._server is not None:
            return self
        # Frequent server pings matter for speed, not liveness: slack_sdk's client holds its receive
        # lock inside a blocking recv (3 s timeout), so closing or replacing a connection stalls until
        # a frame arrives. A ping every 0.2 s turns multi-second teardowns into ~0.2 s.
        self._server = serve(
            self._handle,
            self.host,
            0,
            process_request=self._check_path,
            ping_interval=self.ping_interval,
            ping_timeout=30,
        )
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socketmode-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close all connections (code 1001) and the listening socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.connected.clear()

    def __enter__(self) -> SocketModeStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base websocket URL (no ticket)."""
        return f"ws://{self.host}:{self.port}/link/"

    def new_url(self) -> str:
        """A fresh connection URL shaped like Slack's ``wss://.../link/?ticket=...&app_id=...``."""
        ticket = str(uuid.uuid4())
        with self._cond:
            self.tickets.append(ticket)
        return f"{self.url}?ticket={ticket}&app_id={self.app_id}"

    # -- connection state --------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._conns)

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Block until a client has connected and received hello; AssertionError on timeout."""
        if not self.connected.wait(timeout):
            raise AssertionError(f"no Socket Mode client connected to {self.url} within {timeout}s")

    # -- sending -----------------------------------------------------------------------------

    def send_envelope(
        self,
        type_: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 30.0,
    ) -> str:
        """Push an envelope to the newest connection and return its envelope_id.

        ``accepts_response_payload=None`` uses Slack's value for the type (False for events_api).
        Waits up to ``timeout`` for a client, because the handshake may still be in flight right
        after ``SocketModeClient.connect()`` returns.
        """
        if type_ not in _DEFAULT_ACCEPTS_RESPONSE:
            raise ValueError(f"unknown envelope type {type_!r}")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type_,
            "accepts_response_payload": (
                _DEFAULT_ACCEPTS_RESPONSE[type_]
                if accepts_response_payload is None
                else accepts_response_payload
            ),
            "payload": dict(payload),
        }
        if type_ == "events_api":
            # Slack adds retry bookkeeping to events only.
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        with self._cond:
            self.envelopes.append(envelope)
        self.send_raw(envelope, timeout=timeout)
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested", *, timeout: float = 30.0) -> None:
        """Ask the client to reconnect, like Slack does before recycling a connection."""
        self.send_raw(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}, timeout=timeout
        )

    def send_raw(self, message: Mapping[str, Any], *, timeout: float = 30.0) -> None:
        """Send any JSON message to the newest open connection."""
        self.wait_connected(timeout)
        with self._cond:
            if not self._conns:
                raise AssertionError("Socket Mode client disconnected before the message could be sent")
            conn = self._conns[-1]
        conn.send(json.dumps(message))

    # -- acks --------------------------------------------------------------------------------

    def wait_ack(self, envelope_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Return the client's ack for ``envelope_id``; AssertionError if none within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while envelope_id not in self._acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no ack for envelope {envelope_id} within {timeout}s; "
                        f"acked so far: {list(self._acks)}; open connections: {len(self._conns)}"
                    )
                self._cond.wait(remaining)
            return self._acks[envelope_id]

    def acks(self) -> dict[str, dict[str, Any]]:
        """Snapshot of all acks received, by envelope_id."""
        with self._cond:
            return dict(self._acks)

    # -- server side -------------------------------------------------------------------------

    def _check_path(self, conn: ServerConnection, request: Request) -> Response | None:
        # slack_sdk requests "/link/?ticket=..." (it always appends "?"); refuse anything else so a
        # wrong URL fails loudly instead of silently connecting.
        if not request.path.startswith("/link"):
            return conn.respond(404, "unknown path\n")
        return None

    def _handle(self, conn: ServerConnection) -> None:
        try:
            with self._cond:
                num_connections = len(self._conns) + 1
            conn.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": num_connections,
                        "debug_info": {
                            "host": "applink-fake",
                            "build_number": 1,
                            "approximate_connection_time": 18060,
                        },
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            # Registered only after hello so envelopes can never overtake it.
            with self._cond:
                self._conns.append(conn)
                self.total_connections += 1
                self.connected.set()
                self._cond.notify_all()
            for raw in conn:
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                try:
                    message = json.loads(text)
                except ValueError:
                    message = {"raw": text}
                if not isinstance(message, dict):
                    message = {"raw": message}
                with self._cond:
                    self.received.append(message)
                    envelope_id = message.get("envelope_id")
                    if isinstance(envelope_id, str):
                        self._acks[envelope_id] = message
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                if conn in self._conns:
                    self._conns.remove(conn)
                if not self._conns:
                    self.connected.clear()
                self._cond.notify_all()
