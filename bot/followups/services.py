"""Follow-ups: the work an incident leaves behind, each with an owner, until someone marks it done.

`/incident follow-up <text> [@owner]` adds one (anyone may; the owner defaults to the
commander, else whoever adds it); `/incident follow-ups` lists them with a Done button. Each
service is one transaction that writes the row, the incident's timeline event and the post that
tells the incident channel (sent by the ticker after the commit). They are shown in the
incident note (bot/incidents/notes.py), the export, App Home and the weekly review.

| action                       | allowed to                                               |
| add one, list them           | anyone in the workspace                                  |
| mark one done                | its owner, the commander, the area's A, admins           |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.access import groups as people
from bot.access.rule import Group
from bot.access.rule import check as check_groups
from bot.followups import messages, tracker
from bot.incidents.errors import IncidentError
from bot.incidents.followup_items import follow_ups
from bot.incidents.paging import timeline
from bot.incidents.rooms import post
from bot.store.db import reading, session
from bot.store.models import FollowUp, Incident
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.typed import typed

EXAMPLE = "/incident follow-up Add a canary for prompt changes @maya"
TEXT_LIMIT = 2000  # characters kept of a follow-up's text
OVERDUE = timedelta(days=14)  # an open follow-up older than this is overdue (the weekly review)

# Who may, by the group keys of bot/access/rule.py GROUPS, in the order a refusal names them.
WHO_ADDS = ("anyone",)
WHO_DONE = ("follow_up_owner", "commander", "accountable", "admins")


class FollowUpError(Refused):
    """There is no such follow-up, or nothing to add."""


@dataclass(frozen=True)
class Done:
    follow_up: FollowUp
    incident: Incident
    already: bool  # someone had marked it done before; nothing changed


def _incident(s: Session, number: int, *, lock: bool = False) -> Incident:
    query = select(Incident).where(col(Incident.id) == number)
    inc = s.exec(query.with_for_update() if lock else query).first()
    if inc is None:
        raise IncidentError(f"There is no incident #{number}. `/incident list` shows the open ones.")
    return inc


def add(*, baton: Baton, number: int, text: str, owner: str | None, user: str) -> FollowUp:
    """A follow-up on incident `number`, owned by `owner` (a Slack user ID; default: the
    commander, else `user`), on its timeline and said in its channel."""
    text = typed(text)[:TEXT_LIMIT]
    if not text:
        raise FollowUpError(f"Say what is to be done, e.g. `{EXAMPLE}`")
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = _incident(s, number, lock=True)
        assert inc.id is not None
        fu = FollowUp(
            incident_id=inc.id,
            text=text,
            owner=owner or inc.commander or user,
            created_by=user,
            created_at=now,
        )
        s.add(fu)
        s.flush()
        assert fu.id is not None and fu.owner is not None
        tracker.queue(s, baton=baton, follow_up=fu, now=now)  # its issue in GitHub or Jira, once
        timeline(
            s,
            inc.id,
            at=now,
            actor=user,
            kind="follow_up",
            text=f"follow-up for <@{fu.owner}>: {text}",
            follow_up=fu.id,
            owner=fu.owner,
        )
        post(s, inc, now=now, text=messages.added(fu, user=user))
        s.commit()
    baton.wake()
    return fu


def list_for(*, baton: Baton, number: int) -> list[FollowUp]:
    """Incident `number`'s follow-ups, oldest first (open and done)."""
    with reading(baton.engine) as s:
        _incident(s, number)
        return follow_ups(s, number)


def allowed(baton: Baton, fu: FollowUp, inc: Incident) -> list[Group]:
    """Who may mark `fu` done, as the refusal names them."""
    found: dict[str, Group] = {"follow_up_owner": people.one("its owner", fu.owner)}
    if inc.commander:
        found["commander"] = people.one("the commander", inc.commander)
    if inc.area in baton.config.ownership.areas:
        own = baton.ownership
        accountable = own.raci(inc.area).accountable
        found["accountable"] = people.one("the area's A", own.user_id(accountable))
    found["admins"] = people.admins(baton)
    return [found[key] for key in WHO_DONE if key in found and found[key].users]


def done(*, baton: Baton, follow_up_id: int, user: str) -> Done:
    """Mark a follow-up done: its owner, the incident's commander, the area's A or an admin."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        fu = s.exec(select(FollowUp).where(col(FollowUp.id) == follow_up_id).with_for_update()).first()
        if fu is None:
            raise FollowUpError(f"There is no follow-up {follow_up_id}; `/incident follow-ups` lists them.")
        inc = _incident(s, fu.incident_id)
        check_groups(user, allowed(baton, fu, inc), f"mark this follow-up of #{inc.id} done")
        if fu.state == "done":
            return Done(fu, inc, already=True)
        fu.state, fu.done_by, fu.done_at = "done", user, now
        s.add(fu)
        timeline(
            s,
            fu.incident_id,
            at=now,
            actor=user,
            kind="follow_up_done",
            text=f"follow-up done: {fu.text}",
            follow_up=fu.id,
        )
        post(s, inc, now=now, text=messages.marked_done(fu, user=user))
        s.commit()
    baton.wake()
    return Done(fu, inc, already=False)


@dataclass(frozen=True)
class OpenFollowUp:
    """An open follow-up, for App Home and the weekly review."""

    follow_up: FollowUp
    incident: Incident
    overdue: bool  # open for longer than OVERDUE


def _open(s: Session, now: datetime, *where: object) -> list[OpenFollowUp]:
    rows = s.exec(
        select(FollowUp, Incident)
        .join(Incident, col(Incident.id) == col(FollowUp.incident_id))
        .where(col(FollowUp.state) == "open", *where)  # type: ignore[arg-type]
        .order_by(col(FollowUp.created_at), col(FollowUp.id))
    ).all()
    return [OpenFollowUp(fu, inc, now - fu.created_at > OVERDUE) for fu, inc in rows]


def open_for_user(*, baton: Baton, user: str) -> list[OpenFollowUp]:
    """The open follow-ups `user` owns, oldest first."""
    with reading(baton.engine) as s:
        return _open(s, baton.clock.now(), col(FollowUp.owner) == user)


def open_all(*, baton: Baton, now: datetime | None = None) -> list[OpenFollowUp]:
    """Every open follow-up, incidents' and drills' alike, oldest first; overdue as of `now`
    (default: the clock's now)."""
    with reading(baton.engine) as s:
        return _open(s, now or baton.clock.now())
