"""The HTTP face of Baton: /slack/events, /healthz, /metrics, served by uvicorn (ASGI).

Bolt's dispatch is synchronous and may block briefly (it acks, then runs the listener on its
own thread pool), so it runs on Starlette's thread pool, never on the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.store.runtime import Baton

log = logging.getLogger(__name__)


def create_http_app(baton: Baton, bolt_app: App | None) -> Starlette:
    """bolt_app is None in Socket Mode: events come over the websocket, not HTTP."""

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
        body = await request.body()
        bolt_response = await run_in_threadpool(bolt_app.dispatch, to_bolt_request(request, body))
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

    async def metrics(_: Request) -> Response:
        payload = await run_in_threadpool(baton.metrics.render)
        return Response(payload, media_type="text/plain; version=0.0.4; charset=utf-8")

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


class HttpServer:
    """uvicorn in-process, on its own thread (the main thread waits for signals)."""

    def __init__(self, app: Starlette, *, host: str, port: int):
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        for srv in servers:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return int(self.server.config.port)

    def start(self, *, timeout: float = 10.0) -> None:
        """Serve on a thread; return once the socket is listening."""
        self._thread = threading.Thread(target=self.server.run, name="baton-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            raise RuntimeError("the HTTP server did not start (is the port in use?)")

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
