"""The Tick button on a readiness item (in /readiness answers and in the readiness nudge): ticks
the item as the person who clicked, through the same service and who-may rule as the command."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.readiness import drills, services
from bot.readiness.messages import parse_value
from bot.text.errors import Refused
from handlers.listener import baton_of
from handlers.render import readiness as render


def tick_clicked(body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A lazy function (handlers/listener.py): the click is acked first."""
    baton = baton_of(context)
    area, item = parse_value(str(body["actions"][0].get("value") or ""))
    try:
        # A button pressed on an old message must not overwrite a tick (and its link) made since.
        done = services.check_item(baton=baton, area=area, item=item, user=body["user"]["id"], replace=False)
    except Refused as e:
        respond(response_type="ephemeral", replace_original=False, text=f":warning: {e}")
        return
    last = drills.rehearsal(baton=baton, area=done.area)
    answer = render.checked(baton.config.ownership.areas[done.area].name, done, last)
    if (body.get("container") or {}).get("is_ephemeral"):
        # The person's own /readiness answer: refreshed in place, the button gone.
        respond(replace_original=True, text=answer["text"], blocks=answer["blocks"])
    else:
        # A nudge others see too: it stays as it was; the clicker gets the area now.
        respond(**answer, replace_original=False)
