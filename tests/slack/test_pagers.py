"""External pagers (bot/slack/pagers.py) against a real HTTP server on 127.0.0.1.

The server records every request and answers what the test tells it to: a status code with a
body, a dropped connection, or a slow answer. "Nobody listening" is a port that was bound and
closed again. No mocks: the bytes httpx puts on the wire are what is asserted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.config.issues import ConfigError
from bot.config.loader import load_config
from bot.config.models import Team
from bot.slack.pagers import (
    PAGERDUTY_URL,
    PD_SEVERITY,
    PagerDuty,
    PagerError,
    PagerEvent,
    Webhook,
    configured,
    pagers_for,
)
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Job, TimelineEvent
from tests.config.test_config import SEVERITY
from tests.conftest import SHIPPED_OWNERSHIP, start_baton
from tests.webhookserver import QuietServer

# --------------------------------------------------------------------------- the local server


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 202
    body: str = '{"status":"success","message":"Event processed","dedup_key":"x"}'
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # drop the connection without answering
    delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: _PagerServer

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self.server.record(Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        answer = self.server.next_answer()
        if answer.delay:
            time.sleep(answer.delay)
        if answer.close:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        data = answer.body.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass


class _PagerServer(QuietServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.answers: list[Answer] = []
        self.default = Answer()
        self._lock = threading.Lock()

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.default

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, status: int = 202, body: str | None = None, **kwargs: Any) -> None:
        """Queue the answer to the next request (later ones get the default 202)."""
        with self._lock:
            self.answers.append(Answer(status, Answer.body if body is None else body, **kwargs))

    def only_request(self) -> Recorded:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]


@pytest.fixture
def server() -> Iterator[_PagerServer]:
    srv = _PagerServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2) as c:
        yield c


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nobody listens (bound, then closed: connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v2/enqueue"


def _event(action: str = "trigger", **kwargs: Any) -> PagerEvent:
    base: dict[str, Any] = {
        "action": action,
        "incident": 42,
        "severity": "P1",
        "area": "model-quality",
        "title": "Hallucination spike on checkout",
    }
    base.update(kwargs)
    return PagerEvent(**base)


def _pd(server: _PagerServer, client: httpx.Client, key: str = "R0UTINGKEY0123456789abcdef") -> PagerDuty:
    return PagerDuty(routing_key=key, client=client, url=f"{server.url}/v2/enqueue")


def _hook(server: _PagerServer, client: httpx.Client) -> Webhook:
    return Webhook(url=f"{server.url}/hooks/baton", client=client)


# --------------------------------------------------------------------------- PagerDuty bodies


def test_trigger_body_is_an_events_v2_alert(server: _PagerServer, client: httpx.Client) -> None:
    channel = "https://fake-team.slack.com/archives/C0FK000001"
    _pd(server, client).send(
        _event(channel_url=channel, details={"state": "open", "deadline": "2026-11-22T10:00:00+00:00"})
    )

    req = server.only_request()
    assert req.method == "POST" and req.path == "/v2/enqueue"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "routing_key": "R0UTINGKEY0123456789abcdef",
        "event_action": "trigger",
        "dedup_key": "baton-incident-42",
        "payload": {
            "summary": "[P1] Hallucination spike on checkout (model-quality)",
            "source": "baton",
            "severity": "error",
            "component": "model-quality",
            "custom_details": {
                "incident": 42,
                "state": "open",
                "deadline": "2026-11-22T10:00:00+00:00",
            },
        },
        "links": [{"href": channel, "text": "Incident channel"}],
    }


def test_trigger_without_channel_url_has_no_links(server: _PagerServer, client: httpx.Client) -> None:
    _pd(server, client).send(_event())
    body = server.only_request().json()
    assert "links" not in body
    assert body["payload"]["custom_details"] == {"incident": 42}


@pytest.mark.parametrize(
    ("level", "expected"), [("P0", "critical"), ("P1", "error"), ("P2", "warning"), ("P3", "info")]
)
def test_severity_maps_to_pagerduty_levels(
    server: _PagerServer, client: httpx.Client, level: str, expected: str
) -> None:
    _pd(server, client).send(_event(severity=level))
    payload = server.only_request().json()["payload"]
    assert payload["severity"] == expected
    assert payload["summary"].startswith(f"[{level}] ")


def test_severity_table_is_exactly_the_product_mapping() -> None:
    # P0–P3 map to critical/error/warning/info; PagerDuty accepts only these four.
    assert PD_SEVERITY == {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}


def test_summary_is_cut_to_pagerduty_limit(server: _PagerServer, client: httpx.Client) -> None:
    _pd(server, client).send(_event(title="x" * 2000))
    summary = server.only_request().json()["payload"]["summary"]
    assert len(summary) == 1024  # Events API v2: summary is at most 1024 characters
    assert summary.startswith("[P1] xxx")


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_carry_no_payload(
    server: _PagerServer, client: httpx.Client, action: str
) -> None:
    _pd(server, client).send(_event(action, channel_url="https://example.com/c", details={"state": "x"}))
    assert server.only_request().json() == {
        "routing_key": "R0UTINGKEY0123456789abcdef",
        "event_action": action,
        "dedup_key": "baton-incident-42",
    }


def test_dedup_key_ties_the_events_of_one_incident(server: _PagerServer, client: httpx.Client) -> None:
    pd = _pd(server, client)
    for action in ("trigger", "acknowledge", "resolve"):
        pd.send(_event(action, incident=7))
    pd.send(_event(incident=8))
    keys = [(r.json()["event_action"], r.json()["dedup_key"]) for r in server.requests]
    assert keys == [
        ("trigger", "baton-incident-7"),
        ("acknowledge", "baton-incident-7"),
        ("resolve", "baton-incident-7"),
        ("trigger", "baton-incident-8"),
    ]
    assert _event(incident=123).dedup_key == "baton-incident-123"


# --------------------------------------------------------------------------- webhook body


def test_webhook_posts_the_event_as_json(server: _PagerServer, client: httpx.Client) -> None:
    _hook(server, client).send(
        _event(severity="P0", channel_url="https://example.com/c", details={"state": "open"})
    )
    req = server.only_request()
    assert req.path == "/hooks/baton"
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "event": "trigger",
        "incident": 42,
        "dedup_key": "baton-incident-42",
        "severity": "P0",
        "area": "model-quality",
        "title": "Hallucination spike on checkout",
        "channel_url": "https://example.com/c",
        "details": {"state": "open"},
    }


def test_webhook_sends_acknowledge_and_resolve_too(server: _PagerServer, client: httpx.Client) -> None:
    hook = _hook(server, client)
    hook.send(_event("acknowledge"))
    hook.send(_event("resolve"))
    bodies = [r.json() for r in server.requests]
    assert [(b["event"], b["dedup_key"], b["channel_url"]) for b in bodies] == [
        ("acknowledge", "baton-incident-42", None),
        ("resolve", "baton-incident-42", None),
    ]


# --------------------------------------------------------------------------- failures


@pytest.fixture(params=["pagerduty", "webhook"])
def pager(request: pytest.FixtureRequest, server: _PagerServer, client: httpx.Client) -> PagerDuty | Webhook:
    return _pd(server, client) if request.param == "pagerduty" else _hook(server, client)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_success(server: _PagerServer, pager: PagerDuty | Webhook, status: int) -> None:
    server.answer(status, body="" if status == 204 else "{}")
    pager.send(_event())  # does not raise
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_rate_limit_and_server_errors_are_retryable(
    server: _PagerServer, pager: PagerDuty | Webhook, status: int
) -> None:
    server.answer(status, body='{"status":"throttle"}', headers={"Retry-After": "1"})
    with pytest.raises(PagerError) as caught:
        pager.send(_event())
    err = caught.value
    assert err.retryable is True
    assert err.pager == pager.name
    assert f"HTTP {status}" in str(err)
    assert str(err).startswith(f"{pager.name}: ")
    # No retry inside send(): the job queue owns retries (one request on the wire).
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 404])
def test_client_errors_are_not_retryable(
    server: _PagerServer, pager: PagerDuty | Webhook, status: int
) -> None:
    server.answer(status, body='{"status":"invalid event","message":"Event object is invalid"}')
    with pytest.raises(PagerError) as caught:
        pager.send(_event())
    err = caught.value
    assert err.retryable is False
    assert f"HTTP {status}" in err.message
    assert "Event object is invalid" in err.message  # the endpoint's reason is kept for the channel
    assert len(server.requests) == 1


def test_client_error_text_is_bounded(server: _PagerServer, client: httpx.Client) -> None:
    server.answer(400, body="e" * 5000)
    with pytest.raises(PagerError) as caught:
        _pd(server, client).send(_event())
    assert caught.value.message.count("e") <= 200


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_not_taken_for_delivery(
    server: _PagerServer, pager: PagerDuty | Webhook, status: int
) -> None:
    # httpx does not follow redirects by default, so a 3xx means the event went nowhere.
    server.answer(status, body="", headers={"Location": "https://elsewhere.example.com/hook"})
    with pytest.raises(PagerError) as caught:
        pager.send(_event())
    assert caught.value.retryable is False
    assert f"HTTP {status}" in caught.value.message
    assert "https://elsewhere.example.com/hook" in caught.value.message


def test_other_3xx_is_not_taken_for_delivery(server: _PagerServer, pager: PagerDuty | Webhook) -> None:
    server.answer(300, body="")  # a 3xx without Location: still not delivered
    with pytest.raises(PagerError) as caught:
        pager.send(_event())
    assert caught.value.retryable is False
    assert "HTTP 300" in caught.value.message


def test_dropped_connection_is_a_retryable_network_error(
    server: _PagerServer, pager: PagerDuty | Webhook
) -> None:
    server.answer(close=True)
    with pytest.raises(PagerError) as caught:
        pager.send(_event())
    assert caught.value.retryable is True
    assert caught.value.message.startswith("network error: ")
    assert len(server.requests) == 1  # it did reach the server


@pytest.mark.parametrize("kind", ["pagerduty", "webhook"])
def test_nobody_listening_is_a_retryable_network_error(
    dead_url: str, client: httpx.Client, kind: str
) -> None:
    pager = (
        PagerDuty(routing_key="k", client=client, url=dead_url)
        if kind == "pagerduty"
        else Webhook(url=dead_url, client=client)
    )
    with pytest.raises(PagerError) as caught:
        pager.send(_event())
    assert caught.value.retryable is True
    assert caught.value.message == "network error: ConnectError"


def test_slow_endpoint_is_a_retryable_timeout(server: _PagerServer) -> None:
    server.answer(delay=1.0)
    with httpx.Client(timeout=0.2) as slow_client, pytest.raises(PagerError) as caught:
        _pd(server, slow_client).send(_event())
    assert caught.value.retryable is True
    assert caught.value.message == "network error: ReadTimeout"


def test_pager_error_does_not_leak_the_routing_key(dead_url: str, client: httpx.Client) -> None:
    secret = "R0UTINGKEYsecret0123456789"
    with pytest.raises(PagerError) as caught:
        PagerDuty(routing_key=secret, client=client, url=dead_url).send(_event())
    assert secret not in str(caught.value)
    assert caught.value.__cause__ is None  # raised `from None`: the httpx request is not chained


# --------------------------------------------------------------------------- from the config

OWNERSHIP = """\
people:
  maya: U07MAYA001
  sam: U07SAM0001
  dana: U07DANA001
