"""Who hears what an incident's channel would have said, when there is no channel (sent to the
first who can be reached by bot/store/outbox.py's `post_to_first`).

The reporter, first: but an incident Alertmanager, an SLO check or the product's feedback
declared has no person as its reporter ("alertmanager" is no Slack ID), and a reporter may have
left the workspace since. So what is owed goes to the first who can be reached of: the reporter
(a person), the commander, the area's accountable person, the responsible team's channel. One
that Slack refuses for good (no such user or channel, deactivated, Baton not in the channel) is
passed over for the next; only when all refuse is the job given up (and logged, counted).
"""

from __future__ import annotations

from contextlib import suppress

from bot.config.ownership import UnknownAreaError
from bot.incidents.messages import USER_ID
from bot.store.models import Incident
from bot.store.runtime import Baton


def who_hears(baton: Baton, inc: Incident) -> list[str]:
    """Slack IDs to try in turn: the reporter (a person), the commander, the area's accountable
    person, the responsible team's channel."""
    own = baton.ownership
    found: list[str | None] = [inc.declared_by if USER_ID.fullmatch(inc.declared_by) else None, inc.commander]
    with suppress(UnknownAreaError):  # the area may have left ownership.yaml since
        found.append(own.user_id(own.raci(inc.area).accountable))
    team = baton.config.ownership.teams.get(inc.policy.team or "")
    found.append(team.channel if team is not None else None)
    out: list[str] = []
    for target in found:
        if target and target not in out:
            out.append(target)
    return out
