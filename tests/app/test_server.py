"""HTTP endpoints of a running Baton, and Socket Mode against a websocket stand-in."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Incident
from tests.conftest import METRICS_TOKEN, RunningBaton, start_baton
from tests.slack_signing import post_signed, slash_command_body


def test_healthz_reports_database_and_mode(running: RunningBaton) -> None:
    resp = httpx.get(f"{running.url}/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "database": "ok", "mode": "http"}


def test_metrics_are_prometheus_text_and_count_requests(running: RunningBaton) -> None:
    assert running.command("/owner", "data").status_code == 200
    resp = httpx.get(f"{running.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert 'baton_slack_requests_total{kind="/owner"} 1.0' in resp.text


# -- who may read /metrics ------------------------------------------------------


def test_metrics_on_the_slack_port_answer_only_the_metrics_token(running: RunningBaton) -> None:
    """PORT is where Slack reaches Baton, so anyone can: /metrics there (per-area counts, Slack
    error names) answers only BATON_METRICS_TOKEN as a bearer token, compared in constant time."""
    running.command("/owner", "data")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {METRICS_TOKEN}"}):
        resp = httpx.get(f"{running.url}/metrics", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json() == {
            "error": "send BATON_METRICS_TOKEN as a bearer token (authorization in the scrape config)"
        }
        assert "baton_" not in resp.text
    assert 'baton_slack_requests_total{kind="/owner"} 1.0' in running.metrics()


def test_without_a_token_metrics_are_off_on_the_slack_port_and_start_up_says_where(
    fake_slack: FakeSlack, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.runner")
    rb = start_baton(fake_slack, sqlite_url, BATON_METRICS_TOKEN="")
    try:
        resp = httpx.get(f"{rb.url}/metrics")
        assert resp.status_code == 404 and "baton_" not in resp.text
        assert "set BATON_METRICS_TOKEN" in resp.json()["error"] and "METRICS_PORT" in resp.json()["error"]
        assert any(
            r.getMessage().startswith("metrics: nowhere: set BATON_METRICS_TOKEN") for r in caplog.records
        )
    finally:
        rb.stop()


def test_metrics_port_serves_metrics_alone_on_this_machine(
    fake_slack: FakeSlack, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.runner")
    rb = start_baton(fake_slack, sqlite_url, BATON_METRICS_TOKEN="", METRICS_PORT="0")
    try:
        assert rb.runner.metrics_http is not None
        host, port = rb.runner.metrics_http.socket.getsockname()[:2]
        assert host == "127.0.0.1"  # METRICS_HOST's default: not reachable from another machine
        rb.command("/owner", "data")
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert 'baton_slack_requests_total{kind="/owner"} 1.0' in scraped.text
        assert httpx.get(f"http://127.0.0.1:{port}/slack/events").status_code == 404  # metrics alone
        assert httpx.get(f"{rb.url}/metrics").status_code == 404
        assert f"metrics: http://127.0.0.1:{port}/metrics" in caplog.text
    finally:
        rb.stop()


def test_web_api_calls_go_to_slack_api_url(running: RunningBaton) -> None:
    # Bolt checks its token at start-up with auth.test: it must have reached the fake, not slack.com.
    assert running.fake.calls_to("auth.test")


@pytest.fixture
def socket_baton(fake_slack: FakeSlack, sqlite_url: str) -> Iterator[RunningBaton]:
    rb = start_baton(fake_slack, sqlite_url, SLACK_APP_TOKEN=fake_slack.app_token, SLACK_SIGNING_SECRET="")
    yield rb
    rb.stop()


def test_socket_mode_answers_a_command_over_the_websocket(socket_baton: RunningBaton) -> None:
    fake = socket_baton.fake
    fake.socket.wait_connected(timeout=10)
    assert fake.calls_to("apps.connections.open")
    payload = {
        "token": "x",
        "team_id": fake.team_id,
        "channel_id": "C0GENERAL",
        "user_id": "U07MAYA001",
        "user_name": "maya",
        "command": "/owner",
        "text": "model-quality",
        "trigger_id": "1.2.3",
        "response_url": fake.response_url("C0GENERAL", "U07MAYA001"),
    }
    envelope_id = fake.socket.send_envelope("slash_commands", payload)
    ack = fake.socket.wait_ack(envelope_id, timeout=5)
    assert ack["envelope_id"] == envelope_id
    assert "ML Team" in str(ack["payload"]["blocks"])


def test_socket_mode_does_not_take_events_over_http(socket_baton: RunningBaton) -> None:
    resp = httpx.post(f"{socket_baton.url}/slack/events", content=b"{}")
    assert resp.status_code == 404 and "Socket Mode" in resp.json()["error"]
    assert httpx.get(f"{socket_baton.url}/healthz").json()["mode"] == "socket"


def test_metrics_have_no_created_series(running: RunningBaton) -> None:
    assert running.command("/owner", "data").status_code == 200
    text = running.metrics()
    assert "baton_slack_requests_total" in text and "baton_time_to_acknowledge_seconds_count" in text
    assert "_created" not in text


SECRET_LOOKING = "xoxb-4242424242-leaked-in-a-body"


def test_a_signed_body_that_is_not_a_slack_payload_gets_400_and_one_log_line(
    running: RunningBaton, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = urlencode({"payload": f"not json {SECRET_LOOKING}"})
    resp = running.post(body)
    assert resp.status_code == 400
    assert "Traceback" not in caplog.text and SECRET_LOOKING not in caplog.text
    # The runner's background work (the nudge schedule noted at start) logs on its own thread.
    request = [r for r in caplog.records if r.name.startswith(("bot", "slack_bolt", "uvicorn", "handlers"))]
    (record,) = [r for r in request if not r.name.startswith("bot.nudges")]
    assert record.getMessage() == (
        "refused a signed request to /slack/events whose body is not a Slack payload "
        f"(application/x-www-form-urlencoded, {len(body.encode())} bytes): answered 400"
    )


@pytest.fixture
def logged_baton(
    fake_slack: FakeSlack, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> Iterator[RunningBaton]:
    """A Baton built with the root logger at INFO, as `baton serve` builds it: Bolt copies the
    root's level into its loggers when the app is made, so its INFO lines are live."""
    caplog.set_level(logging.INFO)
    rb = start_baton(fake_slack, sqlite_url)
    yield rb
    rb.stop()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Signature": "v0=" + "0" * 64},  # a wrong signature
        {"X-Slack-Request-Timestamp": "not-a-number"},  # Bolt's own check would raise on this
        {"X-Slack-Request-Timestamp": "1"},  # a replay from long ago
    ],
)
def test_a_badly_signed_request_is_refused_and_its_body_never_logged(
    logged_baton: RunningBaton, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    body = slash_command_body("/incident", f"P1 model-quality token {SECRET_LOOKING}")
    resp = post_signed(f"{logged_baton.url}/slack/events", body, logged_baton.secret, headers=headers)
    assert resp.status_code == 401
    assert SECRET_LOOKING not in caplog.text and "Traceback" not in caplog.text
    assert "without a valid Slack signature" in caplog.text
    with session(logged_baton.baton.engine) as s:
        assert s.exec(select(Incident)).all() == []  # nothing was declared
