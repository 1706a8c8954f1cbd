"""/metrics keeps drills out of Baton's incident figures: baton_incidents counts
incidents only, and drills have their own gauge, baton_drills. A running Baton, SQLite and
PostgreSQL, read as a scraper reads it."""

from __future__ import annotations

from bot.incidents import services as incidents
from tests.conftest import RunningBaton
from tests.drilling import MAYA, declare_drill


def test_incidents_by_state_do_not_count_drills(running: RunningBaton) -> None:
    baton = running.baton
    incidents.declare(baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=MAYA)
    declare_drill(baton, area="model-quality")
    declare_drill(baton, area="data")
    incidents.resolve(baton=baton, number=3, summary="Rehearsed", user="U07DANA001")
    text = running.metrics()
    assert 'baton_incidents{state="open"} 1.0' in text
    assert 'baton_incidents{state="resolved"} 0.0' in text
    assert 'baton_drills{state="open"} 1.0' in text and 'baton_drills{state="resolved"} 1.0' in text
