"""Declaring an incident: what one writes, in one transaction, however it is born (the
command, the form, Alertmanager, the SLO check, /feedback, a drill: each ends in `declare_in`).

A paging level gets the channel's set-up job, its ladder (one row per page, with its due time;
step 0's channel notice waits for the set-up), its external pager trigger and its update
cadence; a backlog level gets a post to backlog_channel. Then the announcement and the FYI
(bot/incidents/announce.py), queued to go once the channel exists, never beside the pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from bot.config.fields import SEVERITIES
from bot.incidents import announce, cadence, messages, paging
from bot.incidents.errors import IncidentError
from bot.incidents.paging import timeline
from bot.incidents.rooms import SetupPayload
from bot.store.db import session
from bot.store.models import Incident
from bot.store.outbox import PostPayload
from bot.store.policy import Policy
from bot.store.runtime import Baton
from bot.text.typed import severity, typed

EXAMPLE = "/incident P1 model-quality Hallucination spike on checkout"


def level_named(baton: Baton, text: str, example: str = EXAMPLE) -> str:
    known = [s for s in SEVERITIES if s in baton.config.severity.levels]
    return severity(text, known, then=f"e.g. `{example}`")


def _area(baton: Baton, text: str, example: str = EXAMPLE) -> str:
    return baton.ownership.area_named(text, then=f"e.g. `{example}`")


def is_backlog(policy: Policy) -> bool:
    return policy.notify == "backlog" or policy.window_seconds is None


def validate_declaration(
    baton: Baton, *, severity: str, area: str, title: str, example: str = EXAMPLE
) -> tuple[str, str, str]:
    """(level, area key, masked title) or IncidentError, ending in `example`; nothing is written."""
    level = level_named(baton, severity, example)
    key = _area(baton, area, example)
    title = typed(title)
    if not title:
        raise IncidentError(f"Give the incident a title after the area, e.g. `{example}`")
    return level, key, title


def declare(*, baton: Baton, severity: str, area: str, title: str, reporter: str) -> Incident:
    """Record the incident and everything it will need, in one transaction (see the module)."""
    level, key, title = validate_declaration(baton, severity=severity, area=area, title=title)
    with session(baton.engine) as s:
        inc = declare_in(s, baton=baton, level=level, area=key, title=title, reporter=reporter)
        s.commit()
    baton.wake()
    return inc


def declare_in(
    s: Session,
    *,
    baton: Baton,
    level: str,
    area: str,
    title: str,
    reporter: str,
    drill: bool = False,
    window: timedelta | None = None,
    start: datetime | None = None,
) -> Incident:
    """`declare` inside the caller's transaction (validated input; the caller commits and wakes
    the ticker): for callers that decide something else in the same transaction, such as an
    alert group that must never declare twice. A drill (bot/drills/) comes this way too, with
    its window shortened when `window` is given, and starting at `start` (a scheduled drill gives
    its team a minute's notice) rather than now."""
    now = baton.clock.now()
    begins = max(start or now, now)
    policy = paging.snapshot(baton, level=level, area=area)
    if window is not None:
        policy = paging.shortened(policy, window)
    backlog = is_backlog(policy)
    inc = Incident(
        title=title,
        area=area,
        severity=level,
        backlog=backlog,
        drill=drill,
        declared_by=reporter,
        declared_at=now,
        policy=policy,
        commander=None if backlog else baton.ownership.user_id(baton.ownership.raci(area).accountable),
        window_started_at=None if backlog else begins,
        deadline=None
        if backlog or policy.window_seconds is None
        else begins + timedelta(seconds=policy.window_seconds),
    )
    s.add(inc)
    s.flush()
    assert inc.id is not None
    declared = f"declared {'a ' + level + ' drill' if drill else level} in {area}: {title}"
    timeline(s, inc.id, at=now, actor=reporter, kind="declared", text=declared)
    if backlog:
        channel = baton.config.severity.backlog_channel
        backlog_post = PostPayload(channel=channel, text=messages.backlog_post(inc), backlog=True)
        backlog_post.enqueue(s, incident_id=inc.id, due_at=now, now=now)
    else:
        SetupPayload().enqueue(s, incident_id=inc.id, due_at=now, now=now)
        paging.schedule_ladder(s, inc, start=begins, now=now, setting_up=True)
        paging.enqueue_pager(baton, s, inc, action="trigger", now=now)
        cadence.start(baton, s, inc, now=now)
    announce.declared(baton, s, inc, now=now)  # after the channel's set-up and the pages
    return inc
