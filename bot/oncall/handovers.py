"""Shift handovers: every change of a
team's on-call (a shift change of its rotation, an override starting or ending) opens a handover
receipt per area the team is responsible for, `handover` before the change (at once for an
override), and at the change the incoming person hears they are on call.

:func:`sync` runs every few seconds on every replica, after an override is added and on a new
config. The ShiftChange row (team, at) is the claim: the replica whose INSERT lands opens the
change's receipts in the same transaction, so across replicas and restarts each change opens
them once; `announced_at`, set by a conditional UPDATE, is the same claim for the DM at the
change itself. Changes Baton missed while it was down are not replayed one by one: only the
latest of them opens (the others are said in a log line), and a team seen for the first time
gets an "armed" row, so changes from before Baton watched it never open.

A row whose change is still to come is checked against the plan whenever the plan changed on
this replica (a reload, an override seen, start-up): after an edit of the rotation or a Slack
override, a change that is no longer one is withdrawn, and one whose pair changed is given to
the new pair. Their receipts still waiting for a signature are withdrawn (they stay on the
record, resealed in their chain); signed ones stay as they are.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.access import groups as people
from bot.access.rule import check
from bot.config.ownership import Ownership, Signer, role_key
from bot.config.rotation import Change, Plan
from bot.records import handoff_messages as say
from bot.records import handoffs
from bot.records.handoffs import HandoffError, Role
from bot.store import outbox
from bot.store.clock import slack_time
from bot.store.db import reading, session
from bot.store.models import Receipt, ShiftChange
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

_TICK = timedelta(microseconds=1)


# The plan (its Ownership, weakly) each Baton last synced with. Changes to come are checked
# against the plan only when it changed here (a reload, an override seen, start-up): a replica
# still on the old config, or one whose plan lags an override, must not undo what a newer plan
# decided (they would take turns withdrawing each other's receipts). It re-plans once it has
# the new config or sees the override.
_planned: dict[int, weakref.ref[Ownership]] = {}


def sync(*, baton: Baton) -> list[ShiftChange]:
    """Open the handover receipts that are due, re-plan the changes still to come (when the
    plan changed), announce the changes that happened; returns the changes this call opened
    (or gave to a new pair)."""
    now = baton.clock.now()
    with reading(baton.engine) as s:
        last_rows = s.exec(
            select(ShiftChange.team, func.max(ShiftChange.at))
            .where(col(ShiftChange.at) <= now)
            .group_by(col(ShiftChange.team))
        ).all()
        ahead = list(s.exec(select(ShiftChange).where(col(ShiftChange.at) > now)).all())
    # After the rows: the override of any row read above is in the plan (added on another
    # replica, it would otherwise show here only at the next refresh, up to 2 s later).
    baton.refresh_overrides()
    own = baton.ownership
    seen = _planned.get(id(baton))
    replan = seen is None or seen() is not own
    last = {team: at for team, at in last_rows}
    opened: list[ShiftChange] = []
    for team in baton.config.ownership.teams:
        mine = [r for r in ahead if r.team == team]
        plan = own.plan(team)
        if plan.rotation is None and not own.oncall_windows.get(team) and not mine:
            continue  # one fixed on-call and no override: it never changes hands by itself
        opened += _sync_team(baton, plan, last.get(team), mine if replan else [], mine, now)
    _planned[id(baton)] = weakref.ref(own)
    queued = _announce(baton, now)
    if opened or queued:
        baton.wake()
    return opened


def _sync_team(
    baton: Baton,
    plan: Plan,
    last: datetime | None,
    replan: Sequence[ShiftChange],
    ahead: Sequence[ShiftChange],
    now: datetime,
) -> list[ShiftChange]:
    """`replan`: the rows of changes to come to check against the plan; `ahead`: all of them."""
    if last is None:
        last = _arm(baton, plan, now)
    opened: list[ShiftChange] = []
    known = {row.at: row for row in ahead}
    for row in replan:
        if row.state != "open":
            continue
        at = row.at
        change = _change_at(plan, at)
        if change is None:
            _withdraw_change(baton, row, now)
        elif (change.outgoing, change.incoming) != (row.outgoing, row.incoming):
            replaced = _replace(baton, row, change, now)
            if replaced is not None:
                opened.append(replaced)
    changes = plan.changes(last, now + plan.handover)
    past = [c for c in changes if c.at <= now]
    due = past[-1:] + [c for c in changes if c.at > now and c.opens_at <= now]
    for change in due:
        seen = known.get(change.at)
        if seen is not None and seen.state == "open":
            continue  # opened already; re-planned above
        claimed = _open(baton, change, now, missed=len(past) - 1 if change.at <= now else 0)
        if claimed is not None:
            opened.append(claimed)
    return opened


def _change_at(plan: Plan, at: datetime) -> Change | None:
    """The change the plan has at `at`, or None when the on-call does not change hands then."""
    found = plan.changes(at - _TICK, at)
    return found[0] if found else None


def _insert(s: Session, values: dict[str, Any]) -> bool:
    """INSERT the row unless (team, at) is there already; whether this insert landed. On a
    conflict the statement waits for the other transaction, then does nothing."""
    table = ShiftChange.__table__  # type: ignore[attr-defined]
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - Baton runs on SQLite or PostgreSQL
        raise RuntimeError(f"unsupported database {dialect}")
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT, landed or not.
    return s.execute(stmt.returning(table.c.team)).first() is not None


def _arm(baton: Baton, plan: Plan, now: datetime) -> datetime:
    """First sight of a team: mark where Baton starts watching it. An override added before
    that (the first sync after `/owner oncall`) still opens its receipt: watch from just before
    its start."""
    starts = [w.start for w in baton.ownership.oncall_windows.get(plan.key, []) if w.end > now]
    at = min([now, *(start - _TICK for start in starts)])
    with session(baton.engine) as s:
        landed = _insert(s, _row(plan.key, at, plan.at(at), plan.at(at), "armed", "armed", now))
        s.commit()
    if landed:
        log.info("watching the on-call of %s from %s (%s on call)", plan.key, at.isoformat(), plan.at(at))
    return at


def _row(
    team: str, at: datetime, outgoing: str, incoming: str, origin: str, state: str, now: datetime
) -> dict[str, Any]:
    return {
        "team": team,
        "at": at,
        "outgoing": outgoing,
        "incoming": incoming,
        "origin": origin,
        "state": state,
        "receipt_ids": [],
        "opened_at": now,
        "announced_at": None,
        "flagged": False,
    }


def _origin(change: Change) -> str:
    return "override" if change.cause.startswith("override") else "rotation"


def _key(change: ShiftChange | Change) -> Any:
    return (col(ShiftChange.team) == change.team, col(ShiftChange.at) == change.at)


def _open(baton: Baton, change: Change, now: datetime, *, missed: int) -> ShiftChange | None:
    """Claim the change and open its receipts; None when it was claimed already (here or by
    another replica). A change withdrawn before and due again is claimed back the same way."""
    values = _row(change.team, change.at, change.outgoing, change.incoming, _origin(change), "open", now)
    with session(baton.engine) as s:
        won = _insert(s, values)
        if not won:
            back = s.execute(
                update(ShiftChange)
                .where(*_key(change), col(ShiftChange.state) == "withdrawn")
                .values(**{k: v for k, v in values.items() if k not in ("team", "at")})
            )
            won = back.rowcount == 1  # type: ignore[attr-defined]
        if not won:
            s.rollback()
            return None
        ids = _open_receipts(baton, s, change, now)
        s.execute(update(ShiftChange).where(*_key(change)).values(receipt_ids=ids))
        s.commit()
    if missed > 0:
        log.warning(
            "the on-call of %s changed %d more times while Baton was not watching; opening the handover "
            "of the latest only (%s, %s -> %s)",
            change.team,
            missed,
            change.at.isoformat(),
            change.outgoing,
            change.incoming,
        )
    log.info(
        "handover of %s at %s (%s -> %s) opened: receipts %s",
        change.team,
        change.at.isoformat(),
        change.outgoing,
        change.incoming,
        ids,
    )
    return ShiftChange(**{**values, "receipt_ids": ids})


def _what(baton: Baton, team: str, area: str) -> str:
    return handoffs.label(baton.ownership, Role("oncall", area, team, role_key("oncall", team=team)))


def _open_receipts(baton: Baton, s: Session, change: Change, now: datetime) -> list[int]:
    """One pending receipt per area the team is R for; the outgoing person is asked for a note
    and a signature, the incoming one for a countersignature."""
    own = baton.ownership
    areas = [a for a, cfg in baton.config.ownership.areas.items() if cfg.responsible == change.team]
    ids = []
    for area in areas:
        target = Role("oncall", area, change.team, role_key("oncall", team=change.team))
        receipt = handoffs.open_receipt(
            baton, s, target, change.outgoing, change.incoming, note="", origin=_origin(change), now=now
        )
        assert receipt.id is not None
        what = _what(baton, change.team, area)
        text, blocks = say.handover_note_request(own, receipt, what, change.at)
        outbox.send(s, receipt.from_user, text=text, blocks=blocks, now=now)
        text, blocks = say.handover_countersign_request(own, receipt, what, change.at)
        outbox.send(s, receipt.to_user, text=text, blocks=blocks, now=now)
        ids.append(receipt.id)
    return ids


def _claim_pair(s: Session, row: ShiftChange, **values: Any) -> list[int] | None:
    """Update a still-open row only if it still names the pair this replica read; its receipt
    ids as they are now, or None when another replica changed it first."""
    won = s.execute(
        update(ShiftChange)
        .where(
            *_key(row),
            col(ShiftChange.state) == "open",
            col(ShiftChange.outgoing) == row.outgoing,
            col(ShiftChange.incoming) == row.incoming,
        )
        .values(**values)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        return None
    ids = s.exec(select(ShiftChange.receipt_ids).where(*_key(row))).one()
    return list(ids)


def _withdraw_change(baton: Baton, row: ShiftChange, now: datetime) -> None:
    """The plan no longer changes hands at this time: withdraw the change and its unsigned receipts."""
    with session(baton.engine) as s:
        ids = _claim_pair(s, row, state="withdrawn")
        if ids is None:
            s.rollback()
            return
        withdrawn = _withdraw_receipts(baton, s, ids, now)
        s.commit()
    log.info(
        "on-call change of %s at %s (%s -> %s) is no longer planned: withdrawn, with receipts %s",
        row.team,
        row.at.isoformat(),
        row.outgoing,
        row.incoming,
        withdrawn,
    )


def _replace(baton: Baton, row: ShiftChange, change: Change, now: datetime) -> ShiftChange | None:
    """The change now passes between other people: withdraw the old pair's unsigned receipts and
    open the new pair's."""
    values = {
        "outgoing": change.outgoing,
        "incoming": change.incoming,
        "origin": _origin(change),
        "opened_at": now,
        "flagged": False,
    }
    with session(baton.engine) as s:
        old = _claim_pair(s, row, **values)
        if old is None:
            s.rollback()
            return None
        withdrawn = _withdraw_receipts(baton, s, old, now)
        ids = _open_receipts(baton, s, change, now)
        s.execute(update(ShiftChange).where(*_key(row)).values(receipt_ids=ids))
        s.commit()
    log.info(
        "on-call change of %s at %s re-planned: %s -> %s (was %s -> %s); receipts %s withdrawn, %s opened",
        row.team,
        change.at.isoformat(),
        change.outgoing,
        change.incoming,
        row.outgoing,
        row.incoming,
        withdrawn,
        ids,
    )
    fresh = _row(change.team, change.at, change.outgoing, change.incoming, _origin(change), "open", now)
    return ShiftChange(**{**fresh, "receipt_ids": ids})


