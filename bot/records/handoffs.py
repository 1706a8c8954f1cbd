"""Handoff receipts: a role of an area changes hands, on the record, signed by
the outgoing and the incoming owner.

Two ways a receipt opens:
- `/owner handoff <area> [role] @new [peer @someone] [note]` (:func:`start`): the starter's
  signature is the outgoing one; nothing changes until the incoming owner countersigns (the
  outgoing owner is still the one paged). Once countersigned the new holder is effective at once
  (an OwnerOverride) until ownership.yaml is edited to match; then the override retires.
- An edit of ownership.yaml that changes R, A or an on-call (bot/records/holders.py, at start
  and on reload): the config takes effect, as config does, and a pending receipt asks both to sign.

A Slack handoff takes effect only if its outgoing signer still holds the role when it is
countersigned; whatever changes the holder first (an edit, another countersigned handoff, an
on-call override or shift change) withdraws it (:func:`withdraw_superseded`), and both are told.
Each of these takes the role's lock (:func:`lock_role`) and changes the holder and withdraws in
one transaction, so a role shared by areas (a team's on-call) never takes two countersignatures.

Receipts are hash-chained per area (bot/records/chain.py); a signature or a withdrawal re-seals
the chain, and is refused when the receipt was altered outside Baton.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from bot.access import groups as people
from bot.access.rule import Group, NotAllowed, check
from bot.access.who import outsider_refusal
from bot.config.ownership import ROLES, Ownership, RoleKey, RoleKind, Signer, role_key
from bot.readiness import checklist
from bot.records import chain, seal
from bot.records import handoff_messages as say
from bot.records.seal import SealError
from bot.store import outbox
from bot.store.db import session
from bot.store.models import Incident, OwnerOverride, Receipt
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.masking import mask

log = logging.getLogger(__name__)

EXAMPLE = "/owner handoff model-quality @li Taking over while Maya is on leave"


class HandoffError(Refused):
    """Bad input or a wrong moment: the message says what would be right."""


#: Who may hand a role over, in the order a refusal names them.
WHO_STARTS = ("holder", "accountable", "admins")
#: Who may sign a receipt: the person each signature asks for (the incoming, the outgoing, the peer).
WHO_SIGNS = ("signer",)


@dataclass(frozen=True)
class Role:
    """A role that can be handed over, in one area."""

    role: str  # accountable / responsible / oncall
    area: str
    team: str | None  # the responsible team, for oncall
    key: str  # role_key(): what an override and the config's holder are filed under


def role_of(own: Ownership, area: str, role: str) -> Role:
    """The role `role` of `area`, or HandoffError saying which roles the area has."""
    raci = own.raci(area)
    team = raci.responsible_team
    if role == "accountable":
        return Role(role, raci.area, None, role_key(role, area=raci.area))
    if role == "responsible":
        if team is not None:
            raise HandoffError(
                f"{raci.name}'s R is a team ({own.config.teams[team].name}): hand over its on-call "
                f"(`/owner handoff {raci.area} oncall @someone`), or its members in ownership.yaml."
            )
        return Role(role, raci.area, None, role_key(role, area=raci.area))
    if role == "oncall":
        if team is None:
            raise HandoffError(
                f"{raci.name}'s R is one person, not a team: hand over `responsible` instead "
                f"(`/owner handoff {raci.area} responsible @someone`)."
            )
        if own.rotates(team):
            # Its changes are planned, each with its own handover receipt (bot/oncall/handovers.py).
            raise HandoffError(
                f"{own.config.teams[team].name}'s on-call rotates: put someone on call over the rotation "
                f"with `/owner oncall {team} @someone <duration> [note]`, e.g. `/owner oncall {team} @li 2d`."
            )
        return Role(role, raci.area, team, role_key(role, team=team))
    raise HandoffError(f"`{role}` is not a role; roles are {', '.join(ROLES)}. e.g. `{EXAMPLE}`")


def holder(own: Ownership, role: Role) -> str:
    """Who holds the role now (a ref): countersigned handovers included."""
    raci = own.raci(role.area)
    if role.role == "accountable":
        return raci.accountable
    if role.role == "oncall":
        assert role.team is not None
        return own.oncall(role.team)
    return raci.responsible[0]


def label(own: Ownership, role: Role) -> str:
    """ "the accountable role of Model / Prompt", "the on-call of ML Team"."""
    if role.role == "oncall":
        assert role.team is not None
        return f"the on-call of {own.config.teams[role.team].name}"
    return f"the {role.role} role of {own.raci(role.area).name}"


def snapshot(baton: Baton, s: Session, area: str) -> dict[str, Any]:
    """The area as it stands at the handoff: open incidents, readiness, SLOs, runbook."""
    own = baton.ownership
    raci = own.raci(area)
    cfg = baton.config.ownership.areas[raci.area]
    incidents = s.exec(
        select(Incident)
        # Drills are not the area's open incidents.
        .where(
            col(Incident.area) == raci.area, col(Incident.state) != "resolved", col(Incident.drill).is_(False)
        )
        .order_by(col(Incident.id))
    ).all()
    ready = checklist.readiness(baton.config, s, raci.area)
    return {
        "open_incidents": [
            {"number": i.id, "severity": i.severity, "state": i.state, "title": i.title} for i in incidents
        ],
        # Each item done or not (proven by ownership.yaml or ticked), and the scores.
        "readiness": {
            **{state.item.key: state.done for state in ready.items},
            "scores": {
                "organization": ready.organization,
                "production": ready.production,
                "experiment": ready.experiment,
            },
        },
        "slo": {"queries": sorted(cfg.slo_queries), "state": "not measured"},
        "runbook": raci.runbook,
    }


def who_may_start(baton: Baton, role: Role) -> list[Group]:
    """Those who may hand `role` over: its holder, the area's A, admins."""
    own = baton.ownership
    groups = {
        "holder": people.one("its holder", own.user_id(holder(own, role))),
        "accountable": people.one("the area's accountable", own.user_id(own.raci(role.area).accountable)),
        "admins": people.admins(baton),
    }
    return [groups[key] for key in WHO_STARTS if groups[key].users]


