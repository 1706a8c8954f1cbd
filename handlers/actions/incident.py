"""Incident buttons: Acknowledge (in DMs and in the channel), Escalate now, Resolve.

Each is a lazy function (handlers/listener.py): the click is acked at once, the work and its
answer (respond(), the resolve form) follow.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.incidents import messages
from bot.incidents import services as incidents
from bot.incidents.rules import Action
from bot.incidents.services import IncidentError
from bot.text.errors import Refused
from handlers.events.app_home import answer_on_home
from handlers.listener import baton_of
from handlers.render import incident as render


def _number(body: dict[str, Any]) -> int:
    return int(body["actions"][0]["value"])


def acknowledge_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    baton = baton_of(context)
    respond = answer_on_home(respond, body, context)  # on the Home tab: republish it
    user = body["user"]["id"]
    try:
        result = incidents.acknowledge(baton=baton, number=_number(body), user=user)
    except Refused as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    inc = result.incident
    if result.already:
        text = f"#{inc.id} was already acknowledged by <@{inc.acknowledged_by}>."
    else:
        text = f":white_check_mark: You acknowledged #{inc.id}: {messages.title(inc)}. Escalation stopped."
    # In a DM the page itself is replaced, so the button cannot be pressed twice.
    in_dm = (body.get("channel") or {}).get("id", "").startswith("D")
    respond(text=text, replace_original=in_dm, response_type="ephemeral")


def escalate_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    baton = baton_of(context)
    try:
        incidents.escalate_now(baton=baton, number=_number(body), user=body["user"]["id"])
    except Refused as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")


def resolve_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    baton = baton_of(context)
    try:
        # Asked before the form opens, so nobody fills it in only to be refused.
        inc = incidents.check(
            baton=baton, number=_number(body), user=body["user"]["id"], action=Action.RESOLVE
        )
        if inc.state == "resolved":
            raise IncidentError(f"Incident #{inc.id} is already resolved.")
    except Refused as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    baton.chat.open_view(body["trigger_id"], render.resolve_view(inc))
