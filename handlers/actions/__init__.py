"""Button and other block actions."""

from __future__ import annotations

from slack_bolt import App

from bot.actions.messages import APPROVE, DENY
from bot.followups.messages import DONE as FOLLOW_UP_DONE
from bot.incidents import messages
from bot.readiness.messages import TICK
from bot.records.handoff_messages import NOTE, SIGN
from handlers.actions.action_request import approve_clicked, deny_clicked
from handlers.actions.followups import done_clicked
from handlers.actions.handoff import sign_clicked
from handlers.actions.handover import note_clicked
from handlers.actions.incident import acknowledge_clicked, escalate_clicked, resolve_clicked
from handlers.actions.readiness import tick_clicked
from handlers.listener import Listener, just_ack

# Every click is acked at once (just_ack); the work and its answer follow in the lazy function.
ACTIONS = {
    # Link buttons (runbook) open in the browser; Slack still posts the click, which needs a 200.
    "open_runbook": Listener(just_ack),
    messages.ACK: Listener(just_ack, lazy=[acknowledge_clicked]),
    messages.ESCALATE: Listener(just_ack, lazy=[escalate_clicked]),
    messages.RESOLVE: Listener(just_ack, lazy=[resolve_clicked]),
    SIGN: Listener(just_ack, lazy=[sign_clicked]),
    NOTE: Listener(just_ack, lazy=[note_clicked]),  # opens the handover note modal
    TICK: Listener(just_ack, lazy=[tick_clicked]),
    APPROVE: Listener(just_ack, lazy=[approve_clicked]),  # an action request, in an approver's DM
    DENY: Listener(just_ack, lazy=[deny_clicked]),
    FOLLOW_UP_DONE: Listener(just_ack, lazy=[done_clicked]),  # in /incident follow-ups and on Home
}


def register(app: App) -> None:
    for action_id, listener in ACTIONS.items():
        listener.on(app.action, action_id)