def _pending_for(s: Session, role: Role) -> Receipt | None:
    query = select(Receipt).where(
        col(Receipt.area) == role.area, col(Receipt.role) == role.role, col(Receipt.state) == "pending"
    )
    return s.exec(query.order_by(col(Receipt.seq))).first()


def start(*, baton: Baton, area: str, role: str, to: str, peer: str | None, note: str, user: str) -> Receipt:
    """Open a receipt signed by its starter; the incoming owner (and the peer) are asked to sign."""
    own = baton.ownership
    target = role_of(own, area, role)
    outgoing = holder(own, target)
    if own.same_person(outgoing, to):
        raise HandoffError(f"{own.label(to)} already holds {label(own, target)}.")
    check(user, who_may_start(baton, target), f"hand over {label(own, target)}")
    if target.team is not None:
        refused = outsider_refusal(baton, target.team, to, user)
        if refused is not None:
            raise NotAllowed(refused)
    to_user, peer_user = own.user_id(to), own.user_id(peer) if peer else None
    if to_user is None:
        raise HandoffError(f"{to} has no Slack account Baton knows, so they cannot countersign.")
    now = baton.clock.now()
    with session(baton.engine) as s:
        waiting = _pending_for(s, target)
        if waiting is not None:
            raise HandoffError(
                f"Handoff #{waiting.id} of {label(own, target)} is still waiting for signatures; "
                "it is signed first (`/owner history " + target.area + "` shows it)."
            )
        receipt = open_receipt(
            baton,
            s,
            target,
            outgoing,
            to,
            note=mask(" ".join(note.split())).text,
            origin="slack",
            now=now,
            started_by=user,
            peer_user=peer_user,
            outgoing_signed_by=user,
            outgoing_signed_at=now,
        )
        about = f"handoff #{receipt.id}'s request to sign"
        text, blocks = say.countersign_request(own, receipt, label(own, target))
        outbox.send(s, to_user, text=text, blocks=blocks, now=now, tell=user, about=about)
        if peer_user:
            text, blocks = say.peer_request(own, receipt, label(own, target))
            outbox.send(s, peer_user, text=text, blocks=blocks, now=now, tell=user, about=about)
        s.commit()
    baton.wake()
    return receipt


