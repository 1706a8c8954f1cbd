"""HTTP endpoints of a running Baton, and Socket Mode against a websocket stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningBaton, start_baton
from tests.fakeslack import FakeSlack


def test_healthz_reports_database_and_mode(running: RunningBaton) -> None:
    resp = httpx.get(f"{running.url}/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "database": "ok", "mode": "http"}


def test_metrics_are_prometheus_text_and_count_requests(running: RunningBaton) -> None:
    assert running.command("/owner", "data").status_code == 200
    resp = httpx.get(f"{running.url}/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    assert 'baton_slack_requests_total{kind="/owner"} 1.0' in resp.text


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
