"""Drills in the weekly failure review, SQLite and PostgreSQL: never among an area's incidents,
breaches or still-open incidents, listed apart as "Drills" with how each went (acknowledged
in X of the window, or breached), in the Markdown and in the per-area Slack posts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.incidents import services as incidents
from bot.nudges import review
from bot.slack.standin import FakeSlack
from tests.drilling import declare_drill
from tests.monitoring.test_slo import Clocked, clocked_baton
from tests.nudges.test_review import DATA, LEO, MAYA, ML, pass_time


@pytest.fixture
def drilled(fake_slack: FakeSlack, db_url: str) -> Iterator[Clocked]:
    """From Sunday 2026-11-22 09:00 UTC: drill #1 P1 model-quality acknowledged after 4m (1h
    window); drill #2 P2 data never acknowledged (4h window, breached); incident #3 P1
    model-quality acknowledged after 10m; then 5 hours pass."""
    fake_slack.add_channel("ml-team", channel_id=ML)
    fake_slack.add_channel("data-team", channel_id=DATA)
    c = clocked_baton(fake_slack, db_url)
    b = c.baton
    declare_drill(b, area="model-quality", severity="P1", title="Game day")
    pass_time(c, timedelta(minutes=4))
    incidents.acknowledge(baton=b, number=1, user=MAYA)
    declare_drill(b, area="data", severity="P2", title="Index rehearsal")
    incidents.declare(baton=b, severity="P1", area="model-quality", title="Refusals up", reporter=LEO)
    pass_time(c, timedelta(minutes=10))
    incidents.acknowledge(baton=b, number=3, user=MAYA)
    pass_time(c, timedelta(hours=5))  # past drill #2's 4h window
    yield c
    c.ticker.shutdown()
    c.baton.engine.dispose()


def test_drills_are_not_incidents_of_the_review_but_listed_apart(drilled: Clocked) -> None:
    found = review.review(drilled.baton, now=drilled.clock.now())
    model, data = found.area("model-quality"), found.area("data")
    assert [i.number for i in model.incidents] == [3]
    assert [i.number for i in model.still_open] == [3]
    assert model.breaches == 0
    assert (data.incidents, data.still_open, data.breaches) == ((), (), 0)  # drill #2 is open and breached
    assert [(d.number, d.outcome()) for d in model.drills] == [(1, "acknowledged in 4m of 1h")]
    assert [(d.number, d.outcome()) for d in data.drills] == [(2, "breached (nobody acknowledged within 4h)")]
    assert model.summary() == "1 incident, 1 still open, 1 drill"
    assert data.summary() == "1 drill" and not data.quiet
    assert found.summary() == "1 incident, 1 still open, 2 drills"

    text = found.markdown()
    assert "### This week: 1 incident, 0 breached" in text
    assert "### Drills (not counted above): 1" in text
    assert "- drill #1 P1 model-quality · declared 2026-11-22 09:00 UTC · acknowledged in 4m of 1h" in text
    assert (
        "- drill #2 P2 data · declared 2026-11-22 09:04 UTC · breached (nobody acknowledged within 4h)"
        in text
    )
    assert "#1 P1 Game day" not in text and "#2 P2 Index rehearsal" not in text  # never as incidents


def test_the_posts_show_drills_in_their_own_section(drilled: Clocked) -> None:
    review.run(drilled.baton)
    (ml,) = [m for m in drilled.posts(ML) if m["text"].startswith("Weekly failure review")]
    (data,) = [m for m in drilled.posts(DATA) if m["text"].startswith("Weekly failure review")]
    assert ml["text"] == "Weekly failure review · Model / Prompt: 1 incident, 1 still open, 1 drill"
    sections = [b["text"]["text"] for b in ml["blocks"] if b["type"] == "section"]
    assert sections[0].startswith("*This week*: 1 incident, 0 breached")
    assert "drill #1" not in sections[0] and "Game day" not in json.dumps(ml["blocks"])
    (drills,) = [s for s in sections if s.startswith("*Drills*")]
    assert "drill #1 P1 model-quality" in drills and "acknowledged in 4m of 1h" in drills
    data_sections = [b["text"]["text"] for b in data["blocks"] if b["type"] == "section"]
    assert data_sections[0].startswith("*This week*: 0 incidents, 0 breached")
    assert not any(s.startswith("*Still open*") for s in data_sections)
    assert any("drill #2" in s and "breached" in s for s in data_sections)