def open_receipt(
    baton: Baton,
    s: Session,
    target: Role,
    outgoing: str,
    incoming: str,
    *,
    note: str,
    origin: str,
    now: datetime,
    started_by: str = "baton",
    **signed: Any,
) -> Receipt:
    """A pending receipt of `target` from `outgoing` to `incoming`, with the area's snapshot and
    any signatures already given: the next link of the area's chain, in the caller's transaction."""
    own = baton.ownership
    receipt = Receipt(
        area=target.area,
        seq=0,
        role=target.role,
        team=target.team,
        from_ref=outgoing,
        from_user=own.user_id(outgoing),
        to_ref=incoming,
        to_user=own.user_id(incoming),
        note=note,
        origin=origin,
        started_by=started_by,
        started_at=now,
        snapshot=snapshot(baton, s, target.area),
        state="pending",
        **signed,
    )
    try:
        chain.append_receipt(s, receipt)
    except SealError as e:
        raise HandoffError(f"Nothing was handed over: {e}. Tell an admin.") from None
    s.add(receipt)
    s.flush()
    return receipt


@dataclass(frozen=True)
class Signed:
    receipt: Receipt
    already: bool  # this signature was there before; nothing changed
    effective: bool  # this signature made the new holder effective


SIGNERS = tuple(Signer)
_SIGNED_AT = {
    Signer.INCOMING: "incoming_signed_at",
    Signer.OUTGOING: "outgoing_signed_at",
    Signer.PEER: "peer_signed_at",
}


def sign(*, baton: Baton, receipt_id: int, as_: Signer | str, user: str, note: str | None = None) -> Signed:
    """A signature from the person it is asked of; anyone else is refused. A Slack handoff's
    countersignature makes the new holder effective at once, if its outgoing signer still holds
    the role (otherwise the handoff is withdrawn, both are told, and HandoffError says why). The
    outgoing signature of a shift handover (origin rotation/override) may carry a `note`,
    masked; the plan, not a signature, says who is on call, so neither of its signatures
    overrides anything. A receipt altered outside Baton is never signed (HandoffError)."""
    if as_ == Signer.INCOMING:
        baton.refresh_overrides()  # a role that changed hands on another replica counts here at once
    own = baton.ownership
    now = baton.clock.now()
    stale: str | None = None
    with session(baton.engine) as s:
        found = s.exec(
            select(Receipt.area, Receipt.role, Receipt.team).where(col(Receipt.id) == receipt_id)
        ).first()
        if found is None:
            raise HandoffError(f"There is no handoff #{receipt_id}.")
        area, role, team = found
        key = role_key(role, area=area, team=team)
        # The role, then the head, then the receipt: a role shared by areas (a team's on-call)
        # changes hands through one countersignature at a time, whichever area or replica.
        lock_role(s, key)
        chain.lock_receipt_chain(s, area)
        receipt = s.exec(select(Receipt).where(col(Receipt.id) == receipt_id).with_for_update()).one()
        signer, what = None, None
        if as_ in SIGNERS:  # a sign button's value, as Slack sent it back
            as_ = Signer(as_)
            signer = {
                Signer.INCOMING: receipt.to_user,
                Signer.OUTGOING: receipt.from_user,
                Signer.PEER: receipt.peer_user,
            }[as_]
            what = {
                Signer.INCOMING: "the incoming owner",
                Signer.OUTGOING: "the outgoing owner",
                Signer.PEER: "the peer",
            }[as_]
        if signer is None or what is None:
            raise HandoffError(f"Handoff #{receipt_id} asks no {as_} signature.")
        assert isinstance(as_, Signer)
        groups = {"signer": people.one(what, signer)}
        check(user, [groups[k] for k in WHO_SIGNS], f"sign handoff #{receipt_id} as {what}", then="")
        if receipt.state == "withdrawn":
            raise HandoffError(f"Handoff #{receipt_id} was withdrawn ({say.withdrawn_because(receipt)}).")
        if note is not None and not (as_ == Signer.OUTGOING and receipt.origin in say.SHIFT):
            raise HandoffError(f"Handoff #{receipt_id} takes no note with this signature.")
        if getattr(receipt, _SIGNED_AT[as_]) is not None:
            return Signed(receipt, already=True, effective=False)
        effective = as_ == Signer.INCOMING and receipt.origin == "slack"
        if effective:
            # Who holds the role as the database says under its lock, not as this replica last
            # read it: another countersignature, an override or an edit may have come meanwhile.
            stale = superseded(baton.ownership_in(s), receipt) or _not_theirs_to_give(baton, receipt)
        if stale is not None:
            try:
                _withdraw(baton, s, receipt, now, stale)
            except chain.Tampered as e:
                raise _not_signable(receipt, e) from None
            except SealError as e:
                raise HandoffError(f"Handoff #{receipt.id} was not signed: {e}. Tell an admin.") from None
            s.commit()
        else:
            _sign(baton, s, receipt, as_, user, note, now)
            if effective:
                # Under the role's lock, in the same transaction: no window in which another
                # pending handoff of the role could still be countersigned.
                why = f"{own.label(receipt.to_ref)} took it over through handoff #{receipt_id}"
                withdraw_superseded(baton, s, key, receipt.to_ref, now, why)
            s.commit()
    if stale is not None:
        raise HandoffError(
            f"Handoff #{receipt_id} is withdrawn: {stale.rstrip('.')}. It cannot be countersigned, and "
            "nothing changed hands; its holder can start a new handoff."
        )
    if effective:
        baton.refresh_overrides()
    baton.wake()
    return Signed(receipt, already=False, effective=effective)


