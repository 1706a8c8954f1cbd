"""An area's last drill as the readiness card and `/owner` show it (bot/readiness/drills.py), on
an injected clock, SQLite and PostgreSQL: acknowledged in X of the window, breached (with or
without a late acknowledgement), the newest drill of the area, and "no drill in 90 days" when
the last one is older or there is none; real incidents are never taken for drills."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from bot.incidents import services as incidents
from bot.readiness import drills
from bot.slack.standin import FakeSlack
from tests.drilling import MAYA, declare_drill
from tests.monitoring.test_slo import Clocked, clocked_baton
from tests.nudges.test_review import pass_time


def utc(ts: datetime) -> str:
    return f"{ts:%Y-%m-%d %H:%M} UTC"


@pytest.fixture
def c(fake_slack: FakeSlack, db_url: str) -> Iterator[Clocked]:
    c = clocked_baton(fake_slack, db_url)  # Sunday 2026-11-22 09:00 UTC
    yield c
    c.ticker.shutdown()
    c.baton.engine.dispose()


def said(c: Clocked, area: str) -> str:
    return drills.rehearsal(baton=c.baton, area=area).text(utc)


def test_an_area_never_drilled_says_so_and_incidents_are_not_drills(c: Clocked) -> None:
    incidents.declare(baton=c.baton, severity="P1", area="model-quality", title="Refusals up", reporter=MAYA)
    pass_time(c, timedelta(minutes=5))
    incidents.acknowledge(baton=c.baton, number=1, user=MAYA)
    assert said(c, "model-quality") == "no drill in 90 days"
    assert drills.rehearsal(baton=c.baton, area="model-quality").last is None


def test_the_last_drill_acknowledged_breached_and_ninety_days_on(c: Clocked) -> None:
    declare_drill(c.baton, area="model-quality", severity="P1")  # #1, 1h window
    pass_time(c, timedelta(minutes=4))
    incidents.acknowledge(baton=c.baton, number=1, user=MAYA)
    assert said(c, "model-quality") == "rehearsed: drill #1 acknowledged in 4m of 1h on 2026-11-22 09:00 UTC"

    declare_drill(c.baton, area="data")  # #2, P2: 4h, nobody answers
    pass_time(c, timedelta(hours=5))
    assert said(c, "data") == (
        "rehearsed: drill #2 breached (nobody acknowledged within 4h) on 2026-11-22 09:04 UTC"
    )
    assert said(c, "model-quality").startswith("rehearsed: drill #1 ")  # each area its own

    declare_drill(c.baton, area="model-quality", severity="P1")  # #3: acknowledged late
    pass_time(c, timedelta(minutes=90))
    incidents.acknowledge(baton=c.baton, number=3, user=MAYA)
    assert said(c, "model-quality") == (
        "rehearsed: drill #3 breached (acknowledged after 1h30m of 1h) on 2026-11-22 14:04 UTC"
    )
    assert said(c, "infra-deploy") == "no drill in 90 days"

    c.clock.advance(timedelta(days=90))  # #3 was declared 90 days and 90 minutes ago
    assert said(c, "model-quality") == "no drill in 90 days"
    assert said(c, "data") == "no drill in 90 days"
