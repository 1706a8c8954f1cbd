"""An incident whose reporter is no person (Alertmanager, an SLO check, the
product's feedback) and whose channel cannot be created: what the channel would have said, and
the failure report, go to the first who can be reached of the commander, the accountable person
and the team's channel, never to a channel named after the source. Through POST
/alerts/alertmanager of a running Baton, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.slack.standin import FakeSlack
from tests.conftest import FAST_SEVERITY, RunningBaton, settle, start_baton
from tests.monitoring.test_alertmanager import TOKEN, notification, send

MAYA, ML_CHANNEL = "U07MAYA001", "C07MLTEAM"
SETUP_FAILED = ":warning: Could not set up the channel for incident #1"
NO_CHANNEL = "#1 (no channel): :pager: Paging"


@pytest.fixture
def alerting(fake_slack: FakeSlack, db_url: str) -> Iterator[RunningBaton]:
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    # Slack refuses to create any channel, for good: set-up gives up at its first try.
    fake_slack.inject("conversations.create", status=200, error="restricted_action", times=100)
    rb = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY), BATON_ALERT_TOKEN=TOKEN)
    yield rb
    rb.stop()


def texts(messages: list[dict[str, object]]) -> list[str]:
    return [str(m["text"]) for m in messages]


def test_an_alert_incident_without_a_channel_tells_its_commander(
    alerting: RunningBaton, fake_slack: FakeSlack
) -> None:
    resp = send(alerting, notification(area="model-quality", severity="P2"))
    assert resp.status_code == 200, resp.text
    fake_slack.wait_for(lambda: any(NO_CHANNEL in t for t in texts(fake_slack.dm_messages(MAYA))) or None)
    settle(alerting)
    said = texts(fake_slack.dm_messages(MAYA))  # maya: the area's accountable, so its commander
    assert any(t.startswith(SETUP_FAILED) and "restricted_action" in t for t in said), said
    assert any(t.startswith(NO_CHANNEL) for t in said), said
    # Nothing was addressed to the source's name; only the set-up was given up.
    assert not [
        c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == "alertmanager"
    ]
    metrics = alerting.baton.metrics.render().decode()
    assert 'baton_jobs_given_up_total{kind="setup"} 1.0' in metrics
    assert 'given_up_total{kind="notice"}' not in metrics and 'given_up_total{kind="post"}' not in metrics


def test_when_the_commander_cannot_be_reached_the_team_channel_hears_it(
    alerting: RunningBaton, fake_slack: FakeSlack
) -> None:
    # maya (commander and accountable) cannot get DMs about the incident: Slack refuses them.
    fake_slack.inject(
        "chat.postMessage",
        status=200,
        error="user_disabled",
        times=100,
        when=lambda p: p.get("channel") == MAYA and "incident_ack" not in str(p.get("blocks")),
    )
    assert send(alerting, notification(area="model-quality", severity="P2")).status_code == 200
    fake_slack.wait_for(lambda: any(NO_CHANNEL in t for t in texts(fake_slack.messages(ML_CHANNEL))) or None)
    settle(alerting)
    said = texts(fake_slack.messages(ML_CHANNEL))
    assert any(t.startswith(SETUP_FAILED) for t in said), said
    assert any(t.startswith(NO_CHANNEL) for t in said), said
    assert not any(t.startswith((SETUP_FAILED, NO_CHANNEL)) for t in texts(fake_slack.dm_messages(MAYA)))
