"""The view_submission Slack sends when a person submits a modal, signed as Slack signs it
(bot/app/demo/slack_requests.py has the rest: signing, commands, clicks, shortcuts)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from bot.app.demo.slack_requests import (
    DEFAULT_APP_ID,
    DEFAULT_TEAM_ID,
    DEFAULT_USER_ID,
    VERIFICATION_TOKEN,
    form_payload,
    new_trigger_id,
    normalize_state,
    team_field,
    user_field,
)

# -- view_submission -------------------------------------------------------------------------


def view_submission_payload(
    callback_id: str,
    state_values: Mapping[str, Any],
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    private_metadata: str = "",
    view_id: str = "V0SUBMIT01",
    blocks: list[dict[str, Any]] | None = None,
    title: str = "Modal",
    external_id: str = "",
    view_hash: str | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> dict[str, Any]:
    """A ``view_submission`` payload for a modal with ``callback_id`` and the given state."""
    return {
        "type": "view_submission",
        "team": team_field(team_id),
        "user": user_field(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": list(blocks or []),
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": normalize_state(state_values)},
            "hash": view_hash or f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": title, "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": api_app_id,
            "external_id": external_id,
            "app_installed_team_id": team_id,
            "bot_id": "B0FAKEBOT",
        },
        "response_urls": list(response_urls or []),
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(
    callback_id: str,
    state_values: Mapping[str, Any],
    *,
    user_id: str = DEFAULT_USER_ID,
    private_metadata: str = "",
    **extra: Any,
) -> str:
    """Form body (``payload=<json>``) of :func:`view_submission_payload` (``extra``: its other kwargs)."""
    payload = view_submission_payload(
        callback_id, state_values, user_id=user_id, private_metadata=private_metadata, **extra
    )
    return form_payload(payload)
