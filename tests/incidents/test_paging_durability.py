"""Nothing is lost: a restart or a kill -9 mid-window, Slack refusing calls, a pager that is down."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.incidents.services import get
from bot.slack.standin import FakeSlack
from tests.conftest import (
    FAST_SEVERITY,
    SHIPPED_OWNERSHIP,
    SIGNING_SECRET,
    RunningBaton,
    incident_channel,
    page_dms,
    serve,
    serve_env,
    settle,
    start_baton,
)
from tests.incidents.test_paging_ladder import (
    EVERYONE,
    LADDER,
    LI,
    OWNING_TEAM,
    T,
    _between,
    _declare,
    _dms,
    _plan,
)
from tests.slack_signing import post_signed, slash_command_body


def test_restart_mid_window_resumes_the_ladder(fake_slack: FakeSlack, sqlite_url: str) -> None:
    first = start_baton(fake_slack, sqlite_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    t0 = _declare(first)
    fake_slack.wait_for(lambda: len(_dms(first)) >= 3 or None)
    first.stop()  # down before T/2 ...
    time.sleep(max(0.0, t0 + T / 2 + 0.5 - time.monotonic()))  # ... and still down when it comes due
    assert _between(_dms(first), t0, T / 2, T) == set()
    restarted_at = time.monotonic()
    second = start_baton(fake_slack, sqlite_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    try:
        # T/2 came due while it was down: it goes after the restart, and the rest of the ladder
        # still runs (breach at T), each step once, due when the window says.
        fake_slack.wait_for(lambda: len(_dms(second)) >= 3 + 8 + 8 or None, timeout=30)
        settle(second)
        assert len(_dms(second)) == 3 + 8 + 8  # step 0 not sent again, nothing twice
        assert {c.params["channel"] for c in _dms(second) if c.monotonic >= restarted_at} == EVERYONE
        assert _plan(second) == LADDER
    finally:
        second.stop()


def test_kill_9_mid_window_loses_no_step(fake_slack: FakeSlack, tmp_path: Path) -> None:
    env = serve_env(fake_slack, tmp_path, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    url = f"http://127.0.0.1:{env['PORT']}"
    proc = serve(env, tmp_path)
    try:
        t0 = time.monotonic()
        body = slash_command_body("/incident", "P1 model-quality Hallucination spike", user_id="U07SAM0001")
        assert "Declared" in post_signed(f"{url}/slack/events", body, SIGNING_SECRET).text
        fake_slack.wait_for(lambda: len(page_dms(fake_slack)) >= 3 or None)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(max(0.0, t0 + T / 2 + 0.5 - time.monotonic()))
        assert len(page_dms(fake_slack)) == 3  # T/2 came due while nobody was running
        restarted_at = time.monotonic()
        proc = serve(env, tmp_path)

        def after_restart() -> set[str]:
            return {str(c.params["channel"]) for c in page_dms(fake_slack) if c.monotonic >= restarted_at}

        # Every T/2 page arrives within seconds of the restart. (A step-0 DM whose job was killed
        # between Slack's answer and the commit may come again: at least once, never zero times.)
        fake_slack.wait_for(lambda: after_restart() >= EVERYONE or None, timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def test_a_page_slack_refuses_is_retried_and_reported(fast: RunningBaton) -> None:
    # Slack answers 503 to every post for a while: far more than slack_sdk's own two retries
    # per call absorb, so the page jobs fail, are rescheduled, and get through once it recovers.
    fast.fake.inject("chat.postMessage", status=503, times=30)
    _declare(fast)
    fast.fake.wait_for(
        lambda: {c.params["channel"] for c in _dms(fast) if c.ok} >= OWNING_TEAM or None, timeout=15
    )
    channel = incident_channel(fast.fake)
    assert [c for c in fast.fake.calls_to("chat.postMessage") if c.http_status == 503]
    report = fast.fake.wait_for(
        lambda: next((m for m in fast.fake.messages(channel.id) if "Could not page" in m["text"]), None),
        timeout=15,
    )
    assert "retrying" in report["text"]


def test_a_person_without_a_slack_account_is_reported_not_dropped(
    fake_slack: FakeSlack, sqlite_url: str
) -> None:
    fake_slack.users.pop("ULIE")  # li's e-mail no longer finds anyone
    rb = start_baton(fake_slack, sqlite_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    try:
        _declare(rb)
        channel = incident_channel(fake_slack)
        report = fake_slack.wait_for(
            lambda: next(
                (m for m in fake_slack.messages(channel.id) if "li.chen@example.com" in m["text"]), None
            )
        )
        assert "Could not page" in report["text"] and "no Slack account" in report["text"]
        # The others are paged all the same.
        fake_slack.wait_for(lambda: {c.params["channel"] for c in _dms(rb)} >= {"U07MAYA001", "U07OMAR001"})
    finally:
        rb.stop()


class _Pager(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        server: Any = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.events.append((time.monotonic(), body, server.status))
            status = server.status
        server.release.wait(30)  # held until the test lets it answer (30 s: a stuck test's guard)
        with server.lock:
            server.answered += 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pager() -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Pager)
    server.events, server.status, server.lock = [], 503, threading.Lock()
    server.release, server.answered = threading.Event(), 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_a_failing_pager_never_delays_slack_and_is_retried_and_reported(
    fake_slack: FakeSlack, sqlite_url: str, tmp_path: Path, pager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ownership = tmp_path / "ownership.yaml"
    text = SHIPPED_OWNERSHIP.read_text()
    assert "    channel: C07MLTEAM" in text
    ownership.write_text(
        text.replace(
            "    channel: C07MLTEAM",
            '    channel: C07MLTEAM\n    pager:\n      webhook: {url: "${ML_PAGER_WEBHOOK}"}',
            1,
        )
    )
    monkeypatch.setenv("ML_PAGER_WEBHOOK", f"http://127.0.0.1:{pager.server_address[1]}/hook")
    rb = start_baton(
        fake_slack, sqlite_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY), BATON_OWNERSHIP_FILE=str(ownership)
    )
    try:
        _declare(rb)  # the pager is held (slow) and then answers 503 (failing)
        fake_slack.wait_for(lambda: pager.events or None, timeout=30, message="the pager was called")
        fake_slack.wait_for(lambda: len(_dms(rb)) >= 3 or None, timeout=30)
        # Slack's pages did not wait for it: they went out while the pager's call was unanswered.
        with pager.lock:
            assert pager.answered == 0
        pager.release.set()
        channel = incident_channel(fake_slack)
        report = fake_slack.wait_for(
            lambda: next(
                (m for m in fake_slack.messages(channel.id) if "External pager webhook" in m["text"]), None
            ),
            timeout=6,
        )
        assert "HTTP 503" in report["text"]
        pager.status = 200  # the pager recovers
        fake_slack.wait_for(lambda: any(e[2] == 200 for e in pager.events) or None, timeout=6)
        rb.command("/incident", "ack", user_id=LI, channel_id=channel.id)
        fake_slack.wait_for(
            lambda: any(e[1]["event"] == "acknowledge" for e in pager.events) or None, timeout=6
        )
        kinds = [e[1]["event"] for e in pager.events]
        assert kinds.count("trigger") >= 2  # retried
        assert kinds.index("acknowledge") > max(i for i, k in enumerate(kinds) if k == "trigger")
        assert all(e[1]["dedup_key"] == "baton-incident-1" for e in pager.events)
        assert get(baton=rb.baton, number=1).state == "acknowledged"
    finally:
        rb.stop()
