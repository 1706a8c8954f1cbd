"""Each signed Slack request is taken once.

Slack's signature covers the request's timestamp and body, and a signature more than 5 minutes
from now is refused (server.py, with slack_sdk's verifier). Inside those 5 minutes, a request
someone captured could be sent again and would run again (a status posted twice, an incident
declared twice). Slack itself never sends one signed request twice: its retries of an event carry
X-Slack-Retry-Num and a new timestamp, so a new signature. So the signature of every request
taken is remembered in the database, shared by every replica, until its timestamp leaves the
window; a second use is refused. The insert is the decision: of two replicas receiving the
same request at once, the one whose row goes in first takes it.

Each replica judges a timestamp's freshness by its own machine's clock (so do slack_sdk's and
Bolt's verifiers), but every replica prunes the shared rows. Pruned by the pruner's clock, a
replica running ahead deleted signatures another replica still accepted, and a replay through
that one ran again. So rows are pruned by the database's clock on PostgreSQL (SQLite is one
machine: its clock is the only one), and kept SKEW past the window, for the replicas whose
clocks are behind it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.store.clock import Clock, SystemClock
from bot.store.db import session
from bot.store.models import SlackSignature

WINDOW = timedelta(minutes=5)  # Slack's: slack_sdk refuses a timestamp further from now than this
# How far a replica's clock may be behind the database's and still have every signature it would
# accept remembered. NTP keeps clocks within milliseconds; Baton warns past a second
# (bot/store/clock.py). Only the table's size pays for a generous margin.
SKEW = timedelta(minutes=5)
PRUNE_EVERY = timedelta(minutes=1)  # rows past the window are deleted at most this often per process


class Signatures:
    """The signatures of the Slack requests taken in the last WINDOW, in the database."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()  # SQLite's prune; PostgreSQL prunes by its own now()
        self._lock = threading.Lock()
        self._pruned_at: float | None = None

    def first_use(self, signature: str, timestamp: int) -> bool:
        """Record `signature` (of a request whose X-Slack-Request-Timestamp is `timestamp`, both
        already verified); False when it was recorded before: the request is a replay."""
        expires = datetime.fromtimestamp(timestamp, UTC) + WINDOW
        table = SlackSignature.__table__  # type: ignore[attr-defined]
        with session(self.engine) as s:
            on_postgres = s.get_bind().dialect.name == "postgresql"
            if self._prune_due():
                now: Any = func.now() if on_postgres else self.clock.now()
                s.execute(delete(SlackSignature).where(col(SlackSignature.expires_at) < now - SKEW))
            insert: Any = postgresql.insert if on_postgres else sqlite.insert
            # RETURNING, not rowcount: an ORM session's insert reports rowcount -1 on psycopg.
            taken = s.execute(
                insert(table)
                .values(signature=signature, expires_at=expires)
                .on_conflict_do_nothing()
                .returning(table.c.signature)
            ).first()
            s.commit()
        return taken is not None

    def _prune_due(self) -> bool:
        """At most once every PRUNE_EVERY of this process's own time (monotonic: never stepped)."""
        now = time.monotonic()
        with self._lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY.total_seconds():
                return False
            self._pruned_at = now
            return True
