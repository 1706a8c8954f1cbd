"""The readiness nudge: per area with open checklist items, those items and the
owners who should tick them (the area's R and A, mentioned), to the responsible team's channel,
or by DM to the accountable person when the team has none.

`digest` builds the posts (`baton nudge readiness` posts them itself); `run` is the scheduled
`readiness` nudge: the posts queued as durable jobs for the ticker.
"""

from __future__ import annotations

from bot.readiness import messages
from bot.readiness.checklist import readiness_of
from bot.store.db import session
from bot.store.outbox import Post, destination, queue
from bot.store.runtime import Baton

WHAT = "the readiness nudge"


def owners(baton: Baton, area: str) -> str:
    """ "ML Team (<@U1>, <@U2>, <@U3>) and <@U1> (accountable)": who should tick, mentioned."""
    own = baton.ownership
    raci = own.raci(area)
    team = baton.config.ownership.teams.get(raci.responsible_team or "")
    people = ", ".join(own.label(ref) for ref in raci.responsible)
    responsible = f"{team.name} ({people})" if team else people
    return f"{responsible} and {own.label(raci.accountable)} (accountable)"


def digest(baton: Baton) -> list[Post]:
    """One post per area that has open items, in ownership.yaml's order (not sent)."""
    areas = list(baton.config.ownership.areas)
    with session(baton.engine) as s:
        states = readiness_of(baton.config, s, areas)
    posts = []
    for area in areas:
        r = states[area]
        if not r.open_items:
            continue
        name = baton.config.ownership.areas[area].name
        text, blocks = messages.nudge(name, r, owners=owners(baton, area))
        target, where, tell = destination(baton, area)
        posts.append(Post(area, target, where, text, blocks, tell))
    return posts


def run(baton: Baton) -> list[Post]:
    """The scheduled `readiness` nudge: each area's post queued for the ticker."""
    posts = digest(baton)
    queue(baton, posts, what=WHAT)
    return posts
