"""What Baton says about handoffs, by DM: the request to sign, with the one button the reader
needs, and the notice that someone signed. A handoff's note is text a person typed: escaped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.config.ownership import Ownership, Signer
from bot.store.clock import slack_time
from bot.store.models import Receipt
from bot.text.blocks import Blocks, actions, button, section
from bot.text.mrkdwn import clip, escape

SIGN = "handoff_sign"  # the action ID of every sign button; its value is "<receipt id>:<signer>"
# The "Write handover note" button of a shift handover (bot/oncall/handovers.py); its value is the
# receipt id. The outgoing on-call signs through the modal it opens, with a note.
NOTE = "handover_note"
# Origins of the receipts a change of a rotating on-call opens: the plan, not a person, starts them.
SHIFT = ("rotation", "override")


def _button(text: str, receipt: Receipt, as_: Signer) -> dict[str, Any]:
    return actions(
        button(text, SIGN, f"{receipt.id}:{as_}", style="primary"), block_id=f"handoff-{receipt.id}"
    )


def person(own: Ownership, user: str | None, ref: str) -> str:
    return f"<@{user}>" if user else own.label(ref)


def area_state(receipt: Receipt) -> str:
    """The snapshot, in two lines: open incidents and runbook."""
    snap = receipt.snapshot
    incidents = snap.get("open_incidents") or []
    shown = ", ".join(
        f"#{i['number']} {i['severity']} {escape(clip(str(i['title']), 60))}" for i in incidents[:5]
    )
    more = f" and {len(incidents) - 5} more" if len(incidents) > 5 else ""
    lines = [f"Open incidents: {shown}{more}" if incidents else "Open incidents: none"]
    if snap.get("runbook"):
        lines.append(f"Runbook: <{snap['runbook']}>")
    return "\n".join(lines)


def _note(receipt: Receipt) -> str:
    if not receipt.note or receipt.origin not in ("slack", *SHIFT):
        return ""
    return "".join(f"\n> {escape(line)}" for line in clip(receipt.note, 500).splitlines())


def note_button(receipt: Receipt) -> dict[str, Any]:
    return actions(
        button("Write handover note", NOTE, str(receipt.id), style="primary"),
        block_id=f"handover-{receipt.id}",
    )


def countersign_request(own: Ownership, receipt: Receipt, what: str) -> tuple[str, Blocks]:
    starter = f"<@{receipt.started_by}>"
    text = f":handshake: {starter} hands you {what} (handoff #{receipt.id}). Countersign to take it over."
    body = (
        f":handshake: *Handoff #{receipt.id}*: {starter} hands you *{what}*, held until now by "
        f"{person(own, receipt.from_user, receipt.from_ref)}.{_note(receipt)}\n{area_state(receipt)}\n"
        "Until you countersign, they are still the one paged."
    )
    return text, [section(body), _button("Countersign", receipt, Signer.INCOMING)]


def peer_request(own: Ownership, receipt: Receipt, what: str) -> tuple[str, Blocks]:
    text = f":handshake: You are asked to witness handoff #{receipt.id} of {what}."
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    body = (
        f":handshake: *Handoff #{receipt.id}* of *{what}*: {frm} → {to}, started by "
        f"<@{receipt.started_by}>.{_note(receipt)}\nYou are named as its peer: sign if you saw it agreed."
    )
    return text, [section(body), _button("Sign as peer", receipt, Signer.PEER)]


def edit_sign_request(own: Ownership, receipt: Receipt, what: str, as_: Signer) -> tuple[str, Blocks]:
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    side = "hand it over" if as_ == Signer.OUTGOING else "take it over"
    text = f":handshake: ownership.yaml now gives {what} to {to} (from {frm}): sign handoff #{receipt.id}."
    body = (
        f":handshake: *Handoff #{receipt.id}*: an edit of ownership.yaml moved *{what}* from {frm} to {to}. "
        f"It is in effect already; sign to say you {side}.\n{area_state(receipt)}"
    )
    return text, [section(body), _button("Sign", receipt, as_)]


def reminder(own: Ownership, receipt: Receipt, what: str, as_: Signer) -> tuple[str, Blocks]:
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    since = slack_time(receipt.started_at)
    text = f":hourglass: Handoff #{receipt.id} of {what} still needs your signature."
    body = (
        f":hourglass: *Handoff #{receipt.id}* of *{what}* ({frm} → {to}), open since {since}, "
        "still needs your signature."
    )
    if as_ == Signer.OUTGOING and receipt.origin in SHIFT:
        return text, [section(body), note_button(receipt)]
    button = "Countersign" if as_ == Signer.INCOMING and receipt.origin in ("slack", *SHIFT) else "Sign"
    return text, [section(body), _button(button, receipt, as_)]


def signed_notice(own: Ownership, receipt: Receipt, as_: Signer, user: str) -> str:
    what = {Signer.INCOMING: "countersigned", Signer.OUTGOING: "signed", Signer.PEER: "signed as peer"}[as_]
    then = ""
    if as_ == Signer.INCOMING and receipt.origin == "slack":
        then = f" {person(own, receipt.to_user, receipt.to_ref)} holds the role from now on."
    role = f"{receipt.role} of `{receipt.area}`"
    note = _note(receipt) if as_ == Signer.OUTGOING and receipt.origin in SHIFT else ""
    return f":white_check_mark: <@{user}> {what} handoff #{receipt.id} ({role}).{then}{note}"


# -- shift handovers (bot/oncall/handovers.py) ------------------------------------------------------


def _when(receipt: Receipt, at: datetime) -> str:
    return "now" if at <= receipt.started_at else f"at {slack_time(at)}"


def handover_note_request(own: Ownership, receipt: Receipt, what: str, at: datetime) -> tuple[str, Blocks]:
    """To the outgoing on-call: a note and a signature, through the note button's modal."""
    to = person(own, receipt.to_user, receipt.to_ref)
    when = _when(receipt, at)
    text = f":handshake: Handover #{receipt.id}: you hand {what} to {to} {when}. Write your note and sign."
    body = (
        f":handshake: *Handover #{receipt.id}*: you hand *{what}* to {to} {when}. Write down what they "
        f"should know (what is open, what you were watching) and sign it.\n{area_state(receipt)}"
    )
    return text, [section(body), note_button(receipt)]


