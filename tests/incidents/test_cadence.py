"""The update cadence (severity.yaml `update_every:`, bot/incidents/cadence.py) through the real
services and ticker on an injected clock, where hours pass at once, on both databases: the first
"Status update due" at exactly the cadence, mentioning the commander; a status resets it; at most
one post per cadence; none after resolve; two tickers (and two replicas on PostgreSQL) post once;
a new ticker after a restart, or after a crash mid-job, loses none."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.drills import score
from bot.drills import start as drills
from bot.incidents import cadence, paging, reviews, rooms
from bot.incidents import services as incidents
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from tests.conftest import SHIPPED_OWNERSHIP, SHIPPED_SEVERITY, settings_for
from tests.records.test_export import LEO, MAYA, move_to, settle

DUE = "Status update due"
HANDLERS = {**paging.HANDLERS, **rooms.HANDLERS, **score.HANDLERS, **cadence.HANDLERS, **reviews.HANDLERS}


def told_severity(tmp_path: Path) -> Path:
    """The shipped severity.yaml with P1 `update_every: 30m, review: 5d` and P2 `update_every: 2h`."""
    text = SHIPPED_SEVERITY.read_text()
    text = text.replace("notify: owning-team}", "notify: owning-team, update_every: 30m, review: 5d}")
    text = text.replace("notify: owner}", "notify: owner, update_every: 2h}")
    assert text.count("update_every") >= 2 + SHIPPED_SEVERITY.read_text().count("update_every")
    path = tmp_path / "severity.yaml"
    path.write_text(text)
    return path


def with_cadence(baton: Baton, tmp_path: Path) -> None:
    """The `clocked` Baton on the severity above (as a reload would make it)."""
    baton.config = load_config(ownership_path=SHIPPED_OWNERSHIP, severity_path=told_severity(tmp_path))


@pytest.fixture
def told(clocked: tuple[Baton, Ticker, FakeClock], tmp_path: Path) -> tuple[Baton, Ticker, FakeClock]:
    baton, ticker, clock = clocked
    with_cadence(baton, tmp_path)
    return baton, ticker, clock


def dues(fake: FakeSlack, channel: str | None) -> list[str]:
    assert channel is not None
    said = [str(m.get("text")) for m in fake.messages(channel)]
    return [t for t in said if ":hourglass:" in t[:20] and DUE in t]  # not the resolve's note


def declared(baton: Baton, ticker: Ticker, clock: FakeClock, level: str = "P1") -> Incident:
    inc = incidents.declare(
        baton=baton, severity=level, area="model-quality", title="Slow answers", reporter=LEO
    )
    settle(baton, ticker, clock)
    with session(baton.engine) as s:
        found = s.get(Incident, inc.id)
    assert found is not None and found.channel_id is not None
    return found


def at(baton: Baton, ticker: Ticker, clock: FakeClock, start: datetime, offset: timedelta) -> None:
    move_to(clock, start, offset)
    ticker.run_until_idle()


def recorded(baton: Baton, number: int) -> list[TimelineEvent]:
    with session(baton.engine) as s:
        return list(
            s.exec(
                select(TimelineEvent).where(
                    col(TimelineEvent.incident_id) == number, col(TimelineEvent.kind) == cadence.KIND
                )
            ).all()
        )


def test_the_first_post_comes_at_exactly_the_cadence_a_status_resets_it_and_resolve_ends_it(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    start = clock.now()
    inc = declared(baton, ticker, clock)
    assert inc.id is not None
    at(baton, ticker, clock, start, timedelta(minutes=29, seconds=59))
    assert dues(fake_slack, inc.channel_id) == []
    at(baton, ticker, clock, start, timedelta(minutes=30))
    first = dues(fake_slack, inc.channel_id)
    ask = "`/incident status &lt;text&gt;`"
    assert first == [f":hourglass: <@{MAYA}> Status update due — none yet, declared 30m ago: {ask}"]
    at(baton, ticker, clock, start, timedelta(minutes=59))
    assert len(dues(fake_slack, inc.channel_id)) == 1  # at most once per cadence
    # A status at +59m: the next is due 30m after it, not at +60m.
    incidents.set_status(baton=baton, number=inc.id, text="Rolled back, watching", user=MAYA)
    settle(baton, ticker, clock)
    status_at = clock.now()
    at(baton, ticker, clock, status_at, timedelta(minutes=29))
    assert len(dues(fake_slack, inc.channel_id)) == 1
    at(baton, ticker, clock, status_at, timedelta(minutes=30))
    got = dues(fake_slack, inc.channel_id)
    assert len(got) == 2 and "last one 30m ago" in got[1] and f"<@{MAYA}>" in got[1]
    at(baton, ticker, clock, status_at, timedelta(minutes=60))
    assert len(dues(fake_slack, inc.channel_id)) == 3  # a cadence later, one more
    incidents.resolve(baton=baton, number=inc.id, summary="Fixed", user=MAYA)
    settle(baton, ticker, clock)
    at(baton, ticker, clock, status_at, timedelta(hours=5))
    assert len(dues(fake_slack, inc.channel_id)) == 3
    assert [e.data.get("user") for e in recorded(baton, inc.id)] == [MAYA] * 3
    with session(baton.engine) as s:
        pending = s.exec(
            select(Job).where(col(Job.kind) == cadence.CadencePayload.KIND, col(Job.state) == "pending")
        ).all()
    assert pending == []


def test_the_cadence_follows_the_current_level_and_a_backlog_level_has_none(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    start = clock.now()
    inc = declared(baton, ticker, clock)
    assert inc.id is not None
    at(baton, ticker, clock, start, timedelta(minutes=10))
    incidents.change_severity(baton=baton, number=inc.id, severity="P2", user=MAYA)  # every 2h
    settle(baton, ticker, clock)
    at(baton, ticker, clock, start, timedelta(hours=1, minutes=59))
    assert dues(fake_slack, inc.channel_id) == []
    at(baton, ticker, clock, start, timedelta(hours=2))
    assert dues(fake_slack, inc.channel_id)[0].endswith(
        "none yet, declared 2h ago: `/incident status &lt;text&gt;`"
    )
    incidents.change_severity(baton=baton, number=inc.id, severity="P3", user=MAYA)  # backlog: none
    settle(baton, ticker, clock)
    at(baton, ticker, clock, start, timedelta(hours=8))
    assert len(dues(fake_slack, inc.channel_id)) == 1


def test_the_shipped_severity_has_no_cadence_so_nothing_is_posted(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    start = clock.now()
    inc = declared(baton, ticker, clock)
    at(baton, ticker, clock, start, timedelta(hours=6))
    assert dues(fake_slack, inc.channel_id) == []
    with session(baton.engine) as s:
        assert s.exec(select(Job).where(col(Job.kind) == cadence.CadencePayload.KIND)).all() == []


def test_who_is_asked_the_commander_else_who_acknowledged_else_the_on_call(
    told: tuple[Baton, Ticker, FakeClock],
) -> None:
    baton, _, clock = told
    inc = Incident(title="t", area="model-quality", severity="P1", declared_by=LEO, declared_at=clock.now())
    assert cadence.whom(baton, inc) == MAYA  # ML Team's on-call
    inc.acknowledged_by = "U07OMAR001"
    assert cadence.whom(baton, inc) == "U07OMAR001"
    inc.commander = "U07DANA001"
    assert cadence.whom(baton, inc) == "U07DANA001"


def run_both(tickers: list[Ticker]) -> None:
    """Both tickers at once, each until idle: they race for every due job."""
    threads = [threading.Thread(target=t.run_until_idle) for t in tickers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_tickers_on_one_database_post_once_per_cadence(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    second = Ticker(baton, handlers=HANDLERS, on_failure=rooms.report_failure)
    try:
        start = clock.now()
        inc = declared(baton, ticker, clock)
        for minutes in (30, 45, 60, 61, 90, 120):
            move_to(clock, start, timedelta(minutes=minutes))
            run_both([ticker, second])
        assert len(dues(fake_slack, inc.channel_id)) == 4  # 30m, 60m, 90m, 120m
        assert len(recorded(baton, inc.id or 0)) == 4
    finally:
        second.shutdown()


@pytest.fixture
def two_replicas(fake_slack: FakeSlack, pg_url: str, tmp_path: Path) -> Iterator[list[tuple[Baton, Ticker]]]:
    """Two Batons on one PostgreSQL, on one injected clock, each with its own ticker."""
    clock = FakeClock()
    made = []
    for _ in range(2):
        settings = settings_for(fake_slack, pg_url, BATON_SEVERITY_FILE=str(told_severity(tmp_path)))
        config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
        baton = boot(settings, config, clock=clock)
        made.append((baton, Ticker(baton, handlers=HANDLERS, on_failure=rooms.report_failure)))
    yield made
    for baton, ticker in made:
        ticker.shutdown()
        baton.engine.dispose()


def test_two_replicas_on_postgresql_post_once_per_cadence(
    two_replicas: list[tuple[Baton, Ticker]], fake_slack: FakeSlack
) -> None:
    (one, t1), (two, t2) = two_replicas
    clock = one.clock
    assert isinstance(clock, FakeClock)
    start = clock.now()
    inc = declared(one, t1, clock)
    incidents.set_status(baton=two, number=inc.id or 0, text="Looking", user=MAYA)  # through the other
    for minutes in range(5, 125, 5):
        move_to(clock, start, timedelta(minutes=minutes))
        run_both([t1, t2])
    assert len(dues(fake_slack, inc.channel_id)) == 4  # 30m after the status at +0: 30, 60, 90, 120
    assert all("last one" in d for d in dues(fake_slack, inc.channel_id))


def test_a_restart_or_a_crash_mid_job_loses_no_post(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baton, ticker, clock = told
    start = clock.now()
    inc = declared(baton, ticker, clock)
    incidents.acknowledge(baton=baton, number=inc.id or 0, user=MAYA)  # no ladder left to claim
    settle(baton, ticker, clock)
    ticker.shutdown()
    baton.engine.dispose()  # the process is gone; its pending cadence job is in the database
    settings = settings_for(fake_slack, db_url, BATON_SEVERITY_FILE=str(told_severity(tmp_path)))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    again = boot(settings, config, clock=clock)
    after = Ticker(again, handlers=HANDLERS, on_failure=rooms.report_failure)
    try:
        at(again, after, clock, start, timedelta(minutes=30))
        assert len(dues(fake_slack, inc.channel_id)) == 1
        # A worker claims the next one and dies: once its lease runs out, another posts it, once.
        move_to(clock, start, timedelta(minutes=60))
        claimed = jobs.claim_due(again.engine, worker="dead", now=clock.now(), limit=10)
        assert [j.kind for j in claimed] == [cadence.CadencePayload.KIND]
        after.run_until_idle()
        assert len(dues(fake_slack, inc.channel_id)) == 1  # not yet: the lease holds
        at(again, after, clock, start, timedelta(minutes=60) + jobs.LEASE + timedelta(seconds=1))
        assert len(dues(fake_slack, inc.channel_id)) == 2
        late = timedelta(minutes=60) + jobs.LEASE + timedelta(seconds=1)
        at(again, after, clock, start, timedelta(minutes=90))
        assert len(dues(fake_slack, inc.channel_id)) == 2  # a cadence after the late post, not at 90m
        at(again, after, clock, start, late + timedelta(minutes=30))
        assert len(dues(fake_slack, inc.channel_id)) == 3
    finally:
        after.shutdown()
        again.engine.dispose()


def test_a_drill_is_reminded_as_drill_and_its_misses_stay_out_of_the_count(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    start = clock.now()
    inc = drills.start(baton=baton, severity="P1", area="model-quality", title="Game day", starter=MAYA)
    settle(baton, ticker, clock)
    with session(baton.engine) as s:
        channel = s.get(Incident, inc.id).channel_id  # type: ignore[union-attr]
    at(baton, ticker, clock, start, timedelta(minutes=30))
    (got,) = dues(fake_slack, channel)
    assert got.startswith("DRILL")
    with session(baton.engine) as s:
        assert cadence.missed(s, start, clock.now()) == {}


def test_baton_plan_shows_the_cadence_and_the_review_when_set(tmp_path: Path) -> None:
    from tests.app.test_cli import run

    env = {
        "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
        "BATON_SEVERITY_FILE": str(told_severity(tmp_path)),
    }
    lines = run("plan", "P1", "model-quality", env=env).stdout.splitlines()
    assert "Keeping people told: a status update every 30m; the review due 5d after resolve" in lines
    p2 = run("plan", "P2", "model-quality", env=env).stdout.splitlines()
    assert "Keeping people told: a status update every 2h" in p2
    shipped = run("plan", "P1", "model-quality").stdout
    assert "P1 Core feature failure" in shipped and "Keeping people told" not in shipped


def test_a_reload_that_gives_the_level_a_cadence_times_the_incidents_already_open(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Through a running Baton: declared over signed HTTP on the shipped files (no cadence), then
    severity.yaml gives P1 `update_every: 2s` and Baton reloads (what SIGHUP runs)."""
    from tests.conftest import settle as settle_running
    from tests.conftest import start_baton
    from tests.handlers.test_incident_command import channel_of, declare

    severity = tmp_path / "severity.yaml"
    severity.write_text(SHIPPED_SEVERITY.read_text())
    rb = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(severity))
    try:
        declare(rb, "P1 model-quality Slow answers", user=LEO)
        channel = channel_of(fake_slack)
        settle_running(rb)
        assert dues(fake_slack, channel.id) == []
        severity.write_text(
            SHIPPED_SEVERITY.read_text().replace(
                "notify: owning-team}", "notify: owning-team, update_every: 2s}"
            )
        )
        assert rb.baton.reload() is None
        fake_slack.wait_for(lambda: dues(fake_slack, channel.id) or None, message="status update due")
        assert f"<@{MAYA}> Status update due" in dues(fake_slack, channel.id)[0]
    finally:
        rb.stop()


