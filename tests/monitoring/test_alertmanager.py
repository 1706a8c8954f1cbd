"""POST /alerts/alertmanager through a running Baton, on SQLite and
PostgreSQL: the bearer token, payload validation, one incident per group (also on resends and
across replicas), later firings on the timeline, resolution, evidence, and the endpoint's own
counts on /metrics. The real Alertmanager sending to Baton is in tests/monitoring/test_monitoring_e2e.py."""

from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import col, select

from bot.monitoring import alertstream
from bot.monitoring.links import open_incident
from bot.slack.standin import FakeSlack
from bot.store.db import alembic_config, make_engine, session, upgrade
from bot.store.models import Evidence, Incident, Job, MonitorLink, TimelineEvent
from bot.store.policy import Policy
from tests.conftest import FAST_SEVERITY, RunningBaton, early_incident_table, settle, start_baton
from tests.handlers.test_incident_command import OWNING_TEAM, page_dms, paged_users

TOKEN = "alert-token-0123456789"


@pytest.fixture
def alerting(fake_slack: FakeSlack, db_url: str) -> Iterator[RunningBaton]:
    rb = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY), BATON_ALERT_TOKEN=TOKEN)
    yield rb
    rb.stop()


def alert(
    name: str = "LLMSuccessRateLow", fingerprint: str = "a1", status: str = "firing", **labels: str
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, **labels},
        "annotations": {
            "summary": "Success rate 97.0% is under 99%",
            "description": "Since 14:05; customer jane.doe@corp.example saw it",
        },
        "startsAt": "2026-11-29T14:05:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.com/graph?g0.expr=llm",
        "fingerprint": fingerprint,
    }


def notification(
    *alerts: dict[str, Any],
    status: str = "firing",
    group: str = '{}:{alertname="LLMSuccessRateLow"}',
    **common: str,
) -> dict[str, Any]:
    labels = {"alertname": "LLMSuccessRateLow", **common}
    return {
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "baton",
        "groupLabels": {"alertname": "LLMSuccessRateLow"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "Success rate 97.0% is under 99%"},
        "externalURL": "http://alertmanager.example.com",
        "alerts": list(alerts) or [alert(**common)],
    }


def send(
    rb: RunningBaton, body: Any, *, token: str | None = TOKEN, raw: bytes | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{rb.url}/alerts/alertmanager", content=data, headers=headers, timeout=10)


def incidents(rb: RunningBaton) -> list[Incident]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(Incident).order_by(col(Incident.id))).all())


def timeline(rb: RunningBaton, kind: str) -> list[TimelineEvent]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == kind)).all())


def test_a_firing_group_declares_one_incident_and_pages_its_owners(alerting: RunningBaton) -> None:
    rb = alerting
    body = notification(area="model-quality", severity="P1")
    first = send(rb, body)
    assert first.status_code == 200 and first.json() == {"ok": True, "incident": 1, "action": "declared"}
    (inc,) = incidents(rb)
    assert (inc.area, inc.severity, inc.declared_by) == ("model-quality", "P1", "alertmanager")
    assert inc.title == "LLMSuccessRateLow: Success rate 97.0% is under 99%"
    rb.fake.wait_for(lambda: paged_users(page_dms(rb.fake)) >= OWNING_TEAM, message="owning team paged")
    channel = rb.fake.wait_for(
        lambda: next((c for c in rb.fake.channels.values() if c.name.startswith("inc-")), None)
    )
    # Nobody human declared it: the commander (the area's accountable) is invited all the same.
    rb.fake.wait_for(lambda: "U07MAYA001" in channel.members, message="commander invited")
    assert not [c for c in rb.fake.calls_to("conversations.invite") if not c.ok]
    # Alertmanager resends the same notification (repeat_interval, or after a timeout): nothing new.
    again = send(rb, body)
    assert again.json() == {"ok": True, "incident": 1, "action": "unchanged"}
    assert len(incidents(rb)) == 1 and len(timeline(rb, "alerts")) == 1
    # A second alert of the group starts firing: on the timeline and in the channel.
    more = send(
        rb,
        notification(
            alert(fingerprint="a1"),
            alert("LLMRefusalsHigh", fingerprint="b2"),
            area="model-quality",
            severity="P1",
        ),
    )
    assert more.json() == {"ok": True, "incident": 1, "action": "joined"}
    later = timeline(rb, "alerts")[-1]
    assert later.text == "1 more alert(s) firing: LLMRefusalsHigh"
    rb.fake.wait_for(
        lambda: any(
            "more alert(s) firing" in m["text"]
            for c in rb.fake.channels.values()
            if c.name.startswith("inc-")
            for m in c.messages
        )
    )
    # Resolved: a status update, and the incident stays for a person to resolve.
    done = send(
        rb, notification(alert(status="resolved"), status="resolved", area="model-quality", severity="P1")
    )
    assert done.json() == {"ok": True, "incident": 1, "action": "resolved"}
    (status,) = timeline(rb, "status")
    assert status.actor == "alertmanager" and status.text == "resolved (1 alert(s): LLMSuccessRateLow)"
    assert incidents(rb)[0].state == "open"
    rb.fake.wait_for(
        lambda: any(
            m["text"].startswith(":memo: Status from Alertmanager: resolved") for m in channel.messages
        )
    )


