"""Requests that can no longer run: their incident was resolved, or their
action's config changed, before the decision or before the call.

- A pending request ends on the spot, in the transaction that noticed: state "expired", `error`
  saying why, said in the incident channel and in the DMs of those asked (whose buttons then
  answer that it ended); for a change of config, voided, and the requester told too.
- An approved request not yet called is left to its call job, brought forward to now:
  bot/actions/webhook.py checks the incident and the config before every try, ends the request
  and says whether an earlier try may have run. A try already in flight finishes and is recorded.

Who notices: resolving (bot/incidents/services.resolve, in its own transaction), a reload of the
config and start-up (sync), and a click on Approve or Deny (bot/actions/requests.decide).

And the plain end: a request nobody decided within its window expires (the action_expire job).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.actions import messages, snapshot
from bot.actions.kinds import CallPayload, ExpirePayload
from bot.incidents.paging import timeline
from bot.incidents.rooms import post
from bot.store import jobs
from bot.store.db import session
from bot.store.kinds import JobKind, registry
from bot.store.models import ActionRequest, Incident, Job
from bot.store.outbox import PostPayload
from bot.store.runtime import Baton
from bot.text.spans import format_duration

LIVE = ("pending", "approved")


def resolved(inc: Incident, *, decided: bool) -> str:
    """Why a request of a resolved incident does not run (approved or not)."""
    before = "Baton called it" if decided else "anyone decided"
    return f"incident #{inc.id} was resolved before {before}"


def incident_resolved(s: Session, inc: Incident, *, now: datetime) -> None:
    """The incident was resolved in this transaction: its pending requests expire, its approved
    ones are not called (any more)."""
    assert inc.id is not None
    live = s.exec(
        select(ActionRequest).where(
            col(ActionRequest.incident_id) == inc.id, col(ActionRequest.state).in_(LIVE)
        )
    ).all()
    for req in live:
        if req.state == "pending":
            end_pending(s, req, inc, why=resolved(inc, decided=False), voided=False, now=now)
        else:
            hurry_call(s, req, now=now)


def end_pending(
    s: Session, req: ActionRequest, inc: Incident, *, why: str, voided: bool, now: datetime
) -> bool:
    """Pending → expired now, saying `why` on the timeline, in the channel, to those asked (and,
    `voided`, to the requester). False if it was no longer pending: whoever ended it said so."""
    result = s.execute(
        update(ActionRequest)
        .where(col(ActionRequest.id) == req.id, col(ActionRequest.state) == "pending")
        .values(state="expired", expires_at=now, error=why, call_params={})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    req = s.exec(
        select(ActionRequest).where(col(ActionRequest.id) == req.id).execution_options(populate_existing=True)
    ).one()
    assert inc.id is not None and req.id is not None
    timeline(
        s,
        inc.id,
        at=now,
        actor="baton",
        kind="action voided" if voided else "action expired",
        text=f"{messages.plain_what(req.action, req.params)} (request #{req.id}) ended: {why}",
        request=req.id,
        action=req.action,
    )
    say(s, inc, req, text=messages.ended_post(req, why=why, voided=voided), now=now)
    if voided and not _no_channel(inc):
        _dm(s, inc, req.requested_by, messages.voided_dm(req, why=why), now=now)
    for approver in req.approvers:
        _dm(s, inc, approver, messages.ended_dm(req, why=why), now=now)
    return True


def say(s: Session, inc: Incident, req: ActionRequest, *, text: str, now: datetime) -> None:
    """In the incident channel; a backlog item has none, so its requester hears it by DM."""
    if _no_channel(inc):
        _dm(s, inc, req.requested_by, text, now=now)
    else:
        post(s, inc, text=text, now=now)


def _no_channel(inc: Incident) -> bool:
    return inc.backlog and inc.channel_id is None


def _dm(s: Session, inc: Incident, user: str, text: str, *, now: datetime) -> None:
    PostPayload(channel=user, text=text).enqueue(s, incident_id=inc.id, due_at=now, now=now)


def hurry_call(s: Session, req: ActionRequest, *, now: datetime) -> None:
    """Bring the request's call job forward to now, out of its backoff: its next try is where
    the webhook module ends it. A job already running is left to finish its try."""
    waiting = s.exec(
        select(Job).where(
            col(Job.kind) == CallPayload.KIND,
            col(Job.incident_id) == req.incident_id,
            col(Job.state) == "pending",
        )
    ).all()
    for job in waiting:
        call = CallPayload.peek(job)  # a row that does not fit is the call job's to give up
        if call is not None and call.request == req.id:
            s.execute(
                update(Job)
                .where(col(Job.id) == job.id, col(Job.state) == "pending")
                .values(retry_at=now)
                .execution_options(synchronize_session=False)
            )


def sync(baton: Baton) -> int:
    """After a reload of the config, and at start-up: every request still pending or approved
    whose action's config changed since it was asked ends (pending: voided, everyone told;
    approved: not called). The number of requests ended."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        live = s.exec(select(ActionRequest).where(col(ActionRequest.state).in_(LIVE))).all()
    ended = 0
    for req in live:
        why = snapshot.changed(req, snapshot.spec_of(baton, req))
        if why is None:
            continue
        with session(baton.engine) as s:
            inc = s.get(Incident, req.incident_id)
            if inc is None:
                continue
            if req.state == "pending":
                ended += end_pending(s, req, inc, why=why, voided=True, now=now)
            else:
                hurry_call(s, req, now=now)
                ended += 1
            s.commit()
    if ended:
        baton.wake()
    return ended


# -- expiring ----------------------------------------------------------------------------------


def expire(baton: Baton, job: Job, payload: ExpirePayload) -> None:
    """The "action_expire" job, due at the request's expires_at: a request still pending expires,
    and the channel hears that nobody decided, naming who was asked. Decided ones are left alone."""
    now = baton.clock.now()
    request_id = payload.request
    with session(baton.engine) as s:
        result = s.execute(
            update(ActionRequest)
            .where(
                col(ActionRequest.id) == request_id,
                col(ActionRequest.state) == "pending",
                col(ActionRequest.expires_at) <= now,
            )
            .values(state="expired", call_params={})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            req = s.get(ActionRequest, request_id)
            if req is not None and req.state == "pending":
                # Not yet (this replica's clock is behind the one that wrote the job).
                raise jobs.Defer("not expired yet", after=max(timedelta(seconds=1), req.expires_at - now))
            return
        req = s.exec(
            select(ActionRequest)
            .where(col(ActionRequest.id) == request_id)
            .execution_options(populate_existing=True)
        ).one()
        inc = s.get(Incident, req.incident_id)
        if inc is None:
            raise jobs.Fail(f"incident {req.incident_id} is gone")
        assert inc.id is not None
        window = format_duration(req.expires_at - req.requested_at)
        timeline(
            s,
            inc.id,
            at=now,
            actor="baton",
            kind="action expired",
            text=f"nobody decided on {messages.plain_what(req.action, req.params)} (request #{req.id}) "
            f"within {window}; asked: " + (", ".join(f"<@{u}>" for u in req.approvers) or "nobody"),
            request=req.id,
            action=req.action,
        )
        say(s, inc, req, text=messages.expired_post(req, window=window), now=now)
        s.commit()
    baton.wake()


EXPIRE = JobKind(ExpirePayload, expire)
HANDLERS = registry(EXPIRE)
