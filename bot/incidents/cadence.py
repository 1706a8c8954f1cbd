"""The update cadence: "Status update due" in the incident channel when nobody has posted a
`/incident status` for the level's `update_every:` (severity.yaml).

The timer is a durable "cadence" job, like the ladder's pages: queued by the declaration of a
paging level that has a cadence, moved by each status (`status_posted`), re-planned by a
severity change or a reopen (`replan`, since the cadence follows the current level), and ended
by the resolve (the job finds the incident resolved and queues nothing more). One incident has
at most one pending cadence job (`chain`), the ticker claims a job once across replicas, and
its post goes through bot/store/delivery.py, so a retry, a restart or a second replica never
posts twice. The post and its timeline line ("update_due", which the weekly review counts) and
the next job are written in one transaction.

When it is due: `update_every` after the last status (or the declaration), and never sooner
than `update_every` after the last "update due" post: at most one post per cadence.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from bot.config.ownership import UnknownAreaError
from bot.incidents import messages
from bot.incidents.paging import timeline
from bot.store import delivery, jobs
from bot.store.db import reading, session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from bot.text.spans import format_duration

KIND = "update_due"  # the timeline's kind of the post, counted by the weekly review


class CadencePayload(Payload):
    """The next check of an incident's update cadence."""

    KIND = "cadence"


def every(baton: Baton, inc: Incident) -> timedelta | None:
    """The cadence of the incident's current level; None for a backlog level or none set."""
    if inc.backlog:
        return None
    level = baton.config.severity.levels.get(inc.severity)
    return level.update_every if level is not None else None


def _last_post(s: Session, incident_id: int) -> datetime | None:
    return s.exec(
        select(func.max(TimelineEvent.at)).where(
            col(TimelineEvent.incident_id) == incident_id, col(TimelineEvent.kind) == KIND
        )
    ).one()


def due_at(baton: Baton, s: Session, inc: Incident) -> datetime | None:
    """When the next "update due" post is owed; None when none is (resolved, no cadence)."""
    cadence = every(baton, inc)
    if cadence is None or inc.state == "resolved" or inc.id is None:
        return None
    since = inc.last_status_at or inc.declared_at
    last = _last_post(s, inc.id)
    return max(since, last or since) + cadence


def chain(s: Session, kind: str, incident_id: int, *, due: datetime, now: datetime, payload: Payload) -> None:
    """Queue `payload` unless the incident already has a pending job of `kind`: a timer is one
    chain of jobs, whoever (a retry, a status, the job itself) queues its next link."""
    pending = s.exec(
        select(Job.id).where(
            col(Job.incident_id) == incident_id, col(Job.kind) == kind, col(Job.state) == "pending"
        )
    ).first()
    if pending is None:
        payload.enqueue(s, incident_id=incident_id, due_at=due, now=now)


def cancel(s: Session, kind: str, incident_id: int) -> None:
    s.execute(
        update(Job)
        .where(col(Job.incident_id) == incident_id, col(Job.kind) == kind, col(Job.state) == "pending")
        .values(state="cancelled")
    )


def start(baton: Baton, s: Session, inc: Incident, *, now: datetime) -> None:
    """The declaration's first timer (nothing to cancel or read yet: no query beyond the insert)."""
    cadence = every(baton, inc)
    if cadence is not None:
        CadencePayload().enqueue(s, incident_id=inc.id, due_at=inc.declared_at + cadence, now=now)


def replan(baton: Baton, s: Session, inc: Incident, *, now: datetime) -> None:
    """(Re)start the timer from what the incident is now, in the caller's transaction: on
    declare, a status, a severity change, a reopen. The incident row is locked by the caller."""
    assert inc.id is not None
    if every(baton, inc) is None:
        return  # a pending job finds none and ends; a declaration without one costs no query
    cancel(s, CadencePayload.KIND, inc.id)
    s.flush()
    due = due_at(baton, s, inc)
    if due is not None:
        chain(s, CadencePayload.KIND, inc.id, due=due, now=now, payload=CadencePayload())


def sync(baton: Baton) -> int:
    """Each open incident's timer as the files now say (on start and after a reload): a level
    given `update_every` starts one, a changed cadence moves it. One taken away needs nothing:
    the pending job finds none and ends. Returns how many timers were started or moved."""
    now = baton.clock.now()
    with reading(baton.engine) as s:
        numbers = list(
            s.exec(
                select(Incident.id).where(col(Incident.state) != "resolved", col(Incident.backlog).is_(False))
            ).all()
        )
    moved = 0
    for number in numbers:
        with session(baton.engine) as s:
            inc = s.exec(select(Incident).where(col(Incident.id) == number).with_for_update()).one_or_none()
            if inc is None or inc.id is None or inc.state == "resolved" or every(baton, inc) is None:
                continue
            due = due_at(baton, s, inc)
            timers = s.exec(
                select(Job.due_at, Job.state).where(
                    col(Job.incident_id) == inc.id,
                    col(Job.kind) == CadencePayload.KIND,
                    col(Job.state).in_(["pending", "running"]),
                )
            ).all()
            if any(state == "running" for _, state in timers):
                continue  # a check is running: it queues the next one itself, from the new cadence
            if due is None or [at for at, _ in timers] == [due]:
                continue  # as it was: no row rewritten on every reload
            replan(baton, s, inc, now=now)
            s.commit()
            moved += 1
    if moved:
        baton.wake()
    return moved


