"""Paging: the escalation ladder turned into job rows, and the jobs that page people.

At declaration the ladder (bot/incidents/ladder.py) is snapshotted into the incident's policy and every
page it will send becomes a Job row with its due time: one per person per step, one channel
notice per step, a breach row at T. An acknowledgement cancels the rows still pending
(bot/incidents/services.py); the ticker sends the rest when they come due, across restarts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.incidents import messages, recipients
from bot.incidents.ladder import plan_ladder
from bot.slack import pagers
from bot.slack.pagers import Action as PagerAction
from bot.slack.pagers import PagerEvent, configured, pagers_for
from bot.store import delivery, jobs, outbox
from bot.store.db import reading, session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.outbox import PostPayload
from bot.store.policy import Group, Paged, Policy, Step
from bot.store.runtime import Baton
from bot.text import drill
from bot.text.spans import format_duration

log = logging.getLogger(__name__)

PAGE_ON_TIME = timedelta(seconds=1)  # Baton's own SLI: a page leaves within 1 s of its due time
# A setup_done marker: a person the channel's set-up invited (bot/incidents/rooms.py), whom
# step 0's notice need not invite again.
INVITED = "invited:"


def snapshot(baton: Baton, *, level: str, area: str) -> Policy:
    """Everything a running escalation needs, frozen at declaration."""
    own = baton.ownership
    cfg = baton.config.severity.levels[level]
    raci = own.raci(area)
    steps = plan_ladder(ownership=own, severity=baton.config.severity, level=level, area=area)
    return Policy(
        level=level,
        level_name=cfg.name,
        notify=cfg.notify,
        response_time=format_duration(cfg.response_time) if cfg.response_time else None,
        window_seconds=cfg.response_time.total_seconds() if cfg.response_time else None,
        area_name=raci.name,
        team=raci.responsible_team,
        runbook=raci.runbook,
        steps=tuple(
            Step(
                index=step.index,
                after=step.after.total_seconds(),
                breach=step.breach,
                scope=step.scope,
                description=step.description,
                notify=tuple(Paged(ref=ref, user=own.user_id(ref)) for ref in step.notify),
                groups=_whole_teams(baton, step.notify),
            )
            for step in steps
        ),
    )


def shortened(policy: Policy, window: timedelta) -> Policy:
    """The policy with its window (and every step's time in it) scaled to `window`: a drill's
    quick rehearsal of the same ladder (`baton drill … --window 10m`)."""
    if not policy.window_seconds:
        return policy
    factor = window.total_seconds() / policy.window_seconds
    steps = tuple(step.model_copy(update={"after": step.after * factor}) for step in policy.steps)
    return policy.model_copy(
        update={
            "window_seconds": window.total_seconds(),
            "response_time": format_duration(window),
            "steps": steps,
        }
    )


def _whole_teams(baton: Baton, refs: tuple[str, ...]) -> tuple[Group, ...]:
    """The Slack user groups of the teams every member of which is paged by `refs`."""
    own = baton.ownership
    paged = {own.user_id(ref) or ref for ref in refs}
    return tuple(
        Group(id=team.usergroup, name=team.name)
        for team in baton.config.ownership.teams.values()
        if team.usergroup and all((own.user_id(m) or m) in paged for m in team.members)
    )


class PagePayload(Payload):
    """One person's page: a DM with the Acknowledge button."""

    KIND = "page"
    user: str | None = None  # None: the person has no Slack account (the job says so and ends)
    ref: str | None = None  # as ownership.yaml names them
    reason: str = ""  # the step's description


class NoticePayload(Payload):
    """One step's notice in the channel: who is paged, invited."""

    KIND = "notice"
    users: list[str] = []
    description: str = ""
    groups: list[dict[str, str]] = []


class BreachPayload(Payload):
    """The end of the response window with nobody acknowledging."""

    KIND = "breach"


class PagerPayload(Payload):
    """One event for a team's external pager; its endpoint is read at send time."""

    KIND = "pager"
    pager: str
    action: PagerAction
    team: str | None = None


def ladder_users(policy: Policy) -> set[str]:
    """Everyone the ladder pages at any step (Slack user IDs)."""
    return {p.user for step in policy.steps for p in step.notify if p.user}


# A channel notice due while its channel is being set up waits for the set-up at most this long
# (it is released the moment the set-up ends: jobs.release_waiting).
SETUP_WAIT = timedelta(seconds=10)


def schedule_ladder(
    s: Session,
    inc: Incident,
    *,
    start: datetime,
    now: datetime,
    from_step: int = 0,
    ladder: bool = True,
    setting_up: bool = False,
) -> None:
    """Write the rows for the policy's steps, timed from `start`. `setting_up`: the channel's
    set-up is queued in this transaction, so a notice due now waits for it instead of being
    claimed beside the first pages only to find no channel (its run would hold up theirs)."""
    assert inc.id is not None
    rows: list[dict[str, Any]] = []
    waits = now + SETUP_WAIT
    for step in inc.policy.steps:
        if step.index < from_step:
            continue
        due = start + timedelta(seconds=step.after)
        common: dict[str, Any] = {
            "incident_id": inc.id,
            "ladder": ladder,
            "step": step.index,
            "now": now,
            "due_at": due,
        }
        for person in step.notify:
            page = PagePayload(user=person.user, ref=person.ref, reason=step.description)
            rows.append(page.row(**common))
        users = [p.user for p in step.notify if p.user]
        groups = [g.model_dump(mode="json") for g in step.groups]
        notice = NoticePayload(users=users, description=step.description, groups=groups)
        rows.append(notice.row(**common, retry_at=waits if setting_up and due <= now else None))
        if step.breach:
            rows.append(BreachPayload().row(**common))
    jobs.enqueue_rows(s, rows)


def enqueue_pager(baton: Baton, s: Session, inc: Incident, *, action: PagerAction, now: datetime) -> None:
    """One row per external pager the responsible team has; the endpoint is read at send time,
    so routing keys stay in the environment, never in the database."""
    assert inc.id is not None
    if inc.drill and not baton.config.ownership.drills.external_pagers:
        return  # a rehearsal wakes nobody through PagerDuty unless the team asked for that
    team = inc.policy.team
    for name in configured(baton.config.ownership.teams.get(team) if team else None):
        PagerPayload(pager=name, team=team, action=action).enqueue(s, incident_id=inc.id, due_at=now, now=now)


def timeline(s: Session, inc_id: int, *, at: datetime, actor: str, kind: str, text: str, **data: Any) -> None:
    s.add(TimelineEvent(incident_id=inc_id, at=at, actor=actor, kind=kind, text=text, data=data))


# -- jobs -------------------------------------------------------------------------------------


def _incident(baton: Baton, s: Session, job: Job) -> Incident:
    inc = s.get(Incident, job.incident_id)
    if inc is None:
        raise jobs.Fail(f"incident {job.incident_id} is gone")
    delivery.known_drill(baton, inc)
    return inc


def run_page(baton: Baton, job: Job, payload: PagePayload) -> None:
    """DM one person with the Acknowledge button: once, however often the job is tried (the DM
    and its timeline line are one step of bot/store/delivery.py)."""
    # Only reads, so it never waits for (or holds up) a writer: building the message takes
    # longer than the read, and a storm's pages queue on the writer's turn otherwise.
    with reading(baton.engine) as s:
        inc = _incident(baton, s, job)
        if inc.state != "open":
            return  # acknowledged or resolved since this row was written: nothing to send
        user = payload.user
        if not user:
            ref = str(payload.ref)
            given = baton.config.ownership.people.get(ref, ref)
            raise jobs.Fail(f"{given} has no Slack account (fix `{ref}` under people: in ownership.yaml)")
        text, blocks = messages.page_dm(inc, reason=payload.reason)
    if job.attempts <= 1 and not inc.drill:
        baton.metrics.pages_due.inc()

    def paged(s: Session, ts: str | None) -> None:
        timeline(
            s,
            inc.id or 0,
            at=baton.clock.now(),
            actor="baton",
            kind="paged",
            text=f"paged <@{user}> by DM (step {job.step})",
            user=user,
            step=job.step,
            due_at=job.due_at.isoformat(),
        )

    sent = delivery.post(baton, job, user, text=text, blocks=blocks, step="dm", record=paged)
    if sent.fresh and not inc.drill:  # a rehearsal is never in Baton's SLIs
        baton.metrics.pages_sent.inc()
        if baton.clock.now() - job.due_at <= PAGE_ON_TIME:
            baton.metrics.pages_on_time.inc()


def run_notice(baton: Baton, job: Job, payload: NoticePayload) -> None:
    """Invite this step's people to the channel and mention them there."""
    with session(baton.engine) as s:
        inc = _incident(baton, s, job)
        if inc.state != "open":
            return
        jobs.wait_turn(s, job, now=baton.clock.now())  # after the opening message
        users = payload.users
        text = messages.paging_notice(
            inc, users=users, description=payload.description, groups=payload.groups
        )
    if inc.channel_id is None:
        if inc.channel_error is None:
            raise jobs.Defer("the channel is not created yet")
        # No channel will come: the reporter (or whoever else can be reached) hears who is paged.
        outbox.post_to_first(
            baton, job, recipients.who_hears(baton, inc), text=f"#{inc.id} (no channel): {text}"
        )
        return
    invited = {step[len(INVITED) :] for step in inc.setup_done if step.startswith(INVITED)}
    baton.chat.invite(inc.channel_id, [u for u in users if u not in invited])
    delivery.post(baton, job, inc.channel_id, text=text)


def run_breach(baton: Baton, job: Job, payload: BreachPayload) -> None:
    """T has passed with nobody acknowledging: record it and say so in the channel."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _incident(baton, s, job)
        if inc.state != "open" or inc.breached:
            return
        inc.breached = True
        s.add(inc)
        timeline(
            s,
            inc.id or 0,
            at=now,
            actor="baton",
            kind="breached",
            text=f"response window of {inc.policy.response_time} breached",
        )
        PostPayload(text=messages.breach_notice(inc)).enqueue(s, incident_id=inc.id, due_at=now, now=now)
        s.commit()
    if not inc.drill:
        baton.metrics.breaches.inc()
    baton.wake()


def run_pager(baton: Baton, job: Job, payload: PagerPayload) -> None:
    """Send one event to the team's external pager, in order after the incident's earlier ones."""
    with reading(baton.engine) as s:
        inc = _incident(baton, s, job)
        earlier = s.exec(
            select(Job.id).where(
                col(Job.incident_id) == inc.id,
                col(Job.kind) == "pager",
                col(Job.id) < job.id,
                col(Job.state).in_(["pending", "running"]),
            )
        ).first()
    if earlier is not None:
        # PagerDuty must see trigger before acknowledge before resolve.
        raise jobs.Defer("an earlier pager event is still on its way", after=timedelta(milliseconds=500))
    team = baton.config.ownership.teams.get(payload.team) if payload.team else None
    with pagers.client() as client:
        pager = pagers_for(team, client).get(payload.pager)
        if pager is None:
            return  # not configured (any more): nothing to send
        # Slack's redirect opens the channel in whichever client the responder uses.
        channel_url = f"https://slack.com/app_redirect?channel={inc.channel_id}" if inc.channel_id else None
        event = PagerEvent(
            action=payload.action,
            incident=inc.id or 0,
            severity=inc.severity,
            area=inc.area,
            title=drill.said(inc.title) if inc.drill else inc.title,
            channel_url=channel_url,
            details={"state": inc.state, "deadline": inc.deadline.isoformat() if inc.deadline else None},
        )

        def send() -> None:
            pager.send(event)

        def sent(s: Session, ts: str | None) -> None:
            timeline(
                s,
                inc.id or 0,
                at=baton.clock.now(),
                actor="baton",
                kind="pager",
                text=f"{pager.name}: {event.action} sent",
            )

        delivery.once(baton, job, "pager", send, record=sent)


PAGE = JobKind(PagePayload, run_page)
NOTICE = JobKind(NoticePayload, run_notice)
BREACH = JobKind(BreachPayload, run_breach)
PAGER = JobKind(PagerPayload, run_pager)
HANDLERS = registry(PAGE, NOTICE, BREACH, PAGER)
