"""Time, injectable: services take a Clock so tests can move hours in a millisecond.

All times are timezone-aware UTC datetimes (SQLModel stores them as UTC on SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


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
