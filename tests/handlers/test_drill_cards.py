"""The area's last drill on the cards people ask for, through Slack-signed requests to a running
Baton on SQLite and PostgreSQL: `/owner <area>` and `/readiness <area>` (next to `runbook`) say
"rehearsed: drill #N acknowledged in X of the window on <date>" or "no drill in 90 days", and
`/incident list` marks a drill DRILL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.incidents import services as incidents
from bot.slack.standin import FakeSlack
from tests.conftest import RunningBaton
from tests.drilling import MAYA, declare_drill
from tests.handlers.test_incident_command import reply
from tests.handlers.test_readiness_command import ML_CHANNEL, ask, item_block

LEO = "U07LEO0002"


@pytest.fixture
def drilled(fake_slack: FakeSlack, running: RunningBaton) -> Iterator[RunningBaton]:
    """Drill #1 of model-quality (P2, 4h window), acknowledged by Maya; data never drilled."""
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    declare_drill(running.baton, area="model-quality", title="Game day")
    incidents.acknowledge(baton=running.baton, number=1, user=MAYA)
    yield running


def drills_section(body: dict[str, object]) -> str:
    blocks = body["blocks"]
    assert isinstance(blocks, list)
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    (text,) = [t for t in texts if t.startswith("*Drills*")]
    return str(text)


def test_owner_shows_the_areas_last_drill_or_none_in_90_days(drilled: RunningBaton) -> None:
    body = reply(drilled.command("/owner", "model-quality", user_id=LEO))
    line = drills_section(body)
    assert line.startswith("*Drills* rehearsed: drill #1 acknowledged in ")
    assert " of 4h on <!date^" in line
    assert (
        drills_section(reply(drilled.command("/owner", "data", user_id=LEO)))
        == "*Drills* no drill in 90 days"
    )


def test_the_readiness_card_shows_the_last_drill_next_to_runbook(drilled: RunningBaton) -> None:
    runbook = item_block(ask(drilled, "model-quality"), "runbook")["text"]["text"]
    assert (
        "`runbook`" in runbook
        and "rehearsed: drill #1 acknowledged in " in runbook
        and " of 4h on " in runbook
    )
    other = item_block(ask(drilled, "data"), "runbook")["text"]["text"]
    assert other.endswith("no drill in 90 days")
    dashboard = item_block(ask(drilled, "data"), "dashboard")["text"]["text"]
    assert "drill" not in dashboard  # next to runbook only


def test_incident_list_marks_drills(drilled: RunningBaton) -> None:
    incidents.declare(baton=drilled.baton, severity="P2", area="data", title="Index lag", reporter=LEO)
    listed = reply(drilled.command("/incident", "list", user_id=LEO))
    text = json.dumps(listed["blocks"])
    assert "*#1* *DRILL* P2 `model-quality` Game day" in text
    assert "*#2* P2 `data` Index lag" in text
