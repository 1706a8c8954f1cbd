"""The sign buttons of a handoff receipt (Countersign, Sign, Sign as peer), in DMs."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.records import handoffs
from bot.text.errors import Refused
from handlers.events.app_home import answer_on_home
from handlers.listener import baton_of


def sign_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A lazy function (handlers/listener.py): the click is acked first."""
    baton = baton_of(context)
    respond = answer_on_home(respond, body, context)  # on the Home tab: republish it
    receipt_id, _, as_ = str(body["actions"][0]["value"]).partition(":")
    try:
        signed = handoffs.sign(baton=baton, receipt_id=int(receipt_id), as_=as_, user=body["user"]["id"])
    except (Refused, ValueError) as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    r = signed.receipt
    if signed.already:
        respond(
            response_type="ephemeral", replace_original=False, text=f"You had signed handoff #{r.id} already."
        )
        return
    then = " You hold the role from now on; you are paged for it." if signed.effective else ""
    # The request is replaced by the answer, so the button cannot be pressed twice.
    respond(replace_original=True, text=f":white_check_mark: You signed handoff #{r.id}.{then}")
