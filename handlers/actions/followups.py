"""The Done button on a follow-up (in `/incident follow-ups` and on App Home): marks it done as
the person who clicked, through the service's who-may rule; a refusal names who may."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.followups import messages
from bot.followups import services as followups
from bot.text.errors import Refused
from handlers.events.app_home import answer_on_home, from_home
from handlers.listener import baton_of
from handlers.render import followups as render


def done_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A lazy function (handlers/listener.py): the click is acked first."""
    baton = baton_of(context)
    home = from_home(body)
    respond = answer_on_home(respond, body, context)  # on the Home tab: republish it
    value = str(body["actions"][0].get("value") or "")
    try:
        if not value.isdecimal():
            raise followups.FollowUpError("That is not a follow-up; `/incident follow-ups` lists them.")
        result = followups.done(baton=baton, follow_up_id=int(value), user=body["user"]["id"])
    except Refused as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    fu, inc = result.follow_up, result.incident
    if result.already:
        notice = f"That follow-up of #{inc.id} was already done (by <@{fu.done_by}>)."
    else:
        notice = f":ballot_box_with_check: Done: {messages.what(fu, 200)} (#{inc.id})."
    if home:
        respond(text=notice)
        return
    # The person's own list, refreshed in place: the button gone, the answer on top.
    assert inc.id is not None
    answer = render.listing(inc, followups.list_for(baton=baton, number=inc.id), notice=notice)
    respond(replace_original=True, text=answer["text"], blocks=answer["blocks"])
