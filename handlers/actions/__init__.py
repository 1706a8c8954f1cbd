"""Button and other block actions."""

from __future__ import annotations

from slack_bolt import Ack, App


def link_button(ack: Ack) -> None:
    """Link buttons (runbook) open in the browser; Slack still posts the click, which needs a 200."""
    ack()


ACTIONS = {"open_runbook": link_button}


def register(app: App) -> None:
    for action_id, listener in ACTIONS.items():
        app.action(action_id)(listener)
