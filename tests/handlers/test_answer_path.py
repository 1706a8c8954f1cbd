"""Slack hears the answer as soon as a listener's ack function returns, and
whatever calls Slack or the network runs after it, in Bolt lazy functions: a slow response_url,
views.open or views.publish never holds the answer. Behaviour only (the figures are in bench/):
each test holds the slow part until the answer is in, so none depends on how fast the machine is.
Over HTTP on SQLite and PostgreSQL, and over Socket Mode."""

from __future__ import annotations

import copy
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from slack_bolt import BoltContext, BoltRequest

from bot.slack.standin import FakeSlack
from handlers.listener import after_answer, baton_of, provide
from tests.conftest import RunningBaton, start_baton
from tests.slack_signing import event_callback_body, slash_command_body, slash_command_payload

MAYA = "U07MAYA001"  # ML Team, accountable for model-quality
GENERAL = "C0GENERAL"


class HeldWebhook:
    """A response_url that takes each POST and answers it only once the test releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.received = threading.Event()
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                hook.posts.append(json.loads(body))
                hook.received.set()
                hook.release.wait(timeout=30)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/commands/T0FAKE/1/held"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def held() -> Iterator[HeldWebhook]:
    hook = HeldWebhook()
    yield hook
    hook.close()


def test_the_ack_is_the_answer(running: RunningBaton) -> None:
    url = running.fake.response_url(GENERAL, MAYA)
    help_ = running.post(slash_command_body("/incident", "help", user_id=MAYA, response_url=url))
    assert help_.status_code == 200 and "/incident P1 model-quality" in help_.text, help_.text
    declared = running.post(
        slash_command_body("/incident", "P1 model-quality refusals up", user_id=MAYA, response_url=url)
    )
    assert declared.status_code == 200 and "Declared" in declared.text, declared.text
    owner = running.post(slash_command_body("/owner", "model-quality", user_id=MAYA, response_url=url))
    assert owner.status_code == 200 and "ML Team" in owner.text, owner.text
    # Everything was said in the answers themselves; nothing went to the response_url.
    assert running.fake.responses(url) == []


def test_a_held_response_url_does_not_hold_the_answer(running: RunningBaton, held: HeldWebhook) -> None:
    body = slash_command_body("/readiness", "model-quality", user_id=MAYA, response_url=held.url)
    resp = running.post(body)
    assert resp.status_code == 200 and not resp.content  # answered, empty, while ...
    assert held.received.wait(timeout=10), "respond() never came"
    assert not held.release.is_set()  # ... respond() is still waiting on its response_url
    held.release.set()
    (posted,) = held.posts
    assert posted["response_type"] == "ephemeral" and "model-quality" in json.dumps(posted).lower()


def test_a_bare_incident_is_answered_before_slack_opens_the_form(running: RunningBaton) -> None:
    fake = running.fake
    fake.set_latency("views.open", 3.0)  # the fake records the call once it has answered it
    try:
        resp = running.command("/incident", "", user_id=MAYA)
        assert resp.status_code == 200 and not resp.content
        assert fake.calls_to("views.open") == [], "the answer waited for views.open"
        (opened,) = fake.wait_for(lambda: fake.calls_to("views.open"), timeout=10, message="views.open")
        assert "Declare an incident" in str(opened.params["view"])
    finally:
        fake.set_latency("views.open", 0)


def test_an_event_is_answered_before_the_home_is_published(running: RunningBaton) -> None:
    fake = running.fake
    fake.set_latency("views.publish", 3.0)
    try:
        event = {"type": "app_home_opened", "user": MAYA, "channel": "D0HOMEMAYA", "tab": "home"}
        resp = running.post(event_callback_body(event), content_type="application/json")
        assert resp.status_code == 200
        assert fake.calls_to("views.publish") == [], "the answer waited for views.publish"
        (published,) = fake.wait_for(lambda: fake.calls_to("views.publish"), timeout=10, message="Home")
        assert published.params["user_id"] == MAYA
    finally:
        fake.set_latency("views.publish", 0)


@pytest.fixture
def socket_baton(fake_slack: FakeSlack, sqlite_url: str) -> Iterator[RunningBaton]:
    rb = start_baton(fake_slack, sqlite_url, SLACK_APP_TOKEN=fake_slack.app_token, SLACK_SIGNING_SECRET="")
    yield rb
    rb.stop()


def test_socket_mode_acks_first_and_runs_the_rest_after(socket_baton: RunningBaton) -> None:
    fake = socket_baton.fake
    fake.socket.wait_connected(timeout=10)
    url = fake.response_url(GENERAL, MAYA)
    payload = slash_command_payload("/readiness", "model-quality", user_id=MAYA, response_url=url)
    envelope = fake.socket.send_envelope("slash_commands", payload)
    ack = fake.socket.wait_ack(envelope, timeout=5)
    assert ack["envelope_id"] == envelope and not ack.get("payload")
    (posted,) = fake.wait_for(lambda: fake.responses(url), timeout=10, message="respond() in Socket Mode")
    assert "model-quality" in json.dumps(posted.body).lower()
    # A bare /incident: the form opens after the ack, from the lazy function, with the same Baton.
    bare = fake.socket.send_envelope("slash_commands", slash_command_payload("/incident", "", user_id=MAYA))
    assert fake.socket.wait_ack(bare, timeout=5)["envelope_id"] == bare
    fake.wait_for(lambda: fake.calls_to("views.open"), timeout=10, message="views.open in Socket Mode")


def test_lazy_functions_share_the_baton_bolt_copies_the_context_for(running: RunningBaton) -> None:
    """Bolt deep-copies a request (context included) for its lazy functions; if Bolt changed how,
    the lazy functions would lose the Baton, and this says so before any listener does."""
    baton = running.baton
    context = BoltContext()
    provide(context, baton)
    body = slash_command_body("/readiness", "model-quality")
    copied = BoltRequest(body=body, context=context).to_copyable()
    assert baton_of(copied.context) is baton
    assert baton_of(copy.deepcopy(context)) is baton


def test_a_failing_lazy_function_is_logged_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def publish(context: BoltContext) -> None:
        raise RuntimeError("Slack said no")

    run = after_answer(publish)
    run(context=BoltContext())  # does not raise: the answer is long gone
    (record,) = [r for r in caplog.records if r.name == "handlers.listener"]
    assert record.levelno == logging.ERROR and "publish failed" in record.getMessage()
    assert record.exc_info is not None and "Slack said no" in str(record.exc_info[1])


def test_answers_are_not_held_back_by_nagle(running: RunningBaton) -> None:
    """Every accepted connection has TCP_NODELAY: without it an answer's body waits for the
    client's delayed ACK of its headers (40 ms on Linux)."""
    with httpx.Client() as client:  # keep-alive: the connection is still open when we look
        assert client.get(f"{running.url}/healthz").status_code == 200
        server = running.runner.http.server
        sockets = [c.transport.get_extra_info("socket") for c in server.server_state.connections]
        assert sockets, "no open connection to look at"
        assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
