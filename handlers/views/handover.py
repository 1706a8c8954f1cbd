"""The handover note modal's submission: the outgoing on-call's note and signature."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.config.ownership import Signer
from bot.records import handoffs
from bot.text.errors import Refused
from handlers.listener import baton_of


def note_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """Signs as the outgoing on-call with the note; anyone else, a withdrawn handover or a second
    submission is answered on the form and changes nothing."""
    baton = baton_of(context)
    note = str(view["state"]["values"].get("note", {}).get("value", {}).get("value") or "")
    try:
        signed = handoffs.sign(
            baton=baton,
            receipt_id=int(view["private_metadata"]),
            as_=Signer.OUTGOING,
            user=body["user"]["id"],
            note=note,
        )
    except (Refused, ValueError) as e:
        ack(response_action="errors", errors={"note": str(e)[:150]})
        return
    if signed.already:
        text = f"You signed handover #{signed.receipt.id} already; its note stays as it was signed."
        ack(response_action="errors", errors={"note": text})
        return
    ack()
