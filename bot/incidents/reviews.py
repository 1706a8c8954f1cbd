"""Reviews: for a level with `review:` (severity.yaml), the review is due that long after the
resolve. The resolve (bot/incidents/services.py) sets `Incident.review_due_at` and DMs the
commander (else the resolver) the due date with the incident note as the review's draft;
`/incident review #N <link>` records it (`record`: who may is rules.Action.REVIEW); while it
is overdue, a durable "review_nudge" job DMs the commander once a day (one chain per incident,
as the update cadence's: bot/incidents/cadence.py). A drill may be reviewed too; the weekly
review leaves drills out of its figures (bot/nudges/keeping.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from bot.incidents import rules
from bot.incidents.cadence import cancel, chain
from bot.incidents.errors import IncidentError
from bot.incidents.messages import NOTE_POSTED, USER_ID, mention, title
from bot.incidents.notes import incident_note
from bot.incidents.paging import timeline
from bot.incidents.rooms import post
from bot.incidents.rules import Action
from bot.store import delivery, jobs
from bot.store.clock import slack_time
from bot.store.db import reading, session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job
from bot.store.outbox import PostPayload
from bot.store.runtime import Baton
from bot.text.mrkdwn import chunks, escape
from bot.text.spans import format_duration
from bot.text.typed import typed

DAY = timedelta(days=1)
EXAMPLE = "/incident review #12 https://docs.example.com/incident-12-review"
RECORD = "`/incident review #{n} &lt;link&gt;`"


class ReviewNudgePayload(Payload):
    """An overdue review's daily reminder to the commander."""

    KIND = "review_nudge"


def period(baton: Baton, inc: Incident) -> timedelta | None:
    """The current level's `review:`; None when it asks for none."""
    level = baton.config.severity.levels.get(inc.severity)
    return level.review if level is not None else None


def reviewer(inc: Incident) -> str | None:
    """Who is told and nudged: the commander, else whoever resolved it."""
    for user in (inc.commander, inc.resolved_by):
        if user and USER_ID.fullmatch(user):
            return user
    return None


def due_dm(inc: Incident, note: str) -> str:
    """The DM on resolve: the due date, the incident note as the draft (within Slack's limits:
    its start, as the resolve message shows it), and how to record the review."""
    assert inc.review_due_at is not None and inc.resolved_at is not None
    pieces = chunks(escape(note), NOTE_POSTED)
    left = len("".join(pieces[1:]).splitlines())
    more = f"_{left} more lines: `/incident note #{inc.id}` or `baton export {inc.id}`._\n" if left else ""
    within = format_duration(inc.review_due_at - inc.resolved_at)
    return (
        f":memo: Incident #{inc.id} ({title(inc, 150)}) is resolved. Its review is due by "
        f"{slack_time(inc.review_due_at)} ({within}). A draft, from the incident note:\n"
        f"```{pieces[0] if pieces else ''}```\n{more}"
        f"When it is done, record it: {RECORD.format(n=inc.id)}"
    )


def overdue_dm(inc: Incident, *, now: datetime) -> str:
    assert inc.review_due_at is not None
    late = format_duration(timedelta(hours=max(1, round((now - inc.review_due_at) / timedelta(hours=1)))))
    late = "just now" if now - inc.review_due_at < timedelta(hours=1) else f"{late} ago"
    return (
        f":alarm_clock: The review of incident #{inc.id} ({title(inc, 150)}) was due "
        f"{slack_time(inc.review_due_at)} ({late}) and is not recorded yet. "
        f"When it is done: {RECORD.format(n=inc.id)}"
    )


