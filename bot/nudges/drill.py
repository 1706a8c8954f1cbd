"""The scheduled drill (`nudges.drill` in ownership.yaml): a P2 drill of one area
at a time, in the order ownership.yaml lists the areas (the area after the last scheduled
drill's, wrapping), announced in the area's team channel with a message starting "DRILL" (a
team without a channel: Baton's admins hear it instead).

`start(s, baton, now)` writes all of it inside the caller's transaction: bot/nudges/schedule.py
calls it in the transaction that marks the run done, so a crash or a second replica never
starts two drills for one due time, nor none.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.drills import start as drills
from bot.store import outbox
from bot.store.db import session
from bot.store.models import Incident
from bot.store.runtime import Baton
from bot.text.mrkdwn import escape
from bot.text.spans import format_duration

log = logging.getLogger(__name__)

STARTER = "schedule"  # who starts a scheduled drill (Incident.declared_by); the rotation reads it
LEVEL = "P2"
# The team hears of the drill this long before its first page: the announcement goes first.
HEADS_UP = timedelta(minutes=1)


def next_area(s: Session, baton: Baton) -> str | None:
    """The area after the last scheduled drill's, in ownership.yaml's order (wrapping); the
    first area when none was drilled on schedule yet, or that one's area is no longer listed."""
    areas = list(baton.config.ownership.areas)
    if not areas:
        return None
    last = s.exec(
        select(Incident.area)
        .where(col(Incident.drill).is_(True), col(Incident.declared_by) == STARTER)
        .order_by(col(Incident.id).desc())
        .limit(1)
    ).first()
    if last not in areas:
        return areas[0]
    return areas[(areas.index(last) + 1) % len(areas)]


def _start_drill(s: Session, baton: Baton, area: str, now: datetime) -> Incident:
    """Declare the drill in the caller's transaction, its window starting after the heads-up."""
    title = f"Scheduled drill of {baton.config.ownership.areas[area].name}"
    return drills.start_in(
        s, baton=baton, level=LEVEL, area=area, title=title, starter=STARTER, heads_up=HEADS_UP
    )


def announcement(baton: Baton, inc: Incident) -> str:
    name = escape(baton.config.ownership.areas[inc.area].name)
    window = inc.policy.response_time
    return (
        f"DRILL: the scheduled {inc.severity} drill of *{name}* starts in {format_duration(HEADS_UP)} as "
        f"drill #{inc.id}. Nothing is "
        f"broken: Baton pages the real ladder with the real {window} window, so acknowledge as you would "
        "an incident; the drill is scored and kept out of incident figures."
    )


def start(s: Session, baton: Baton, now: datetime) -> Incident | None:
    """Start the next area's drill and queue its announcement, in the caller's transaction
    (the caller commits, then wakes the ticker). None: ownership.yaml lists no area."""
    area = next_area(s, baton)
    if area is None:
        log.warning("the drill nudge has no area to drill: ownership.yaml lists none")
        return None
    inc = _start_drill(s, baton, area, now)
    text = announcement(baton, inc)
    raci = baton.ownership.raci(area)
    team = baton.config.ownership.teams[raci.responsible_team] if raci.responsible_team else None
    if team is not None and team.channel:
        accountable = baton.ownership.user_id(raci.accountable)
        outbox.send(s, team.channel, text=text, now=now, tell=accountable, about="the drill's announcement")
        return inc
    admins = [
        u for u in dict.fromkeys(baton.ownership.user_id(a) for a in baton.config.ownership.admins) if u
    ]
    whose = f"the team of {raci.name}" if team is not None else f"{raci.name}'s responsible"
    said = f"{text}\n(You hear it as an admin: {escape(whose)} has no `channel` in ownership.yaml.)"
    if admins:
        outbox.send_to_first(s, admins, text=said, now=now)
    else:
        log.warning("drill #%s of %s is announced nowhere: no team channel and no admins", inc.id, area)
    return inc


def start_now(baton: Baton) -> Incident | None:
    """`baton nudge drill`: the next scheduled drill, now (its own transaction)."""
    with session(baton.engine) as s:
        inc = start(s, baton, baton.clock.now())
        s.commit()
    baton.wake()
    return inc
