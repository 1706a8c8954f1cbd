"""Events API listeners. Event types here are the bot events in slack-app-manifest.yaml."""

from __future__ import annotations

from slack_bolt import App

from handlers.events.app_home import app_home_opened
from handlers.events.reactions import reaction_added
from handlers.listener import Listener, just_ack

# Slack wants a 200 within 3 s for every event; both read Slack or publish to it, so after it.
EVENTS = {
    "reaction_added": Listener(just_ack, lazy=[reaction_added]),
    "app_home_opened": Listener(just_ack, lazy=[app_home_opened]),
}


def register(app: App) -> None:
    for event, listener in EVENTS.items():
        listener.on(app.event, event)
