"""Starting a drill: who may, and the drill written through the same declaration as an incident.

A drill pages real people, so only those who own the area may start one: its R, its A and
Baton's admins. It is declared by `bot/incidents/declaration.py`'s `declare_in` (the real ladder,
the real windows, or a shortened one) and marked a drill, so every surface says DRILL and no
figure counts it. Its score card is queued in the same transaction, due when the last step has
fired: a drill nobody answers is scored all the same.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from bot.access import groups
from bot.access.rule import Group
from bot.access.rule import check as check_groups
from bot.drills.score import ScorePayload
from bot.incidents.errors import IncidentError
from bot.incidents.services import declare_in, validate_declaration
from bot.store.db import session
from bot.store.models import Incident
from bot.store.runtime import Baton
from bot.text.spans import format_duration

EXAMPLE = "/incident drill P1 model-quality Rehearse the answer-quality ladder"
# Who may start a drill in an area, in the order the refusal lists them.
WHO_STARTS = ("owners", "admins")
# No drill shorter than this: a page must leave and a person read it before a step passes.
SHORTEST = timedelta(seconds=1)


def who_starts(baton: Baton, area: str) -> list[Group]:
    found = {"owners": groups.owners(baton, area), "admins": groups.admins(baton)}
    return [found[key] for key in WHO_STARTS if found[key].users]


def default_title(level: str) -> str:
    return f"Rehearsal of the {level} response window"


def start(
    *,
    baton: Baton,
    severity: str,
    area: str,
    title: str,
    starter: str,
    window: timedelta | None = None,
    checked: bool = True,
) -> Incident:
    """Declare a drill as `starter` (a Slack user ID; with `checked`, someone who may). The
    ticker does the rest, as for an incident."""
    level, key, typed_title = validate_declaration(
        baton, severity=severity, area=area, title=title or default_title(severity.upper()), example=EXAMPLE
    )
    policy = baton.config.severity.levels[level]
    if policy.response_time is None or policy.notify == "backlog":
        raise IncidentError(
            f"{level} has no response window to rehearse (it is a backlog level); "
            f"drill a paging level, e.g. `{EXAMPLE}`"
        )
    if window is not None and window < SHORTEST:
        raise IncidentError(f"--window {format_duration(window)} is too short; give at least 1s, e.g. 10m")
    with session(baton.engine) as s:
        if checked:
            check_groups(starter, who_starts(baton, key), f"start a drill in {key}")
        inc = start_in(
            s, baton=baton, level=level, area=key, title=typed_title, starter=starter, window=window
        )
        s.commit()
    baton.wake()
    return inc


def start_in(
    s: Session,
    *,
    baton: Baton,
    level: str,
    area: str,
    title: str,
    starter: str,
    window: timedelta | None = None,
    heads_up: timedelta = timedelta(0),
) -> Incident:
    """A drill inside the caller's transaction (validated input; the caller commits and wakes
    the ticker): the scheduled drill is written in the transaction that claims its nudge, its
    window starting `heads_up` later, so the team hears of it before the first page."""
    inc = declare_in(
        s,
        baton=baton,
        level=level,
        area=area,
        title=title,
        reporter=starter,
        drill=True,
        window=window,
        start=baton.clock.now() + heads_up,
    )
    assert inc.id is not None
    last = max((step.after for step in inc.policy.steps), default=0.0)
    started = inc.window_started_at or inc.declared_at
    ScorePayload().enqueue(
        s, incident_id=inc.id, due_at=started + timedelta(seconds=last), now=inc.declared_at
    )
    return inc
