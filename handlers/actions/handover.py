"""The "Write handover note" button of a shift handover DM: opens the note modal, where the
outgoing on-call writes the note and signs (handlers/views/handover.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.oncall import handovers
from bot.store.models import Receipt
from bot.text.blocks import context
from bot.text.errors import Refused
from handlers.events.app_home import answer_on_home
from handlers.listener import baton_of

NOTE_VIEW = "handover_note_view"  # the modal's callback id; its private_metadata is the receipt id
NOTE_LIMIT = 3000


def note_view(receipt: Receipt) -> dict[str, Any]:
    note = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": True,
        "max_length": NOTE_LIMIT,
        "placeholder": {"type": "plain_text", "text": "What is open, what you were watching, who to call"},
    }
    return {
        "type": "modal",
        "callback_id": NOTE_VIEW,
        "private_metadata": str(receipt.id),
        "title": {"type": "plain_text", "text": f"Handover #{receipt.id}"[:24]},
        "submit": {"type": "plain_text", "text": "Sign"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Handover note"},
                "element": note,
            },
            context(
                "Signing hands the on-call over on the record; the incoming person gets your note. "
                "Phone numbers, e-mails and tokens are masked."
            ),
        ],
    }


def note_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A lazy function (handlers/listener.py): the click is acked first, then the modal opens
    (within the trigger's 3 s), or the person is told why not."""
    baton = baton_of(context)
    respond = answer_on_home(respond, body, context)  # on the Home tab: republish it with the answer
    try:
        receipt = handovers.note_target(
            baton=baton, receipt_id=int(body["actions"][0]["value"]), user=body["user"]["id"]
        )
    except (Refused, ValueError) as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    baton.chat.open_view(body["trigger_id"], note_view(receipt))
