"""The outbox: messages owed to a channel or a person, outside any incident channel.

Every domain queues them here as durable "post" jobs (`send`, `send_to_first`, `queue` for a
nudge's posts, one per area); the ticker runs them (`run`: each sent once, bot/store/delivery.py),
and one given up is reported to a person (`report_give_up`). Posts for an incident's channel are
queued and run by bot/incidents/rooms.py, which hands the rest to `run`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.slack.chat import ChatError
from bot.store import delivery
from bot.store.db import session
from bot.store.kinds import Payload
from bot.store.models import Job
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]


class PostPayload(Payload):
    """A message a "post" job owes: to a channel or a person (`channel`), to the first of `to`
    Slack accepts, or, naming neither, to its incident's channel (bot/incidents/rooms.py)."""

    KIND = "post"
    text: str
    blocks: list[dict[str, Any]] | None = None
    channel: str | None = None  # a channel ID, or a user ID for a DM
    to: list[str] | None = None  # tried in turn (a report to whoever can be reached)
    to_people: bool = False  # an incident's report for whoever can hear it, not its channel
    report: bool = False  # a report of another job's failure: never reported in turn
    backlog: bool = False  # a backlog item's post to the backlog channel
    tell: str | None = None  # who hears should Slack refuse it for good
    about: str = "a message"  # what it is, in that report

    @property
    def addressed(self) -> bool:
        """It names where it goes (`run` sends it), rather than an incident's channel."""
        return bool(self.to or self.channel)


@dataclass(frozen=True)
class Post:
    """One area's message and where it goes."""

    area: str
    target: str | None  # a channel ID, or a user ID for a DM; None: nowhere to send it
    where: str  # "<#C07MLTEAM>", "<@U07MAYA001> by DM", or why nowhere
    text: str
    blocks: Blocks
    tell: str | None = None  # told by DM should Slack refuse the post for good


def destination(baton: Baton, area: str) -> tuple[str | None, str, str | None]:
    """(target, how it reads, whom to tell if it fails): the responsible team's channel, else
    the accountable person by DM (the team has no channel, or R is a person)."""
    own = baton.ownership
    raci = own.raci(area)
    accountable = own.user_id(raci.accountable)
    team = own.config.teams[raci.responsible_team] if raci.responsible_team else None
    if team is not None and team.channel:
        return team.channel, f"<#{team.channel}>", accountable
    if accountable is None:
        why = f"nowhere: the accountable person {raci.accountable} has no known Slack user ID"
        return None, why, None
    return accountable, f"<@{accountable}> by DM", None


def payloads(baton: Baton, posts: Sequence[Post], *, what: str) -> list[PostPayload]:
    """Each post with somewhere to go as a "post" job's payload; a post with nowhere to go is
    logged. `what` names the nudge in logs and failure reports ("the readiness nudge")."""
    out = []
    for p in posts:
        if p.target is None:
            log.warning("%s of %s goes %s", what, p.area, p.where)
            continue
        about = f"{what} of {baton.config.ownership.areas[p.area].name}"
        out.append(PostPayload(channel=p.target, text=p.text, blocks=p.blocks, tell=p.tell, about=about))
    return out


def queue(baton: Baton, posts: Sequence[Post], *, what: str) -> int:
    """Queue each post as a durable "post" job (one transaction), then wake the ticker. Returns
    how many were queued."""
    now = baton.clock.now()
    found = payloads(baton, posts, what=what)
    with session(baton.engine) as s:
        enqueue(s, found, now=now)
        s.commit()
    baton.wake()
    return len(found)


def enqueue(s: Session, found: Sequence[PostPayload], *, now: datetime) -> None:
    """Queue `payloads`' posts in the caller's transaction (a nudge queues them as it claims its run)."""
    for payload in found:
        payload.enqueue(s, due_at=now, now=now)


def send(
    s: Session,
    to: str | None,
    *,
    text: str,
    now: datetime,
    blocks: Sequence[dict[str, Any]] | None = None,
    tell: str | None = None,
    about: str = "a message",
) -> None:
    """Queue a message to `to` (a channel ID, or a user ID for a DM; None: nothing is queued), in
    the caller's transaction. Should Slack refuse it for good, `tell` hears by DM that `about`
    did not arrive (else Baton's admins)."""
    if to:
        listed = list(blocks) if blocks is not None else None
        PostPayload(channel=to, text=text, blocks=listed, tell=tell, about=about).enqueue(
            s, due_at=now, now=now
        )


def send_to_first(s: Session, to: Sequence[str], *, text: str, now: datetime) -> None:
    """Queue a report to the first of `to` that Slack accepts, in the caller's transaction. A
    report that is itself given up is only logged: reporting it would loop."""
    PostPayload(to=list(to), text=text, report=True).enqueue(s, due_at=now, now=now)


def run(baton: Baton, job: Job, payload: PostPayload) -> None:
    """Send an addressed "post" job, once: to the first of `to` Slack accepts, or to `channel`."""
    if payload.to:
        post_to_first(baton, job, payload.to, text=payload.text, blocks=payload.blocks)
    else:
        assert payload.channel is not None
        delivery.post(baton, job, payload.channel, text=payload.text, blocks=payload.blocks)


def post_to_first(
    baton: Baton,
    job: Job,
    targets: Sequence[str],
    *,
    text: str,
    blocks: Sequence[dict[str, Any]] | None = None,
) -> str:
    """Post to the first of `targets` Slack accepts (each at most once, see bot/store/delivery.py);
    whom it reached. A refusal for good passes to the next; a transient one is retried as the job."""
    if not targets:
        raise ChatError(
            "chat.postMessage", "nobody to tell: no reporter, commander, accountable or team channel", False
        )
    refused: ChatError | None = None
    for target in targets:
        try:
            delivery.post(baton, job, target, text=text, blocks=blocks, step=f"to:{target}")
            return target
        except ChatError as e:
            if e.retryable:
                raise
            log.warning(
                "job %s (%s): %s cannot be reached (%s); trying the next", job.id, job.kind, target, e.error
            )
            refused = e
    assert refused is not None
    raise refused


def report_give_up(baton: Baton, job: Job, error: str, final: bool, *, unexpected: bool) -> None:
    """A message that belongs to no incident (a handoff's request to sign, a nudge) names whom
    to tell when it is given up: `tell`, the person who set it off or the accountable person.
    Should there be none, or should Slack refuse them too, Baton's admins hear of it."""
    # Only posts belong to no incident; any other kind is told of as "a message".
    # A report is never reported in turn (it would loop), even one whose payload does not fit.
    if job.payload.get("report") or (not final and not unexpected):
        return
    post = PostPayload.peek(job)  # None: not a post, or one that does not fit ("a message")
    about, to, tell = (post.about, post.channel, post.tell) if post is not None else ("a message", None, None)
    own = baton.ownership
    admins = [own.user_id(a) for a in baton.config.ownership.admins]
    told = [u for u in dict.fromkeys([tell, *admins]) if u and u != to]
    if not told:
        log.error(
            "%s to %s was given up (%s) and there is nobody to tell: no admins in ownership.yaml",
            about,
            to,
            error,
        )
        return
    now = baton.clock.now()
    where = f"<#{to}>" if str(to).startswith(("C", "G")) else f"<@{to}>"
    then = "Tell them another way." if final else "Baton keeps trying."
    text = f":warning: Could not send {about} to {where}: {error}. {then}"
    with session(baton.engine) as s:
        send_to_first(s, told, text=text, now=now)
        s.commit()
    baton.wake()
