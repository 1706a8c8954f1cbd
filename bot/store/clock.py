"""Time, injectable: services take a Clock so tests can move hours in a millisecond.

All times are timezone-aware UTC datetimes (SQLModel stores them as UTC on SQLite and PostgreSQL).

Replicas on one PostgreSQL compare times each of them wrote (a job's lease, its due time): were
each to read its own machine's clock, one running ten minutes fast would find every lease
expired and run the others' jobs again, and fire every step early. So on PostgreSQL a Baton on
the system clock keeps the database's time (:class:`DatabaseClock`), and says how far its own
clock is off.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ScaledClock:
    """The system clock running `scale` times faster from `origin` (epoch seconds; default: the
    moment it is made): `baton demo --speed 60` shows a P1's hour-long window in a minute. Read
    from the wall clock, so the demo's page, given the same origin, shows the time Baton keeps.
    Chosen by `TIME_SCALE_ENV`, which `baton serve` honours only against a Slack stand-in on this
    machine (bot/store/settings.py): a real workspace is never paged on a fast clock."""

    def __init__(self, scale: float, origin: float | None = None):
        if not scale > 0:
            raise ValueError("a clock's scale must be above 0")
        self.scale = scale
        self.origin = time.time() if origin is None else origin

    def now(self) -> datetime:
        real = time.time()
        return datetime.fromtimestamp(self.origin + (real - self.origin) * self.scale, UTC)


#: The variable that makes `baton serve` run a ScaledClock (a number above 0; 1 is the real clock).
TIME_SCALE_ENV = "BATON_TIME_SCALE"
#: Where a scaled clock starts running fast (epoch seconds); baton demo sets it for Baton and its page.
TIME_ORIGIN_ENV = "BATON_TIME_ORIGIN"


def real_seconds(clock: Clock, delta: timedelta) -> float:
    """How long `delta` of this clock's time takes in real time (the ticker's sleeps)."""
    return delta.total_seconds() / getattr(clock, "scale", 1.0)


def clock_span(clock: Clock, real: timedelta) -> timedelta:
    """How much of this clock's time passes in `real` real time. A lease guards real work (a
    Slack call, a Prometheus query), so on a fast clock it must last as many real seconds: a
    5-minute lease at 180x would run out in under 2 s and let a second worker take a job that
    is still running."""
    return real * getattr(clock, "scale", 1.0)


class DatabaseClock:
    """The database's time, kept between readings by this process's monotonic clock.

    `measure()` (at start-up, then every few seconds) reads PostgreSQL's clock_timestamp() and
    anchors to it; `now()` is that reading plus the monotonic time since, so neither a machine
    clock that is off nor one stepped between readings moves Baton's time. `offset` is how far
    the machine's clock (`base`) is behind the database's (negative: ahead)."""

    # A machine clock further off than this is worth a warning in the log (NTP keeps them
    # within milliseconds; a second means it is not running).
    WARN = timedelta(seconds=1)

    def __init__(self, engine: Engine, base: Clock | None = None):
        self.engine = engine
        self.base: Clock = base or SystemClock()
        self._lock = threading.Lock()
        self._anchor: tuple[datetime, float] | None = None
        self.offset = timedelta()
        self._warned: timedelta | None = None

    def measure(self) -> timedelta:
        """Read the database's clock now; the machine clock's offset from it."""
        with self.engine.connect() as conn:
            before = time.monotonic()
            mine = self.base.now()
            theirs: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
            after = time.monotonic()
        theirs = theirs.astimezone(UTC)
        # The database read its clock about halfway through the round trip.
        mono = (before + after) / 2
        with self._lock:
            self._anchor = (theirs, mono)
            self.offset = theirs - (mine + timedelta(seconds=(after - before) / 2))
        self._say(self.offset)
        return self.offset

    def _say(self, offset: timedelta) -> None:
        off = abs(offset) > self.WARN
        if off and (self._warned is None or abs(offset - self._warned) > self.WARN):
            way = "behind" if offset > timedelta() else "ahead of"
            log.warning(
                "this machine's clock is %.1f s %s the database's: Baton keeps the database's time "
                "(leases, due times), so replicas agree; fix the machine's time (NTP)",
                abs(offset.total_seconds()),
                way,
            )
            self._warned = offset
        elif not off and self._warned is not None:
            log.info("this machine's clock agrees with the database's again")
            self._warned = None

    def now(self) -> datetime:
        with self._lock:
            anchor = self._anchor
        if anchor is None:
            return self.base.now() + self.offset
        theirs, mono = anchor
        return theirs + timedelta(seconds=time.monotonic() - mono)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


def to_epoch(ts: datetime) -> int:
    return int(ts.timestamp())


def slack_time(ts: datetime) -> str:
    """A time Slack renders in each reader's own time zone, with a UTC fallback."""
    return f"<!date^{to_epoch(ts)}^{{date_short_pretty}} {{time}}|{ts:%Y-%m-%d %H:%M} UTC>"
