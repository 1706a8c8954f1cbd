"""Incidents: acknowledge, change severity, status, commander, resolve, reopen (and the reads).

This is the module to read for "what happens when someone acknowledges"; a declaration is
bot/incidents/declaration.py's (its names are here too, for the callers). Each service is one
transaction: it locks the incident's row, asks bot/incidents/rules.py whether the person may,
then writes the incident, its timeline event and the jobs that carry the change out (pages,
channel messages, pager events). Nothing talks to Slack here; the ticker does, after the commit.
Row locks (SELECT … FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) make two replicas
acting on one incident take turns, so a ladder is never doubled and a change never lost.

Text people typed is masked (PII, secrets) before it is stored; messages.py escapes it when it
is said in Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from bot.config.fields import SEVERITIES
from bot.incidents import announce, cadence, messages, paging, reviews, rules
from bot.incidents.declaration import (
    EXAMPLE,
    declare,
    declare_in,
    is_backlog,
    level_named,
    validate_declaration,
)
from bot.incidents.errors import IncidentError
from bot.incidents.notes import incident_note
from bot.incidents.paging import timeline
from bot.incidents.rooms import InvitePayload, SetupPayload, TopicPayload, post
from bot.incidents.rules import Action
from bot.store import jobs
from bot.store.db import reading, session
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from bot.text.spans import format_duration
from bot.text.typed import typed

__all__ = ["EXAMPLE", "IncidentError", "declare", "declare_in", "validate_declaration"]


def _rank(level: str) -> int:
    return SEVERITIES.index(level)  # P0 is the most severe


def _get(s: Session, number: int, *, lock: bool = False) -> Incident:
    query = select(Incident).where(col(Incident.id) == number)
    if lock:
        # Two replicas changing one incident take turns; the second sees the first's result.
        query = query.with_for_update()
    inc = s.exec(query).first()
    if inc is None:
        raise IncidentError(f"There is no incident #{number}. `/incident list` shows the open ones.")
    return inc


def _record(
    s: Session,
    inc: Incident,
    *,
    now: datetime,
    actor: str,
    kind: str,
    text: str,
    say: str,
    topic: bool = True,
    **data: Any,
) -> None:
    """A change everyone should see: on the timeline, said in the channel, and in the topic."""
    assert inc.id is not None
    timeline(s, inc.id, at=now, actor=actor, kind=kind, text=text, **data)
    post(s, inc, now=now, text=say)
    if topic and not (inc.backlog and inc.channel_id is None):
        TopicPayload().enqueue(s, incident_id=inc.id, due_at=now, now=now)
    announce.changed(s, inc, kind=kind, actor=actor, text=text, now=now)


def _commit(baton: Baton, s: Session) -> None:
    s.commit()
    baton.wake()


def _has_setup(s: Session, number: int) -> bool:
    """Whether a channel set-up job exists (running, done or given up): never a second channel."""
    return (
        s.exec(
            select(Job.id).where(col(Job.incident_id) == number, col(Job.kind) == "setup").limit(1)
        ).first()
        is not None
    )


def find_by_channel(*, baton: Baton, channel_id: str) -> Incident | None:
    with reading(baton.engine) as s:
        return s.exec(select(Incident).where(col(Incident.channel_id) == channel_id)).first()


def get(*, baton: Baton, number: int) -> Incident:
    with reading(baton.engine) as s:
        return _get(s, number)


def list_open(*, baton: Baton) -> list[Incident]:
    """The open incidents, for lists: without their policy (the ladder snapshot), whose JSON
    was most of the cost of answering `/incident list`; reading it from these raises."""
    with reading(baton.engine) as s:
        return list(
            s.exec(
                select(Incident)
                .where(col(Incident.state) != "resolved")
                .order_by(col(Incident.id))
                .options(defer(Incident.policy, raiseload=True))  # type: ignore[arg-type]
            ).all()
        )


def timeline_of(*, baton: Baton, number: int) -> list[TimelineEvent]:
    with reading(baton.engine) as s:
        _get(s, number)
        return list(
            s.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.incident_id) == number)
                .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
            ).all()
        )


def check(*, baton: Baton, number: int, user: str, action: Action) -> Incident:
    """The incident, if `user` may do `action` to it now; NotAllowed (naming who may) if not.
    For surfaces that ask before they change anything, such as the Resolve button's form."""
    with session(baton.engine) as s:
        inc = _get(s, number)
        rules.check(baton, s, inc, action, user=user, now=baton.clock.now())
        return inc


@dataclass(frozen=True)
class Acknowledgement:
    incident: Incident
    already: bool  # someone else got there first; nothing changed
    time_to_ack: timedelta
    within_window: bool | None