def test_annotations_and_generator_url_become_masked_evidence(alerting: RunningBaton) -> None:
    rb = alerting
    send(rb, notification(area="model-quality", severity="P2"))
    send(rb, notification(area="model-quality", severity="P2"))  # a resend adds no evidence
    settle(rb)
    with session(rb.baton.engine) as s:
        (row,) = s.exec(select(Evidence)).all()
    assert row.kind == "alert" and row.author == "alertmanager"
    assert row.text == "Success rate 97.0% is under 99%\nSince 14:05; customer [email] saw it"
    assert row.link == "http://prometheus.example.com/graph?g0.expr=llm" and row.masked == {"email": 1}
    assert "jane.doe" not in json.dumps([c.params for c in rb.fake.calls])


def test_labels_pick_area_and_level_and_the_defaults_fill_in(alerting: RunningBaton) -> None:
    rb = alerting
    send(rb, notification(area="model", severity="p1", group="g-alias"))  # an alias, lower case
    send(rb, notification(group="g-none"))  # no labels: alerts.default_area infra-deploy, P2
    send(rb, notification(area="nowhere", severity="sev1", group="g-bad"))
    found = [(i.area, i.severity) for i in incidents(rb)]
    assert found == [("model-quality", "P1"), ("infra-deploy", "P2"), ("infra-deploy", "P2")]
    notes = [e.text for e in timeline(rb, "alerts")]
    assert notes[1].endswith("(no area label; no severity label)")
    assert notes[2].endswith("(area label 'nowhere' is not an area; severity label 'sev1' is not P0–P3)")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "the body is not JSON"),
        (b"[1, 2]", "the body is not a JSON object"),
        (json.dumps({**notification(), "version": "3"}).encode(), "payload version '3' is not supported"),
        (
            json.dumps({k: v for k, v in notification().items() if k != "groupKey"}).encode(),
            "groupKey: Field required",
        ),
        (json.dumps({**notification(), "alerts": []}).encode(), "alerts: List should have at least 1 item"),
        (
            json.dumps({**notification(), "status": "exploded"}).encode(),
            "status: Input should be 'firing' or 'resolved'",
        ),
    ],
    ids=["not-json", "not-object", "version-3", "no-group", "no-alerts", "bad-status"],
)
def test_anything_but_a_v4_notification_is_a_400_with_the_reason(
    alerting: RunningBaton, raw: bytes, reason: str
) -> None:
    resp = send(alerting, None, raw=raw)
    assert resp.status_code == 400 and reason in resp.json()["error"], resp.text
    assert incidents(alerting) == []


