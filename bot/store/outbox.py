"""A nudge's message for one area and where it goes (the SLO digest, the readiness nudge, the
failure review all post one per area): the responsible team's channel, else the accountable
person by DM. `queue` turns them into durable "post" jobs for the ticker."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.store import jobs
from bot.store.db import session
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

Blocks = list[dict[str, Any]]


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


def payloads(baton: Baton, posts: Sequence[Post], *, what: str) -> list[dict[str, Any]]:
    """Each post with somewhere to go as a "post" job's payload; a post with nowhere to go is
    logged. `what` names the nudge in logs and failure reports ("the readiness nudge")."""
    out = []
    for p in posts:
        if p.target is None:
            log.warning("%s of %s goes %s", what, p.area, p.where)
            continue
        about = f"{what} of {baton.config.ownership.areas[p.area].name}"
        out.append({"channel": p.target, "text": p.text, "blocks": p.blocks, "tell": p.tell, "about": about})
    return out


def queue(baton: Baton, posts: Sequence[Post], *, what: str) -> int:
    """Queue each post as a durable "post" job (one transaction), then wake the ticker. Returns
    how many were queued."""
    now = baton.clock.now()
    found = payloads(baton, posts, what=what)
    with session(baton.engine) as s:
        for payload in found:
            jobs.enqueue(s, kind="post", due_at=now, now=now, payload=payload)
        s.commit()
    baton.wake()
    return len(found)
