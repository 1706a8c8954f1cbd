"""`/incident follow-up <text> [@owner]` and `/incident follow-ups`: parsing only; the rules are
bot/followups/services.py's. dispatch (handlers/commands/incident.py) has found the incident
(the channel's, or `#N`)."""

from __future__ import annotations

import re
from typing import Any

from bot.followups import services as followups
from bot.incidents.services import IncidentError
from bot.store.models import Incident
from bot.store.runtime import Baton
from bot.text.typed import quote
from handlers.render import followups as render
from handlers.render import incident as incident_render

SUBCOMMANDS = ("follow-up", "follow-ups")
# The owner, last: a mention Slack wrote (`<@U123|maya>`) or a typed `@handle`.
OWNER = re.compile(r"(?:^|\s+)(<@[UW][A-Z0-9]+(?:\|[^>]*)?>|@[\w.\-]+)$")


def follow_up(baton: Baton, inc: Incident, rest: str, *, user: str) -> dict[str, Any]:
    """Add one; the answer says to whom it went (the channel is told by the service)."""
    assert inc.id is not None
    text, owner = rest.strip(), None
    found = OWNER.search(text)
    if found:
        person = baton.ownership.person_named(found.group(1), then=f"e.g. `{followups.EXAMPLE}`")
        owner = baton.ownership.user_id(person)
        if owner is None:
            raise IncidentError(
                f"`{quote(person)}` has no Slack account Baton knows: name the owner by their Slack "
                f"mention, e.g. `{followups.EXAMPLE}`"
            )
        text = text[: found.start()]
    fu = followups.add(baton=baton, number=inc.id, text=text, owner=owner, user=user)
    whose = "yours" if fu.owner == user else f"owned by <@{fu.owner}>"
    return incident_render.reply(
        f":clipboard: Follow-up added to #{inc.id}, {whose}. `/incident follow-ups` lists them."
    )


def follow_ups(baton: Baton, inc: Incident) -> dict[str, Any]:
    assert inc.id is not None
    return render.listing(inc, followups.list_for(baton=baton, number=inc.id))
