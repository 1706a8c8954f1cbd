"""Events API listeners. Event types here are the bot events in slack-app-manifest.yaml."""

from __future__ import annotations

from slack_bolt import App

from handlers.events.app_home import app_home_opened
from handlers.events.reactions import reaction_added

EVENTS = {"reaction_added": reaction_added, "app_home_opened": app_home_opened}


def register(app: App) -> None:
    for event, listener in EVENTS.items():
        app.event(event)(listener)
