"""Incidents: declare, acknowledge, change severity, status, commander, resolve, reopen.

Each service is one transaction: the incident, its timeline event and the jobs that carry the
change out (pages, channel messages, pager events). Nothing talks to Slack here; the ticker
does, after the commit. This is the module to read for "what happens when someone acknowledges".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.config.durations import format_duration
from bot.config.schema import SEVERITIES
from bot.incidents import paging
from bot.incidents.notes import chunks, incident_note
from bot.incidents.paging import timeline
from bot.incidents.rooms import post
from bot.store import jobs
from bot.store.db import session
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.runtime import Baton

EXAMPLE = "/incident P1 model-quality Hallucination spike on checkout"


class IncidentError(Exception):
    """Bad input or a wrong moment: the message says what was wrong and what would be right."""


def _level(baton: Baton, text: str) -> str:
    key = text.strip().upper()
    if key not in baton.config.severity.levels:
        known = ", ".join(s for s in SEVERITIES if s in baton.config.severity.levels)
        raise IncidentError(f"`{text}` is not a severity: use one of {known}, e.g. `{EXAMPLE}`")
    return key


def _area(baton: Baton, text: str) -> str:
    own = baton.ownership
    key = own.area(text)
    if key is None:
        hint = own.suggest_area(text)
        areas = ", ".join(f"`{a}`" for a in baton.config.ownership.areas)
        did_you_mean = f" Did you mean `{hint}`?" if hint else f" Areas: {areas}."
        raise IncidentError(f"`{text}` is not an area.{did_you_mean} e.g. `{EXAMPLE}`")
    return key


def _rank(level: str) -> int:
    return SEVERITIES.index(level)  # P0 is the most severe


def _get(s: Session, number: int) -> Incident:
    inc = s.get(Incident, number)
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
    if topic:
        jobs.enqueue(s, kind="topic", incident_id=inc.id, due_at=now, now=now)


def _commit(baton: Baton, s: Session) -> None:
    s.commit()
    baton.wake()


def validate_declaration(baton: Baton, *, severity: str, area: str, title: str) -> tuple[str, str, str]:
    """(level, area key, title) or IncidentError; nothing is written."""
    level = _level(baton, severity)
    key = _area(baton, area)
    title = " ".join(title.split())
    if not title:
        raise IncidentError(f"Give the incident a title after the area, e.g. `{EXAMPLE}`")
    return level, key, title


def declare(*, baton: Baton, severity: str, area: str, title: str, reporter: str) -> Incident:
    """Record the incident and everything it will need, in one transaction.

    A paging level gets a channel set-up job, its ladder (one row per page, with due times)
    and its external pager trigger; a backlog level gets a post to backlog_channel.
    """
    level, key, title = validate_declaration(baton, severity=severity, area=area, title=title)
    now = baton.clock.now()
    policy = paging.snapshot(baton, level=level, area=key)
    backlog = policy["notify"] == "backlog" or policy["window_seconds"] is None
    with session(baton.engine) as s:
        inc = Incident(
            title=title,
            area=key,
            severity=level,
            backlog=backlog,
            declared_by=reporter,
            declared_at=now,
            policy=policy,
            commander=None if backlog else baton.ownership.user_id(baton.ownership.raci(key).accountable),
            deadline=None if backlog else now + timedelta(seconds=policy["window_seconds"]),
        )
        s.add(inc)
        s.flush()
        assert inc.id is not None
        timeline(
            s, inc.id, at=now, actor=reporter, kind="declared", text=f"declared {level} in {key}: {title}"
        )
        if backlog:
            channel = baton.config.severity.backlog_channel
            text = (
                f":inbox_tray: Backlog #{inc.id} ({level} {policy['level_name']}, {policy['area_name']}): "
                f"{title} — reported by <@{reporter}>"
            )
            jobs.enqueue(
                s,
                kind="post",
                incident_id=inc.id,
                due_at=now,
                now=now,
                payload={"channel": channel, "text": text},
            )
        else:
            jobs.enqueue(s, kind="setup", incident_id=inc.id, due_at=now, now=now)
            paging.schedule_ladder(s, inc, start=now, now=now)
            paging.enqueue_pager(baton, s, inc, action="trigger", now=now)
        _commit(baton, s)
        return inc


def find_by_channel(*, baton: Baton, channel_id: str) -> Incident | None:
    with session(baton.engine) as s:
        return s.exec(select(Incident).where(col(Incident.channel_id) == channel_id)).first()


def get(*, baton: Baton, number: int) -> Incident:
    with session(baton.engine) as s:
        return _get(s, number)


def list_open(*, baton: Baton) -> list[Incident]:
    with session(baton.engine) as s:
        return list(
            s.exec(select(Incident).where(col(Incident.state) != "resolved").order_by(col(Incident.id))).all()
        )


def timeline_of(*, baton: Baton, number: int) -> list[TimelineEvent]:
    with session(baton.engine) as s:
        _get(s, number)
        return list(
            s.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.incident_id) == number)
                .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
            ).all()
        )


@dataclass(frozen=True)
class Acknowledgement:
    incident: Incident
    already: bool  # someone else got there first; nothing changed
    time_to_ack: timedelta
    within_window: bool | None


def acknowledge(*, baton: Baton, number: int, user: str) -> Acknowledgement:
    """Someone paged takes the incident: every remaining escalation step is cancelled, the time
    to acknowledge is recorded against the window, and the channel and pager hear of it."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{number} is resolved; `/incident reopen` it first.")
        allowed = paging.ladder_users(inc.policy) | {inc.commander}
        if user not in allowed:
            raise IncidentError(
                f"Only people paged for incident #{number} (or its commander) can acknowledge it; "
                f"ask one of them, or have the commander make you commander with `/incident commander @you`."
            )
        # Conditional update: of two simultaneous acks (two replicas, two buttons) exactly one wins.
        result: Any = s.execute(
            update(Incident)
            .where(col(Incident.id) == number, col(Incident.state) == "open")
            .values(
                state="acknowledged",
                acknowledged_by=user,
                acknowledged_at=now,
                ack_within_window=inc.deadline is None or now <= inc.deadline,
            )
        )
        won = result.rowcount == 1
        s.refresh(inc)
        assert inc.acknowledged_at is not None
        ack = Acknowledgement(inc, not won, inc.acknowledged_at - inc.declared_at, inc.ack_within_window)
        if not won:
            return ack
        cancelled = jobs.cancel_ladder(s, incident_id=number)
        window = inc.policy.get("response_time")
        verdict = "inside" if inc.ack_within_window else "outside"
        took = format_duration(timedelta(seconds=round(ack.time_to_ack.total_seconds())))
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="acknowledged",
            text=f"acknowledged after {took}, {verdict} the {window} window",
            say=f":white_check_mark: <@{user}> acknowledged after {took}, {verdict} the {window} window. "
            "Escalation stopped.",
            seconds=ack.time_to_ack.total_seconds(),
            within=inc.ack_within_window,
            cancelled=cancelled,
        )
        paging.enqueue_pager(baton, s, inc, action="acknowledge", now=now)
        _commit(baton, s)
    baton.metrics.time_to_ack.observe(ack.time_to_ack.total_seconds())
    return ack


