"""What every HTTP endpoint of a running Baton takes in: a body
is refused on its headers before it is read, capped while it streams, parsed within a nesting
limit, and a signed Slack request is taken once, by one replica, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import select

from bot.app.runner import Runner, boot
from bot.app.server import MAX_SLACK_BODY
from bot.config.loader import load_config
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.inbound import MAX_DEPTH
from bot.store.models import Incident, SlackSignature
from handlers.app import create_app
from tests.conftest import SIGNING_SECRET, RunningBaton, serve, serve_env, settings_for, start_baton
from tests.slack_signing import JSON, post_signed, sign, slash_command_body

ALERT_TOKEN = "alert-token-0123456789"
FEEDBACK_TOKEN = "feedback-token-0123456789"


@pytest.fixture
def intake(fake_slack: FakeSlack, db_url: str) -> Iterator[RunningBaton]:
    rb = start_baton(fake_slack, db_url, BATON_ALERT_TOKEN=ALERT_TOKEN, BATON_FEEDBACK_TOKEN=FEEDBACK_TOKEN)
    yield rb
    rb.stop()


def incidents(rb: RunningBaton) -> list[Incident]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(Incident)).all())


# -- refused on the headers, capped while streaming ---------------------------------------


def _raw_request(port: int, headers: dict[str, str], first_chunk: bytes) -> socket.socket:
    """A chunked POST to /slack/events whose body has only begun: its first chunk is sent, and
    the rest never is."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    lines = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    sock.sendall(head + f"{len(first_chunk):x}\r\n".encode() + first_chunk + b"\r\n")
    return sock


def _status_line(sock: socket.socket) -> str:
    """The answer's status line; socket.timeout when none comes (the server waits for the body)."""
    data = b""
    while b"\r\n" not in data:
        got = sock.recv(4096)
        if not got:
            break
        data += got
    return data.split(b"\r\n", 1)[0].decode()


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signing headers at all
        {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=" + "0" * 64},  # long ago
        {"X-Slack-Request-Timestamp": "not-a-number", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time()) + 3600), "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time()))},  # no signature
    ],
    ids=["unsigned", "stale", "not-a-number", "future", "no-signature"],
)
def test_a_request_without_fresh_signing_headers_is_refused_before_its_body_is_read(
    fake_slack: FakeSlack, sqlite_url: str, headers: dict[str, str]
) -> None:
    rb = start_baton(fake_slack, sqlite_url)
    try:
        sock = _raw_request(
            rb.runner.http.port, {"Content-Type": JSON, **headers}, b'{"type": "event_callback"'
        )
        with sock:
            # Answered while the body is still on its way: Baton did not wait to read it.
            assert _status_line(sock) == "HTTP/1.1 401 Unauthorized"
    finally:
        rb.stop()


