"""Slash commands. The names here are the ones in slack-app-manifest.yaml (a test keeps them in step)."""

from __future__ import annotations

from slack_bolt import App

from handlers.commands import incident, readiness, slo
from handlers.commands.owner import owner_command
from handlers.listener import Listener

COMMANDS: dict[str, tuple[Listener, ...]] = {
    "/incident": incident.LISTENERS,
    "/owner": (Listener(owner_command),),
    "/readiness": readiness.LISTENERS,
    "/slo": slo.LISTENERS,
}


def register(app: App) -> None:
    for name, listeners in COMMANDS.items():
        for listener in listeners:
            listener.on(app.command, name)
