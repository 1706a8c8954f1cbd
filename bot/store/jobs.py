"""The durable job queue: rows with a due time, claimed by one worker at a time.

Every piece of later work (a page at T/2, a channel to create, a message to post, a pager event)
is a Job row written in the same transaction as the change that needs it. Claims are
conditional UPDATEs, so several replicas on one PostgreSQL never run the same job twice, and a
claim whose worker died is taken over once its lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.store.db import reading, session
from bot.store.models import Incident, Job

# Long enough for a Slack call that is rate-limited twice; a crashed worker's jobs are
# taken over after it (SQLite, single-process, takes them over at start-up).
LEASE = timedelta(minutes=5)

# Every job ends. A job is given up, and a person told, after MAX_ATTEMPTS tries that failed
# (errors, or a process that died running it; with backoff, about 20 minutes of trying), or
# once it is MAX_LATE past its due time while it waits (a rate limit, a channel not there yet).
# Rate limits and waits are not failed tries: a storm of declarations must not use them up.
MAX_ATTEMPTS = 12
MAX_LATE = timedelta(hours=2)


class Retry(Exception):
    """Try again later: the error is transient (rate limit, 5xx, network)."""

    def __init__(self, error: str, *, after: timedelta | None = None):
        super().__init__(error)
        self.error = error
        self.after = after


class Defer(Exception):
    """Not yet: something this job needs is not there yet (e.g. the channel). Not an attempt."""

    def __init__(self, reason: str, *, after: timedelta = timedelta(milliseconds=200)):
        super().__init__(reason)
        self.after = after


class Fail(Exception):
    """Will never work as it is (unknown user, bad routing key): record and report, don't retry."""


def incident_of(engine: Engine, job: Job) -> Incident:
    """The incident a job is about, as it is now; Fail (not retried) when it is gone."""
    with reading(engine) as s:
        inc = s.get(Incident, job.incident_id)
    if inc is None:
        raise Fail(f"incident {job.incident_id} is gone")
    return inc


def enqueue(
    s: Session,
    *,
    kind: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    incident_id: int | None = None,
    ladder: bool = False,
    step: int | None = None,
) -> Job:
    fields = row(
        kind=kind,
        due_at=due_at,
        now=now,
        payload=payload,
        incident_id=incident_id,
        ladder=ladder,
        step=step,
    )
    job = Job(**fields)
    s.add(job)
    return job


def row(
    *,
    kind: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any] | None = None,
    incident_id: int | None = None,
    ladder: bool = False,
    step: int | None = None,
    retry_at: datetime | None = None,
) -> dict[str, Any]:
    """A job's fields, for `enqueue_rows` (and `enqueue`). `retry_at`: a job due now that waits
    for another of its incident's channel jobs, released when that one ends (release_waiting),
    or at `retry_at` at the latest."""
    return {
        "kind": kind,
        "due_at": due_at,
        "created_at": now,
        "payload": payload or {},
        "incident_id": incident_id,
        "ladder": ladder,
        "step": step,
        "retry_at": retry_at,
        "state": "pending",
        "attempts": 0,
        "delivery": {},
    }


