"""Every outbound HTTP call that holds a job ends within its deadline, start to finish
(bot/slack/outbound.py): a server that drips its answer a byte at a time keeps each read
inside a per-read timeout, and used to hold a call for as long as it dripped. The external
pagers through their job on Baton's ticker (SQLite and PostgreSQL), Prometheus through its
client, the mechanism itself against the same local server. The action webhook's own test is in
tests/actions/test_action_webhook.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.app.ticker import Ticker
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.monitoring.prometheus import NotMeasured, Prometheus
from bot.slack import outbound, pagers
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Job, TimelineEvent
from bot.store.runtime import Baton
from tests.actions.test_action_webhook import make_baton
from tests.conftest import SHIPPED_OWNERSHIP
from tests.webhookserver import WebhookServer, webhook_server

SLOW = '{"status": "success", "message": "Event processed", "dedup_key": "baton-incident-1"}'


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with webhook_server() as server:
        yield server


def test_a_pager_dripping_its_answer_is_cut_at_the_deadline_and_retried(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, hook: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pagers, "TIMEOUT", 0.5)
    text = SHIPPED_OWNERSHIP.read_text()
    anchor = "    channel: C07MLTEAM"
    assert anchor in text
    ownership = tmp_path / "ownership.yaml"
    pager = f'\n    pager:\n      webhook: {{url: "{hook.url("/pager")}"}}'
    ownership.write_text(text.replace(anchor, anchor + pager, 1))
    hook.drip(0.1, body=SLOW)  # ~8 s for the whole answer; each byte in time for any read timeout
    baton = make_baton(fake_slack, db_url, ownership, FakeClock())
    ticker = paging_ticker(baton)
    try:
        inc = incidents.declare(
            baton=baton, severity="P1", area="model-quality", title="Refusals up", reporter="U07LEO0002"
        )
        ticker.run_until_idle()
        hook.wait_for(lambda: hook.cut)  # Baton hung up before the last byte
        [got] = hook.received()
        assert got.json()["event"] == "trigger"
        with session(baton.engine) as s:
            [job] = s.exec(select(Job).where(col(Job.kind) == "pager")).all()
            sent = s.exec(
                select(TimelineEvent).where(
                    col(TimelineEvent.incident_id) == inc.id, col(TimelineEvent.kind) == "pager"
                )
            ).all()
        assert (job.state, job.last_error) == ("pending", "webhook: network error: ReadTimeout")
        assert job.retry_at is not None  # tried again later, as any pager that did not answer
        assert sent == []
    finally:
        ticker.shutdown()
        baton.engine.dispose()


def paging_ticker(baton: Baton) -> Ticker:
    return Ticker(baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure)


def test_a_prometheus_dripping_its_answer_is_a_timeout(hook: WebhookServer) -> None:
    hook.drip(0.1, body='{"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}')
    with Prometheus(hook.url(""), timeout=0.5) as prometheus:
        got = prometheus.query("up")
    assert got == NotMeasured("timeout", "Prometheus did not answer within 0.5 s")
    hook.wait_for(lambda: hook.cut)
    [asked] = hook.received()
    assert asked.method == "GET" and asked.path.startswith("/api/v1/query?query=up")


def test_the_deadline_covers_the_status_line_the_body_and_a_request_shorter_than_the_client(
    hook: WebhookServer,
) -> None:
    hook.drip(0.05, times=2, body="x" * 200)  # ~15 s for the whole answer, a byte every 50 ms
    with outbound.client(total=1.0) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(hook.url(), json={}, extensions=outbound.within(0.3))
        # The next request of the same client starts a deadline of its own; streamed, it ends
        # while the status line is still dripping.
        with pytest.raises(httpx.ReadTimeout), client.stream("POST", hook.url(), json={}) as resp:
            pytest.fail(f"an answer came: HTTP {resp.status_code}")
    hook.wait_for(lambda: hook.cut == 2)
    with outbound.client(total=2.0) as client:  # a prompt server is not held up
        assert client.post(hook.url(), json={"a": 1}).status_code == 200


def test_a_deadline_already_passed_sends_nothing(hook: WebhookServer) -> None:
    with outbound.client(total=5.0) as client, pytest.raises(httpx.ConnectTimeout):
        client.post(hook.url(), json={}, extensions=outbound.within(0.0))
    assert hook.received() == []


def test_proxies_from_the_environment_get_the_deadline_too(
    hook: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy named in HTTP_PROXY gets a transport of its own: it carries the deadline as well
    (the local server stands in for the proxy: httpx sends it the request in proxy form)."""
    monkeypatch.setenv("HTTP_PROXY", hook.url(""))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    hook.drip(0.1, body="x" * 100)
    with outbound.client(total=0.5) as client, pytest.raises(httpx.ReadTimeout):
        client.post("http://pager.example.com/hook", json={})
    [got] = hook.received()
    assert got.path == "http://pager.example.com/hook"
    hook.wait_for(lambda: hook.cut)
