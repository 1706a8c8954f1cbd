"""Build and sign the HTTP requests Slack sends to an app.

Signing, slash commands, block_actions, message shortcuts (bot/app/demo/slack_requests.py) and
view_submission (bot/app/demo/slack_views.py) are what ``baton demo``'s page sends too, re-exported
here; Events API bodies, which only tests send, are built here.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from bot.app.demo.slack_requests import (  # noqa: F401 - re-exported for the tests
    DEFAULT_APP_ID,
    DEFAULT_BOT_USER_ID,
    DEFAULT_CHANNEL_ID,
    DEFAULT_CHANNEL_NAME,
    DEFAULT_TEAM_DOMAIN,
    DEFAULT_TEAM_ID,
    DEFAULT_USER_ID,
    DEFAULT_USER_NAMES,
    FORM,
    JSON,
    VERIFICATION_TOKEN,
    block_actions_body,
    block_actions_payload,
    form_payload,
    message_shortcut_body,
    message_shortcut_payload,
    new_response_url,
    new_trigger_id,
    now_ts,
    post_signed,
    sign,
    signature,
    slash_command_body,
    slash_command_payload,
    team_field,
    user_field,
)
from bot.app.demo.slack_views import view_submission_body, view_submission_payload  # noqa: F401

# -- Events API ------------------------------------------------------------------------------


def event_callback_payload(
    event: Mapping[str, Any],
    *,
    team_id: str = DEFAULT_TEAM_ID,
    api_app_id: str = DEFAULT_APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    authed_user: str = DEFAULT_BOT_USER_ID,
) -> dict[str, Any]:
    """The ``event_callback`` wrapper around ``event`` (fills ``event_ts`` if missing)."""
    ev = dict(event)
    if "type" not in ev:
        raise ValueError("an event needs a type")
    ev.setdefault("event_ts", ev.get("ts") or now_ts())
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": ev,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()) if event_time is None else event_time,
        # authed_users is deprecated but still required by Slack's published wrapper schema.
        "authed_users": [authed_user],
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": authed_user,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_urlsafe(24),
    }


def event_callback_body(event: Mapping[str, Any], **extra: Any) -> str:
    """JSON body of :func:`event_callback_payload` (``extra``: its keyword arguments)."""
    return json.dumps(event_callback_payload(event, **extra))


def url_verification_body(challenge: str, *, token: str = VERIFICATION_TOKEN) -> str:
    """JSON body of the Events API URL verification handshake."""
    return json.dumps({"token": token, "challenge": challenge, "type": "url_verification"})
