"""`nudges.drill` on an injected clock, SQLite and PostgreSQL: a P2 drill of one area at a time
in ownership.yaml's order, announced with a message starting "DRILL" in the area's team channel
(Baton's admins when the team has none), exactly once per due time across replicas: the drill
is declared in the transaction that marks the run done."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.nudges import drill, schedule
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import Incident, Job, NudgeRun
from bot.store.runtime import Baton
from tests.conftest import SHIPPED_OWNERSHIP, page_dms
from tests.dbfaults import refusing
from tests.monitoring.test_slo import Clocked, clocked_baton

ML, PLATFORM, DATA, PRODUCT = "C07MLTEAM", "C07PLATFORM", "C07DATATEAM", "C07PRODUCT"
JONAS = "U07JONAS01"  # the shipped ownership.yaml's admin
ANNOUNCED = "DRILL: the scheduled"  # every message of a drill starts with DRILL; this is the announcement
TO_SUNDAY_11 = timedelta(hours=2)  # from the clocked Sunday 09:00 UTC (London): the drill is due


def with_drill_nudge(tmp_path: Path) -> Path:
    """The shipped ownership.yaml with `nudges.drill: "0 11 * * SUN"`."""
    text = SHIPPED_OWNERSHIP.read_text()
    line = '  handoffs: "0 9 * * *"'
    assert line in text
    path = tmp_path / "ownership.yaml"
    path.write_text(text.replace(line, f'  drill: "0 11 * * SUN"\n{line}'))
    return path


@pytest.fixture
def channels(fake_slack: FakeSlack) -> FakeSlack:
    for name, channel in (("ml-team", ML), ("platform", PLATFORM), ("data-team", DATA), ("product", PRODUCT)):
        fake_slack.add_channel(name, channel_id=channel)
    return fake_slack


@pytest.fixture
def drilling(channels: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[Clocked]:
    c = clocked_baton(channels, db_url, with_drill_nudge(tmp_path))
    yield c
    c.ticker.shutdown()
    c.baton.engine.dispose()


def drills(baton: Baton) -> list[Incident]:
    with session(baton.engine) as s:
        return list(s.exec(select(Incident).where(col(Incident.drill).is_(True)).order_by(col(Incident.id))))


def announcements(fake: FakeSlack, channel: str) -> list[str]:
    return [m["text"] for m in fake.messages(channel) if m["text"].startswith(ANNOUNCED)]


def test_two_replicas_at_the_same_due_time_start_exactly_one_drill(
    channels: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    ownership = with_drill_nudge(tmp_path)
    replicas = [clocked_baton(channels, db_url, ownership) for _ in range(2)]
    try:
        for i, c in enumerate(replicas):
            assert "drill" not in schedule.tick(c.baton, worker=f"r{i}")  # first sight: noted, not run
            c.clock.advance(TO_SUNDAY_11)
        barrier = threading.Barrier(2)
        ran: list[list[str]] = []

        def tick(c: Clocked, worker: str) -> None:
            barrier.wait()
            ran.append(schedule.tick(c.baton, worker=worker))

        threads = [threading.Thread(target=tick, args=(c, f"r{i}")) for i, c in enumerate(replicas)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(r.count("drill") for r in ran) == [0, 1]
        (started,) = drills(replicas[0].baton)
        assert (started.area, started.severity, started.declared_by) == ("model-quality", "P2", drill.STARTER)
        with session(replicas[0].baton.engine) as s:
            runs = [r for r in s.exec(select(NudgeRun).where(col(NudgeRun.name) == "drill")).all()]
            assert sorted(r.state for r in runs) == ["done", "done"]  # first sight, and this one
            setups = s.exec(select(Job).where(col(Job.kind) == "setup")).all()
            assert [j.incident_id for j in setups] == [started.id]
        for c in replicas:  # later ticks on either replica: nothing more
            assert "drill" not in schedule.tick(c.baton, worker="late")
        replicas[0].ticker.run_until_idle()
        (said,) = announcements(channels, ML)
        assert said.startswith(
            f"DRILL: the scheduled P2 drill of *Model / Prompt* starts in 1m as drill #{started.id}"
        )
        assert len(drills(replicas[1].baton)) == 1
        # Announced first: no page before the heads-up has passed, then the ladder's first step.
        assert page_dms(channels) == []
        replicas[0].clock.advance(drill.HEADS_UP)
        replicas[0].ticker.run_until_idle()
        pages = page_dms(channels)
        assert pages and all(str(p.params["text"]).startswith("DRILL") for p in pages)
    finally:
        for c in replicas:
            c.ticker.shutdown()
            c.baton.engine.dispose()


def test_drills_go_round_the_areas_in_file_order_each_announced_in_its_team_channel(
    drilling: Clocked,
) -> None:
    baton, clock, fake = drilling.baton, drilling.clock, drilling.fake
    assert "drill" not in schedule.tick(baton, worker="a")  # first sight
    clock.advance(TO_SUNDAY_11)
    for week in range(6):
        if week:
            clock.advance(timedelta(days=7))
        assert "drill" in schedule.tick(baton, worker="a")
        assert "drill" not in schedule.tick(baton, worker="b")
        drilling.ticker.run_until_idle()
    areas = [d.area for d in drills(baton)]
    assert areas == [*baton.config.ownership.areas, "model-quality"]  # file order, then round again
    assert areas[:5] == ["model-quality", "infra-deploy", "data", "user-experience", "policy-guardrails"]
    assert {d.severity for d in drills(baton)} == {"P2"}
    assert len(announcements(fake, ML)) == 2
    (platform,) = announcements(fake, PLATFORM)
    assert platform.startswith("DRILL: the scheduled P2 drill of *Infra / Deploy*")
    assert len(announcements(fake, DATA)) == 1 and len(announcements(fake, PRODUCT)) == 1
    # Legal has no channel: the admin hears it, and why.
    told = [m["text"] for m in fake.dm_messages(JONAS) if m["text"].startswith(ANNOUNCED)]
    assert len(told) == 1 and "has no `channel` in ownership.yaml" in told[0]
    assert f"drill #{drills(baton)[4].id}" in told[0]


def test_a_drill_run_the_database_breaks_starts_no_drill_then_one_on_its_retry(drilling: Clocked) -> None:
    baton, clock = drilling.baton, drilling.clock
    assert "drill" not in schedule.tick(baton, worker="a")
    clock.advance(TO_SUNDAY_11)

    def job_insert(sql: str, params: object) -> bool:  # after the drill's row is written
        return sql.startswith("INSERT INTO job")

    with refusing(baton.engine, job_insert) as fault:
        assert "drill" not in schedule.tick(baton, worker="a")
    assert fault.refused == 1
    assert drills(baton) == []  # its row went with the transaction: no half-started drill
    clock.advance(schedule.backoff(1))
    assert "drill" in schedule.tick(baton, worker="b")
    assert "drill" not in schedule.tick(baton, worker="a")
    (started,) = drills(baton)
    assert started.area == "model-quality"
    drilling.ticker.run_until_idle()
    assert len(announcements(drilling.fake, ML)) == 1
