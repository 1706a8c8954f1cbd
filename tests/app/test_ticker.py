"""A job that raises something no handler means to raise (the database
refusing for a moment, a bug) is a failed try like any other: retried after its backoff (a page
within a second), told of at its first failure whatever its kind, and given up after its tries
in about twenty minutes, not left to its 5-minute lease each time. The ticker's own loop
survives a database that refuses, without stranding what it claimed and without a log line
every 250 ms. On an injected clock and on a running Baton, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.app.ticker import Ticker
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.incidents.paging import NoticePayload, PagerPayload
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.kinds import JobKind
from bot.store.models import Job
from bot.store.outbox import PostPayload
from bot.store.runtime import Baton
from tests.conftest import RunningBaton, incident_channel, page_dms
from tests.dbfaults import on_job_thread, refusing

LEO, MAYA = "U07LEO0002", "U07MAYA001"


def _job(baton: Baton, job_id: int) -> Job:
    with session(baton.engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def test_a_page_whose_read_the_database_refused_goes_a_second_later_and_is_told_of(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, _, clock = clocked
    ticker = Ticker(
        baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure, workers=1
    )
    try:
        # One worker: the page is the first job run (pages are claimed first), and its first
        # read of the incident is refused.
        refused = lambda sql, params: on_job_thread() and "FROM incident" in sql  # noqa: E731
        with refusing(baton.engine, refused) as fault:
            inc = incidents.declare(
                baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
            )
            ticker.run_until_idle()
        assert fault.refused == 1
        assert page_dms(fake_slack) == []
        with session(baton.engine) as s:
            (page,) = s.exec(
                select(Job).where(col(Job.kind) == "page", col(Job.incident_id) == inc.id, col(Job.step) == 0)
            )
        assert (page.state, page.attempts) == ("pending", 1)
        assert page.retry_at is not None and page.retry_at.replace(
            tzinfo=clock.now().tzinfo
        ) == clock.now() + jobs.backoff(1)
        said = [m["text"] for m in fake_slack.messages(incident_channel(fake_slack).id)]
        report = f":warning: Could not page <@{MAYA}> by DM: unexpected OperationalError"
        assert any(t.startswith(report) and "(retrying)" in t for t in said), said
        clock.advance(timedelta(seconds=1))
        ticker.run_until_idle()
        assert [c.params["channel"] for c in page_dms(fake_slack)] == [MAYA]
        assert _job(baton, page.id or 0).state == "done"
    finally:
        ticker.shutdown()


def _settling(sql: str, params: Any) -> bool:
    """The statement that records a job's outcome (done, again later, given up)."""
    return on_job_thread() and sql.lstrip().upper().startswith("UPDATE JOB SET STATE")


def _one_worker(baton: Baton) -> Ticker:
    # One worker: the page is the first job run (pages are claimed first), and whatever the
    # database refuses it refuses to the page.
    return Ticker(
        baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure, workers=1
    )


