"""Approve and Deny on an action request, in an approver's DM (bot/actions/requests.py).

Lazy functions (handlers/listener.py): the click is acked at once, the decision and its answer
follow. The answer replaces the DM, so its buttons cannot be clicked twice; a refusal (the
requester, someone not asked) is ephemeral and leaves the DM as it was.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.actions import messages
from bot.actions import requests as action_requests
from bot.incidents.messages import section
from bot.text.errors import Refused
from handlers.listener import baton_of


def approve_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    _decide(body, respond, context, approve=True)


def deny_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    _decide(body, respond, context, approve=False)


def _decide(body: dict[str, Any], respond: Respond, context: BoltContext, *, approve: bool) -> None:
    baton = baton_of(context)
    try:
        decision = action_requests.decide(
            baton=baton, request_id=int(body["actions"][0]["value"]), approve=approve, user=body["user"]["id"]
        )
    except (Refused, ValueError) as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    req = decision.request
    text = messages.already(req) if decision.already else messages.decided_reply(req)
    # Blocks too: the DM's buttons go with them, so the request cannot be clicked twice.
    respond(replace_original=True, text=text, blocks=[section(text)])