def _sign(
    baton: Baton, s: Session, receipt: Receipt, as_: Signer, user: str, note: str | None, now: datetime
) -> None:
    """Set the signature (and note), re-seal the chain, make a countersigned Slack handoff
    effective and tell the others; in the caller's transaction, which holds the locks."""
    values: dict[str, Any] = {_SIGNED_AT[as_]: now}
    if as_ == Signer.OUTGOING:
        values["outgoing_signed_by"] = user
        if note is not None:
            values["note"] = mask(note.strip()[:3000]).text
    signed = {
        Signer.OUTGOING: receipt.outgoing_signed_at,
        Signer.INCOMING: receipt.incoming_signed_at,
        as_: now,
    }
    if signed[Signer.OUTGOING] and signed[Signer.INCOMING]:
        values["state"] = "signed"
    try:
        chain.amend_receipt(s, receipt, **values)
    except chain.Tampered as e:
        raise _not_signable(receipt, e) from None
    except SealError as e:
        raise HandoffError(f"Handoff #{receipt.id} was not signed: {e}. Tell an admin.") from None
    if as_ == Signer.INCOMING and receipt.origin == "slack":
        assert receipt.id is not None
        key = key_of(receipt)
        s.execute(delete(OwnerOverride).where(col(OwnerOverride.key) == key))
        override = OwnerOverride(
            key=key, ref=receipt.to_ref, user=receipt.to_user, receipt_id=receipt.id, since=now
        )
        s.add(override)
    text = say.signed_notice(baton.ownership, receipt, as_, user)
    for other in {receipt.started_by, receipt.from_user, receipt.to_user} - {user, "baton", None}:
        outbox.send(s, other, text=text, blocks=[say.section(text)], now=now)


def _not_signable(receipt: Receipt, e: chain.Tampered) -> HandoffError:
    return HandoffError(
        f"Handoff #{receipt.id} cannot be signed: {e}, and a signature would re-seal it as if it were "
        "genuine. Nothing was signed; `baton verify` names it. Tell an admin."
    )


# -- withdrawals ---------------------------------------------------------------------------------


def superseded(own: Ownership, receipt: Receipt) -> str | None:
    """Why a pending Slack handoff can no longer take effect: its outgoing signer no longer holds
    the role (as this Baton pages now). None while they still do."""
    try:
        target = Role(receipt.role, receipt.area, receipt.team, key_of(receipt))
        now_held_by = holder(own, target)
        what = label(own, target)
    except (KeyError, HandoffError):
        return "its area or team is no longer in ownership.yaml"
    if own.same_person(now_held_by, receipt.from_ref):
        return None
    return f"{own.label(receipt.from_ref)} no longer holds {what}; {own.label(now_held_by)} does"


# PostgreSQL advisory locks on a role: (this class, hashtext(role key)). Any constant ("btnr").
_ROLE_LOCK = 0x62746E72


