"""The announcement (ownership.yaml `announce:`) for the incident births test_announce.py leaves
out: the declare modal, an Alertmanager webhook, the SLO digest (`baton nudge slo`) and a P3
backlog item raised to P1. Each is announced once in the announce channel, and only once after
Baton settles; through a running Baton and the fake Slack, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.standin import FakeSlack
from tests.conftest import (
    BACKLOG_CHANNEL,
    SHIPPED_OWNERSHIP,
    RunningBaton,
    incident_channel,
    settle,
    start_baton,
)
from tests.incidents import test_announce
from tests.incidents.test_announce import (
    ANNOUNCE,
    MAYA,
    announcements,
    command,
    incident,
    shown,
    with_announce,
)
from tests.monitoring import test_alertmanager as am
from tests.monitoring import test_slo
from tests.monitoring.test_slo import ML_CHANNEL, PLATFORM_CHANNEL, PromStandIn, healthy, nudge
from tests.slack_signing import view_submission_body

announcing, prom = test_announce.announcing, test_slo.prom  # the fixtures, reused


def said(post: Any) -> str:
    return str(post.params["text"])


def announced_once(rb: RunningBaton, number: int, severity: str) -> Any:
    """Waits for incident #number's announcement, settles, and checks it was the only one posted
    for it (and that Slack shows one message for it): returns the post."""
    fake = rb.fake

    def mine() -> list[Any]:
        return [c for c in announcements(fake) if f" · #{number} " in said(c)]

    fake.wait_for(mine, message=f"incident #{number} announced")
    settle(rb)
    (post,) = mine()
    assert said(post).startswith(f"{severity} · "), said(post)
    assert f"*{severity} " in str(post.params["blocks"]) and f"*#{number}*" in str(post.params["blocks"])
    assert len([m for m in shown(fake) if f" · #{number} " in str(m.get("text"))]) == 1
    assert incident(rb, number).announce_channel == ANNOUNCE
    assert incident(rb, number).announce_ts == post.response["ts"]
    return post


def picked(value: str) -> dict[str, Any]:
    """A static_select's state in a view_submission."""
    return {
        "value": {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }
    }


def test_an_incident_declared_through_the_modal_is_announced_once(announcing: RunningBaton) -> None:
    rb, fake = announcing, announcing.fake
    resp = rb.command("/incident", "", user_id=MAYA)
    assert resp.status_code == 200, resp.text
    view = fake.wait_for(lambda: fake.opened_views()[-1], message="the declare form opened")
    assert view["callback_id"] == "declare_incident"
    state = {
        "severity": picked("P1"),
        "area": picked("model-quality"),
        "title": {"value": "Answers cite v41"},
    }
    resp = rb.post(view_submission_body("declare_incident", state, user_id=MAYA))
    assert resp.status_code == 200 and not resp.content.strip(), resp.text  # the modal closes
    post = announced_once(rb, 1, "P1")
    assert "Answers cite v41" in said(post)
    assert len(announcements(fake)) == 1


@pytest.fixture
def alerting(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[RunningBaton]:
    """A running Baton announcing P2 and above in #incidents, with POST /alerts/alertmanager on."""
    fake_slack.add_channel("incidents", channel_id=ANNOUNCE)
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    rb = start_baton(
        fake_slack, db_url, BATON_OWNERSHIP_FILE=str(with_announce(ownership)), BATON_ALERT_TOKEN=am.TOKEN
    )
    yield rb
    rb.stop()


def test_an_incident_declared_by_an_alertmanager_webhook_is_announced_once(alerting: RunningBaton) -> None:
    rb, fake = alerting, alerting.fake
    body = am.notification(area="model-quality", severity="P1")
    resp = am.send(rb, body)
    assert resp.status_code == 200 and resp.json() == {"ok": True, "incident": 1, "action": "declared"}
    post = announced_once(rb, 1, "P1")
    assert "LLMSuccessRateLow" in said(post)
    # Alertmanager resends the group, then a second alert of it fires: the incident is joined,
    # its announcement is not posted again.
    assert am.send(rb, body).json()["action"] == "unchanged"
    more = am.notification(
        am.alert(), am.alert("LLMRefusalsHigh", fingerprint="b2"), area="model-quality", severity="P1"
    )
    assert am.send(rb, more).json() == {"ok": True, "incident": 1, "action": "joined"}
    settle(rb)
    assert announcements(fake) == [post]


def test_incidents_the_slo_digest_declares_are_announced_once_each(
    announcing: RunningBaton, db_url: str, prom: PromStandIn
) -> None:
    rb, fake = announcing, announcing.fake
    fake.add_channel("ml-team", channel_id=ML_CHANNEL)
    fake.add_channel("platform-team", channel_id=PLATFORM_CHANNEL)
    healthy(prom)  # model-quality's success rate past alert (P1), infra-deploy's latency (P2)
    ownership = str(rb.baton.settings.ownership_file)  # the running Baton's, announce: and all
    run = nudge(fake, db_url, PROMETHEUS_URL=prom.url, BATON_OWNERSHIP_FILE=ownership)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "declared incident #1 (P1, model-quality)" in run.stdout
    assert "declared incident #2 (P2, infra-deploy)" in run.stdout
    first = announced_once(rb, 1, "P1")
    second = announced_once(rb, 2, "P2")
    assert "success_rate" in said(first) and "latency_p95" in said(second)
    # Still past alert at the next digest: joined, not declared nor announced again.
    again = nudge(fake, db_url, PROMETHEUS_URL=prom.url, BATON_OWNERSHIP_FILE=ownership)
    assert again.returncode == 0 and "not declared again" in again.stdout, again.stdout + again.stderr
    settle(rb)
    assert len(announcements(fake)) == 2 and first in announcements(fake) and second in announcements(fake)


def test_a_p3_raised_to_p1_is_announced_once_then(announcing: RunningBaton) -> None:
    rb, fake = announcing, announcing.fake
    command(rb, "P3 model-quality A typo in the refund answer")  # backlog: below min_severity P2
    fake.wait_for(lambda: fake.messages(BACKLOG_CHANNEL), message="the backlog post")
    settle(rb)
    assert announcements(fake) == [] and incident(rb).announce_channel is None
    command(rb, "sev #1 P1")
    post = announced_once(rb, 1, "P1")
    assert "A typo in the refund answer" in said(post)
    # The raise asked for the channel: the first post waited for it, so it links to it.
    room = incident_channel(fake)
    blocks = str(post.params["blocks"])
    assert f"<#{room.id}>" in blocks and "being set up" not in blocks
    # Further changes edit it; a raise to P0 (another severity change) posts nothing new.
    command(rb, "sev #1 P0")
    command(rb, "ack #1")
    settle(rb)
    assert announcements(fake) == [post] and len(shown(fake)) == 1
    assert shown(fake)[0]["text"].startswith("P0 · ") and "Acknowledged" in shown(fake)[0]["text"]