def change_severity(*, baton: Baton, number: int, severity: str, user: str) -> Incident:
    """Re-plan the window for the new level. An upgrade pages the new level's scope at once;
    a downgrade keeps the remaining steps of the new ladder, timed from now."""
    level = _level(baton, severity)
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{number} is resolved; `/incident reopen` it first.")
        old = inc.severity
        if level == old:
            raise IncidentError(f"Incident #{number} is already {level}.")
        upgrade = _rank(level) < _rank(old)
        policy = paging.snapshot(baton, level=level, area=inc.area)
        inc.severity, inc.policy = level, policy
        backlog = policy["notify"] == "backlog" or policy["window_seconds"] is None
        jobs.cancel_ladder(s, incident_id=number)
        if not backlog:
            if inc.channel_id is None:
                jobs.enqueue(s, kind="setup", incident_id=number, due_at=now, now=now)
            if inc.commander is None:
                inc.commander = baton.ownership.user_id(baton.ownership.raci(inc.area).accountable)
            if inc.state == "open":
                inc.deadline = now + timedelta(seconds=policy["window_seconds"])
                inc.breached = False
                paging.schedule_ladder(s, inc, start=now, now=now, from_step=0 if upgrade else 1)
            elif upgrade:
                # Already acknowledged: still bring the wider scope in, once, without a ladder.
                for step in policy["steps"][:1]:
                    for person in step["notify"]:
                        jobs.enqueue(
                            s,
                            kind="page",
                            incident_id=number,
                            due_at=now,
                            now=now,
                            step=0,
                            payload={
                                "user": person["user"],
                                "ref": person["ref"],
                                "reason": f"upgraded to {level}",
                            },
                        )
            if inc.backlog:
                paging.enqueue_pager(baton, s, inc, action="trigger", now=now)
        else:
            inc.deadline = None
        inc.backlog = backlog
        s.add(inc)
        verb = "raised" if upgrade else "lowered"
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="severity",
            text=f"severity {verb} from {old} to {level}",
            say=f":rotating_light: <@{user}> {verb} the severity from {old} to *{level}* "
            f"({policy['level_name']}).",
            old=old,
            new=level,
        )
        _commit(baton, s)
        return inc