def enqueue_rows(s: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Many jobs in one INSERT, in the caller's transaction. A declaration writes a ladder of
    about two dozen; as ORM objects they cost ~0.25 ms each to build (SQLModel validates every
    attribute), most of the declaration's time."""
    if rows:
        # Core's executemany, not the ORM's bulk insert: the rows are complete, and the ORM's
        # bookkeeping for them cost more than the INSERT. The session's pending rows go first,
        # as the ORM's would: ids give channel jobs their turns (wait_turn), so a set-up queued
        # before a ladder must get the lower id.
        s.flush()
        s.execute(insert(Job.__table__), list(rows))  # type: ignore[attr-defined]


# What reaches people wherever they are: the DM with the Acknowledge button, the external pager.
PAGE_KINDS = ("page", "pager")


def _claimable(now: Any) -> Any:
    # A retry or deferral always lies after the job was first owed, so `due_at <= now` holds for
    # every claimable pending job: it lets ix_job_state_due read only what is due instead of
    # every pending step of every ladder.
    return or_(
        and_(
            col(Job.state) == "pending",
            col(Job.due_at) <= now,
            func.coalesce(col(Job.retry_at), col(Job.due_at)) <= now,
        ),
        and_(col(Job.state) == "running", col(Job.lease_until) < now),
    )


# Pages first: when more is due than there are workers (a storm of declarations, channel set-ups
# retrying after Slack's rate limit), a page never queues behind channel work, neither in the
# claim nor on its way to the workers.
_ORDER = (case((col(Job.kind).in_(PAGE_KINDS), 0), else_=1), col(Job.due_at), col(Job.id))


def _claim_statements() -> tuple[Any, Any]:
    """Which jobs are due (locking them, skipping those another replica is claiming), then one
    UPDATE that claims them all and re-checks that each is still claimable, so a job is claimed
    once even where a lock is not taken (SQLite has one writer). Two statements, not one
    `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`: PostgreSQL may run such a
    subquery more than once and claim more than n. Built once: the ticker claims after every
    job, and building the statements cost more than running them."""
    table = Job.__table__  # type: ignore[attr-defined]
    now = bindparam("now", type_=table.c.due_at.type)
    due = (
        select(Job.id)
        .where(_claimable(now))
        .order_by(*_ORDER)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)  # ignored by SQLite
    )
    claim = (
        update(Job)
        .where(col(Job.id).in_(bindparam("ids", expanding=True)), _claimable(now))
        .values(
            state="running",
            claimed_by=bindparam("worker"),
            lease_until=bindparam("lease_until", type_=table.c.lease_until.type),
            attempts=Job.attempts + 1,
        )
        .returning(col(Job.id))
        .execution_options(synchronize_session=False)
    )
    return due, claim


_DUE, _CLAIM = _claim_statements()


def claim_due(
    engine: Engine, *, worker: str, now: datetime, limit: int, lease: timedelta = LEASE
) -> list[Job]:
    """Claim up to `limit` due jobs, oldest due first; each is claimed by exactly one worker,
    for `lease` of the clock's time (clock.clock_span of LEASE on a fast clock)."""
    if limit <= 0:
        return []
    with session(engine) as s:
        ids = list(s.execute(_DUE, {"now": now, "limit": limit}).scalars())
        if not ids:
            return []
        params = {"ids": ids, "now": now, "worker": worker, "lease_until": now + lease}
        claimed = list(s.execute(_CLAIM, params).scalars())
        if not claimed:
            s.rollback()
            return []
        # Read in the claiming transaction, before it commits: a read that fails afterwards
        # would leave the jobs claimed by a worker that never got them, idle for a whole lease.
        rows = list(s.exec(select(Job).where(col(Job.id).in_(claimed)).order_by(*_ORDER)).all())
        s.commit()
        return rows


def next_due(engine: Engine, *, now: datetime) -> datetime | None:
    """When the next pending job not yet due is owed (retries and deferrals aside): the ticker
    sleeps until then rather than a whole interval."""
    with reading(engine) as s:
        return s.exec(
            select(func.min(Job.due_at)).where(col(Job.state) == "pending", col(Job.due_at) > now)
        ).one()


# Jobs that speak in an incident's channel; they take turns so the channel reads in order.
CHANNEL_KINDS = ("setup", "notice", "post", "topic", "invite")


def wait_turn(s: Session, job: Job, *, now: datetime, kinds: Sequence[str] = CHANNEL_KINDS) -> None:
    """Defer `job` while an earlier job of the same incident and kinds, already due, is unfinished.

    Jobs run concurrently, so without this a message that was rate-limited once would be
    overtaken by the next one. Jobs due later (the rest of the ladder) are not ahead in line.
    """
    if job.incident_id is None:
        return
    ahead = s.exec(
        select(Job.id, Job.retry_at).where(
            col(Job.incident_id) == job.incident_id,
            col(Job.kind).in_(list(kinds)),
            col(Job.id) < job.id,
            col(Job.state).in_(["pending", "running"]),
            col(Job.due_at) <= now,
        )
    ).first()
    if ahead is not None:
        # Behind a job that waits for its retry (a rate-limited channel set-up), come back just
        # after it runs rather than every 100 ms: a storm of incidents whose set-ups Slack
        # rate-limits would otherwise keep the workers claiming waiting jobs, ahead of pages.
        after = timedelta(milliseconds=100)
        retry_at = ahead[1]
        if retry_at is not None:
            after = max(after, retry_at - now + after)
        raise Defer(f"job {ahead[0]} goes first", after=after)


