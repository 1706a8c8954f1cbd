"""The payloads of an action request's jobs: the webhook call and the expiry, each naming its
request (bot/actions/webhook.py runs the one, bot/actions/ending.py the other)."""

from __future__ import annotations

from bot.store.kinds import Payload


class CallPayload(Payload):
    """POST the action's webhook for an approved request."""

    KIND = "action_call"
    request: int


class ExpirePayload(Payload):
    """Due at a request's expires_at: it ends then unless decided."""

    KIND = "action_expire"
    request: int
