"""Who may put whom on call: one rule for every way a person
goes on call from Slack — an override (`/owner oncall`) and a handoff of the on-call role
(`/owner handoff <area> oncall`), checked when it is asked and again when a handoff is
countersigned, so no path puts someone from outside the team on call unless an admin asked."""

from __future__ import annotations

from bot.store.runtime import Baton
from bot.text.mrkdwn import escape


def is_admin(baton: Baton, user: str | None) -> bool:
    own = baton.ownership
    return user is not None and any(own.user_id(a) == user for a in baton.config.ownership.admins)


def outsider_refusal(baton: Baton, team: str, person: str, by: str | None) -> str | None:
    """Why `by` (a Slack user ID) may not put `person` (a ref) on call for `team`: someone from
    outside the team only by an admin. None when allowed. The reason names the admins."""
    own = baton.ownership
    cfg = baton.config.ownership.teams[team]
    if any(own.same_person(person, m) for m in cfg.members) or is_admin(baton, by):
        return None
    admins = baton.config.ownership.admins
    shown = ", ".join(own.label(a) for a in admins)
    members = ", ".join(own.label(m) for m in cfg.members)
    only = f"an admin ({shown})" if shown else "an admin"
    return (
        f"{own.label(person)} is not a member of {escape(cfg.name)} ({members}): only {only} can put "
        f"someone from outside the team on call for it. Name one of its members, or ask an admin."
    )
