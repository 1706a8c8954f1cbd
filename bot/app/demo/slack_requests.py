"""The HTTP requests Slack sends to an app, signed as Slack signs them.

``baton demo``'s page reaches Baton only through these, and the test suite builds its requests
with them too (tests/slack_signing.py re-exports them), so the page and the tests sign alike.

* ``sign`` / ``post_signed``: Slack request signing, v0 scheme
  (``v0=HMAC_SHA256(secret, "v0:{timestamp}:{body}")``, https://docs.slack.dev/authentication/verifying-requests-from-slack/).
  Implemented with hmac directly so tests can check it against slack_sdk's verifier independently.
* ``*_payload`` builders return the dict Slack sends (also what a Socket Mode envelope carries);
  ``*_body`` builders return the exact HTTP body: form-encoded for slash commands and
  ``payload=<json>`` form field for interactivity.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

# Workspace defaults; they match FakeSlack's default workspace (tests/slack/test_standin.py checks it).
DEFAULT_TEAM_ID = "T0FAKE"
DEFAULT_TEAM_DOMAIN = "fake-team"
DEFAULT_APP_ID = "A0FAKE"
DEFAULT_BOT_USER_ID = "UBATONBOT"
DEFAULT_USER_ID = "U07MAYA001"
DEFAULT_CHANNEL_ID = "C0GENERAL"
DEFAULT_CHANNEL_NAME = "general"
#: user_id -> user name of FakeSlack's default humans, used to fill ``user.name`` fields.
DEFAULT_USER_NAMES: dict[str, str] = {
    "U07MAYA001": "maya",
    "U07LEO0002": "leo",
    "U07PRIYA03": "priya",
}
#: The deprecated verification token Slack still includes in payloads.
VERIFICATION_TOKEN = "fake-verification-token"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


# -- signing ---------------------------------------------------------------------------------


def signature(body: str | bytes, secret: str, timestamp: int) -> str:
    """The ``X-Slack-Signature`` value for ``body`` at ``timestamp``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode("ascii") + b":" + raw
    return "v0=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def sign(body: str | bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signing headers for ``body``; ``timestamp`` defaults to now (Bolt rejects > 5 min skew)."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, secret, ts),
    }


def post_signed(
    url: str,
    body: str,
    secret: str,
    content_type: str = FORM,
    timestamp: int | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
    timeout: float = 30.0,
) -> httpx.Response:
    """POST ``body`` to ``url`` signed like Slack does (plus any extra ``headers``)."""
    all_headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    all_headers.update(sign(body, secret, timestamp))
    if headers:
        all_headers.update(headers)
    data = body.encode("utf-8")
    if client is not None:
        return client.post(url, content=data, headers=all_headers, timeout=timeout)
    return httpx.post(url, content=data, headers=all_headers, timeout=timeout)


# -- ids -------------------------------------------------------------------------------------


def new_trigger_id() -> str:
    """A trigger_id in Slack's format (``12345.98765.abcd2358fdea``)."""
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"


def new_response_url(team_id: str = DEFAULT_TEAM_ID, kind: str = "commands") -> str:
    """A realistic-looking (unreachable) response_url; pass FakeSlack.response_url() to capture posts."""
    return f"https://hooks.slack.com/{kind}/{team_id}/{secrets.randbelow(10**13)}/{secrets.token_hex(12)}"


def now_ts() -> str:
    return f"{time.time():.6f}"


def user_field(user_id: str, user_name: str | None, team_id: str) -> dict[str, str]:
    name = user_name or DEFAULT_USER_NAMES.get(user_id, user_id.lower())
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def team_field(team_id: str) -> dict[str, str]:
    return {"id": team_id, "domain": DEFAULT_TEAM_DOMAIN}


def form_payload(payload: Mapping[str, Any]) -> str:
    # Interactivity requests are form-encoded with a single ``payload`` field holding JSON.
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


# -- slash commands --------------------------------------------------------------------------


