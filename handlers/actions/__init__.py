"""Button and other block actions."""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.incidents import messages
from bot.readiness.messages import TICK
from bot.records.handoff_messages import SIGN
from handlers.actions.handoff import sign_clicked
from handlers.actions.incident import acknowledge_clicked, escalate_clicked, resolve_clicked
from handlers.actions.readiness import tick_clicked


def link_button(ack: Ack) -> None:
    """Link buttons (runbook) open in the browser; Slack still posts the click, which needs a 200."""
    ack()


ACTIONS = {
    "open_runbook": link_button,
    messages.ACK: acknowledge_clicked,
    messages.ESCALATE: escalate_clicked,
    messages.RESOLVE: resolve_clicked,
    SIGN: sign_clicked,
    TICK: tick_clicked,
}


def register(app: App) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id)(listener)