# Jobs that wait for the incident channel (or their turn) without speaking in it: the
# announcement, its thread and the FYI DMs (bot/incidents/announce.py). Released like the above.
AFTER_CHANNEL = ("announce", "announce_thread", "fyi")


def release_waiting(engine: Engine, *, incident_id: int, now: datetime) -> int:
    """Make the incident's channel jobs that deferred (waiting for the channel, or their turn)
    due now: the job they waited for has ended, and a deferral's retry time would make them
    sleep past it. Retries after an error or a rate limit keep their time."""
    with session(engine) as s:
        result = s.execute(
            update(Job)
            .where(
                col(Job.incident_id) == incident_id,
                col(Job.kind).in_([*CHANNEL_KINDS, *AFTER_CHANNEL]),
                col(Job.state) == "pending",
                col(Job.due_at) <= now,
                col(Job.retry_at) > now,
                col(Job.last_error).is_(None),
            )
            .values(retry_at=None)
            .execution_options(synchronize_session=False)
        )
        s.commit()
        return int(result.rowcount)  # type: ignore[attr-defined]


def _settle(engine: Engine, job_id: int, worker: str, **values: Any) -> bool:
    """Update a job this worker still holds; False if its lease was lost to another worker."""
    with session(engine) as s:
        result = s.execute(
            update(Job)
            .where(col(Job.id) == job_id, col(Job.claimed_by) == worker, col(Job.state) == "running")
            .values(**values)
        )
        s.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _finish_statement() -> Any:
    table = Job.__table__  # type: ignore[attr-defined]
    return (
        update(Job)
        .where(
            col(Job.id) == bindparam("job_id"),
            col(Job.claimed_by) == bindparam("worker"),
            col(Job.state) == "running",
        )
        .values(
            state="done",
            done_at=bindparam("now", type_=table.c.done_at.type),
            lease_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )


_FINISH = _finish_statement()  # built once: every job ends here


def finish(engine: Engine, job_id: int, *, worker: str, now: datetime) -> bool:
    """Done; False if the job's lease was lost to another worker."""
    with session(engine) as s:
        result = s.execute(_FINISH, {"job_id": job_id, "worker": worker, "now": now})
        s.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def reschedule(
    engine: Engine, job_id: int, *, worker: str, retry_at: datetime, error: str | None, count: bool = True
) -> bool:
    """Back to pending, to run again at `retry_at`; `due_at` keeps when it was first owed."""
    values: dict[str, Any] = {
        "state": "pending",
        "retry_at": retry_at,
        "lease_until": None,
        "last_error": error,
    }
    if not count:
        values["attempts"] = Job.attempts - 1
    return _settle(engine, job_id, worker, **values)


def fail(engine: Engine, job_id: int, *, worker: str, now: datetime, error: str) -> bool:
    return _settle(engine, job_id, worker, state="failed", done_at=now, lease_until=None, last_error=error)


def cancel_ladder(s: Session, *, incident_id: int, steps: Sequence[int] | None = None) -> int:
    """Cancel the escalation still pending for an incident (all of it, or only some steps)."""
    where = [col(Job.incident_id) == incident_id, col(Job.ladder).is_(True), col(Job.state) == "pending"]
    if steps is not None:
        where.append(col(Job.step).in_(list(steps)))
    result = s.execute(update(Job).where(*where).values(state="cancelled"))
    return int(result.rowcount)  # type: ignore[attr-defined]


def release_all(engine: Engine, *, now: datetime) -> int:
    """At start-up of a single-process (SQLite) Baton: jobs a crash left running run again, after
    the backoff their attempts have earned (a job that kills the process must not loop fast)."""
    with session(engine) as s:
        stuck = s.exec(select(Job).where(col(Job.state) == "running")).all()
        for job in stuck:
            job.state, job.lease_until, job.retry_at = "pending", None, now + backoff(job.attempts)
            job.last_error = "the process running it stopped"
            s.add(job)
        s.commit()
        return len(stuck)


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at five minutes: quick recovery, no hammering of a service that is
    down."""
    return timedelta(seconds=min(300, 2 ** max(0, attempts - 1)))


def late(job: Job, now: datetime) -> timedelta:
    """How long past its due time a job is."""
    return now - job.due_at
