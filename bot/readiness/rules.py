"""Who may tick or untick an area's readiness items: the
area's R (the person, or every member of the responsible team) and A, and admins.

The services ask :func:`check_tick` before they change anything, so the slash command and the
tick buttons obey one rule. A refusal names who may, in the words incident refusals use
(bot/incidents/rules.py), so the person refused knows whom to ask.
"""

from __future__ import annotations

from enum import Enum

from bot.incidents.rules import Group
from bot.store.runtime import Baton
from bot.text.mrkdwn import either

_MAX_NAMED = 8  # an area owned by a big team: the refusal names the team, the admins the first few


class ReadinessError(Exception):
    """Bad input or a refusal: the message says what would be right. Nothing was changed."""


class NotAllowed(ReadinessError):
    """The person may not do this; the message names who may."""


class Action(Enum):
    CHECK = "tick"
    UNCHECK = "untick"


def _mentions(users: list[str]) -> str:
    named = ", ".join(f"<@{u}>" for u in users[:_MAX_NAMED])
    more = len(users) - _MAX_NAMED
    return named + (f" and {more} more" if more > 0 else "")


def who_may_tick(baton: Baton, area: str) -> list[Group]:
    """The groups allowed to tick or untick `area`'s items, as a refusal names them: the area's
    owners (R and A; a handed-over role counts for its new holder), then the admins."""
    own = baton.ownership
    raci = own.raci(area)
    responsible = [uid for ref in raci.responsible if (uid := own.user_id(ref))]
    accountable = own.user_id(raci.accountable)
    team = baton.config.ownership.teams.get(raci.responsible_team or "")
    shown_r = team.name if team else (_mentions(responsible) or ", ".join(raci.responsible))
    shown_a = f"<@{accountable}>" if accountable else raci.accountable
    owners = {*responsible, *([accountable] if accountable else [])}
    admins = [uid for ref in baton.config.ownership.admins if (uid := own.user_id(ref))]
    groups = [
        Group("the area's owners", frozenset(owners), f"{shown_r}, {shown_a}"),
        Group("an admin", frozenset(admins), _mentions(admins)),
    ]
    return [g for g in groups if g.users]


def may_tick(baton: Baton, area: str, *, user: str) -> bool:
    return any(user in group.users for group in who_may_tick(baton, area))


def check_tick(baton: Baton, area: str, *, user: str, action: Action = Action.CHECK) -> None:
    """Raise NotAllowed, naming who may, unless `user` may tick (or untick) `area`'s items."""
    groups = who_may_tick(baton, area)
    if any(user in group.users for group in groups):
        return
    name = baton.ownership.raci(area).name
    who = either([f"{group.label} ({group.shown})" for group in groups])
    raise NotAllowed(f"Only {who} can {action.value} readiness items of {name}. Ask one of them.")
