"""A drill's score card: per step, who was paged at which second, who acknowledged and when
against the window, breached or not, with the picture of that timeline.

It is posted in the drill's channel and DM'd to whoever started it, once per drill: when the
drill is resolved (queued by `on_resolve`, set as a hook at boot), or when its last step has
fired with nobody answering (the job queued at the drill's start, due at that step). A drill
acknowledged and not yet resolved waits for its resolve. The card and the picture are read
from one `ResponseWindow` (bot/records/window.py), the data `baton export --html` draws too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.incidents.messages import USER_ID, mention
from bot.records import picture, window
from bot.records.window import ResponseWindow
from bot.slack.chat import ChatError
from bot.store import delivery, jobs
from bot.store.db import reading, session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job
from bot.store.runtime import Baton
from bot.text import drill
from bot.text.blocks import Blocks, context, header, section
from bot.text.mrkdwn import escape

log = logging.getLogger(__name__)

LADDER_KINDS = ("page", "notice", "breach")


class ScorePayload(Payload):
    """Score a drill. `resolved`: queued by the resolve, which has claimed the card already."""

    KIND = "score"
    resolved: bool = False


def on_resolve(s: Session, inc: Incident, now: datetime) -> None:
    """In the resolve's transaction: queue the score card, unless the drill was scored already
    (its last step fired unanswered). The incident's row is locked by the resolve."""
    if not inc.drill or inc.scored_at is not None:
        return
    inc.scored_at = now
    s.add(inc)
    ScorePayload(resolved=True).enqueue(s, incident_id=inc.id, due_at=now, now=now)


def _ladder_running(s: Session, incident_id: int) -> bool:
    return (
        s.exec(
            select(Job.id)
            .where(
                col(Job.incident_id) == incident_id,
                col(Job.ladder).is_(True),
                col(Job.kind).in_(LADDER_KINDS),
                col(Job.state).in_(("pending", "running")),
            )
            .limit(1)
        ).first()
        is not None
    )


def _claim_unanswered(baton: Baton, job: Job) -> Incident | None:
    """The drill, marked scored, when its last step has fired and nobody answered; None when
    someone did (its resolve scores it) or it was scored already."""
    with session(baton.engine) as s:
        inc = s.exec(select(Incident).where(col(Incident.id) == job.incident_id).with_for_update()).first()
        if inc is None:
            raise jobs.Fail(f"incident {job.incident_id} is gone")
        if not inc.drill or inc.scored_at is not None or inc.state != "open":
            return None
        if _ladder_running(s, inc.id or 0):
            raise jobs.Defer("the drill's last step has not fired yet", after=timedelta(seconds=1))
        inc.scored_at = baton.clock.now()
        s.add(inc)
        s.commit()
        return inc


def run_score(baton: Baton, job: Job, payload: ScorePayload) -> None:
    """Post the card in the drill's channel, share the picture there, and DM the starter."""
    if payload.resolved:
        with reading(baton.engine) as s:
            found = s.get(Incident, job.incident_id)
        if found is None:
            raise jobs.Fail(f"incident {job.incident_id} is gone")
        inc: Incident | None = found
    elif "card" in job.delivery or "dm" in job.delivery:
        with reading(baton.engine) as s:  # a retry of a card this job claimed and began
            inc = s.get(Incident, job.incident_id)
    else:
        inc = _claim_unanswered(baton, job)
    if inc is None:
        return
    with reading(baton.engine) as s:
        seen = window.read(s, inc, names=_names(baton))
    text, blocks = card(seen, inc)
    if inc.channel_id is None and inc.channel_error is None:
        raise jobs.Defer("the channel is not created yet")
    if inc.channel_id is not None:
        delivery.post(baton, job, inc.channel_id, text=text, blocks=blocks, step="card")
        _share_picture(baton, job, inc, seen, inc.channel_id)
    if USER_ID.fullmatch(inc.declared_by):
        where = f"\nThe picture is in <#{inc.channel_id}>." if inc.channel_id else ""
        dm_blocks = [*blocks, *([context(where.strip())] if where else [])]
        delivery.post(baton, job, inc.declared_by, text=text, blocks=dm_blocks, step="dm")


def _share_picture(baton: Baton, job: Job, inc: Incident, seen: ResponseWindow, channel: str) -> None:
    """The PNG of the timeline, shared in the channel once. Refused for good (the app lacks
    files:write, say), the card stands without it and the channel is told where the picture is."""
    try:
        delivery.once(
            baton,
            job,
            "picture",
            lambda: baton.chat.upload_file(
                channel,
                filename=f"drill-{inc.id}-timeline.png",
                content=picture.png(seen),
                title=drill.said(f"#{inc.id} response window"),
                comment=drill.said(f"who was paged when in drill #{inc.id}"),
            ),
        )
    except ChatError as e:
        if e.retryable:
            raise
        log.warning("drill #%s: Slack refused its picture (%s)", inc.id, e.error)
        said = (
            f"Slack refused the picture of this timeline ({escape(e.error)}); "
            f"`baton export {inc.id} --html` draws it."
        )
        delivery.post(baton, job, channel, text=said, step="picture-refused")


def _names(baton: Baton) -> dict[str, str]:
    own = baton.ownership
    return {uid: ref for ref in baton.config.ownership.people if (uid := own.user_id(ref))}


def card(seen: ResponseWindow, inc: Incident) -> tuple[str, Blocks]:
    """The score card: a header, one line per step, and the verdict."""
    t = window.span(seen.window) if seen.window else "—"
    verdict = verdict_of(seen)
    lines = []
    for step in seen.summary:
        paged = ", ".join(f"{mention(p.user)} at {window.span(p.second)}" for p in step.paged)
        at = window.span(step.planned)
        fired = f"paged {paged}" if paged else "not reached (acknowledged before it)"
        line = f"*Step {step.index}* (at {at}{', breach' if step.breach else ''}): {fired}"
        if step.acknowledged is not None:
            a = step.acknowledged
            inside = "inside" if a.inside else "outside"
            at_ack = window.span(a.second)
            who = mention(a.user)
            line += f"\n      :white_check_mark: acknowledged by {who} at {at_ack}, {inside} the {t} window"
        lines.append(line)
    text = f"DRILL #{inc.id} scored: {verdict}"
    blocks: Blocks = [
        header(f"Drill #{inc.id} score card"),
        section(f"*{inc.severity}* · `{escape(inc.area)}` · {escape(inc.title)} · window {t}"),
        section("\n".join(lines) or "No step was planned."),
        context(verdict),
    ]
    return text, blocks


def verdict_of(seen: ResponseWindow) -> str:
    t = window.span(seen.window) if seen.window else "—"
    if seen.ack is None:
        return (
            f"Nobody acknowledged: the {t} window was breached." if seen.breached else "Nobody acknowledged."
        )
    took = window.span(seen.ack.second)
    if seen.ack.inside:
        return f"Passed: acknowledged by {mention(seen.ack.user)} in {took} of {t}."
    return f"Breached: acknowledged by {mention(seen.ack.user)} after {took}, outside the {t} window."


SCORE = JobKind(ScorePayload, run_score)
HANDLERS = registry(SCORE)
