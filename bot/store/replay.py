"""Each signed Slack request is taken once (issue 17).

Slack's signature covers the request's timestamp and body, and a signature more than 5 minutes
from now is refused (server.py, with slack_sdk's verifier). Inside those 5 minutes, a request
someone captured could be sent again and would run again (a status posted twice, an incident
declared twice). Slack itself never sends one signed request twice: its retries of an event carry
X-Slack-Retry-Num and a new timestamp, so a new signature. So the signature of every request
taken is remembered in the database, shared by every replica, until its timestamp leaves the
window; a second use is refused. The insert is the decision: of two replicas receiving the
same request at once, the one whose row goes in first takes it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.store.db import session
from bot.store.models import SlackSignature

WINDOW = timedelta(minutes=5)  # Slack's: slack_sdk refuses a timestamp further from now than this
PRUNE_EVERY = timedelta(minutes=1)  # rows past the window are deleted at most this often per process


class Signatures:
    """The signatures of the Slack requests taken in the last WINDOW, in the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._pruned_at: datetime | None = None

    def first_use(self, signature: str, timestamp: int, *, now: datetime | None = None) -> bool:
        """Record `signature` (of a request whose X-Slack-Request-Timestamp is `timestamp`, both
        already verified); False when it was recorded before: the request is a replay."""
        now = now or datetime.now(UTC)
        expires = datetime.fromtimestamp(timestamp, UTC) + WINDOW
        table = SlackSignature.__table__  # type: ignore[attr-defined]
        with session(self.engine) as s:
            if self._prune_due(now):
                # A second of slack beyond the window: the verifier compares whole seconds.
                s.execute(
                    delete(SlackSignature).where(col(SlackSignature.expires_at) < now - timedelta(seconds=1))
                )
            insert: Any = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
            # RETURNING, not rowcount: an ORM session's insert reports rowcount -1 on psycopg.
            taken = s.execute(
                insert(table)
                .values(signature=signature, expires_at=expires)
                .on_conflict_do_nothing()
                .returning(table.c.signature)
            ).first()
            s.commit()
        return taken is not None

    def _prune_due(self, now: datetime) -> bool:
        with self._lock:
            if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
                return False
            self._pruned_at = now
            return True
