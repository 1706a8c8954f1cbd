"""Who holds a role, as ownership.yaml says: an edit of R, A or an on-call (seen at start-up or on
a reload) takes effect as config does and opens a pending receipt for the pair, which both are
asked to sign; a file edited to match a countersigned Slack handoff retires its
override. A holder change also withdraws the role's Slack handoffs still waiting for their
countersignature: their outgoing signer no longer holds the role.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from bot.config.ownership import RoleKey, RoleKind, Signer
from bot.records import handoff_messages as say
from bot.records import handoffs
from bot.store import outbox
from bot.store.db import session
from bot.store.models import Holder, OwnerOverride, Receipt
from bot.store.runtime import Baton


def sync_holders(baton: Baton) -> list[Receipt]:
    """Compare the config's holders with the ones last seen (start-up, reload): a changed R, A or
    on-call opens a pending receipt for the pair; a file edited to match a countersigned handoff
    retires its override. Replica-safe: the holder row is updated conditionally, and only the
    replica whose update lands opens the receipt."""
    own = baton.ownership
    now = baton.clock.now()
    opened: list[Receipt] = []
    changed_overrides = False
    configured = own.configured_holders()
    with session(baton.engine) as s:
        seen = {row.key: row.ref for row in s.exec(select(Holder)).all()}
    for key, ref in configured.items():
        with session(baton.engine) as s:
            before = seen.get(key)
            if before is None:
                s.add(Holder(key=key, ref=ref, seen_at=now))
                s.commit()
                continue
            # The role's lock, then its override as it is now: a countersignature committed on
            # another replica a moment ago is seen (and superseded), not left over the file.
            handoffs.lock_role(s, key)
            override = s.get(OwnerOverride, key)
            if own.same_person(before, ref) and override is None:
                continue
            if override is not None and own.same_person(override.ref, ref):
                # The file now says what the countersigned handoff said: the override retires.
                s.execute(delete(OwnerOverride).where(col(OwnerOverride.key) == key))
                s.execute(update(Holder).where(col(Holder.key) == key).values(ref=ref, seen_at=now))
                s.commit()
                changed_overrides = True
                continue
            if own.same_person(before, ref):
                continue  # an override over an unchanged file: it still holds
            won = s.execute(
                update(Holder)
                .where(col(Holder.key) == key, col(Holder.ref) == before)
                .values(ref=ref, seen_at=now)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                s.rollback()
                continue  # another replica saw this edit first and opened its receipt
            outgoing = override.ref if override is not None else before
            if override is not None:
                s.execute(delete(OwnerOverride).where(col(OwnerOverride.key) == key))
                changed_overrides = True
            # A Slack handoff of the role still waiting for its countersignature was signed by
            # someone who no longer holds it: it can no longer take effect.
            why = f"ownership.yaml now gives it to {own.label(ref)}"
            handoffs.withdraw_superseded(baton, s, key, ref, now, why)
            opened += _open_edit_receipts(baton, s, key, outgoing, ref, now)
            s.commit()
    if changed_overrides:
        baton.refresh_overrides()
    if opened:
        baton.wake()
    return opened


def _open_edit_receipts(
    baton: Baton, s: Session, key: str, outgoing: str, incoming: str, now: datetime
) -> list[Receipt]:
    """One receipt per area the edited role belongs to (a team's on-call: each area it is R for)."""
    own = baton.ownership
    role = RoleKey.parse(key)
    team = role.name if role.kind == RoleKind.TEAM else None
    if team is not None:
        areas = [a for a, cfg in baton.config.ownership.areas.items() if cfg.responsible == team]
    else:
        areas = [role.name]
    receipts = []
    for area in areas:
        target = handoffs.Role(role.role, area, team, key)
        receipt = handoffs.open_receipt(
            baton, s, target, outgoing, incoming, note="ownership.yaml was edited", origin="config", now=now
        )
        for as_, user in ((Signer.OUTGOING, receipt.from_user), (Signer.INCOMING, receipt.to_user)):
            text, blocks = say.edit_sign_request(own, receipt, handoffs.label(own, target), as_)
            outbox.send(s, user, text=text, blocks=blocks, now=now)
        receipts.append(receipt)
    return receipts
