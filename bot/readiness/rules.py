"""Who may tick or untick an area's readiness items: the area's R (the person, or every member
of the responsible team) and A, and admins.

The services ask :func:`check_tick` before they change anything, so the slash command and the
tick buttons obey one rule; the refusal is bot/access/rule.py's, naming who may.
"""

from __future__ import annotations

from enum import Enum

from bot.access import groups as people
from bot.access.rule import Group, may
from bot.access.rule import check as check_groups
from bot.store.runtime import Baton
from bot.text.errors import Refused


class ReadinessError(Refused):
    """Bad input: the message says what would be right. Nothing was changed."""


class Action(Enum):
    CHECK = "tick"
    UNCHECK = "untick"


#: Who may tick or untick an area's items, in the order a refusal names them.
WHO = ("owners", "admins")


def who_may_tick(baton: Baton, area: str) -> list[Group]:
    """The groups allowed to tick or untick `area`'s items, as a refusal names them: the area's
    owners (R and A; a handed-over role counts for its new holder), then the admins."""
    groups = {"owners": people.owners(baton, area), "admins": people.admins(baton)}
    return [groups[key] for key in WHO if groups[key].users]


def may_tick(baton: Baton, area: str, *, user: str) -> bool:
    return may(user, who_may_tick(baton, area))


def check_tick(baton: Baton, area: str, *, user: str, action: Action = Action.CHECK) -> None:
    """NotAllowed, naming who may, unless `user` may tick (or untick) `area`'s items."""
    name = baton.ownership.raci(area).name
    check_groups(user, who_may_tick(baton, area), f"{action.value} readiness items of {name}")
