"""People given as e-mail addresses, resolved to Slack user IDs through users.lookupByEmail.

Resolved IDs are cached in the database so a restart does not depend on Slack answering, and a
Slack outage at start-up falls back to the last known ID.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.slack.chat import Chat, ChatError
from bot.store.clock import Clock
from bot.store.db import session
from bot.store.models import PersonCache

log = logging.getLogger(__name__)

CACHE_TTL = timedelta(hours=24)


def resolve_emails(*, emails: Iterable[str], chat: Chat, engine: Engine, clock: Clock) -> dict[str, str]:
    """Map each e-mail to a Slack user ID; e-mails no Slack user has are left out (and logged)."""
    now = clock.now()
    resolved: dict[str, str] = {}
    with session(engine) as s:
        for email in sorted(set(e.lower() for e in emails)):
            row = s.get(PersonCache, email)
            if row is not None and row.user_id and now - row.resolved_at < CACHE_TTL:
                resolved[email] = row.user_id
                continue
            try:
                user_id = chat.lookup_user_by_email(email)
            except ChatError as e:
                # Slack unreachable: keep the last known ID rather than un-owning the area.
                if row is not None and row.user_id:
                    resolved[email] = row.user_id
                log.warning(
                    "could not look up %s in Slack (%s); using %s", email, e.error, row and row.user_id
                )
                continue
            if user_id is None:
                log.warning(
                    "ownership.yaml names %s, but no Slack user has that e-mail: they cannot be paged "
                    "until it is fixed (give their Slack user ID instead)",
                    email,
                )
            row = row or PersonCache(email=email, resolved_at=now)
            row.user_id = user_id
            row.error = None if user_id else "users_not_found"
            row.resolved_at = now
            s.add(row)
            if user_id:
                resolved[email] = user_id
        s.commit()
    return resolved