def test_the_token_is_required_and_large_bodies_are_refused(alerting: RunningBaton) -> None:
    rb = alerting
    for token in (None, "wrong", TOKEN + "x"):
        assert send(rb, notification(), token=token).status_code == 401
    resp = httpx.post(
        f"{rb.url}/alerts/alertmanager", json=notification(), headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert resp.status_code == 401
    # A field that is no part of a notification, past what one could be: bad input.
    big = json.dumps({**notification(), "padding": "x" * (1024 * 1024)}).encode()
    padded = send(rb, None, raw=big)
    assert padded.status_code == 400
    assert padded.json()["error"].startswith("the fields besides `alerts` are larger than 1048576 bytes")
    # A body said to be past what Baton streams is refused before a byte of it is read.
    with socket.create_connection(("127.0.0.1", rb.runner.http.port), timeout=5) as sock:
        sock.sendall(
            b"POST /alerts/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {alertstream.MAX_BODY + 1}\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")
    assert incidents(rb) == []
    metrics = rb.metrics()
    assert 'baton_alert_webhook_requests_total{code="401"} 4.0' in metrics
    assert 'baton_alert_webhook_requests_total{code="400"} 1.0' in metrics
    assert 'baton_alert_webhook_requests_total{code="413"} 1.0' in metrics
    send(rb, notification(area="data"))
    metrics = rb.metrics()
    assert 'baton_alert_webhook_requests_total{code="200"} 1.0' in metrics
    assert "baton_pages_due_total" in metrics and "baton_pages_sent_on_time_total" in metrics


def test_without_a_token_the_endpoint_is_off_and_says_so(
    fake_slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.server")
    rb = start_baton(fake_slack, db_url)
    try:
        assert any("POST /alerts/alertmanager is off" in r.getMessage() for r in caplog.records)
        resp = send(rb, notification(), token=TOKEN)
        assert resp.status_code == 404 and "BATON_ALERT_TOKEN" in resp.json()["error"]
        assert incidents(rb) == []
    finally:
        rb.stop()


def test_a_thousand_alert_group_declares_one_incident(alerting: RunningBaton) -> None:
    rb = alerting
    alerts = [alert(fingerprint=f"{i:016x}", instance=f"pod-{i}") for i in range(1000)]
    resp = send(rb, notification(*alerts, area="model-quality", severity="P2"))
    assert resp.status_code == 200 and resp.json()["action"] == "declared"
    assert len(incidents(rb)) == 1
    (note,) = timeline(rb, "alerts")
    assert note.text.startswith("1000 alert(s) firing")
    settle(rb)
    with session(rb.baton.engine) as s:
        assert len(s.exec(select(Evidence)).all()) == 1  # one annotation set, kept once


def test_two_replicas_receiving_one_notification_declare_once(fake_slack: FakeSlack, db_url: str) -> None:
    env = {"BATON_SEVERITY_FILE": str(FAST_SEVERITY), "BATON_ALERT_TOKEN": TOKEN}
    a, b = start_baton(fake_slack, db_url, **env), start_baton(fake_slack, db_url, **env)
    try:
        body = notification(area="model-quality", severity="P1")
        barrier = threading.Barrier(2)
        answers: list[dict[str, Any]] = []

        def post(rb: RunningBaton) -> None:
            barrier.wait()
            answers.append(send(rb, body).json())

        threads = [threading.Thread(target=post, args=(rb,)) for rb in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert sorted(x["action"] for x in answers) == ["declared", "unchanged"]
        assert {x["incident"] for x in answers} == {1} and len(incidents(a)) == 1
    finally:
        a.stop()
        b.stop()


# -- a group key of any length ---------------------------------------------------


def test_a_group_key_of_any_length_declares_once_and_its_resends_join(alerting: RunningBaton) -> None:
    """Alertmanager's groupKey has no length limit (it holds the route's matchers and the group's
    labels). PostgreSQL refused one over 512 characters with a 500 on every resend; the link now
    stores its digest, and the key itself, masked, for people."""
    rb = alerting
    group = (
        '{}/{area=~"model-quality"}:{alertname="LLMSuccessRateLow", owner="jane.doe@corp.example", '
        + ('instance="pod-0123456789", ' * 40)
        + "}"
    )
    assert len(group) > 1000
    body = notification(area="model-quality", severity="P2", group=group)
    first, again = send(rb, body), send(rb, body)
    assert first.status_code == 200 and first.json()["action"] == "declared", first.text
    assert again.status_code == 200 and again.json() == {"ok": True, "incident": 1, "action": "unchanged"}
    resolved = send(rb, notification(alert(status="resolved"), status="resolved", group=group))
    assert resolved.json() == {"ok": True, "incident": 1, "action": "resolved"}
    with session(rb.baton.engine) as s:
        (link,) = s.exec(select(MonitorLink)).all()
    assert link.key == hashlib.sha256(group.encode()).hexdigest()
    assert link.name.startswith('{}/{area=~"model-quality"}:{alertname="LLMSuccessRateLow", owner="[email]"')
    assert "jane.doe" not in link.name


def test_the_migration_turns_stored_keys_into_digests(db_url: str) -> None:
    """Links written before 0014 (the raw key) are found after it: an alert group's open
    incident is still joined, not declared again."""
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013")
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    incident = early_incident_table()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(incident).values(
                id=1,
                title="old",
                area="model-quality",
                severity="P1",
                state="open",
                backlog=False,
                declared_by="alertmanager",
                declared_at=at,
                policy=Policy(),
                breached=False,
                setup_done=[],
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO monitor_link (source, key, incident_id, state, updated_at) "
                "VALUES ('alertmanager', :key, 1, '{}', :at)"
            ),
            {"key": '{}:{owner="jane.doe@corp.example"}', "at": at},
        )
    upgrade(engine)
    with session(engine) as s:
        (link,) = s.exec(select(MonitorLink)).all()
        assert link.key == hashlib.sha256(b'{}:{owner="jane.doe@corp.example"}').hexdigest()
        assert link.name == '{}:{owner="[email]"}'
        found = open_incident(s, source="alertmanager", key='{}:{owner="jane.doe@corp.example"}')
        assert found is not None and found.id == 1
    engine.dispose()


# -- every field of an alert, masked and mentioning nobody ----------------------

MENTION, BROADCAST, TOKEN_TEXT = "<@U0ATTACKER>", "<!channel>", "xoxb-1234567890-abcdefghijkl"


def _mrkdwn(value: Any) -> Iterator[str]:
    """Every text of a Slack call that Slack reads as markup: `text`, and mrkdwn elements."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str) and value.get("type") != "plain_text":
                yield item
            else:
                yield from _mrkdwn(item)
    elif isinstance(value, list):
        for item in value:
            yield from _mrkdwn(item)


def _stored_text(rb: RunningBaton) -> str:
    """Every row an alert can reach, as text."""
    with session(rb.baton.engine) as s:
        rows = [
            *s.exec(select(Incident)).all(),
            *s.exec(select(TimelineEvent)).all(),
            *s.exec(select(Evidence)).all(),
            *s.exec(select(Job)).all(),
            *s.exec(select(MonitorLink)).all(),
        ]
    return json.dumps([r.model_dump(mode="json") for r in rows])


def test_every_field_of_an_alert_is_masked_and_mentions_nobody(alerting: RunningBaton) -> None:
    """Labels, annotations, the groupKey, the alertnames of later alerts and of the resolution:
    in the database masked, in Slack escaped, and a `<@U…>` in any of them is text, never a
    mention (the treatment /feedback text gets)."""
    rb = alerting
    group = f'{{}}:{{alertname="Hostile", owner="jane.doe@corp.example", who="{MENTION}"}}'

    def hostile(name: str, fingerprint: str, status: str = "firing") -> dict[str, Any]:
        return {
            "status": status,
            "labels": {"alertname": name, "area": "model-quality", "owner": "jane.doe@corp.example"},
            "annotations": {
                "summary": f"Call {MENTION} now {BROADCAST}",
                "description": f"ask <#C0GENERAL> and jane.doe@corp.example; token {TOKEN_TEXT}",
            },
            "generatorURL": "http://prometheus.example.com/graph?g0.expr=up",
            "fingerprint": fingerprint,
        }

    first = hostile(f"Hostile{MENTION}", "a1")
    body = notification(first, group=group, area="model-quality", severity="P2")
    body["commonLabels"] = {"alertname": f"Hostile{MENTION}", "area": "model-quality"}
    body["commonAnnotations"] = first["annotations"]
    assert send(rb, body).json()["action"] == "declared"
    later = notification(first, hostile(f"Second{MENTION}", "b2"), group=group, area="model-quality")
    assert send(rb, later).json()["action"] == "joined"
    done = notification(hostile(f"Second{MENTION}", "b2", "resolved"), group=group, status="resolved")
    assert send(rb, done).json()["action"] == "resolved"
    settle(rb)
    (inc,) = incidents(rb)
    assert inc.title == "Hostile@U0ATTACKER: Call @U0ATTACKER now <!channel>"  # escaped where posted
    with session(rb.baton.engine) as s:
        (row,) = s.exec(select(Evidence)).all()
    assert row.text == "Call @U0ATTACKER now <!channel>\nask #C0GENERAL and [email]; token [slack-token]"
    stored = _stored_text(rb)
    posted = json.dumps([c.params for c in rb.fake.calls])
    for raw in (MENTION, "<#C0GENERAL>", "jane.doe", TOKEN_TEXT):
        assert raw not in stored and raw not in posted, raw
    # Shown as text, pinging nobody (a plain_text header shows it as it is: Slack parses no markup there).
    assert not [t for c in rb.fake.calls for t in _mrkdwn(c.params) if BROADCAST in t]
    assert "&lt;!channel&gt;" in posted
    said = [m["text"] for c in rb.fake.channels.values() if c.name.startswith("inc-") for m in c.messages]
    assert any("1 more alert(s) firing: Second@U0ATTACKER" in t for t in said), said
    assert any("resolved (1 alert(s): Second@U0ATTACKER)" in t for t in said), said


# -- a group of any size is taken, what is not read is said and counted ---------


def test_a_notification_over_a_megabyte_declares_from_its_first_alerts_and_says_how_many_more(
    alerting: RunningBaton,
) -> None:
    """3,000 alerts of an ordinary shape are about 1.3 MB: refused with 413 before (and lost:
    Alertmanager does not retry a 4xx). Baton streams the body, reads the first MAX_ALERTS
    alerts, counts the rest and says so on the timeline and in the channel."""
    rb = alerting
    alerts = [alert(fingerprint=f"{i:016x}", instance=f"pod-{i}") for i in range(3000)]
    body = json.dumps(notification(*alerts, area="model-quality", severity="P2")).encode()
    assert len(body) > 1024 * 1024
    resp = send(rb, None, raw=body)
    assert resp.status_code == 200 and resp.json()["action"] == "declared", resp.text
    (note,) = timeline(rb, "alerts")
    kept, more = alertstream.MAX_ALERTS, 3000 - alertstream.MAX_ALERTS
    assert note.text.startswith(f"{kept} alert(s) firing in group ")
    said = (
        f"; {more} more alert(s) of the group not read "
        f"(Baton read the first {kept} of the notification's 3000)"
    )
    assert note.text.endswith(said)
    assert note.data["cut"] == more
    channel = rb.fake.wait_for(
        lambda: next((c for c in rb.fake.channels.values() if c.name.startswith("inc-")), None)
    )
    rb.fake.wait_for(
        lambda: any(f"{more} more alert(s) of the group not read" in m["text"] for m in channel.messages),
        message="the channel hears how many alerts were not read",
    )
    assert f'baton_alerts_cut_total{{by="baton"}} {more}.0' in rb.metrics()


def test_alertmanagers_truncated_alerts_are_said_and_counted(alerting: RunningBaton) -> None:
    """With max_alerts set (the shipped receiver example), Alertmanager sends the first alerts
    and the number it left out in truncatedAlerts: the timeline and the resolution say so."""
    rb = alerting
    body = notification(alert(fingerprint="a1"), alert(fingerprint="b2"), area="model-quality", severity="P2")
    body["truncatedAlerts"] = 40
    assert send(rb, body).json()["action"] == "declared"
    (note,) = timeline(rb, "alerts")
    assert note.text.endswith(
        "; 40 more alert(s) of the group not read (Alertmanager left out 40 (max_alerts))"
    )
    done = notification(alert(status="resolved"), status="resolved", area="model-quality")
    done["truncatedAlerts"] = 40
    assert send(rb, done).json()["action"] == "resolved"
    (status,) = timeline(rb, "status")
    assert status.text == "resolved (41 alert(s): LLMSuccessRateLow, …)"
    assert 'baton_alerts_cut_total{by="alertmanager"} 80.0' in rb.metrics()


def test_a_notification_in_small_chunks_reads_as_one(alerting: RunningBaton) -> None:
    """The body is read as it arrives: values cut anywhere between chunks (a number, a string,
    an alert) read the same as the body sent at once."""
    rb = alerting
    body = notification(
        alert(fingerprint="a1"), alert("Second", fingerprint="b2"), area="data", severity="P3"
    )
    body["truncatedAlerts"] = 12
    data = json.dumps(body).encode()
    resp = httpx.post(
        f"{rb.url}/alerts/alertmanager",
        content=iter(data[i : i + 7] for i in range(0, len(data), 7)),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 200 and resp.json()["action"] == "declared", resp.text
    (note,) = timeline(rb, "alerts")
    assert note.text.startswith("2 alert(s) firing") and note.data["cut"] == 12
    (inc,) = incidents(rb)
    assert (inc.area, inc.severity) == ("data", "P3")
