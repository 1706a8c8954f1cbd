"""The durable job queue on SQLite and PostgreSQL: due times, exclusive claims, leases, cancel."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import select

from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import make_engine, session, upgrade
from bot.store.models import Incident, Job


def _engine(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    upgrade(engine)
    return engine


def _incident(engine, clock: FakeClock) -> int:  # type: ignore[no-untyped-def]
    with session(engine) as s:
        inc = Incident(title="t", area="data", severity="P1", declared_by="U1", declared_at=clock.now())
        s.add(inc)
        s.commit()
        assert inc.id is not None
        return inc.id


def test_only_due_jobs_are_claimed_in_due_order(db_url: str) -> None:
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    with session(engine) as s:
        jobs.enqueue(s, kind="b", due_at=now + timedelta(seconds=1), now=now)
        jobs.enqueue(s, kind="a", due_at=now, now=now)
        jobs.enqueue(s, kind="later", due_at=now + timedelta(hours=1), now=now)
        s.commit()
    assert [j.kind for j in jobs.claim_due(engine, worker="w", now=now, limit=10)] == ["a"]
    clock.advance(timedelta(seconds=2))
    claimed = jobs.claim_due(engine, worker="w", now=clock.now(), limit=10)
    assert [j.kind for j in claimed] == ["b"]
    assert claimed[0].attempts == 1 and claimed[0].state == "running"
    engine.dispose()


def test_concurrent_workers_never_claim_the_same_job(db_url: str) -> None:
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    with session(engine) as s:
        for i in range(60):
            jobs.enqueue(s, kind=f"k{i}", due_at=now, now=now)
        s.commit()
    got: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        mine: list[int] = []
        while True:
            batch = jobs.claim_due(engine, worker=name, now=now, limit=3)
            if not batch:
                break
            mine += [j.id for j in batch if j.id is not None]
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for ids in got.values() for i in ids]
    assert len(all_ids) == 60 and len(set(all_ids)) == 60
    engine.dispose()


def test_an_expired_lease_is_taken_over_and_the_old_worker_cannot_settle(db_url: str) -> None:
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    with session(engine) as s:
        jobs.enqueue(s, kind="k", due_at=now, now=now)
        s.commit()
    (job,) = jobs.claim_due(engine, worker="dead", now=now, limit=1)
    assert jobs.claim_due(engine, worker="other", now=now, limit=1) == []  # lease held
    later = now + jobs.LEASE + timedelta(seconds=1)
    (again,) = jobs.claim_due(engine, worker="other", now=later, limit=1)
    assert again.id == job.id and again.attempts == 2
    assert job.id is not None
    assert jobs.finish(engine, job.id, worker="dead", now=later) is False
    assert jobs.finish(engine, job.id, worker="other", now=later) is True
    engine.dispose()


def test_reschedule_and_defer(db_url: str) -> None:
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    with session(engine) as s:
        jobs.enqueue(s, kind="k", due_at=now, now=now)
        s.commit()
    (job,) = jobs.claim_due(engine, worker="w", now=now, limit=1)
    assert job.id is not None
    jobs.reschedule(engine, job.id, worker="w", retry_at=now + timedelta(seconds=5), error="ratelimited")
    assert jobs.claim_due(engine, worker="w", now=now + timedelta(seconds=4), limit=1) == []
    (job,) = jobs.claim_due(engine, worker="w", now=now + timedelta(seconds=5), limit=1)
    assert job.attempts == 2 and job.last_error == "ratelimited"
    assert job.due_at == now  # still owed since then: lateness and channel order use it
    assert job.id is not None
    jobs.reschedule(engine, job.id, worker="w", retry_at=now, error=None, count=False)  # a deferral
    (job,) = jobs.claim_due(engine, worker="w", now=now + timedelta(seconds=5), limit=1)
    assert job.attempts == 2
    engine.dispose()


def test_cancel_ladder_cancels_only_that_incidents_pending_escalation(db_url: str) -> None:
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    a, b = _incident(engine, clock), _incident(engine, clock)
    with session(engine) as s:
        jobs.enqueue(s, kind="page", incident_id=a, ladder=True, step=1, due_at=now, now=now)
        jobs.enqueue(s, kind="page", incident_id=a, ladder=True, step=2, due_at=now, now=now)
        jobs.enqueue(s, kind="post", incident_id=a, due_at=now, now=now)
        jobs.enqueue(s, kind="page", incident_id=b, ladder=True, step=1, due_at=now, now=now)
        s.commit()
    with session(engine) as s:
        assert jobs.cancel_ladder(s, incident_id=a) == 2
        s.commit()
    with session(engine) as s:
        states = {(j.incident_id, j.kind, j.step): j.state for j in s.exec(select(Job)).all()}
    assert states == {
        (a, "page", 1): "cancelled",
        (a, "page", 2): "cancelled",
        (a, "post", None): "pending",
        (b, "page", 1): "pending",
    }
    engine.dispose()


def test_backoff_grows_and_is_capped() -> None:
    assert [jobs.backoff(n).total_seconds() for n in (1, 2, 3, 4, 9, 10, 20)] == [1, 2, 4, 8, 256, 300, 300]


def test_pages_are_claimed_before_older_channel_work(db_url: str) -> None:
    """A storm leaves more due than there are workers: the pages go first."""
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    inc = _incident(engine, clock)
    with session(engine) as s:
        for _ in range(5):
            jobs.enqueue(s, kind="setup", due_at=now, now=now, incident_id=inc)
        jobs.enqueue(s, kind="notice", due_at=now, now=now, incident_id=inc)
        jobs.enqueue(s, kind="pager", due_at=now + timedelta(seconds=2), now=now, incident_id=inc)
        jobs.enqueue(s, kind="page", due_at=now + timedelta(seconds=1), now=now, incident_id=inc)
        s.commit()
    clock.advance(timedelta(seconds=3))
    first = jobs.claim_due(engine, worker="w", now=clock.now(), limit=2)
    assert [j.kind for j in first] == ["page", "pager"]
    assert [j.kind for j in jobs.claim_due(engine, worker="w", now=clock.now(), limit=10)] == [
        "setup"
    ] * 5 + ["notice"]


def test_a_job_behind_one_waiting_for_its_retry_comes_back_just_after_it(db_url: str) -> None:
    engine, clock = _engine(db_url), FakeClock()
    now = clock.now()
    inc = _incident(engine, clock)
    with session(engine) as s:
        setup = jobs.enqueue(s, kind="setup", due_at=now, now=now, incident_id=inc)
        notice = jobs.enqueue(s, kind="notice", due_at=now, now=now, incident_id=inc)
        s.commit()
        assert setup.id is not None
    (claimed,) = [j for j in jobs.claim_due(engine, worker="w", now=now, limit=10) if j.kind == "setup"]
    # Slack rate-limited the set-up: it runs again in 6 s.
    jobs.reschedule(engine, claimed.id or 0, worker="w", retry_at=now + timedelta(seconds=6), error="429")
    with session(engine) as s:
        try:
            jobs.wait_turn(s, notice, now=now)
        except jobs.Defer as e:
            waited = e.after
        else:
            raise AssertionError("the notice must wait for the set-up")
    # Not every 100 ms for six seconds: once, just after the set-up's retry.
    assert timedelta(seconds=6) < waited <= timedelta(seconds=6, milliseconds=200)