def on_resolve(baton: Baton, s: Session, inc: Incident, *, now: datetime) -> None:
    """In the resolve's transaction: the review's due date, the DM, the first nudge's job."""
    assert inc.id is not None
    if inc.review_due_at is not None:  # a resolve after a reopen starts it again
        cancel(s, ReviewNudgePayload.KIND, inc.id)
    days = period(baton, inc)
    if days is None or inc.reviewed_at is not None:
        return
    inc.review_due_at = now + days
    s.add(inc)
    s.flush()
    who = reviewer(inc)
    if who is not None:
        text = due_dm(inc, incident_note(s, inc))
        PostPayload(channel=who, text=text, about=f"the review reminder of #{inc.id}").enqueue(
            s, incident_id=inc.id, due_at=now, now=now
        )
    ReviewNudgePayload().enqueue(s, incident_id=inc.id, due_at=inc.review_due_at, now=now)


def link_of(text: str) -> str:
    """The link as typed (Slack may send it as `<https://…>` or `<https://…|label>`); a
    Refused-kind IncidentError unless it is an http(s) address."""
    link = text.strip().split()[0] if text.strip() else ""
    if link.startswith("<") and link.endswith(">"):
        link = link[1:-1].split("|", 1)[0]
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        shown = f" (`{escape(link[:100])}` is not one)" if link else ""
        raise IncidentError(f"Give the review's link, an http(s) address{shown}, e.g. `{EXAMPLE}`")
    return typed(link)


def record(*, baton: Baton, number: int, link: str, user: str) -> Incident:
    """`/incident review #N <link>`: the review is done; nudges stop."""
    link = link_of(link)
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = s.exec(select(Incident).where(col(Incident.id) == number).with_for_update()).first()
        if inc is None:
            raise IncidentError(f"There is no incident #{number}. `/incident list` shows the open ones.")
        rules.check(baton, s, inc, Action.REVIEW, user=user, now=now)
        if inc.state != "resolved":
            raise IncidentError(f"#{number} is not resolved yet; its review comes after the resolve.")
        inc.review_link, inc.reviewed_by, inc.reviewed_at = link, user, now
        s.add(inc)
        cancel(s, ReviewNudgePayload.KIND, number)
        timeline(s, number, at=now, actor=user, kind="reviewed", text=f"review recorded: {link}", link=link)
        post(s, inc, now=now, text=f":white_check_mark: {mention(user)} recorded the review: {escape(link)}")
        s.commit()
    baton.wake()
    return inc


def run_review_nudge(baton: Baton, job: Job, payload: ReviewNudgePayload) -> None:
    """DM the commander that the review is overdue, then come back in a day, until it is done."""
    now = baton.clock.now()
    with reading(baton.engine) as s:
        inc = s.get(Incident, job.incident_id)
    if inc is None:
        raise jobs.Fail(f"incident {job.incident_id} is gone")
    if inc.reviewed_at is not None or inc.review_due_at is None or inc.state != "resolved":
        return  # done, or reopened: the next resolve starts it again
    assert inc.id is not None
    after = max(job.due_at, inc.review_due_at)
    while after + DAY <= now:  # a nudge late by days (an outage) is one nudge, not several
        after += DAY
    if now < inc.review_due_at:
        with session(baton.engine) as s:
            chain(s, ReviewNudgePayload.KIND, inc.id, due=inc.review_due_at, now=now, payload=payload)
            s.commit()
        return
    who = reviewer(inc)

    def nudged(s: Session, ts: str | None) -> None:
        row = s.exec(select(Incident).where(col(Incident.id) == inc.id).with_for_update()).one()
        timeline(s, inc.id or 0, at=now, actor="baton", kind="review_nudged", text="review overdue", user=who)
        if row.reviewed_at is None and row.state == "resolved":
            chain(s, ReviewNudgePayload.KIND, inc.id or 0, due=after + DAY, now=now, payload=payload)

    if who is None:
        with session(baton.engine) as s:
            nudged(s, None)
            s.commit()
    else:
        delivery.post(baton, job, who, text=overdue_dm(inc, now=now), record=nudged)
    baton.wake()


REVIEW_NUDGE = JobKind(ReviewNudgePayload, run_review_nudge)
HANDLERS = registry(REVIEW_NUDGE)
