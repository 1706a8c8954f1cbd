"""Slash commands. The names here are the ones in slack-app-manifest.yaml (a test keeps them in step)."""

from __future__ import annotations

from slack_bolt import App

from handlers.commands.incident import incident_command
from handlers.commands.owner import owner_command
from handlers.commands.readiness import readiness_command
from handlers.commands.slo import slo_command

COMMANDS = {
    "/incident": incident_command,
    "/owner": owner_command,
    "/readiness": readiness_command,
    "/slo": slo_command,
}


def register(app: App) -> None:
    for name, listener in COMMANDS.items():
        app.command(name)(listener)
