"""Drills as figures read them: each area's last drill, and the drills of a
period, as plain values with what they say ("acknowledged in 4m of 1h", "breached").

Drills are incidents with `drill` set: numbered with them, but never counted in their figures.
The readiness card and `/owner <area>` show the area's last drill within RECENT ("rehearsed:
drill #12 acknowledged in 4m of 1h on …"), or that there was none; the weekly failure review
lists the week's drills apart from its incidents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from bot.store.db import reading
from bot.store.models import Incident
from bot.store.runtime import Baton
from bot.text.spans import format_duration

RECENT = timedelta(days=90)  # an area with no drill in this long is told so


@dataclass(frozen=True)
class Drill:
    """One drill, as the figures show it."""

    number: int
    area: str
    severity: str
    declared_at: datetime
    state: str  # open / acknowledged / resolved
    window: str | None  # the response time as written ("1h"); None: a backlog level
    time_to_ack: timedelta | None
    within: bool | None  # acknowledged inside the window
    breached: bool

    def outcome(self) -> str:
        """ "acknowledged in 4m of 1h", "breached (acknowledged after 1h 5m of 1h)", "breached
        (nobody acknowledged within 1h)", "running (1h window)", "resolved without an
        acknowledgement"."""
        took = None
        if self.time_to_ack is not None:
            took = format_duration(timedelta(seconds=round(self.time_to_ack.total_seconds())))
        of = f" of {self.window}" if self.window else ""
        if self.breached or self.within is False:
            if took is not None:
                return f"breached (acknowledged after {took}{of})"
            return f"breached (nobody acknowledged within {self.window})"
        if took is not None:
            return f"acknowledged in {took}{of}"
        if self.state == "resolved":
            return "resolved without an acknowledgement"
        return f"running ({self.window} window)" if self.window else "running"

    def line(self, when: Callable[[datetime], str]) -> str:
        """ "drill #12 P2 model-quality · declared <when> · acknowledged in 4m of 1h"."""
        when_ = when(self.declared_at)
        return f"drill #{self.number} {self.severity} {self.area} · declared {when_} · {self.outcome()}"

    def said(self) -> str:
        """ "drill #12 acknowledged in 4m of 1h"."""
        return f"drill #{self.number} {self.outcome()}"


@dataclass(frozen=True)
class Rehearsal:
    """An area's last drill within RECENT, as the readiness card and `/owner <area>` show it."""

    area: str
    last: Drill | None  # None: no drill within RECENT

    def text(self, on: Callable[[datetime], str]) -> str:
        """ "rehearsed: drill #12 acknowledged in 4m of 1h on <date>", or "no drill in 90 days".
        `on` writes the date (Slack's date token, or plain text)."""
        if self.last is None:
            return f"no drill in {RECENT.days} days"
        return f"rehearsed: {self.last.said()} on {on(self.last.declared_at)}"


def rehearsal(*, baton: Baton, area: str) -> Rehearsal:
    """The area's last drill within RECENT of Baton's clock (read only)."""
    with reading(baton.engine) as s:
        return Rehearsal(area, last_drill(s, area, now=baton.clock.now()))


def _drill(inc: Incident) -> Drill:
    assert inc.id is not None
    started = inc.window_started_at or inc.declared_at
    return Drill(
        number=inc.id,
        area=inc.area,
        severity=inc.severity,
        declared_at=inc.declared_at,
        state=inc.state,
        window=None if inc.backlog else inc.policy.response_time,
        time_to_ack=inc.acknowledged_at - started if inc.acknowledged_at is not None else None,
        within=inc.ack_within_window,
        breached=inc.breached,
    )


def last_drills(s: Session, areas: Iterable[str], *, now: datetime) -> dict[str, Drill | None]:
    """Each area's latest drill declared within RECENT of `now` (None: none)."""
    keys = list(areas)
    found: dict[str, Drill | None] = dict.fromkeys(keys)
    if not keys:
        return found
    rows = s.exec(
        select(Incident)
        .where(
            col(Incident.drill).is_(True),
            col(Incident.area).in_(keys),
            col(Incident.declared_at) > now - RECENT,
            col(Incident.declared_at) <= now,
        )
        .order_by(col(Incident.declared_at), col(Incident.id))
    ).all()
    for inc in rows:  # oldest first: the last one written wins
        found[inc.area] = _drill(inc)
    return found


def last_drill(s: Session, area: str, *, now: datetime) -> Drill | None:
    """The area's latest drill within RECENT of `now`, or None."""
    return last_drills(s, [area], now=now)[area]


def between(s: Session, start: datetime, end: datetime) -> list[Drill]:
    """Drills declared in (start, end], oldest first (the weekly review's "Drills")."""
    rows = s.exec(
        select(Incident)
        .where(
            col(Incident.drill).is_(True),
            col(Incident.declared_at) > start,
            col(Incident.declared_at) <= end,
        )
        .order_by(col(Incident.declared_at), col(Incident.id))
    ).all()
    return [_drill(inc) for inc in rows]
