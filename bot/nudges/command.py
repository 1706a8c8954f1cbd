"""`baton nudge <name>`: run one scheduled nudge now, from the command line, and say what it sent."""

from __future__ import annotations

import dataclasses
import sys

from bot.config.schema import Config
from bot.records import handoffs
from bot.slack.chat import ChatError
from bot.store.settings import Settings, SettingsError, slack_api_from_env

NAMES = ("slo", "readiness", "review", "handoffs")


def nudge_command(name: str, config: Config) -> int:
    if name != "handoffs":
        print(
            f"baton: the {name} nudge is not in this version of Baton yet; `baton nudge handoffs` is",
            file=sys.stderr,
        )
        return 2
    from bot.app.runner import boot  # the database and Slack only when nudging

    try:
        token, api_url = slack_api_from_env()
        settings = dataclasses.replace(
            Settings.from_env(require_slack=False), bot_token=token, api_url=api_url
        )
        baton = boot(settings, config)
    except SettingsError as e:
        print(f"baton: {e}", file=sys.stderr)
        return 2
    try:
        found = handoffs.reminders(baton)
        failed = 0
        for user, text, blocks in found:
            try:
                baton.chat.post_message(user, text=text, blocks=blocks)
                print(f"reminded <@{user}>: {text}")
            except ChatError as e:
                failed += 1
                print(f"baton: could not remind <@{user}>: {e}", file=sys.stderr)
    finally:
        baton.engine.dispose()
    if not found:
        print("ok: no handoff is waiting for a signature")
    return 1 if failed else 0