def test_a_signed_body_over_the_cap_is_a_413_however_it_is_sent(intake: RunningBaton) -> None:
    rb = intake
    command = slash_command_body("/incident", "P1 model-quality padded")
    body = command + "&padding=" + "x" * MAX_SLACK_BODY
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body, SIGNING_SECRET)}
    data = body.encode()
    said = httpx.post(f"{rb.url}/slack/events", content=data, headers=headers)  # Content-Length
    streamed = httpx.post(  # chunked: nothing says how long it is until it has been read
        f"{rb.url}/slack/events",
        content=iter(data[i : i + 65536] for i in range(0, len(data), 65536)),
        headers=headers,
    )
    for resp in (said, streamed):
        assert resp.status_code == 413
        assert resp.json() == {
            "error": f"the body is larger than {MAX_SLACK_BODY} bytes: no Slack request is"
        }
    assert incidents(rb) == []
    # Just under the cap, the same command is taken.
    assert "Declared" in rb.command("/incident", "P1 model-quality padded").text


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def _flood(port: int, headers: dict[str, str], megabytes: int) -> str:
    """POST `megabytes` MB as one chunked body (or as much as the server reads before it
    answers and hangs up); the answer's status line, or '' when the connection was cut first."""
    chunk = b"x" * (1024 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    with sock:
        lines = ["POST /slack/events HTTP/1.1", f"Host: 127.0.0.1:{port}", "Transfer-Encoding: chunked"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            for _ in range(megabytes):
                sock.sendall(framed)
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # Baton answered and closed the connection: the rest was never read
            pass
        try:
            return _status_line(sock)
        except OSError:
            return ""


def test_a_200_mb_body_does_not_grow_baton_serve(fake_slack: FakeSlack, tmp_path: Path) -> None:
    """The process that serves keeps its size whatever a sender streams at it: unsigned, or
    with fresh-looking signing headers (anyone can write a timestamp), the body is refused on its
    headers or cut at the cap, never held whole."""
    env = serve_env(fake_slack, tmp_path)
    proc = serve(env, tmp_path)
    try:
        port = int(env["PORT"])
        httpx.get(f"http://127.0.0.1:{port}/healthz")
        before = _rss_kb(proc.pid)
        forged = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}
        for headers, answers in (
            ({}, {"", "HTTP/1.1 401 Unauthorized"}),
            (forged, {"", "HTTP/1.1 413 Request Entity Too Large"}),
        ):
            said = _flood(port, {"Content-Type": JSON, **headers}, megabytes=200)
            assert said in answers
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        grown = (_rss_kb(proc.pid) - before) / 1024
        # Without the cap the body was held whole (and parsed): hundreds of MB that stayed.
        assert grown < 40, f"baton serve grew by {grown:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- nesting past the limit is bad input on every endpoint ------------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_deeply_nested_json_is_a_400_on_every_endpoint_and_no_5xx(intake: RunningBaton) -> None:
    rb = intake
    deep = _deep(5000)  # past Python's recursion limit: json.loads itself fails
    just_past = _deep(MAX_DEPTH + 1)  # parsed by json, refused by the limit
    for nested in (deep, just_past):
        for path, token, body in (
            ("/alerts/alertmanager", ALERT_TOKEN, f'{{"version": "4", "groupKey": "g", "alerts": {nested}}}'),
            ("/feedback", FEEDBACK_TOKEN, f'{{"area": "model-quality", "kind": "other", "text": {nested}}}'),
        ):
            resp = httpx.post(
                f"{rb.url}{path}",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": JSON},
            )
            assert resp.status_code == 400, resp.text
            assert f"deeper than {MAX_DEPTH} levels" in resp.json()["error"]
        event = rb.post(f'{{"type": "event_callback", "event": {nested}}}', content_type=JSON)
        form = rb.post(urlencode({"payload": f'{{"type": "block_actions", "actions": {nested}}}'}))
        for resp in (event, form):
            assert resp.status_code == 400, resp.text
            assert resp.json()["error"] == (
                f"the request body is not a Slack payload: the JSON nests lists and objects deeper "
                f"than {MAX_DEPTH} levels"
            )
    metrics = rb.metrics()
    assert 'baton_alert_webhook_requests_total{code="400"} 2.0' in metrics
    assert 'baton_feedback_requests_total{code="400"} 2.0' in metrics
    assert 'code="500"' not in metrics  # the alert webhook's SLI (its 5xx ratio) is untouched
    assert incidents(rb) == []


# -- a signed request is taken once ------------------------------------------------------


def test_a_replayed_signed_request_is_refused_and_runs_once(intake: RunningBaton) -> None:
    rb = intake
    body = slash_command_body("/incident", "P1 model-quality Replayed", user_id="U07SAM0001")
    at = int(time.time())
    first = post_signed(f"{rb.url}/slack/events", body, SIGNING_SECRET, timestamp=at)
    again = post_signed(f"{rb.url}/slack/events", body, SIGNING_SECRET, timestamp=at)
    assert first.status_code == 200 and "Declared" in first.text
    assert again.status_code == 401 and again.json() == {"error": "invalid request"}
    assert len(incidents(rb)) == 1
    # Slack's own resend of the same body is signed anew (a new timestamp): it is a new request.
    later = post_signed(f"{rb.url}/slack/events", body, SIGNING_SECRET, timestamp=at - 1)
    assert later.status_code == 200
    with session(rb.baton.engine) as s:
        assert len(s.exec(select(SlackSignature)).all()) == 2


def test_two_replicas_receiving_one_signed_request_run_it_once(fake_slack: FakeSlack, pg_url: str) -> None:
    a, b = start_baton(fake_slack, pg_url), start_baton(fake_slack, pg_url)
    try:
        body = slash_command_body("/incident", "P1 model-quality Sent twice", user_id="U07SAM0001")
        at = int(time.time())
        barrier = threading.Barrier(2)
        answers: list[int] = []

        def send(rb: RunningBaton) -> None:
            barrier.wait()
            answers.append(
                post_signed(f"{rb.url}/slack/events", body, SIGNING_SECRET, timestamp=at).status_code
            )

        threads = [threading.Thread(target=send, args=(rb,)) for rb in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert sorted(answers) == [200, 401]
        assert len(incidents(a)) == 1
    finally:
        a.stop()
        b.stop()


class Ahead:
    """A replica machine's clock running an hour ahead of the database's and the others'."""

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(hours=1)


def test_a_replica_whose_clock_runs_ahead_does_not_forget_signatures_others_still_accept(
    fake_slack: FakeSlack, pg_url: str
) -> None:
    """Signatures are pruned by the database's clock: a replica an hour ahead, pruning by its
    own, deleted the signature of a request another replica had just taken, and the same
    request replayed there ran again."""
    a = start_baton(fake_slack, pg_url)
    settings = settings_for(fake_slack, pg_url)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    ahead = boot(settings, config, clock=Ahead())
    runner = Runner(ahead, create_app(ahead), host="127.0.0.1", port=0)
    runner.start()
    b = RunningBaton(baton=ahead, runner=runner, fake=fake_slack)
    try:
        body = slash_command_body("/incident", "P1 model-quality Replayed elsewhere", user_id="U07SAM0001")
        at = int(time.time())
        assert post_signed(f"{a.url}/slack/events", body, SIGNING_SECRET, timestamp=at).status_code == 200
        # Any request b takes makes it prune (its first one always does).
        other = slash_command_body("/readiness", "", user_id="U07SAM0001")
        assert post_signed(f"{b.url}/slack/events", other, SIGNING_SECRET).status_code == 200
        again = post_signed(f"{a.url}/slack/events", body, SIGNING_SECRET, timestamp=at)
        assert again.status_code == 401 and again.json() == {"error": "invalid request"}
        assert len(incidents(a)) == 1
    finally:
        a.stop()
        b.stop()


def test_a_30_mb_alert_notification_is_taken_without_growing_baton_serve(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Alertmanager's notification is streamed: the first alerts are kept,
    the rest counted and dropped, so a group of 70,000 alerts is declared from in bounded memory."""
    env = serve_env(fake_slack, tmp_path, BATON_ALERT_TOKEN=ALERT_TOKEN)
    proc = serve(env, tmp_path)
    try:
        url = f"http://127.0.0.1:{env['PORT']}"
        before = _rss_kb(proc.pid)
        alert = {
            "status": "firing",
            "labels": {"alertname": "LLMSuccessRateLow", "area": "model-quality", "instance": "pod"},
            "annotations": {"summary": "Success rate 97.0% is under 99%", "description": "d" * 200},
            "startsAt": "2026-11-29T14:05:00Z",
            "generatorURL": "http://prometheus.example.com/graph?g0.expr=llm",
        }
        alerts = ",".join(json.dumps({**alert, "fingerprint": f"{i:016x}"}) for i in range(70_000))
        body = f'{{"version": "4", "groupKey": "g", "status": "firing", "alerts": [{alerts}]}}'.encode()
        assert len(body) > 30 * 1024 * 1024
        resp = httpx.post(
            f"{url}/alerts/alertmanager",
            content=body,
            headers={"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": JSON},
            timeout=60,
        )
        assert resp.status_code == 200 and resp.json()["action"] == "declared", resp.text
        grown = (_rss_kb(proc.pid) - before) / 1024
        assert grown < 60, f"baton serve grew by {grown:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
