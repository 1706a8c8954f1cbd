"""What Baton says about handoffs, by DM: the request to sign, with the one button the reader
needs, and the notice that someone signed. A handoff's note is text a person typed: escaped."""

from __future__ import annotations

from typing import Any

from bot.config.ownership import Ownership
from bot.slack.mrkdwn import clip, escape
from bot.store.clock import slack_time
from bot.store.models import Receipt

SIGN = "handoff_sign"  # the action ID of every sign button; its value is "<receipt id>:<signer>"

Blocks = list[dict[str, Any]]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _button(text: str, receipt: Receipt, as_: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"handoff-{receipt.id}",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": text},
                "action_id": SIGN,
                "value": f"{receipt.id}:{as_}",
                "style": "primary",
            }
        ],
    }


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
    return f"\n> {escape(clip(receipt.note, 500))}" if receipt.note and receipt.origin == "slack" else ""


def countersign_request(own: Ownership, receipt: Receipt, what: str) -> tuple[str, Blocks]:
    starter = f"<@{receipt.started_by}>"
    text = f":handshake: {starter} hands you {what} (handoff #{receipt.id}). Countersign to take it over."
    body = (
        f":handshake: *Handoff #{receipt.id}*: {starter} hands you *{what}*, held until now by "
        f"{person(own, receipt.from_user, receipt.from_ref)}.{_note(receipt)}\n{area_state(receipt)}\n"
        "Until you countersign, they are still the one paged."
    )
    return text, [section(body), _button("Countersign", receipt, "incoming")]


def peer_request(own: Ownership, receipt: Receipt, what: str) -> tuple[str, Blocks]:
    text = f":handshake: You are asked to witness handoff #{receipt.id} of {what}."
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    body = (
        f":handshake: *Handoff #{receipt.id}* of *{what}*: {frm} → {to}, started by "
        f"<@{receipt.started_by}>.{_note(receipt)}\nYou are named as its peer: sign if you saw it agreed."
    )
    return text, [section(body), _button("Sign as peer", receipt, "peer")]


def edit_sign_request(own: Ownership, receipt: Receipt, what: str, as_: str) -> tuple[str, Blocks]:
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    side = "hand it over" if as_ == "outgoing" else "take it over"
    text = f":handshake: ownership.yaml now gives {what} to {to} (from {frm}): sign handoff #{receipt.id}."
    body = (
        f":handshake: *Handoff #{receipt.id}*: an edit of ownership.yaml moved *{what}* from {frm} to {to}. "
        f"It is in effect already; sign to say you {side}.\n{area_state(receipt)}"
    )
    return text, [section(body), _button("Sign", receipt, as_)]


def reminder(own: Ownership, receipt: Receipt, what: str, as_: str) -> tuple[str, Blocks]:
    frm = person(own, receipt.from_user, receipt.from_ref)
    to = person(own, receipt.to_user, receipt.to_ref)
    since = slack_time(receipt.started_at)
    text = f":hourglass: Handoff #{receipt.id} of {what} still needs your signature."
    body = (
        f":hourglass: *Handoff #{receipt.id}* of *{what}* ({frm} → {to}), open since {since}, "
        "still needs your signature."
    )
    button = "Countersign" if as_ == "incoming" and receipt.origin == "slack" else "Sign"
    return text, [section(body), _button(button, receipt, as_)]


def signed_notice(own: Ownership, receipt: Receipt, as_: str, user: str) -> str:
    what = {"incoming": "countersigned", "outgoing": "signed", "peer": "signed as peer"}[as_]
    then = ""
    if as_ == "incoming" and receipt.origin == "slack":
        then = f" {person(own, receipt.to_user, receipt.to_ref)} holds the role from now on."
    role = f"{receipt.role} of `{receipt.area}`"
    return f":white_check_mark: <@{user}> {what} handoff #{receipt.id} ({role}).{then}"
