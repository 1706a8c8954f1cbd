"""/readiness: every area's scores, one area's checklists with tick buttons,
`/readiness <area> check <item> [link]` and `/readiness <area> uncheck <item>`.

The ack goes back empty at once and the answer follows through respond(), from a lazy function
(handlers/listener.py): the answer reads the database (and a tick writes it), which must never
hold up Slack's 3 seconds.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext, Respond

from bot.readiness import drills, services
from bot.readiness.checklist import readiness, readiness_of
from bot.readiness.services import ReadinessError
from bot.store.db import session
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.typed import Unknown
from handlers.listener import Listener, baton_of
from handlers.render import readiness as render

log = logging.getLogger(__name__)

VERBS = {"check": "check", "tick": "check", "uncheck": "uncheck", "untick": "uncheck"}


def readiness_asked(ack: Ack, context: BoltContext) -> None:
    baton_of(context).metrics.requests.labels(kind="/readiness").inc()
    ack()


def readiness_command(command: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """After the answer: read (or tick) and respond()."""
    baton = baton_of(context)
    text = (command.get("text") or "").strip()
    try:
        answer = reply_for(baton, text, user=command["user_id"])
    except Refused as e:
        answer = render.error(str(e))
    except Exception as e:  # the person asked: they hear that it failed, not silence
        # Not what was typed: a link can carry a token, a note a name.
        log.exception("/readiness from %s failed (its text is not logged)", command["user_id"])
        answer = render.error(f"/readiness failed ({type(e).__name__}); try again, or see Baton's log.")
    respond(**answer)


def all_areas(baton: Baton) -> dict[str, Any]:
    areas = baton.config.ownership.areas
    with session(baton.engine) as s:
        states = readiness_of(baton.config, s, areas)
    return render.area_list([(key, areas[key].name, states[key]) for key in areas])


def area_view(baton: Baton, area: str, *, note: str | None = None) -> dict[str, Any]:
    with session(baton.engine) as s:
        state = readiness(baton.config, s, area)
    last = drills.rehearsal(baton=baton, area=area)
    return render.view(baton.config.ownership.areas[area].name, state, last, note=note)


def reply_for(baton: Baton, text: str, *, user: str) -> dict[str, Any]:
    """The ephemeral answer to `/readiness <text>`."""
    if not text:
        return all_areas(baton)
    words = text.split()
    at = next((i for i, w in enumerate(words) if w.lower() in VERBS), None)
    if at is None:  # `/readiness <area>`: a close miss shows the area it most likely meant
        try:
            return area_view(baton, services.area_key(baton, text))
        except Unknown as e:
            if e.guess is None:
                raise ReadinessError(f"{e} {render.USAGE}") from None
            return area_view(baton, e.guess, note=f":warning: {e} Showing `{e.guess}` below.")
    verb, area_text, rest = VERBS[words[at].lower()], " ".join(words[:at]), words[at + 1 :]
    if not area_text:
        raise ReadinessError(f"Name the area before `{words[at]}`: {render.USAGE}")
    area = services.area_key(baton, area_text)  # never tick a guessed area: an error says the guess
    if not rest:
        raise ReadinessError(
            f"Name the item to {words[at].lower()}, e.g. `/readiness {area} {verb} dashboard`. "
            f"Items: {services.keys_text()}"
        )
    name = baton.config.ownership.areas[area].name
    if verb == "uncheck":
        if len(rest) > 1:
            raise ReadinessError(f"Untick one item at a time: `/readiness {area} uncheck <item>`.")
        undone = services.uncheck_item(baton=baton, area=area, item=rest[0], user=user)
        return render.unchecked(name, undone, drills.rehearsal(baton=baton, area=area))
    if len(rest) > 2:
        raise ReadinessError(
            f"After the item give at most one link, e.g. `/readiness {area} check dashboard "
            f"{services.LINK_EXAMPLE}`."
        )
    link = rest[1] if len(rest) == 2 else None
    done = services.check_item(baton=baton, area=area, item=rest[0], user=user, link=link)
    return render.checked(name, done, drills.rehearsal(baton=baton, area=area))


LISTENERS = (Listener(readiness_asked, lazy=[readiness_command]),)