def acknowledge(*, baton: Baton, number: int, user: str) -> Acknowledgement:
    """Someone allowed takes the incident: every remaining escalation step is cancelled, the time
    to acknowledge is recorded against the window, and the channel and pager hear of it."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{number} is resolved; `/incident reopen` it first.")
        rules.check(baton, s, inc, Action.ACKNOWLEDGE, user=user, now=now)
        if inc.state != "open":
            assert inc.acknowledged_at is not None
            started = inc.window_started_at or inc.declared_at
            return Acknowledgement(inc, True, inc.acknowledged_at - started, inc.ack_within_window)
        started = inc.window_started_at or inc.declared_at
        inc.state, inc.acknowledged_by, inc.acknowledged_at = "acknowledged", user, now
        inc.ack_within_window = inc.deadline is None or now <= inc.deadline
        s.add(inc)
        ack = Acknowledgement(inc, False, now - started, inc.ack_within_window)
        cancelled = jobs.cancel_ladder(s, incident_id=number)
        window = inc.policy.response_time
        verdict = "inside" if inc.ack_within_window else "outside"
        took = format_duration(timedelta(seconds=round(ack.time_to_ack.total_seconds())))
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="acknowledged",
            text=f"acknowledged after {took}, {verdict} the {window} window",
            say=messages.acknowledged(user, took=took, verdict=verdict, window=window),
            seconds=ack.time_to_ack.total_seconds(),
            within=inc.ack_within_window,
            cancelled=cancelled,
        )
        paging.enqueue_pager(baton, s, inc, action="acknowledge", now=now)
        _commit(baton, s)
    if not inc.drill:  # a rehearsal is never in Baton's figures
        baton.metrics.time_to_ack.observe(ack.time_to_ack.total_seconds())
    return ack


def change_severity(*, baton: Baton, number: int, severity: str, user: str) -> Incident:
    """Re-plan from this moment.

    Raising, even after an acknowledgement, pages the new level's scope at once, starts a new
    window and puts the incident back to open until someone acknowledges again. Lowering cancels
    the steps the new level would not have: its ladder continues from now without paging its
    first step again (those people, and more, were paged already).
    """
    level = level_named(baton, severity)
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{number} is resolved; `/incident reopen` it first.")
        old = inc.severity
        if level == old:
            raise IncidentError(f"Incident #{number} is already {level}.")
        raised = _rank(level) < _rank(old)
        rules.check(baton, s, inc, Action.RAISE if raised else Action.LOWER, user=user, now=now)
        policy = paging.snapshot(baton, level=level, area=inc.area)
        was_backlog, backlog = inc.backlog, is_backlog(policy)
        cancelled = jobs.cancel_ladder(s, incident_id=number)
        inc.severity, inc.policy, inc.backlog = level, policy, backlog
        if backlog:
            inc.deadline = None
            plan = "Nobody is paged at this level."
        else:
            setting_up = was_backlog and not _has_setup(s, number)
            if setting_up:
                SetupPayload().enqueue(s, incident_id=number, due_at=now, now=now)
            if inc.commander is None:
                inc.commander = baton.ownership.user_id(baton.ownership.raci(inc.area).accountable)
            assert policy.window_seconds is not None  # not a backlog level
            window = timedelta(seconds=policy.window_seconds)
            if raised:
                inc.state, inc.acknowledged_by, inc.acknowledged_at, inc.ack_within_window = (
                    "open",
                    None,
                    None,
                    None,
                )
                inc.window_started_at, inc.deadline, inc.breached = now, now + window, False
                paging.schedule_ladder(s, inc, start=now, now=now, setting_up=setting_up)
                plan = f"Paging the {policy.notify} scope now; respond within {policy.response_time}."
            elif inc.state == "open":
                inc.deadline = now + window
                paging.schedule_ladder(s, inc, start=now, now=now, from_step=1)
                plan = f"Escalation re-planned for a {policy.response_time} window from now."
            else:
                plan = "It stays acknowledged."
            if was_backlog or raised:
                paging.enqueue_pager(baton, s, inc, action="trigger", now=now)
        s.add(inc)
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="severity",
            text=f"severity {'raised' if raised else 'lowered'} from {old} to {level}; {plan}",
            say=messages.severity_changed(
                user, old=old, new=level, level_name=policy.level_name, raised=raised, plan=plan
            ),
            old=old,
            new=level,
            cancelled=cancelled,
        )
        cadence.replan(baton, s, inc, now=now)  # the cadence follows the current level
        _commit(baton, s)
        return inc


def set_status(*, baton: Baton, number: int, text: str, user: str) -> Incident:
    text = typed(text)
    if not text:
        raise IncidentError(
            "Say what the status is, e.g. `/incident status Rolled back to prompt v41, watching`"
        )
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        inc.status = text[:500]
        s.add(inc)
        _record(s, inc, now=now, actor=user, kind="status", text=text, say=messages.status(user, text))
        cadence.status_posted(baton, s, inc, now=now)
        _commit(baton, s)
        return inc


def set_commander(*, baton: Baton, number: int, commander: str, user: str, note: str = "") -> Incident:
    """Hand command on. Only those allowed may (being made commander is not itself the right)."""
    note = typed(note)
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        rules.check(baton, s, inc, Action.COMMANDER, user=user, now=now)
        if inc.commander == commander:
            raise IncidentError(f"<@{commander}> is already the commander of #{number}.")
        old = inc.commander
        inc.commander = commander
        s.add(inc)
        InvitePayload(users=[commander]).enqueue(s, incident_id=number, due_at=now, now=now)
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="commander",
            text=f"commander is now <@{commander}>" + (f": {note}" if note else ""),
            say=messages.commander_changed(user, commander, note),
            old=old,
            new=commander,
        )
        _commit(baton, s)
        return inc


def resolve(*, baton: Baton, number: int, summary: str, user: str) -> Incident:
    """Stop everything (the ladder; what `baton.on_resolve` ends: the incident's action
    requests, bot/actions/ending.py),
    record the summary, post the incident note, tell the pager."""
    summary = typed(summary)
    if not summary:
        raise IncidentError("Say how it was resolved, e.g. `/incident resolve Rolled back prompt v42`")
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{number} is already resolved.")
        rules.check(baton, s, inc, Action.RESOLVE, user=user, now=now)
        inc.state, inc.resolved_at, inc.resolved_by, inc.summary = "resolved", now, user, summary
        s.add(inc)
        jobs.cancel_ladder(s, incident_id=number)
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="resolved",
            text=f"resolved: {summary}",
            say=messages.resolved(user, summary),
        )
        # Its action requests end here, in this transaction: none is approved or called after.
        baton.on_resolve(s, inc, now)
        s.flush()
        post(s, inc, now=now, text=messages.resolve_note(number, incident_note(s, inc)))
        paging.enqueue_pager(baton, s, inc, action="resolve", now=now)
        reviews.on_resolve(baton, s, inc, now=now)  # the review's due date, the commander's DM
        _commit(baton, s)
        return inc


def reopen(*, baton: Baton, number: int, user: str) -> Incident:
    """Back to work: acknowledged if it had been (its people are engaged), else open with a new
    window and its ladder from the start."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        if inc.state != "resolved":
            raise IncidentError(f"Incident #{number} is not resolved ({inc.state}); nothing to reopen.")
        rules.check(baton, s, inc, Action.REOPEN, user=user, now=now)
        inc.resolved_at = inc.resolved_by = inc.summary = None
        paging_again = inc.acknowledged_at is None and not inc.backlog
        if not paging_again:
            inc.state = "acknowledged" if inc.acknowledged_at is not None else "open"
        else:
            inc.state = "open"
            inc.window_started_at = now
            assert inc.policy.window_seconds is not None  # not a backlog level
            inc.deadline = now + timedelta(seconds=inc.policy.window_seconds)
            inc.breached = False
            paging.schedule_ladder(s, inc, start=now, now=now)
        s.add(inc)
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="reopened",
            text=f"reopened ({inc.state})",
            say=messages.reopened(user, inc.state, paging=paging_again),
        )
        if not inc.backlog:
            paging.enqueue_pager(baton, s, inc, action="trigger", now=now)
        cadence.replan(baton, s, inc, now=now)
        _commit(baton, s)
        return inc


