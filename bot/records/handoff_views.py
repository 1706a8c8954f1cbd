"""What handoffs show: the daily reminder of missing signatures, the facts on an area's RACI
card, and the command line's notes (`baton plan`, `baton check`) on roles held against the file."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.config.loader import Config
from bot.config.ownership import ROLES, Ownership, RoleKey, RoleKind, Signer
from bot.readiness import checklist
from bot.readiness.checklist import Readiness
from bot.records import handoff_messages as say
from bot.records.handoffs import HandoffError, Role, key_of, label, pending, role_of
from bot.store.db import DatabaseUnavailable, database_problem, open_existing, session
from bot.store.models import OwnerOverride, Receipt, ShiftChange
from bot.store.runtime import Baton

# -- the daily nudge -------------------------------------------------------------------------------


def reminders(baton: Baton) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(user, text, blocks) for every signature still missing on a pending receipt."""
    own = baton.ownership
    out = []
    for receipt in pending(baton=baton):
        target = Role(receipt.role, receipt.area, receipt.team, key_of(receipt))
        what = label(own, target) if receipt.area in baton.config.ownership.areas else receipt.role
        missing = [(Signer.INCOMING, receipt.to_user, receipt.incoming_signed_at)]
        if receipt.origin in ("config", *say.SHIFT):
            missing.append((Signer.OUTGOING, receipt.from_user, receipt.outgoing_signed_at))
        for as_, user, signed_at in missing:
            if user and signed_at is None:
                text, blocks = say.reminder(own, receipt, what, as_)
                out.append((user, text, blocks))
    return out


# -- what the RACI card shows --------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """The handoff facts of one area's RACI card."""

    last: Receipt | None  # the newest receipt
    pending: list[Receipt]  # still missing the outgoing or the incoming signature
    # Roles held by a countersigned Slack handoff while ownership.yaml still names someone else:
    # (what, who holds it now, the receipt, whom the file names).
    overridden: list[tuple[str, str, int, str]]
    readiness: Readiness | None = None  # the area against both checklists, shown on the card
    # On-call handovers still unsigned that were not signed by their shift change (flagged then).
    unsigned_at_change: list[Receipt] = dataclasses.field(default_factory=list)


def card(*, baton: Baton, area: str) -> Card:
    own = baton.ownership
    key = own.raci(area).area
    team = own.raci(key).responsible_team
    roles = [r for r in ROLES if r != "oncall" or team is not None]
    with session(baton.engine) as s:
        receipts = s.exec(
            select(Receipt).where(col(Receipt.area) == key).order_by(col(Receipt.seq).desc())
        ).all()
        active = {row.key: row for row in s.exec(select(OwnerOverride)).all()}
        ready = checklist.readiness(baton.config, s, key)
        waiting = {r.id: r for r in receipts if r.state == "pending" and r.origin in say.SHIFT}
        flagged: set[int] = set()
        if waiting:
            rows = select(ShiftChange.receipt_ids).where(
                col(ShiftChange.team) == team, col(ShiftChange.flagged)
            )
            flagged = {i for ids in s.exec(rows).all() for i in ids}
    configured = own.configured_holders()
    overridden = []
    for role in roles:
        try:
            target = role_of(own, key, role)
        except HandoffError:
            continue
        override = active.get(target.key)
        if override is not None:
            overridden.append((label(own, target), override.ref, override.receipt_id, configured[target.key]))
    return Card(
        last=receipts[0] if receipts else None,
        pending=[r for r in receipts if r.state == "pending"],
        overridden=overridden,
        readiness=ready,
        unsigned_at_change=[r for i, r in waiting.items() if i in flagged],
    )


# -- for the command line (baton plan, baton check) --------------------------------------------


def read_overrides(url: str) -> dict[str, OwnerOverride]:
    """The countersigned handovers in the database at `url`, read without changing it;
    DatabaseUnavailable when there is no readable Baton database there."""
    engine = open_existing(url)
    try:
        with Session(engine) as s:
            return {row.key: row for row in s.exec(select(OwnerOverride)).all()}
    except DBAPIError as e:
        raise DatabaseUnavailable(database_problem(url, e)) from None
    finally:
        engine.dispose()


def file_notes(config: Config, own: Ownership, found: Mapping[str, OwnerOverride]) -> list[str]:
    """One line per role whose holder ownership.yaml no longer names, like a config error's."""
    configured = own.configured_holders()
    notes = []
    for key, row in sorted(found.items()):
        role = RoleKey.parse(key)
        loc = (
            ("areas", role.name, role.role) if role.kind == RoleKind.AREA else ("teams", role.name, "oncall")
        )
        named = configured.get(key, "?")
        notes.append(
            f"{config.where(loc)}: names {named!r}, but {row.ref!r} holds the role since handoff "
            f"#{row.receipt_id} (countersigned in Slack): edit the file to match"
        )
    return notes
