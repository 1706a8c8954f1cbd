"""Drills kept apart from monitoring, through a running Baton on SQLite and
PostgreSQL: an alert group never attaches to a drill (not by area, not through a link that
names one), and the product's failure cases neither join an open drill nor count it as the
area's open incident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.monitoring import links
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import MonitorLink, TimelineEvent
from tests.conftest import FAST_SEVERITY, RunningBaton, start_baton
from tests.drilling import declare_drill
from tests.monitoring import test_alertmanager as am
from tests.monitoring import test_feedback as fb


def kinds(rb: RunningBaton, number: int) -> list[str]:
    with session(rb.baton.engine) as s:
        query = select(TimelineEvent.kind).where(col(TimelineEvent.incident_id) == number)
        return list(s.exec(query.order_by(col(TimelineEvent.id))).all())


@pytest.fixture
def alerting(fake_slack: FakeSlack, db_url: str) -> Iterator[RunningBaton]:
    rb = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY), BATON_ALERT_TOKEN=am.TOKEN)
    yield rb
    rb.stop()


def test_an_alert_never_attaches_to_a_drill(alerting: RunningBaton) -> None:
    rb = alerting
    rehearsal = declare_drill(rb.baton, area="model-quality", severity="P1")
    body = am.notification(area="model-quality", severity="P1")
    first = send_ok(rb, body)
    assert first["action"] == "declared" and first["incident"] != rehearsal.id  # the drill's area: its own
    # Even a link that names the drill (a row written by hand, or by an older Baton) is not joined.
    group = body["groupKey"]
    with session(rb.baton.engine) as s:
        link = s.get(MonitorLink, ("alertmanager", links.digest(group)))
        assert link is not None
        link.incident_id = rehearsal.id
        s.add(link)
        s.commit()
        assert links.open_incident(s, source="alertmanager", key=group) is None
    again = send_ok(rb, body)
    assert again["action"] == "declared" and again["incident"] not in (rehearsal.id, first["incident"])
    assert [i.drill for i in am.incidents(rb)] == [True, False, False]
    assert "alerts" not in kinds(rb, rehearsal.id or 0)  # nothing of the alert on the drill


def send_ok(rb: RunningBaton, body: object) -> dict[str, object]:
    resp = am.send(rb, body)
    assert resp.status_code == 200, resp.text
    answer: dict[str, object] = resp.json()
    return answer


@pytest.fixture
def taking(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[RunningBaton]:
    ownership = fb.ownership_with_alert(tmp_path, 3)
    rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership), BATON_FEEDBACK_TOKEN=fb.TOKEN)
    yield rb
    rb.stop()


def test_an_open_drill_is_not_the_areas_incident_for_failure_cases(taking: RunningBaton) -> None:
    rb = taking
    rehearsal = declare_drill(rb.baton, area="model-quality")
    answers = [fb.send(rb, fb.case(text=f"case {i}")).json() for i in (1, 2, 3)]
    # Counted as if no incident were open: the third declares a real one, none joins the drill.
    assert [a["action"] for a in answers] == ["recorded", "recorded", "declared"]
    declared = answers[2]["incident"]
    assert declared != rehearsal.id
    assert [(i.id, i.drill) for i in fb.incidents_of(rb)] == [(rehearsal.id, True), (declared, False)]
    assert fb.feedback_lines(rb, rehearsal.id or 0) == []
    # A link that names the drill is not joined either: the next cases count afresh.
    with session(rb.baton.engine) as s:
        link = s.get(MonitorLink, ("feedback", links.digest("model-quality")))
        assert link is not None
        link.incident_id = rehearsal.id
        s.add(link)
        s.commit()
    later = [fb.send(rb, fb.case(text=f"later {i}")).json() for i in (1, 2)]
    assert later[0]["action"] == "declared" and later[0]["incident"] not in (rehearsal.id, declared)
    assert (later[1]["action"], later[1]["incident"]) == ("joined", later[0]["incident"])
    assert fb.feedback_lines(rb, rehearsal.id or 0) == []