teams:
  ml:
    name: ML Team
    members: [maya]
    pager:
      pagerduty: {routing_key: "${PD_ROUTING_KEY_ML}", url: "${PD_URL}"}
      webhook: {url: "${ML_PAGER_WEBHOOK}"}
  platform:
    name: Platform Team
    members: [sam]
    pager:
      pagerduty: {routing_key: "${PD_ROUTING_KEY_PLATFORM}"}
  data:
    name: Data Team
    members: [dana]
areas:
  model-quality: {name: Model / Prompt, responsible: ml, accountable: maya}
  infra-deploy: {name: Infra / Deploy, responsible: platform, accountable: sam}
  data: {name: Data, responsible: data, accountable: dana}
"""


def _teams(tmp_path: Path, env: dict[str, str]) -> dict[str, Team]:
    (tmp_path / "ownership.yaml").write_text(OWNERSHIP)
    (tmp_path / "severity.yaml").write_text(SEVERITY)
    config = load_config(
        ownership_path=tmp_path / "ownership.yaml", severity_path=tmp_path / "severity.yaml", env=env
    )
    return config.ownership.teams


@pytest.fixture
def env(server: _PagerServer) -> dict[str, str]:
    return {
        "PD_ROUTING_KEY_ML": "mlkey0123456789abcdef0123456789ab",
        "PD_URL": f"{server.url}/pd/enqueue",
        "ML_PAGER_WEBHOOK": f"{server.url}/ml-hook",
        "PD_ROUTING_KEY_PLATFORM": "platformkey0123456789abcdef01234",
    }


def test_pagers_for_builds_both_pagers_from_ownership_yaml(
    tmp_path: Path, env: dict[str, str], server: _PagerServer, client: httpx.Client
) -> None:
    team = _teams(tmp_path, env)["ml"]
    assert configured(team) == ["pagerduty", "webhook"]
    pagers = pagers_for(team, client)
    assert list(pagers) == ["pagerduty", "webhook"]
    pd, hook = pagers["pagerduty"], pagers["webhook"]
    assert isinstance(pd, PagerDuty) and isinstance(hook, Webhook)
    assert (pd.routing_key, pd.url, pd.client) == (env["PD_ROUTING_KEY_ML"], env["PD_URL"], client)
    assert (hook.url, hook.client) == (env["ML_PAGER_WEBHOOK"], client)

    # And they really send there, with the key taken from the environment.
    pd.send(_event(severity="P0"))
    hook.send(_event("resolve"))
    assert [r.path for r in server.requests] == ["/pd/enqueue", "/ml-hook"]
    first, second = (r.json() for r in server.requests)
    assert first["routing_key"] == env["PD_ROUTING_KEY_ML"]
    assert first["payload"]["severity"] == "critical"
    assert second["event"] == "resolve"


def test_pagerduty_without_url_goes_to_the_events_endpoint(
    tmp_path: Path, env: dict[str, str], client: httpx.Client
) -> None:
    team = _teams(tmp_path, env)["platform"]
    assert configured(team) == ["pagerduty"]
    pagers = pagers_for(team, client)
    assert list(pagers) == ["pagerduty"]
    pd = pagers["pagerduty"]
    assert isinstance(pd, PagerDuty)
    assert pd.url == PAGERDUTY_URL == "https://events.pagerduty.com/v2/enqueue"
    assert pd.routing_key == env["PD_ROUTING_KEY_PLATFORM"]


def test_team_without_pager_has_none(tmp_path: Path, env: dict[str, str], client: httpx.Client) -> None:
    team = _teams(tmp_path, env)["data"]
    assert team.pager is None
    assert configured(team) == []
    assert pagers_for(team, client) == {}
    assert configured(None) == []
    assert pagers_for(None, client) == {}


def test_webhook_only_team(server: _PagerServer, client: httpx.Client) -> None:
    team = Team.model_validate(
        {"name": "Ops", "members": ["U07OPS0001"], "pager": {"webhook": {"url": f"{server.url}/ops"}}}
    )
    assert configured(team) == ["webhook"]
    pagers = pagers_for(team, client)
    assert list(pagers) == ["webhook"]
    pagers["webhook"].send(_event())
    assert server.only_request().path == "/ops"


def test_unset_routing_key_variable_refuses_the_config(tmp_path: Path, env: dict[str, str]) -> None:
    del env["PD_ROUTING_KEY_ML"]
    with pytest.raises(ConfigError) as caught:
        _teams(tmp_path, env)
    assert any(
        "teams.ml.pager.pagerduty.routing_key" in str(i) and "PD_ROUTING_KEY_ML" in str(i)
        for i in caught.value.issues
    ), str(caught.value)


# --------------------------------------------------------------------------- through a running Baton

HOSTILE = "bad key <!channel> <@U0ATTACKER> token xoxb-1234567890-abcdefghijkl"


def test_a_pagers_refusal_and_redirect_reach_the_channel_masked_and_escaped(
    server: _PagerServer, fake_slack: FakeSlack, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an external pager answers is an outside system's text: in the channel's report, the
    job's error and the timeline it is masked, mentions nobody and pings nobody."""
    ownership = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    ownership.write_text(
        text.replace(
            "    channel: C07MLTEAM",
            '    channel: C07MLTEAM\n    pager:\n      webhook: {url: "${ML_PAGER_WEBHOOK}"}',
            1,
        )
    )
    monkeypatch.setenv("ML_PAGER_WEBHOOK", f"{server.url}/hook")
    server.answer(400, body=json.dumps({"error": HOSTILE}))
    server.answer(302, body="", headers={"Location": f"https://pager.example/{HOSTILE.replace(' ', '+')}"})
    rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership))
    try:

        def reports() -> list[str]:
            return [
                m["text"]
                for c in fake_slack.channels.values()
                if c.name.startswith("inc-")
                for m in c.messages
                if "External pager webhook" in m["text"]
            ]

        for n, title in enumerate(("Refused", "Redirected"), start=1):
            rb.command("/incident", f"P1 model-quality {title}", user_id="U07SAM0001")
            fake_slack.wait_for(lambda n=n: len(reports()) >= n or None, timeout=10)  # type: ignore[misc]
        said = reports()
        refused = 'HTTP 400: {"error": "bad key &lt;!channel&gt; @U0ATTACKER token [slack-token]"}'
        assert any(refused in t for t in said), said
        assert any("HTTP 302: redirected to https://pager.example/" in t for t in said), said
        with session(rb.baton.engine) as s:
            stored = json.dumps(
                [j.last_error for j in s.exec(select(Job)).all()]
                + [e.text for e in s.exec(select(TimelineEvent)).all()]
            )
        for text in (*said, stored):
            assert "<!channel>" not in text and "<@U0ATTACKER>" not in text
            assert "xoxb-1234567890" not in text
        assert all("&lt;!channel&gt;" in t and "@U0ATTACKER" in t for t in said), said
    finally:
        rb.stop()
