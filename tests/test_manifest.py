"""slack-app-manifest.yaml lists exactly what the code handles and the scopes its Slack calls need."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.app.demo.page import EVIDENCE_SHORTCUT
from handlers.commands import COMMANDS
from handlers.events import EVENTS
from handlers.shortcuts import SHORTCUTS

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text())

# Bot scopes each Web API method needs (docs.slack.dev, "Required scopes").
SCOPES = {
    "auth.test": set(),
    "users.lookupByEmail": {"users:read", "users:read.email"},
    "chat.postMessage": {"chat:write"},
    "chat.getPermalink": set(),
    "conversations.create": {"channels:manage"},
    "conversations.invite": {"channels:manage"},
    "conversations.setTopic": {"channels:manage"},
    "pins.add": {"pins:write"},
    "views.open": set(),
    "views.publish": set(),
    "conversations.history": {"channels:history", "im:history"},  # channels' posts and DMs
    "conversations.open": {"im:write"},  # users= one person
    "conversations.info": {"channels:read", "groups:read"},
    "conversations.list": {"channels:read"},  # types=public_channel only
    "usergroups.list": {"usergroups:read"},
    "users.info": {"users:read"},
    "chat.update": {"chat:write"},  # the announcement, edited in place
    "conversations.replies": {"channels:history"},  # a status in the announcement's thread
    "files.getUploadURLExternal": {"files:write"},  # a drill's picture
    "files.completeUploadExternal": {"files:write"},
}
# Scopes that events need rather than calls.
EVENT_SCOPES = {"reaction_added": {"reactions:read"}, "app_home_opened": set()}


def _methods_called() -> set[str]:
    source = (ROOT / "bot" / "slack" / "chat.py").read_text()
    return set(re.findall(r'self\._call(?:_with)?\(\s*"([a-z]+\.[A-Za-z.]+)"', source))


def test_manifest_commands_are_the_registered_ones() -> None:
    commands = MANIFEST["features"]["slash_commands"]
    assert {c["command"] for c in commands} == set(COMMANDS)
    assert all(c["should_escape"] is True for c in commands)


def test_manifest_scopes_are_what_the_slack_port_needs() -> None:
    called = _methods_called()
    assert called, "no Slack calls found in bot/slack/chat.py"
    unknown = called - set(SCOPES)
    assert not unknown, f"add the scopes of {unknown} to SCOPES (and the manifest)"
    needed = {"commands"}.union(*(SCOPES[m] for m in called), *(EVENT_SCOPES[e] for e in EVENTS))
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_manifest_shortcuts_and_events_are_the_registered_ones() -> None:
    shortcuts = MANIFEST["features"]["shortcuts"]
    assert {s["callback_id"] for s in shortcuts} == set(SHORTCUTS)
    assert EVIDENCE_SHORTCUT in SHORTCUTS  # what baton demo's page sends for "Add to incident evidence"
    assert all(s["type"] == "message" for s in shortcuts)
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == set(EVENTS)
    assert set(EVENTS) <= set(EVENT_SCOPES)


def test_manifest_turns_on_interactivity_socket_mode_and_the_home_tab() -> None:
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    settings = MANIFEST["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