def slash_command_payload(
    command: str,
    text: str = "",
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> dict[str, str]:
    """The fields of a slash command request, in Slack's order (all values are strings)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": DEFAULT_TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or DEFAULT_USER_NAMES.get(user_id, user_id.lower()),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or new_response_url(team_id),
        "trigger_id": trigger_id or new_trigger_id(),
    }


def slash_command_body(
    command: str,
    text: str = "",
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    team_id: str = DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> str:
    """Form-encoded slash command body, as POSTed to the app's request URL."""
    return urlencode(
        slash_command_payload(
            command,
            text,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
            team_id=team_id,
            trigger_id=trigger_id,
            response_url=response_url,
            api_app_id=api_app_id,
        )
    )


def normalize_state(state_values: Mapping[str, Any]) -> dict[str, Any]:
    """Accept Slack's ``{block_id: {action_id: {"type": ..., ...}}}``; a bare str leaf becomes a
    plain_text_input value so tests can write ``{"title": {"title": "DB down"}}``."""
    out: dict[str, Any] = {}
    for block_id, actions in state_values.items():
        out[block_id] = {}
        for action_id, leaf in actions.items():
            if isinstance(leaf, Mapping):
                out[block_id][action_id] = dict(leaf)
            else:
                out[block_id][action_id] = {"type": "plain_text_input", "value": leaf}
    return out


# -- block_actions ---------------------------------------------------------------------------


def _action(action_id: str, value: str, action_type: str, block_id: str) -> dict[str, Any]:
    """One entry of ``actions``; the field carrying the value depends on the element type."""
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": action_type}
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": value, "emoji": True}
        action["value"] = value
    elif action_type in ("static_select", "external_select", "overflow", "radio_buttons"):
        action["selected_option"] = {
            "text": {"type": "plain_text", "text": value, "emoji": True},
            "value": value,
        }
    elif action_type == "users_select":
        action["selected_user"] = value
    elif action_type == "conversations_select":
        action["selected_conversation"] = value
    elif action_type == "channels_select":
        action["selected_channel"] = value
    elif action_type == "datepicker":
        action["selected_date"] = value
    else:  # plain_text_input with dispatch_action and anything exotic
        action["value"] = value
    action["action_ts"] = now_ts()
    return action


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str | None = None,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    message_ts: str | None = None,
    message: Mapping[str, Any] | None = None,
    container: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    block_id: str = "actions",
    action_type: str = "button",
    state_values: Mapping[str, Any] | None = None,
    team_id: str = DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
    is_ephemeral: bool = False,
    api_app_id: str = DEFAULT_APP_ID,
) -> dict[str, Any]:
    """A ``block_actions`` payload: from a message (channel_id+message_ts) or from a view (view=...).

    ``action_type`` picks where ``value`` goes (button ``value``, select ``selected_option`` ...).
    """
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": user_field(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": team_field(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if view is not None:
        payload["container"] = dict(container or {"type": "view", "view_id": view.get("id", "")})
        payload["view"] = dict(view)
    else:
        if channel_id is not None:
            payload["channel"] = {"id": channel_id, "name": channel_name}
        if message_ts is not None:
            payload["container"] = dict(
                container
                or {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel_id,
                    "is_ephemeral": is_ephemeral,
                }
            )
            if not is_ephemeral:
                # Slack omits the message for ephemeral sources.
                payload["message"] = dict(
                    message
                    or {
                        "type": "message",
                        "user": DEFAULT_BOT_USER_ID,
                        "ts": message_ts,
                        "text": "",
                        "team": team_id,
                        "blocks": [],
                    }
                )
        elif container is not None:
            payload["container"] = dict(container)
        payload["response_url"] = response_url or new_response_url(team_id, "actions")
    payload["state"] = {"values": normalize_state(state_values or {})}
    payload["actions"] = [_action(action_id, value, action_type, block_id)]
    return payload


def block_actions_body(
    action_id: str,
    value: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str | None = None,
    message_ts: str | None = None,
    container: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    **extra: Any,
) -> str:
    """Form body (``payload=<json>``) of :func:`block_actions_payload` (``extra``: its other kwargs)."""
    payload = block_actions_payload(
        action_id,
        value,
        user_id=user_id,
        channel_id=channel_id,
        message_ts=message_ts,
        container=container,
        view=view,
        **extra,
    )
    return form_payload(payload)


# -- message shortcuts -----------------------------------------------------------------------


def message_shortcut_payload(
    callback_id: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    user_name: str | None = None,
    channel_id: str = DEFAULT_CHANNEL_ID,
    channel_name: str = DEFAULT_CHANNEL_NAME,
    message: Mapping[str, Any],
    team_id: str = DEFAULT_TEAM_ID,
    trigger_id: str | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A message shortcut payload (``type: message_action``); ``message`` must carry ``ts``."""
    msg = dict(message)
    if "ts" not in msg:
        raise ValueError("message shortcut needs the source message's ts")
    msg.setdefault("type", "message")
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": now_ts(),
        "team": team_field(team_id),
        "user": user_field(user_id, user_name, team_id),
        "channel": {"id": channel_id, "name": channel_name},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url or new_response_url(team_id, "app"),
        "message_ts": msg["ts"],
        "message": msg,
    }


def message_shortcut_body(
    callback_id: str,
    *,
    user_id: str = DEFAULT_USER_ID,
    channel_id: str = DEFAULT_CHANNEL_ID,
    message: Mapping[str, Any],
    **extra: Any,
) -> str:
    """Form body (``payload=<json>``) of :func:`message_shortcut_payload` (``extra``: its other kwargs)."""
    payload = message_shortcut_payload(
        callback_id, user_id=user_id, channel_id=channel_id, message=message, **extra
    )
    return form_payload(payload)