def set_status(*, baton: Baton, number: int, text: str, user: str) -> Incident:
    text = " ".join(text.split())
    if not text:
        raise IncidentError(
            "Say what the status is, e.g. `/incident status Rolled back to prompt v41, watching`"
        )
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        inc.status = text[:500]
        s.add(inc)
        _record(
            s, inc, now=now, actor=user, kind="status", text=text, say=f":memo: Status from <@{user}>: {text}"
        )
        _commit(baton, s)
        return inc


def set_commander(*, baton: Baton, number: int, commander: str, user: str) -> Incident:
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        if inc.commander == commander:
            raise IncidentError(f"<@{commander}> is already the commander of #{number}.")
        old = inc.commander
        inc.commander = commander
        s.add(inc)
        jobs.enqueue(
            s, kind="invite", incident_id=number, due_at=now, now=now, payload={"users": [commander]}
        )
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="commander",
            text=f"commander is now <@{commander}>",
            say=f":sports_medal: <@{user}> made <@{commander}> the incident commander.",
            old=old,
            new=commander,
        )
        _commit(baton, s)
        return inc


def resolve(*, baton: Baton, number: int, summary: str, user: str) -> Incident:
    """Stop everything, record the summary, post the incident note, tell the pager."""
    summary = " ".join(summary.split())
    if not summary:
        raise IncidentError("Say how it was resolved, e.g. `/incident resolve Rolled back prompt v42`")
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{number} is already resolved.")
        inc.state, inc.resolved_at, inc.resolved_by, inc.summary = "resolved", now, user, summary
        s.add(inc)
        jobs.cancel_ladder(s, incident_id=number)
        s.execute(  # pages of an upgrade on an acknowledged incident are not ladder rows
            update(Job)
            .where(col(Job.incident_id) == number, col(Job.kind) == "page", col(Job.state) == "pending")
            .values(state="cancelled")
        )
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="resolved",
            text=f"resolved: {summary}",
            say=f":white_check_mark: <@{user}> resolved the incident: {summary}",
        )
        s.flush()
        for chunk in chunks(incident_note(s, inc), 2900):
            post(s, inc, now=now, text=f"```{chunk}```")
        paging.enqueue_pager(baton, s, inc, action="resolve", now=now)
        _commit(baton, s)
        return inc


def reopen(*, baton: Baton, number: int, user: str) -> Incident:
    """Back to work: acknowledged if it had been (its people are engaged), else open with a new
    window and its ladder from the start."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        if inc.state != "resolved":
            raise IncidentError(f"Incident #{number} is not resolved ({inc.state}); nothing to reopen.")
        inc.resolved_at = inc.resolved_by = inc.summary = None
        if inc.acknowledged_at is not None or inc.backlog:
            inc.state = "acknowledged" if inc.acknowledged_at is not None else "open"
        else:
            inc.state = "open"
            inc.deadline = now + timedelta(seconds=inc.policy["window_seconds"])
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
            say=f":arrows_counterclockwise: <@{user}> reopened the incident.",
        )
        if not inc.backlog:
            paging.enqueue_pager(baton, s, inc, action="trigger", now=now)
        _commit(baton, s)
        return inc


def escalate_now(*, baton: Baton, number: int, user: str) -> str:
    """Bring the next escalation step forward to now; returns what it does."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _get(s, number)
        if inc.state != "open":
            raise IncidentError(f"Incident #{number} is {inc.state}: there is no escalation running.")
        step = s.exec(
            select(Job.step)
            .where(
                col(Job.incident_id) == number,
                col(Job.ladder).is_(True),
                col(Job.state) == "pending",
                col(Job.kind) == "page",
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
        description = next(st["description"] for st in inc.policy["steps"] if st["index"] == step)
        _record(
            s,
            inc,
            now=now,
            actor=user,
            kind="escalated",
            text=f"escalated now to step {step}: {description}",
            say=f":arrow_double_up: <@{user}> escalated now: {description}.",
            topic=False,
        )
        _commit(baton, s)
        return str(description)
