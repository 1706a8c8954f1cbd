"""One way to say no: the groups of people a rule allows, one `NotAllowed`, one refusal sentence.

Each domain keeps only its table of who may do what (bot/incidents/rules.py, bot/readiness/rules.py,
bot/oncall/overrides.py, bot/records/handoffs.py, bot/oncall/handovers.py, bot/actions/requests.py)
and builds its groups with bot/access/groups.py; the check and the words are here, so every
refusal reads the same: "Only the commander (<@U…>) or an admin (<@U…>) can resolve #12. Ask one
of them." The groups each table may name, and the sentence docs/incidents.md uses for each, are
in :data:`GROUPS`; tests/test_who_may_table.py walks that table against the code's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.text.errors import Refused
from bot.text.mrkdwn import either

MAX_NAMED = 8  # a breached P0 has paged the whole RACI; a refusal names the first few

#: The groups a table of "who may" can name, by key, as docs/incidents.md's table words them.
GROUPS = {
    "anyone": "anyone in the workspace",
    "paged": "anyone paged for this incident so far",
    "commander": "the commander",
    "owners": "the area's R and A",
    "accountable": "the area's A",
    "admins": "admins",
    "reporter": "the reporter",
    "holder": "the role's current holder",
    "members": "the team's members",
    "signer": "the incoming owner (and the named peer for the peer's signature)",
    "outgoing": "the outgoing on-call",
    "approvers": "the approvers asked (never the requester)",
    "follow_up_owner": "the follow-up's owner",
}


@dataclass(frozen=True)
class Group:
    """Some of the people allowed, as a refusal names them."""

    label: str  # "the commander", "the area's owners"
    users: frozenset[str]  # Slack user IDs
    shown: str  # how they are named: "<@U1>", "ML Team, <@U2>"


class NotAllowed(Refused):
    """The person may not do this; the message names who may. Nothing was changed."""


def mentions(users: Sequence[str]) -> str:
    """`<@U1>, <@U2> and 3 more`: at most MAX_NAMED people by name."""
    named = ", ".join(f"<@{u}>" for u in users[:MAX_NAMED])
    more = len(users) - MAX_NAMED
    return named + (f" and {more} more" if more > 0 else "")


def may(user: str, groups: Iterable[Group]) -> bool:
    return any(user in group.users for group in groups)


def refusal(groups: Sequence[Group], doing: str, *, then: str = "Ask one of them.") -> str:
    """ "Only the commander (<@U1>) or an admin (<@U2>) can resolve #12. Ask one of them." """
    who = either([f"{group.label} ({group.shown})" for group in groups])
    return f"Only {who} can {doing}." + (f" {then}" if then else "")


def check(user: str, groups: Sequence[Group], doing: str, *, then: str = "Ask one of them.") -> None:
    """NotAllowed, naming who may, unless `user` is in one of `groups`."""
    if not may(user, groups):
        raise NotAllowed(refusal(groups, doing, then=then))
