"""People given as e-mail addresses, resolved to Slack user IDs through users.lookupByEmail.

Resolved IDs are cached in the database so a restart does not depend on Slack answering, and a
Slack outage at start-up falls back to the last known ID. The lookups run with no database
transaction open (a slow Slack must not hold SQLite's write lock while /incident waits for it),
and the cache is written with upserts, so two replicas starting together both start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.slack.chat import Chat, ChatError
from bot.store.clock import Clock
from bot.store.db import session
from bot.store.models import PersonCache

log = logging.getLogger(__name__)

CACHE_TTL = timedelta(hours=24)


def resolve_emails(*, emails: Iterable[str], chat: Chat, engine: Engine, clock: Clock) -> dict[str, str]:
    """Map each e-mail to a Slack user ID; e-mails no Slack user has are left out (and logged)."""
    now = clock.now()
    wanted = sorted({e.lower() for e in emails})
    with session(engine) as s:
        cached = {
            row.email: row
            for row in s.exec(select(PersonCache).where(col(PersonCache.email).in_(wanted))).all()
        }
    resolved: dict[str, str] = {}
    looked_up: dict[str, str | None] = {}
    for email in wanted:
        row = cached.get(email)
        if row is not None and row.user_id and now - row.resolved_at < CACHE_TTL:
            resolved[email] = row.user_id
            continue
        try:
            user_id = chat.lookup_user_by_email(email)
        except ChatError as e:
            # Slack unreachable: keep the last known ID rather than un-owning the area.
            if row is not None and row.user_id:
                resolved[email] = row.user_id
            log.warning("could not look up %s in Slack (%s); using %s", email, e.error, row and row.user_id)
            continue
        if user_id is None:
            log.warning(
                "ownership.yaml names %s, but no Slack user has that e-mail: they cannot be paged "
                "until it is fixed (give their Slack user ID instead)",
                email,
            )
        looked_up[email] = user_id
        if user_id:
            resolved[email] = user_id
    if looked_up:
        _store(engine, looked_up, now)
    return resolved


def _store(engine: Engine, found: dict[str, str | None], now: datetime) -> None:
    """Upsert the answers: another replica may be writing the same e-mails at the same time."""
    rows = [
        {"email": email, "user_id": uid, "error": None if uid else "users_not_found", "resolved_at": now}
        for email, uid in found.items()
    ]
    insert: Any = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(PersonCache).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[PersonCache.email],
        set_={key: stmt.excluded[key] for key in ("user_id", "error", "resolved_at")},
    )
    with session(engine) as s:
        s.execute(stmt)
        s.commit()