def test_a_failed_try_is_recorded_however_long_the_database_refuses_within_the_lease(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """The page's read is refused (an unexpected failure), then the record of that failure five
    times, about 3 s with the pauses between: more than the 2 s settling was once tried for,
    after which the page waited out its 5-minute lease."""
    baton, _, clock = clocked
    ticker = _one_worker(baton)
    try:
        read = lambda sql, params: on_job_thread() and "FROM incident" in sql  # noqa: E731
        with refusing(baton.engine, read) as first, refusing(baton.engine, _settling, times=5) as fault:
            inc = incidents.declare(
                baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
            )
            ticker.run_until_idle(timeout=30)
        assert (first.refused, fault.refused) == (1, 5)
        with session(baton.engine) as s:
            (page,) = s.exec(
                select(Job).where(col(Job.kind) == "page", col(Job.incident_id) == inc.id, col(Job.step) == 0)
            )
        assert (page.state, page.attempts) == ("pending", 1)
        clock.advance(jobs.backoff(1))
        ticker.run_until_idle()
        assert [c.params["channel"] for c in page_dms(fake_slack)] == [MAYA]
        assert _job(baton, page.id or 0).state == "done"
    finally:
        ticker.shutdown()


def test_settling_stops_when_the_lease_is_gone_and_the_job_is_taken_over(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    baton, _, clock = clocked
    ticker = _one_worker(baton)
    try:
        read = lambda sql, params: on_job_thread() and "FROM incident" in sql  # noqa: E731
        with refusing(baton.engine, read), refusing(baton.engine, _settling, times=10**6) as fault:
            incidents.declare(
                baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
            )
            assert ticker.tick() >= 1
            fake_slack.wait_for(lambda: fault.refused >= 2 or None, timeout=30)
            assert page_dms(fake_slack) == []
            clock.advance(jobs.LEASE)  # the lease is over: another replica may run the page now
            fake_slack.wait_for(
                lambda: any("its lease ran out" in r.getMessage() for r in caplog.records) or None, timeout=30
            )
        # Another replica takes the page over (its lease is over) and sends it, once.
        other = _one_worker(baton)
        try:
            other.run_until_idle()
        finally:
            other.shutdown()
        assert [c.params["channel"] for c in page_dms(fake_slack)] == [MAYA]
        with session(baton.engine) as s:
            (page,) = s.exec(select(Job).where(col(Job.kind) == "page", col(Job.step) == 0))
        assert (page.state, page.claimed_by) == ("done", other.worker)
    finally:
        ticker.shutdown()


def _buggy(kind: JobKind[Any], ids: dict[str, int], error: type[Exception]) -> JobKind[Any]:
    """`kind` with a bug that strikes the jobs in `ids` (a handler raising where it should not)."""

    def run(baton: Baton, job: Job, payload: Any) -> None:
        if job.id in ids.values():
            raise error("a bug")
        kind.run(baton, job, payload)

    return JobKind(kind.payload, run)


def test_a_bug_in_any_job_is_told_of_at_once_retried_with_backoff_and_given_up_in_twenty_minutes(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """Jobs whose handler has a bug: a channel notice, a pager event, a message, a DM."""
    baton, ticker, clock = clocked
    # Two incidents: each channel's messages go out in order, so one broken message holds up
    # those after it in its channel (until it is given up).
    inc = incidents.declare(
        baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
    )
    other = incidents.declare(baton=baton, severity="P2", area="data", title="Index stale", reporter=LEO)
    ticker.run_until_idle()
    # Both channels are set up side by side: which is created first varies.
    channel, second = (
        fake_slack.channels[incidents.get(baton=baton, number=i.id or 0).channel_id or ""]
        for i in (inc, other)
    )
    now = clock.now()
    broken: dict[str, int] = {}
    ticker.handlers.update(
        {
            "notice": _buggy(paging.NOTICE, broken, TypeError),
            "pager": _buggy(paging.PAGER, broken, KeyError),
            "post": _buggy(rooms.POST, broken, KeyError),
        }
    )
    dm = PostPayload(channel="C07MLTEAM", text="nudge", tell=LEO, about="the test nudge")
    with session(baton.engine) as s:
        for name, payload, incident in (
            ("notice", NoticePayload(users=[LEO], description="x"), inc.id),
            ("pager", PagerPayload(pager="pagerduty", action="trigger"), inc.id),
            ("post", PostPayload(text="x"), other.id),
            ("dm", dm, None),
        ):
            payload.enqueue(s, incident_id=incident, due_at=now, now=now)
            s.flush()
            broken[name] = _last_id(s)
        s.commit()
    ticker.run_until_idle()
    # Told of at the first failure: what could not be said in the channel to the reporter by
    # DM, the pager's failure in the channel, the DM's failure to the one who sent it.
    told = " ".join(m["text"] for m in fake_slack.dm_messages(LEO))
    assert f"Baton could not notice in <#{channel.id}> for incident #1: unexpected TypeError" in told, told
    assert f"Baton could not post in <#{second.id}> for incident #2: unexpected KeyError" in told, told
    assert "Could not send the test nudge to <#C07MLTEAM>: unexpected KeyError" in told, told
    assert {_job(baton, i).attempts for i in broken.values()} == {1}
    # Each try after its backoff (1 s, 2 s, 4 s … 5 min): all tries used within 20 minutes.
    elapsed = timedelta()
    while elapsed < timedelta(minutes=20):
        clock.advance(timedelta(seconds=5))
        elapsed += timedelta(seconds=5)
        ticker.run_until_idle()
    for job_id in broken.values():
        job = _job(baton, job_id)
        assert (job.state, job.attempts) == ("failed", jobs.MAX_ATTEMPTS), job
        assert f"gave up after {jobs.MAX_ATTEMPTS} tries" in (job.last_error or "")
    assert "gave up after 12 tries" in " ".join(m["text"] for m in fake_slack.dm_messages(LEO))
    # The channel's messages keep their order: the pager's reports come after the broken notice.
    said = [
        m["text"]
        for m in fake_slack.messages(channel.id)
        if "External pager pagerduty (trigger) failed" in m["text"]
    ]
    assert len(said) == 2 and "(retrying)" in said[0] and "gave up after 12 tries" in said[1], said


def test_a_job_whose_payload_does_not_fit_is_given_up_at_once_naming_the_field(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """Rows no handler can run (written by a version with a bug): a notice whose people are no
    list, a pager event without its pager, a message without its text. Retrying cannot mend
    them: each is given up at its first try, and its failure said, naming what does not fit."""
    baton, ticker, clock = clocked
    inc = incidents.declare(
        baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=LEO
    )
    ticker.run_until_idle()
    now = clock.now()
    broken: dict[str, int] = {}
    with session(baton.engine) as s:
        for kind, payload in (
            ("notice", {"users": 5}),
            ("pager", {}),
            ("post", {}),
            ("report", {"report": True}),
        ):
            jobs.enqueue(
                s,
                kind=kind.replace("report", "post"),
                incident_id=inc.id,
                due_at=now,
                now=now,
                payload=payload,
            )
            s.flush()
            broken[kind] = _last_id(s)
        s.commit()
    ticker.run_until_idle()
    for kind, field in (("notice", "users"), ("pager", "pager"), ("post", "text")):
        job = _job(baton, broken[kind])
        assert (job.state, job.attempts) == ("failed", 1), job
        assert f"a {kind} job's payload does not fit ({field}:" in (job.last_error or ""), job.last_error
    assert _job(baton, broken["report"]).state == "failed"
    # Each told once; a report that does not fit is never reported in turn (that could loop).
    told = [m["text"] for m in fake_slack.dm_messages(LEO)]
    assert sum("a post job's payload does not fit (text: Field required)" in m for m in told) == 1, told


def _last_id(s: Any) -> int:
    return int(s.exec(select(func.max(col(Job.id)))).one())


def _claimed_rows(sql: str, params: Any) -> bool:
    return threading.current_thread().name == "baton-ticker" and "SELECT job.id, job.kind" in sql


def test_the_tick_loop_survives_a_database_that_refuses_and_strands_nothing(
    running: RunningBaton, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.ticker")
    with refusing(running.baton.engine, _claimed_rows, times=4) as fault:
        resp = running.command("/incident", "P2 model-quality Refusals up", user_id=LEO)
        assert "Declared" in resp.text, resp.text
        # The jobs claimed in a tick that failed are not left to their lease: the first page goes
        # as soon as the database answers again.
        fake_slack.wait_for(lambda: page_dms(fake_slack) or None, timeout=15)
        fake_slack.wait_for(lambda: any("failed ticks" in r.getMessage() for r in caplog.records) or None)
    assert fault.refused == 4
    failed = [r for r in caplog.records if r.getMessage().startswith("tick failed")]
    assert len(failed) == 1 and failed[0].exc_info is not None  # one line with the traceback
    assert any(r.getMessage() == "ticking again after 4 failed ticks" for r in caplog.records)
    assert "baton_tick_failures_total 4.0" in running.baton.metrics.render().decode()
