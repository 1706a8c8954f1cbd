"""The stand-in's HTTP plumbing: a threading server on a free 127.0.0.1 port whose handler turns
each request into a FakeSlack call (form or JSON body, token from the header or the form) or a
response_url post."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from bot.slack.standin import methods_files
from bot.slack.standin.spec import JSON_FIELDS

if TYPE_CHECKING:
    from bot.slack.standin.server import FakeSlack

# The status FakeSlack gives a call whose connection is dropped without an answer.
DROPPED = 0


class Server(ThreadingHTTPServer):
    """ThreadingHTTPServer on a free 127.0.0.1 port that knows its FakeSlack."""

    daemon_threads = True  # a hung client must not block stop()
    request_queue_size = 128  # the default backlog of 5 refuses bursts of concurrent clients

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into FakeSlack calls. HTTP/1.0: one request per connection."""

    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    server: Server

    @property
    def fake(self) -> FakeSlack:
        return self.server.fake

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        received = (time.monotonic(), time.time())
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")

        if split.path.startswith("/hooks/"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"raw": raw.decode("utf-8", "replace")}
            status, text = self.fake.handle_response_url(split.path, body if isinstance(body, dict) else {})
            self._send(status, {"Content-Type": "text/html"}, text.encode())
            return
        if split.path.startswith(methods_files.UPLOAD_PATH):
            status, text = methods_files.receive_upload(self.fake, split.path, raw, content_type)
            self._send(status, {"Content-Type": "text/plain"}, text.encode())
            return
        if not split.path.startswith("/api/"):
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return

        method = split.path[len("/api/") :].strip("/")
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        body_token: str | None = params.pop("token", None)
        if raw and content_type.startswith("application/json"):
            try:
                decoded = json.loads(raw)
            except ValueError:
                self._json(200, {}, {"ok": False, "error": "invalid_json"})
                return
            if not isinstance(decoded, dict):
                self._json(200, {}, {"ok": False, "error": "json_not_object"})
                return
            # Slack ignores a token inside a JSON body: JSON callers must use the Authorization header.
            decoded.pop("token", None)
            params.update(decoded)
        elif raw and content_type.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            body_token = form.pop("token", None) or body_token
            decoded_form: dict[str, Any] = dict(form)
            for key in JSON_FIELDS & form.keys():
                # Undecodable values stay strings; handlers then answer invalid_arguments.
                with contextlib.suppress(ValueError):
                    decoded_form[key] = json.loads(form[key])
            params.update(decoded_form)
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else body_token
        status, headers, body_out = self.fake.handle_api(
            method, params, token, self.command, content_type, received
        )
        if status == DROPPED:
            # Done (or not) and no answer: the client sees the connection closed under it.
            self.close_connection = True
            return
        self._json(status, headers, body_out)

    def _json(self, status: int, headers: Mapping[str, str], body: Mapping[str, Any]) -> None:
        self._send(
            status, {"Content-Type": "application/json; charset=utf-8", **headers}, json.dumps(body).encode()
        )

    def _send(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
