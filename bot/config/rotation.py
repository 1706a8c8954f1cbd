"""Who is a team's on-call at a moment.

The on-call is the newest Slack override covering the moment (`/owner oncall`), else a planned
override from ownership.yaml, else the rotation's shift, else the team's one on-call person.
Shifts of a day or longer are counted in wall-clock time of the configured time zone: a daily
09:00 change stays at 09:00 across a daylight-saving change (the shift that night is an hour
shorter or longer), as people who plan rotations expect. A change written inside the hour the
clocks skip happens an hour later in wall time; one inside the hour that repeats happens once,
at its first occurrence. Shorter shifts (hourly, 4h, 12h) step in absolute time from `from`:
in wall time an hourly rotation would start a shift twice at the same instant on the night the
clocks go forward (skipping its holder) and leave an hour uncovered by the count when they go
back; every sub-day shift lasts exactly `every`, whatever the clocks do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.config.models import OwnershipConfig, Rotation, Team

#: How long before a change its handover receipt opens when the team has no rotation (and so no
#: `handover`): the end of a Slack override on a team with one fixed on-call.
DEFAULT_HANDOVER = timedelta(hours=1)
_TICK = timedelta(microseconds=1)
# How far `next_change` looks ahead: beyond a year, "no change planned" is the honest answer.
_HORIZON = timedelta(days=400)


@dataclass(frozen=True)
class Window:
    """Someone on call over the rotation from `start` to `end` (aware datetimes)."""

    who: str
    start: datetime
    end: datetime
    source: str  # "ownership.yaml" or "override #<id>" (added in Slack)

    def covers(self, when: datetime) -> bool:
        return self.start <= when < self.end


@dataclass(frozen=True)
class Change:
    """The on-call changes hands at `at`; its handover receipt opens at `opens_at`."""

    team: str
    at: datetime
    outgoing: str
    incoming: str
    handover: timedelta
    cause: str  # "rotation", "ownership.yaml" or "override #<id>"

    @property
    def opens_at(self) -> datetime:
        return self.at - self.handover


def zone_of(config: OwnershipConfig) -> tzinfo:
    """The time zone naive times in ownership.yaml are written in (nudges.timezone)."""
    return ZoneInfo(config.nudges.timezone) if config.nudges is not None else UTC


def _aware(value: datetime, zone: tzinfo) -> datetime:
    # A naive time is wall time in the zone; replace() keeps fold=0: the first of a repeated
    # hour, and the offset before a skipped one (so 01:30 on a spring-forward night is 02:30).
    return (value if value.tzinfo is not None else value.replace(tzinfo=zone)).astimezone(UTC)


class Plan:
    """One team's on-call over time."""

    def __init__(
        self,
        key: str,
        team: Team,
        *,
        zone: tzinfo,
        slack: Sequence[Window] = (),
        fixed: str | None = None,
    ) -> None:
        """`slack`: the team's Slack overrides, oldest first (a newer one wins where they
        overlap). `fixed`: who holds a rotation-less on-call (a countersigned handoff, or the
        configured person); ignored for rotations."""
        self.key = key
        self.team = team
        self.rotation: Rotation | None = team.oncall if isinstance(team.oncall, Rotation) else None
        self._slack = list(slack)
        self.fixed = fixed or (team.oncall if isinstance(team.oncall, str) else team.members[0])
        self.handover = self.rotation.handover if self.rotation is not None else DEFAULT_HANDOVER
        self.planned: list[Window] = []
        if self.rotation is not None:
            rot = self.rotation
            # Wall-clock stepping happens in the zone naive times are written in; an explicit
            # offset on `from` pins the first instant, and steps follow that zone's clock.
            self.zone = zone if (rot.from_.tzinfo is None or zone is not UTC) else rot.from_.tzinfo
            first = _aware(rot.from_, zone)
            self._first = first  # the instant shift 0 starts
            self._origin = first.astimezone(self.zone).replace(tzinfo=None)  # wall time of shift 0
            self._wall = rot.every >= timedelta(days=1)
            self.planned = [
                Window(o.who, _aware(o.from_, zone), _aware(o.to, zone), "ownership.yaml")
                for o in rot.overrides
            ]
        else:
            self.zone = zone

    # -- the rotation's shifts -------------------------------------------------------------

    def _shift_start(self, k: int) -> datetime:
        assert self.rotation is not None
        if not self._wall:
            return self._first + k * self.rotation.every
        # fold=0: a wall time the clocks skip moves forward by the gap, a repeated one is its
        # first occurrence; starts a day or more apart stay in order and never coincide.
        wall = self._origin + k * self.rotation.every
        return wall.replace(tzinfo=self.zone).astimezone(UTC)

    def _shift_index(self, when: datetime) -> int:
        """The shift `when` falls in (-1 before the first)."""
        assert self.rotation is not None
        start = self._shift_start(0)
        if when < start:
            return -1
        k = int((when - start) / self.rotation.every)
        # Daylight saving moves wall-clock shifts by up to an hour from the estimate.
        while k > 0 and self._shift_start(k) > when:
            k -= 1
        while self._shift_start(k + 1) <= when:
            k += 1
        return k

    def shift_person(self, when: datetime) -> str:
        """Whom the rotation puts on call at `when` (the first person before it starts)."""
        if self.rotation is None:
            return self.fixed
        k = max(self._shift_index(when), 0)
        return self.rotation.rotation[k % len(self.rotation.rotation)]

    # -- the on-call -----------------------------------------------------------------------

    def window_at(self, when: datetime) -> Window | None:
        """The override (Slack first, newest first; then ownership.yaml) covering `when`."""
        for w in reversed(self._slack):
            if w.covers(when):
                return w
        for w in self.planned:
            if w.covers(when):
                return w
        return None

    def at(self, when: datetime) -> str:
        """The on-call (a ref) at `when`."""
        w = self.window_at(when)
        return w.who if w is not None else self.shift_person(when)

    def planned_at(self, when: datetime) -> str:
        """The on-call ownership.yaml alone names at `when` (no Slack overrides)."""
        for w in self.planned:
            if w.covers(when):
                return w.who
        return self.shift_person(when)

    def _boundaries(self, start: datetime, end: datetime) -> dict[datetime, str]:
        """Moments in (start, end] where the on-call may change, with what causes it."""
        out: dict[datetime, str] = {}
        if self.rotation is not None:
            k = max(self._shift_index(start), 0) + 1
            while (b := self._shift_start(k)) <= end:
                if b > start:
                    out.setdefault(b, "rotation")
                k += 1
        for w in [*self.planned, *self._slack]:
            for b in (w.start, w.end):
                if start < b <= end:
                    out.setdefault(b, w.source)
        return out

    def changes(self, start: datetime, end: datetime) -> list[Change]:
        """Every change of on-call in (start, end], oldest first."""
        found = []
        for b, cause in sorted(self._boundaries(start, end).items()):
            before, after = self.at(b - _TICK), self.at(b)
            if before != after:
                w = self.window_at(b)
                found.append(
                    Change(self.key, b, before, after, self.handover, w.source if w is not None else cause)
                )
        return found

    def next_change(self, after: datetime) -> Change | None:
        """The first change after `after`, within about a year."""
        step = max(self.rotation.every if self.rotation is not None else timedelta(days=7), timedelta(days=1))
        start = after
        while start < after + _HORIZON:
            found = self.changes(start, start + step)
            if found:
                return found[0]
            start += step
        return None
