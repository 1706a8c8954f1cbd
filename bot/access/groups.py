"""The groups of people rules name, built from ownership.yaml and the roles handed over since.

Each returns a Group whose `users` are Slack user IDs (people without one cannot be matched and
are left out) and whose `shown` is how a refusal names them.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.access.rule import Group, mentions
from bot.store.runtime import Baton
from bot.text.mrkdwn import escape


def one(label: str, user: str | None, shown: str | None = None) -> Group:
    """A single person, by Slack user ID: "the commander (<@U1>)"."""
    return Group(label, frozenset({user} if user else ()), shown or (f"<@{user}>" if user else ""))


def owners(baton: Baton, area: str) -> Group:
    """The area's R (the person, or every member of the responsible team) and A; a role handed
    over in Slack counts for its new holder."""
    own = baton.ownership
    raci = own.raci(area)
    responsible = [uid for ref in raci.responsible if (uid := own.user_id(ref))]
    accountable = own.user_id(raci.accountable)
    team = baton.config.ownership.teams.get(raci.responsible_team or "")
    shown_r = escape(team.name) if team else (mentions(responsible) or escape(", ".join(raci.responsible)))
    shown_a = f"<@{accountable}>" if accountable else escape(raci.accountable)
    users = {*responsible, *([accountable] if accountable else [])}
    return Group("the area's owners", frozenset(users), f"{shown_r}, {shown_a}")


def admins(baton: Baton) -> Group:
    own = baton.ownership
    users = [uid for ref in baton.config.ownership.admins if (uid := own.user_id(ref))]
    return Group("an admin", frozenset(users), mentions(users))


def members(baton: Baton, team: str) -> Group:
    """The team's members as ownership.yaml lists them (being on call does not make one)."""
    cfg = baton.config.ownership.teams[team]
    return listed(baton, f"{escape(cfg.name)}'s members", cfg.members)


def listed(baton: Baton, label: str, refs: Iterable[str]) -> Group:
    """People named in ownership.yaml (handles, IDs or e-mails), each shown as a mention."""
    own = baton.ownership
    found = list(refs)
    users = frozenset(uid for ref in found if (uid := own.user_id(ref)))
    return Group(label, users, ", ".join(own.label(ref) for ref in found))
