"""One person's App Home, as plain values: the open incidents they are paged for, command or
own the area of; the areas they own with readiness; the handoff signatures they owe; the open
follow-ups they own (bot/followups/).

Pure reads in one session, no Slack: the handler renders and publishes it. Admins see nothing
special here unless they own something: their right to act on any incident is not a reason to
put every incident on their Home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from bot.config.ownership import Signer, role_key
from bot.followups.services import OpenFollowUp, open_for_user
from bot.readiness.checklist import Readiness, readiness_of
from bot.records import handoffs
from bot.store.db import session
from bot.store.models import Incident, Job, Receipt
from bot.store.runtime import Baton

# Why an incident is on someone's Home, in the order shown.
PAGED, COMMANDING, OWNER = "paged", "commanding", "owner"
# The roles that make an area "yours": doing the work (R, its on-call) or owning the outcome (A).
# Consulted and informed people hear of incidents; they do not own the area.
_OWNING = ("R", "A", "on-call")


@dataclass(frozen=True)
class OpenIncident:
    number: int
    severity: str
    title: str  # masked when stored; not escaped (the renderer does)
    area: str
    area_name: str
    state: str  # open / acknowledged
    backlog: bool
    deadline: datetime | None
    breached: bool
    acknowledged_by: str | None
    channel_id: str | None
    why: tuple[str, ...]  # PAGED, COMMANDING, OWNER: at least one
    drill: bool = False  # a rehearsal: said DRILL


@dataclass(frozen=True)
class OwnedArea:
    area: str
    name: str
    roles: tuple[str, ...]  # among "R", "A", "on-call"
    readiness: Readiness


@dataclass(frozen=True)
class Signature:
    """A signature the person owes on a handoff receipt."""

    receipt_id: int
    as_: Signer  # the sign button's value is "<receipt_id>:<as_>"
    what: str  # "the accountable role of Model / Prompt"
    area: str
    origin: str  # slack / config
    from_user: str | None
    from_ref: str
    to_user: str | None
    to_ref: str
    note: str  # masked; not escaped
    started_at: datetime


@dataclass(frozen=True)
class Overview:
    user: str
    now: datetime
    incidents: list[OpenIncident]
    areas: list[OwnedArea]
    signatures: list[Signature]
    follow_ups: list[OpenFollowUp] = field(default_factory=list)  # open, owned by the user


def _rank(severity: str) -> int:
    return int(severity[1:]) if severity[1:].isdigit() else 99


def _paged(s: Session, user: str, numbers: list[int], *, now: datetime) -> set[int]:
    """The incidents among `numbers` that `user` was paged for so far: what
    bot.incidents.rules.paged_so_far decides per incident (the rule that lets them acknowledge:
    a page came due for them and was not cancelled), in one query for all of them, so opening
    Home costs the same with 2 open incidents as with 200."""
    if not numbers:
        return set()
    rows = s.exec(
        select(Job.incident_id, Job.payload).where(
            col(Job.incident_id).in_(numbers),
            col(Job.kind) == "page",
            col(Job.due_at) <= now,
            col(Job.state) != "cancelled",
        )
    ).all()
    return {number for number, payload in rows if number is not None and payload.get("user") == user}


def overview(*, baton: Baton, user: str) -> Overview:
    """What `user` (a Slack user ID) has on their plate now."""
    own = baton.ownership
    now = baton.clock.now()
    areas_cfg = baton.config.ownership.areas
    owned = [(area, tuple(r for r in roles if r in _OWNING)) for area, roles in own.owned_by(user)]
    # On-call alone is still R (the on-call is a member of the responsible team, or its holder).
    owned = [(area, roles) for area, roles in owned if roles]
    mine = {area for area, _ in owned}
    with session(baton.engine) as s:
        open_rows = s.exec(
            select(Incident).where(col(Incident.state) != "resolved").order_by(col(Incident.id))
        ).all()
        paged = _paged(s, user, [inc.id for inc in open_rows if inc.id is not None], now=now)
        incidents = []
        for inc in open_rows:
            assert inc.id is not None
            why = []
            if inc.id in paged:
                why.append(PAGED)
            if inc.commander == user:
                why.append(COMMANDING)
            if inc.area in mine:
                why.append(OWNER)
            if why:
                incidents.append(
                    OpenIncident(
                        number=inc.id,
                        severity=inc.severity,
                        title=inc.title,
                        area=inc.area,
                        area_name=inc.policy.area_name or inc.area,
                        state=inc.state,
                        backlog=inc.backlog,
                        deadline=inc.deadline,
                        breached=inc.breached,
                        acknowledged_by=inc.acknowledged_by,
                        channel_id=inc.channel_id,
                        drill=inc.drill,
                        why=tuple(why),
                    )
                )
        readiness = readiness_of(baton.config, s, [area for area, _ in owned])
        receipts = s.exec(
            select(Receipt)
            .where(
                or_(
                    col(Receipt.state) == "pending",
                    # A peer may witness after both owners signed: still owed.
                    and_(col(Receipt.peer_user) == user, col(Receipt.peer_signed_at).is_(None)),
                ),
                or_(
                    col(Receipt.to_user) == user,
                    col(Receipt.from_user) == user,
                    col(Receipt.peer_user) == user,
                ),
            )
            .order_by(col(Receipt.id))
        ).all()
    # Unacknowledged first, then the most severe, then the oldest.
    incidents.sort(key=lambda i: (i.state != "open", i.backlog, _rank(i.severity), i.number))
    return Overview(
        user=user,
        now=now,
        incidents=incidents,
        areas=[
            OwnedArea(area=area, name=areas_cfg[area].name, roles=roles, readiness=readiness[area])
            for area, roles in owned
        ],
        signatures=[sig for r in receipts for sig in _owed(baton, r, user)],
        follow_ups=open_for_user(baton=baton, user=user),
    )


def _owed(baton: Baton, r: Receipt, user: str) -> list[Signature]:
    """The signatures `user` still owes on `r` (the ones handoffs.sign accepts from them)."""
    assert r.id is not None
    missing = []
    if r.state == "pending":
        if r.to_user == user and r.incoming_signed_at is None:
            missing.append(Signer.INCOMING)
        if r.from_user == user and r.outgoing_signed_at is None:
            missing.append(Signer.OUTGOING)
    if r.peer_user == user and r.peer_signed_at is None:
        missing.append(Signer.PEER)
    own = baton.ownership
    cfg = baton.config.ownership
    if r.area in cfg.areas and (r.team is None or r.team in cfg.teams):
        target = handoffs.Role(r.role, r.area, r.team, role_key(r.role, area=r.area, team=r.team))
        what = handoffs.label(own, target)
    else:  # the area (or team) left ownership.yaml since; the signature is still owed
        what = f"the {r.role} role of {r.area}"
    return [
        Signature(
            receipt_id=r.id,
            as_=as_,
            what=what,
            area=r.area,
            origin=r.origin,
            from_user=r.from_user,
            from_ref=r.from_ref,
            to_user=r.to_user,
            to_ref=r.to_ref,
            note=r.note,
            started_at=r.started_at,
        )
        for as_ in missing
    ]
