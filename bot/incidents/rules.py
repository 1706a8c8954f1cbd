"""Who may do what to an incident.

An incident bot is used on the worst day: a stray click must not silence a P0. Every service
in bot/incidents/services.py asks :func:`check` before it changes anything, so the slash
command, the buttons, the modals and `#N` from any channel obey one rule. A refusal names who
may, so the person refused knows whom to ask.

| action                                  | allowed to                                          |
| acknowledge                             | paged so far, commander, the area's R and A, admins |
| raise severity, escalate now            | the above, plus the reporter                        |
| lower severity, resolve, reopen, commander | commander, the area's A and R, admins            |
| run an action (ask for it)              | as acknowledge                                      |
| record the review                       | commander, the area's A and R, admins               |

Becoming commander does not grant the right to become commander: only those already allowed
may hand the role on, so nobody can make themselves commander and then act as one.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlmodel import Session, col, select

from bot.access import groups as people
from bot.access.rule import Group, mentions
from bot.access.rule import check as check_groups
from bot.incidents.messages import USER_ID
from bot.store.models import Incident, Job
from bot.store.runtime import Baton


class Action(Enum):
    ACKNOWLEDGE = "acknowledge"
    RAISE = "raise the severity of"
    ESCALATE = "escalate"
    LOWER = "lower the severity of"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    COMMANDER = "hand over command of"
    RUN = "run an action on"  # `/incident run`: asking for it; approving is the action's own rule
    REVIEW = "record the review of"  # `/incident review #N <link>`


# Who is named for each action, in the order the refusal lists them.
_ACK = ("paged", "commander", "owners", "admins")
WHO: dict[Action, tuple[str, ...]] = {
    Action.ACKNOWLEDGE: _ACK,
    Action.RAISE: (*_ACK, "reporter"),
    Action.ESCALATE: (*_ACK, "reporter"),
    Action.LOWER: ("commander", "owners", "admins"),
    Action.RESOLVE: ("commander", "owners", "admins"),
    Action.REOPEN: ("commander", "owners", "admins"),
    Action.COMMANDER: ("commander", "owners", "admins"),
    Action.RUN: _ACK,
    Action.REVIEW: ("commander", "owners", "admins"),
}


def paged_so_far(s: Session, incident_id: int, *, now: datetime) -> list[str]:
    """User IDs of everyone a page of this incident has come due for (sent, sending or failed),
    in the order they were paged."""
    rows = s.exec(
        select(Job.payload)
        .where(
            col(Job.incident_id) == incident_id,
            col(Job.kind) == "page",
            col(Job.due_at) <= now,
            col(Job.state) != "cancelled",
        )
        .order_by(col(Job.due_at), col(Job.id))
    ).all()
    users: list[str] = []
    for payload in rows:
        user = payload.get("user")
        if user and user not in users:
            users.append(user)
    return users


def _groups(baton: Baton, s: Session, inc: Incident, *, now: datetime) -> dict[str, Group]:
    assert inc.id is not None
    groups: dict[str, Group] = {}
    paged = paged_so_far(s, inc.id, now=now)
    groups["paged"] = Group("the people paged so far", frozenset(paged), mentions(paged))
    if inc.commander:
        groups["commander"] = people.one("the commander", inc.commander)
    if inc.area in baton.config.ownership.areas:
        groups["owners"] = people.owners(baton, inc.area)
    groups["admins"] = people.admins(baton)
    if USER_ID.fullmatch(inc.declared_by):  # not when Alertmanager or an SLO check declared it
        groups["reporter"] = people.one("the reporter", inc.declared_by)
    return groups


def allowed(baton: Baton, s: Session, inc: Incident, action: Action, *, now: datetime) -> list[Group]:
    """The groups of people allowed to do `action` to `inc`, as the refusal lists them."""
    groups = _groups(baton, s, inc, now=now)
    return [groups[key] for key in WHO[action] if key in groups and groups[key].users]


def may(baton: Baton, s: Session, inc: Incident, action: Action, *, user: str, now: datetime) -> bool:
    return any(user in group.users for group in allowed(baton, s, inc, action, now=now))


def check(baton: Baton, s: Session, inc: Incident, action: Action, *, user: str, now: datetime) -> None:
    """NotAllowed (bot/access/rule.py), naming who may, unless `user` may do `action` to `inc`."""
    check_groups(user, allowed(baton, s, inc, action, now=now), f"{action.value} #{inc.id}")
