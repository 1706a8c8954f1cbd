"""Every job ends, on an injected clock, on SQLite and PostgreSQL: a job Slack
keeps refusing is tried with backoff, then given up, counted and reported to a person; a job a
dead process left running is tried again after its backoff, and given up once it has used its
tries."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.app.ticker import Ticker
from bot.incidents import services as incidents
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import is_sqlite, session
from bot.store.models import Job
from bot.store.runtime import Baton
from tests.conftest import incident_channel, page_dms

LEO, MAYA, LI, OMAR = "U07LEO0002", "U07MAYA001", "ULIE", "U07OMAR001"


def settle(ticker: Ticker, clock: FakeClock) -> None:
    """Run what is due, then what waited a moment (a deferral is 200 ms of the injected clock)."""
    for _ in range(3):
        ticker.run_until_idle()
        clock.advance(timedelta(seconds=1))
    ticker.run_until_idle()


def _jobs(baton: Baton, **where: object) -> list[Job]:
    with session(baton.engine) as s:
        query = select(Job).where(*(col(getattr(Job, k)) == v for k, v in where.items()))
        return list(s.exec(query.order_by(col(Job.id))).all())


def test_a_page_slack_keeps_refusing_is_given_up_counted_and_reported(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    incidents.declare(baton=baton, severity="P2", area="model", title="Refusals up", reporter=LEO)
    settle(ticker, clock)
    channel = incident_channel(fake_slack)
    # From now on Slack refuses every DM with a transient error (retried by Baton, not slack_sdk).
    fake_slack.inject(
        "chat.postMessage",
        status=200,
        error="internal_error",
        times=10_000,
        when=lambda p: str(p.get("channel", "")).startswith("U"),
    )
    clock.advance(timedelta(hours=2))  # P2's T/2: maya, li and omar are paged again
    ticker.run_until_idle()
    for _ in range(jobs.MAX_ATTEMPTS + 2):
        clock.advance(timedelta(minutes=5))  # longer than any backoff
        ticker.run_until_idle()

    step1 = _jobs(baton, kind="page", step=1)
    assert {j.payload["user"] for j in step1} == {MAYA, LI, OMAR}
    assert {(j.state, j.attempts) for j in step1} == {("failed", jobs.MAX_ATTEMPTS)}
    assert all("gave up after 12 tries" in (j.last_error or "") for j in step1)
    said = [m["text"] for m in fake_slack.messages(channel.id)]
    for user in (MAYA, LI, OMAR):
        reports = [t for t in said if t.startswith(f":warning: Could not page <@{user}> by DM")]
        assert len(reports) == 2, said  # once when it first failed (retrying), once when given up
        assert "(retrying)" in reports[0] and "gave up after 12 tries" in reports[1]
    metrics = baton.metrics.render().decode()
    assert 'baton_jobs_given_up_total{kind="page"} 3.0' in metrics
    assert f'baton_job_retries_total{{kind="page"}} {3.0 * (jobs.MAX_ATTEMPTS - 1)}' in metrics
    assert _jobs(baton, state="pending", step=1) == []


def test_a_job_a_dead_process_left_running_is_retried_with_backoff_then_given_up(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    inc = incidents.declare(baton=baton, severity="P2", area="model", title="Refusals up", reporter=LEO)
    settle(ticker, clock)
    channel = incident_channel(fake_slack)
    now = clock.now()
    left = {}
    with session(baton.engine) as s:
        for user, attempts in ((LI, 1), (OMAR, jobs.MAX_ATTEMPTS)):
            job = Job(
                kind="page",
                incident_id=inc.id,
                payload={"user": user, "ref": user, "reason": "page again"},
                due_at=now,
                created_at=now,
                state="running",
                attempts=attempts,
                claimed_by="dead-host:1:gone",
                lease_until=now - timedelta(seconds=1),
            )
            s.add(job)
            s.flush()
            left[user] = job.id
        s.commit()
    before = len(page_dms(fake_slack))
    if is_sqlite(baton.engine):
        # SQLite is one process: at start-up what the last run left running is released, after
        # the backoff its tries have earned.
        assert jobs.release_all(baton.engine, now=now) == 2
        released = {
            j.payload["user"]: j.retry_at for j in _jobs(baton, state="pending", kind="page", step=None)
        }
        assert released == {LI: now + jobs.backoff(1), OMAR: now + jobs.backoff(jobs.MAX_ATTEMPTS)}
        ticker.run_until_idle()
        assert len(page_dms(fake_slack)) == before  # not before its backoff
        clock.advance(jobs.backoff(jobs.MAX_ATTEMPTS))
    # (On PostgreSQL the expired lease makes them claimable by any replica.)
    settle(ticker, clock)

    retried, last = (_jobs(baton, id=left[u])[0] for u in (LI, OMAR))
    assert (retried.state, retried.attempts) == ("done", 2)
    assert [c.params["channel"] for c in page_dms(fake_slack)[before:]] == [LI]
    assert last.state == "failed" and "tries that never finished" in (last.last_error or "")
    said = [m["text"] for m in fake_slack.messages(channel.id)]
    assert any(t.startswith(f":warning: Could not page <@{OMAR}> by DM") for t in said), said
    assert 'baton_jobs_given_up_total{kind="page"} 1.0' in baton.metrics.render().decode()


def test_a_wait_that_never_ends_is_given_up(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """A job waiting for something (here: a channel whose set-up is rate-limited for hours) ends
    once it is MAX_LATE past its due time, and the reporter hears of it."""
    baton, ticker, clock = clocked
    fake_slack.inject("conversations.create", status=429, retry_after=600, times=10_000)
    incidents.declare(baton=baton, severity="P2", area="model", title="Refusals up", reporter=LEO)
    for _ in range(14):
        ticker.run_until_idle()
        clock.advance(timedelta(minutes=10))
    ticker.run_until_idle()
    (setup,) = _jobs(baton, kind="setup")
    assert setup.state == "failed" and "still rate-limited" in (setup.last_error or "")
    dm = [m["text"] for m in fake_slack.dm_messages(LEO)]
    assert any(t.startswith(":warning: Could not set up the channel for incident #1") for t in dm), dm
    # What waited for the channel went to the reporter instead, and nothing waits any more.
    assert any(t.startswith("#1 (no channel): :pager: Paging") for t in dm), dm
    assert _jobs(baton, state="pending", kind="notice", step=0) == []