def escalate_now(*, baton: Baton, number: int, user: str) -> str:
    """Bring the next escalation step forward to now; returns what it does."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number, lock=True)
        if inc.state != "open":
            raise IncidentError(f"Incident #{number} is {inc.state}: there is no escalation running.")
        rules.check(baton, s, inc, Action.ESCALATE, user=user, now=now)
        step = s.exec(
            select(Job.step)
            .where(
                col(Job.incident_id) == number,
                col(Job.ladder).is_(True),
                col(Job.state) == "pending",
                col(Job.kind) == "page",
                col(Job.due_at) > now,
            )
            .order_by(col(Job.due_at))
            .limit(1)
        ).first()
        if step is None:
            raise IncidentError(f"Every step of #{number}'s escalation has been paged already.")
        s.execute(
            update(Job)
            .where(
                col(Job.incident_id) == number,
                col(Job.ladder).is_(True),
                col(Job.state) == "pending",
                col(Job.step) == step,
                col(Job.kind).in_(["page", "notice"]),
            )
            .values(due_at=now, retry_at=None)
        )
        description = next(st.description for st in inc.policy.steps if st.index == step)
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="escalated",
            text=f"escalated now to step {step}: {description}",
            say=messages.escalated(user, description),
            topic=False,
        )
        _commit(baton, s)
        return str(description)
