"""The demo page's HTTP server, on 127.0.0.1 only: the page's files, `/state`, and the API that
page.Demo carries out. Only this page may use it: its own host name (no DNS rebinding), its own
Origin and JSON bodies (no cross-site form), a Content-Security-Policy allowing nothing from
elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import httpx

from bot.app.demo import state
from bot.app.demo.page import Demo, Refused

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/demo.css": ("demo.css", "text/css; charset=utf-8"),
    "/static/blockkit.js": ("blockkit.js", "text/javascript; charset=utf-8"),
    "/static/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
}
# A file Baton shared, by the stand-in's id (files.getUploadURLExternal's F…).
FILE_PATH = re.compile(r"/files/(F[A-Z0-9]{1,31})")
# Everything the page loads is its own: no script, style, font or image from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
MAX_BODY = 64 * 1024


class PageServer(ThreadingHTTPServer):
    """The page on 127.0.0.1 only; bound at once, so a port in use is known before anything starts."""

    daemon_threads = True
    demo: Demo | None = None

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self._serving = False

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        self._serving = True
        super().serve_forever(poll_interval)

    def shutdown_quietly(self) -> None:
        if self._serving:
            self.shutdown()
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    server: PageServer
    protocol_version = "HTTP/1.1"
    # A client that sends less than it announced (or nothing) frees its thread after this.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the page's requests are not news
        pass

    def _hosts(self) -> set[str]:
        port = self.server.server_address[1]
        return {f"127.0.0.1:{port}", f"localhost:{port}"}

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", extra)

    def do_GET(self) -> None:
        # A page reached under another name (DNS rebinding) is not this page.
        if self.headers.get("Host") not in self._hosts():
            return self._json(403, {"error": "this page answers only as 127.0.0.1 or localhost"})
        path = self.path.split("?", 1)[0]
        if path == "/favicon.ico":  # asked by every browser; the page has none
            return self._send(204, b"", "image/x-icon")
        if path in STATIC:
            name, ctype = STATIC[path]
            body = resources.files("bot.app.demo").joinpath("static", name).read_bytes()
            return self._send(200, body, ctype)
        shared = FILE_PATH.fullmatch(path)
        if shared and self.server.demo is not None:
            return self._file(self.server.demo, shared.group(1))
        if path == "/state" and self.server.demo is not None:
            demo = self.server.demo
            data = demo.state()
            tag = '"' + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32] + '"'
            clock = {"X-Demo-Now": f"{time.time():.3f}", "ETag": tag}
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                for k, v in clock.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            data["clock"] = {"now": time.time(), "origin": demo.origin, "speed": demo.speed}
            return self._json(200, data, clock)
        return self._json(404, {"error": "not found"})

    def _file(self, demo: Demo, file_id: str) -> None:
        """A shared file's bytes: a PNG (by its signature, never by a name or a type it was
        given) as an image; anything else only as a download."""
        content = demo.file(file_id)
        if content is None:
            return self._json(404, {"error": "no such file"})
        if state.is_png(content):
            return self._send(200, content, "image/png")
        return self._send(200, content, "application/octet-stream", {"Content-Disposition": "attachment"})

    def do_POST(self) -> None:
        host = self.headers.get("Host")
        # No request from another site: the Origin must be this page, and the body JSON (which a
        # cross-site form cannot send without a preflight this server never answers).
        if host not in self._hosts() or self.headers.get("Origin") not in {
            f"http://{h}" for h in self._hosts()
        }:
            return self._json(403, {"error": "requests come from the demo's page only"})
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._json(415, {"error": "send JSON"})
        given = self.headers.get("Content-Length") or "0"
        if not given.isdigit():
            return self._json(400, {"error": "Content-Length must be a number of bytes"})
        length = int(given)
        if length > MAX_BODY or self.server.demo is None:
            return self._json(413, {"error": "too large"})
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(data, dict):
                raise Refused("send a JSON object")
            out = self._carry_out(self.server.demo, self.path, data)
        except (ValueError, Refused) as e:
            return self._json(400, {"error": str(e)})
        except httpx.HTTPError as e:
            return self._json(502, {"error": f"Baton did not answer: {e}"})
        if out is None:
            return self._json(404, {"error": "not found"})
        return self._json(200, out)

    @staticmethod
    def _carry_out(demo: Demo, path: str, data: dict[str, Any]) -> dict[str, Any] | None:
        user = data.get("user")
        if path == "/api/command":
            return demo.command(user, data.get("text"), data.get("channel"))
        if path == "/api/action":
            return demo.action(user, data)
        if path == "/api/shortcut":
            return demo.shortcut(user, data)
        if path == "/api/submit":
            return demo.submit(user, data.get("view_id"), data.get("values"))
        if path == "/api/close":
            demo.close(user, data.get("view_id"))
            return {"ok": True}
        return None
