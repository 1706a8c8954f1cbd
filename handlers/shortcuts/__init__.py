"""Shortcuts. Callback IDs here are the ones in slack-app-manifest.yaml (a test keeps them in step)."""

from __future__ import annotations

from slack_bolt import App

from handlers.listener import Listener, just_ack
from handlers.shortcuts.evidence import add_to_evidence

SHORTCUTS = {"add_evidence": Listener(just_ack, lazy=[add_to_evidence])}


def register(app: App) -> None:
    for callback_id, listener in SHORTCUTS.items():
        listener.on(app.shortcut, callback_id)