def test_a_reload_that_shortens_the_cadence_moves_the_pending_timer(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    baton, ticker, clock = told
    start = clock.now()
    inc = declared(baton, ticker, clock)  # P1: every 30m
    path = told_severity(tmp_path).with_name("shorter.yaml")
    path.write_text(told_severity(tmp_path).read_text().replace("update_every: 30m", "update_every: 10m"))
    baton.config = load_config(ownership_path=SHIPPED_OWNERSHIP, severity_path=path)
    assert cadence.sync(baton) == 1
    assert cadence.sync(baton) == 0  # nothing to move a second time
    at(baton, ticker, clock, start, timedelta(minutes=10))
    assert len(dues(fake_slack, inc.channel_id)) == 1
    for minutes in (20, 30):
        at(baton, ticker, clock, start, timedelta(minutes=minutes))
    assert len(dues(fake_slack, inc.channel_id)) == 3  # +10m, +20m, +30m: one per (new) cadence


def test_a_reload_while_a_check_runs_queues_no_second_timer(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """A reload lands while the cadence job is running (between its post and its record): the
    running job queues the next check itself; sync must not queue a twin that would post too."""
    baton, ticker, clock = told
    start = clock.now()
    inc = declared(baton, ticker, clock)
    move_to(clock, start, timedelta(minutes=30))
    running = [
        j for j in jobs.claim_due(baton.engine, worker="w", now=clock.now(), limit=50) if j.kind == "cadence"
    ]
    assert len(running) == 1
    assert cadence.sync(baton) == 0
    with session(baton.engine) as s:
        timers = s.exec(
            select(Job).where(
                col(Job.incident_id) == inc.id, col(Job.kind) == "cadence", col(Job.state) == "pending"
            )
        ).all()
    assert list(timers) == []