def status_posted(baton: Baton, s: Session, inc: Incident, *, now: datetime) -> None:
    """A `/incident status`: the cadence counts from now."""
    inc.last_status_at = now
    s.add(inc)
    replan(baton, s, inc, now=now)


def whom(baton: Baton, inc: Incident) -> str | None:
    """Who is asked: the commander, else whoever acknowledged, else the area's R on-call."""
    if inc.commander:
        return inc.commander
    if inc.acknowledged_by:
        return inc.acknowledged_by
    with suppress(UnknownAreaError):
        return baton.ownership.user_id(baton.ownership.raci(inc.area).oncall)
    return None


def _ago(delta: timedelta) -> str:
    return format_duration(timedelta(minutes=max(0, round(delta.total_seconds() / 60)))) or "0m"


def since(inc: Incident, now: datetime) -> str:
    """ "last one 32m ago", "none yet, declared 30m ago"."""
    if inc.last_status_at is not None:
        return f"last one {_ago(now - inc.last_status_at)} ago"
    return f"none yet, declared {_ago(now - inc.declared_at)} ago"


def text(inc: Incident, *, who: str | None, now: datetime) -> str:
    """ "<@U…> Status update due — last one 32m ago: `/incident status <text>`"."""
    ask = f"{messages.mention(who)} " if who else ""
    return f":hourglass: {ask}Status update due — {since(inc, now)}: `/incident status &lt;text&gt;`"


def run_cadence(baton: Baton, job: Job, payload: CadencePayload) -> None:
    """Post "Status update due" if it is due now; else queue the check for when it will be."""
    now = baton.clock.now()
    with reading(baton.engine) as s:
        inc = s.get(Incident, job.incident_id)
        if inc is None:
            raise jobs.Fail(f"incident {job.incident_id} is gone")
        due = due_at(baton, s, inc)
    assert inc.id is not None
    if due is None:
        return  # resolved, or the level has no cadence (any more): the timer ends here
    if now < due:
        # A status moved it (or a severity change): come back then.
        with session(baton.engine) as s:
            chain(s, CadencePayload.KIND, inc.id, due=due, now=now, payload=CadencePayload())
            s.commit()
        baton.wake()
        return
    if inc.channel_id is None and inc.channel_error is None:
        raise jobs.Defer("the channel is not created yet", after=timedelta(seconds=1))
    who = whom(baton, inc)
    said, last = text(inc, who=who, now=now), since(inc, now)
    cadence = every(baton, inc)
    assert cadence is not None

    def posted(s: Session, ts: str | None) -> None:
        # The record, and the next link of the chain, with the mark that the post went out.
        row = s.exec(select(Incident).where(col(Incident.id) == inc.id).with_for_update()).one()
        timeline(
            s, inc.id or 0, at=now, actor="baton", kind=KIND, text=f"status update due: {last}", user=who
        )
        if row.state != "resolved":
            chain(s, CadencePayload.KIND, inc.id or 0, due=now + cadence, now=now, payload=CadencePayload())

    if inc.channel_id is None:  # set-up gave up: what the channel would say is on the record
        with session(baton.engine) as s:
            posted(s, None)
            s.commit()
    else:
        delivery.post(baton, job, inc.channel_id, text=said, record=posted)
    baton.wake()


def missed(
    s: Session, start: datetime, end: datetime, *, areas: Iterable[str] | None = None
) -> dict[str, int]:
    """Per area, the "update due" posts between `start` and `end` for incidents (never drills)."""
    query = (
        select(Incident.area, func.count())
        .select_from(TimelineEvent)
        .join(Incident, col(Incident.id) == col(TimelineEvent.incident_id))
        .where(
            col(TimelineEvent.kind) == KIND,
            col(TimelineEvent.at) > start,
            col(TimelineEvent.at) <= end,
            col(Incident.drill).is_(False),
        )
        .group_by(col(Incident.area))
    )
    if areas is not None:
        query = query.where(col(Incident.area).in_(list(areas)))
    return {area: n for area, n in s.exec(query).all()}


CADENCE = JobKind(CadencePayload, run_cadence)
HANDLERS = registry(CADENCE)