def lock_role(s: Session, key: str) -> None:
    """Lock the role `key` (role_key()) for the rest of the caller's transaction. Whatever
    changes a role's holder takes it first: after the seal's shared lock, before any chain head
    (the order lock_head keeps, so nothing waits in a circle). On SQLite the transaction holds
    the database's write lock already."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": seal.LOCK_ID})
        s.execute(
            text("SELECT pg_advisory_xact_lock(:kind, hashtext(:key))"), {"kind": _ROLE_LOCK, "key": key}
        )


def _not_theirs_to_give(baton: Baton, receipt: Receipt) -> str | None:
    """Why a Slack handoff of an on-call role may not take effect as it is countersigned: the
    incoming person is not (or no longer) a member of the team and no admin started it."""
    if receipt.role != "oncall" or receipt.team not in baton.config.ownership.teams:
        return None
    return outsider_refusal(baton, receipt.team, receipt.to_ref, receipt.started_by)


def what_of(own: Ownership, receipt: Receipt) -> str:
    """ "the accountable role of Model / Prompt", or the bare role when its area is gone."""
    try:
        return label(own, Role(receipt.role, receipt.area, receipt.team, key_of(receipt)))
    except KeyError:
        return receipt.role


def withdraw(baton: Baton, s: Session, receipt_id: int, now: datetime, why: str) -> Receipt | None:
    """Withdraw a receipt still waiting for a signature, in the caller's transaction: the state is
    sealed in its chain and both people are told `why`. None when it is not pending any more, or
    when it was altered outside Baton (left as it is: reported, and `baton verify` names it)."""
    area = s.exec(select(Receipt.area).where(col(Receipt.id) == receipt_id)).first()
    if area is None:
        return None
    chain.lock_receipt_chain(s, area)  # the head, then the receipt: the order sign() takes them in
    receipt = s.exec(select(Receipt).where(col(Receipt.id) == receipt_id).with_for_update()).one()
    if receipt.state != "pending":
        return None
    try:
        return _withdraw(baton, s, receipt, now, why)
    except chain.Tampered:
        return None  # amend_receipt reported it; nothing was changed


def _withdraw(baton: Baton, s: Session, receipt: Receipt, now: datetime, why: str) -> Receipt:
    """chain.Tampered, changing nothing, when the receipt was altered outside Baton."""
    chain.amend_receipt(s, receipt, state="withdrawn")
    text = say.withdrawn_notice(baton.ownership, receipt, what_of(baton.ownership, receipt), why)
    for user in {receipt.from_user, receipt.to_user} - {None}:
        outbox.send(s, user, text=text, blocks=[say.section(text)], now=now)
    return receipt


def withdraw_superseded(
    baton: Baton, s: Session, key: str, held_by: str, now: datetime, why: str
) -> list[int]:
    """The role `key` (role_key()) is now held by `held_by`: withdraw its pending Slack handoffs
    whose outgoing signer is someone else (they could otherwise still be countersigned and hand
    over a role their signer no longer held), in the caller's transaction. Their ids."""
    own = baton.ownership
    role = RoleKey.parse(key)
    where = col(Receipt.team) == role.name if role.kind == RoleKind.TEAM else col(Receipt.area) == role.name
    query = select(Receipt.id, Receipt.from_ref).where(
        col(Receipt.state) == "pending", col(Receipt.origin) == "slack", col(Receipt.role) == role.role, where
    )
    rows = s.exec(query.order_by(col(Receipt.id))).all()
    withdrawn = [
        rid
        for rid, frm in rows
        if rid is not None
        and not own.same_person(frm, held_by)
        and withdraw(baton, s, rid, now, why) is not None
    ]
    if withdrawn:
        log.info("%s is held by %s now (%s): pending handoffs %s withdrawn", key, held_by, why, withdrawn)
    return withdrawn


def key_of(receipt: Receipt) -> str:
    """The role key a receipt hands over ("area:model-quality:accountable")."""
    return role_key(receipt.role, area=receipt.area, team=receipt.team)


def history(*, baton: Baton, area: str) -> list[Receipt]:
    """The area's receipts, newest first."""
    key = baton.ownership.raci(area).area
    with session(baton.engine) as s:
        return list(
            s.exec(select(Receipt).where(col(Receipt.area) == key).order_by(col(Receipt.seq).desc())).all()
        )


def pending(*, baton: Baton) -> list[Receipt]:
    with session(baton.engine) as s:
        return list(
            s.exec(select(Receipt).where(col(Receipt.state) == "pending").order_by(col(Receipt.id))).all()
        )


def overrides(*, baton: Baton) -> dict[str, OwnerOverride]:
    with session(baton.engine) as s:
        return {row.key: row for row in s.exec(select(OwnerOverride)).all()}