def handover_countersign_request(
    own: Ownership, receipt: Receipt, what: str, at: datetime
) -> tuple[str, Blocks]:
    """To the incoming on-call: a countersignature."""
    frm = person(own, receipt.from_user, receipt.from_ref)
    when = _when(receipt, at)
    text = f":handshake: Handover #{receipt.id}: you take over {what} from {frm} {when}. Countersign it."
    body = (
        f":handshake: *Handover #{receipt.id}*: you take over *{what}* from {frm} {when}. Their note "
        f"comes to you here when they sign; countersign to say you have it.\n{area_state(receipt)}"
    )
    return text, [section(body), _button("Countersign", receipt, Signer.INCOMING)]


def on_call_now(own: Ownership, team: str, until: datetime | None, after: str | None) -> tuple[str, Blocks]:
    """To the incoming on-call at the change itself."""
    if until is not None and after is not None:
        then = f"until {slack_time(until)} ({own.label(after)})"
        text = f":pager: You are on call for {escape(team)} from now {then}."
    else:
        text = f":pager: You are on call for {escape(team)} from now; no change is planned."
    return text, [section(text)]


def withdrawn_notice(own: Ownership, receipt: Receipt, what: str, why: str) -> str:
    """To both people of a receipt withdrawn before it was signed; `why` finishes "is withdrawn: "."""
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    noun = "Handover" if receipt.origin in SHIFT else "Handoff"
    return (
        f":wastebasket: {noun} #{receipt.id} of {what} ({frm} → {to}) is withdrawn: {why}, so there is "
        "nothing to sign. It stays on the record."
    )


# Why a receipt was withdrawn, as `/owner history` and a refused signature say it.
PLAN_CHANGED = "the on-call plan changed"
HOLDER_CHANGED = "the role changed hands before it was countersigned"


def withdrawn_because(receipt: Receipt) -> str:
    return HOLDER_CHANGED if receipt.origin == "slack" else PLAN_CHANGED