def _withdraw_receipts(baton: Baton, s: Session, ids: Sequence[int], now: datetime) -> list[int]:
    """Receipts still waiting for a signature are withdrawn (sealed in their chain, both people
    told); signed ones, and any altered outside Baton, stay as they are."""
    withdrawn = []
    for receipt_id in ids:
        if handoffs.withdraw(baton, s, receipt_id, now, say.PLAN_CHANGED) is not None:
            withdrawn.append(receipt_id)
    return withdrawn


# -- at the change itself ----------------------------------------------------------------------------


def _announce(baton: Baton, now: datetime) -> int:
    """Tell the incoming person of each change that has happened that they are on call (once:
    `announced_at` is claimed by a conditional UPDATE); a receipt still unsigned then is flagged
    and its missing signers nudged. Returns how many changes this call claimed."""
    with reading(baton.engine) as s:
        due = list(
            s.exec(
                select(ShiftChange)
                .where(
                    col(ShiftChange.state) == "open",
                    col(ShiftChange.announced_at).is_(None),
                    col(ShiftChange.at) <= now,
                )
                .order_by(col(ShiftChange.team), col(ShiftChange.at))
            ).all()
        )
        if not due:
            return 0
        newest = dict(
            s.exec(
                select(ShiftChange.team, func.max(ShiftChange.at))
                .where(col(ShiftChange.state) == "open", col(ShiftChange.at) <= now)
                .group_by(col(ShiftChange.team))
            ).all()
        )
    announced = 0
    for row in due:
        at = row.at
        # A change after which another one already happened (Baton was down across both):
        # its incoming person is no longer on call, so nobody is told.
        current = at >= newest[row.team]
        with session(baton.engine) as s:
            handoffs.lock_role(s, role_key("oncall", team=row.team))  # before the heads it may take
            won = s.execute(
                update(ShiftChange)
                .where(*_key(row), col(ShiftChange.state) == "open", col(ShiftChange.announced_at).is_(None))
                .values(announced_at=now)
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                s.rollback()
                continue
            announced += 1
            ids = s.exec(select(ShiftChange.receipt_ids).where(*_key(row))).one()
            receipts = s.exec(select(Receipt).where(col(Receipt.id).in_(list(ids)))).all()
            unsigned = [r for r in receipts if r.state == "pending"]
            # Receipts opened at the change or after it (an override from now, a change Baton
            # was down for) had no time before it: they wait as any pending receipt does.
            had_time = row.opened_at < at
            if unsigned and had_time:
                s.execute(update(ShiftChange).where(*_key(row)).values(flagged=True))
            if current:
                _tell_on_call(baton, s, row, now)
                # A Slack handoff of this on-call signed by someone no longer on call can no
                # longer take effect (an override started or ended, or the shift changed).
                why = f"{baton.ownership.label(row.incoming)} is on call from {slack_time(at)}"
                handoffs.withdraw_superseded(
                    baton, s, role_key("oncall", team=row.team), row.incoming, now, why
                )
                if had_time:
                    for receipt in unsigned:
                        _nudge(baton, s, receipt, now)
            s.commit()
        if unsigned and had_time:
            log.warning(
                "on-call of %s changed at %s with handover receipts %s unsigned: flagged",
                row.team,
                at.isoformat(),
                [r.id for r in unsigned],
            )
    return announced


def _tell_on_call(baton: Baton, s: Session, row: ShiftChange, now: datetime) -> None:
    own = baton.ownership
    team = baton.config.ownership.teams.get(row.team)
    if team is None:
        return
    nxt = own.plan(row.team).next_change(row.at)
    text, blocks = say.on_call_now(own, team.name, nxt.at if nxt else None, nxt.incoming if nxt else None)
    outbox.send(s, own.user_id(row.incoming), text=text, blocks=blocks, now=now)


def _nudge(baton: Baton, s: Session, receipt: Receipt, now: datetime) -> None:
    own = baton.ownership
    what = _what(baton, receipt.team or "", receipt.area)
    for as_, user, signed_at in (
        (Signer.OUTGOING, receipt.from_user, receipt.outgoing_signed_at),
        (Signer.INCOMING, receipt.to_user, receipt.incoming_signed_at),
    ):
        if user and signed_at is None:
            text, blocks = say.reminder(own, receipt, what, as_)
            outbox.send(s, user, text=text, blocks=blocks, now=now)


# -- the note modal (handlers/actions/handover.py, handlers/views/handover.py) ---------------------

#: Who may write a handover's note (with their signature).
WHO_WRITES_NOTE = ("outgoing",)


def note_target(*, baton: Baton, receipt_id: int, user: str) -> Receipt:
    """The receipt whose note `user` is about to write: NotAllowed (naming who may) unless they
    are its outgoing on-call, HandoffError when it is signed already, withdrawn or no handover."""
    with reading(baton.engine) as s:
        receipt = s.get(Receipt, receipt_id)
    if receipt is None or receipt.origin not in say.SHIFT:
        raise HandoffError(f"There is no on-call handover #{receipt_id}.")
    who = f"<@{receipt.from_user}>" if receipt.from_user else receipt.from_ref
    groups = {"outgoing": people.one("the outgoing on-call", receipt.from_user, shown=who)}
    check(user, [groups[k] for k in WHO_WRITES_NOTE], f"write handover #{receipt_id}'s note", then="")
    if receipt.state == "withdrawn":
        raise HandoffError(
            f"Handover #{receipt_id} was withdrawn (the on-call plan changed): nothing to sign."
        )
    if receipt.outgoing_signed_at is not None:
        raise HandoffError(f"You signed handover #{receipt_id} already.")
    return receipt
