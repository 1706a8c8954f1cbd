"""Which incident an outside signal belongs to: an Alertmanager group, or an SLO breach.

A signal joins the incident it declared while that incident is open, and declares a new one
otherwise; never a drill (`joinable`). The decision is taken under a lock on the link row
(an insert-if-missing, then SELECT … FOR UPDATE on PostgreSQL; SQLite's transactions hold its
write lock), in the same transaction as the declaration, so two replicas, or Alertmanager
resending a notification, never declare twice.

A signal's key is stored as its SHA-256 (`digest`): an Alertmanager groupKey has no length
limit, and PostgreSQL refuses what does not fit the column where SQLite would take it. The key
as it came is kept beside it for people (`name`): masked, mentioning nobody, clipped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.incidents.services import declare_in
from bot.store.models import Incident, MonitorLink
from bot.store.runtime import Baton
from bot.text.mrkdwn import clip
from bot.text.outside import kept

NAME_LIMIT = 1000  # characters of a key kept for people (masked); the lookup uses the digest


def digest(key: str) -> str:
    """The stored form of a signal's key (0014_intake.py keeps a frozen copy: change neither)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Joined:
    incident: Incident
    declared: bool  # a new incident was declared for this signal
    link: MonitorLink  # locked for the rest of the transaction: its state may be updated


def lock_link(s: Session, *, source: str, key: str, baton: Baton) -> MonitorLink:
    """The link row, created if missing, locked for the rest of the caller's transaction."""
    values = {
        "source": source,
        "key": digest(key),
        "name": clip(kept(key), NAME_LIMIT),
        "state": {},
        "updated_at": baton.clock.now(),
    }
    table = MonitorLink.__table__  # type: ignore[attr-defined]
    insert: Any = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    s.execute(insert(table).values(**values).on_conflict_do_nothing())
    query = select(MonitorLink).where(col(MonitorLink.source) == source, col(MonitorLink.key) == digest(key))
    return s.exec(query.with_for_update().execution_options(populate_existing=True)).one()


def join_or_declare(
    s: Session,
    *,
    baton: Baton,
    source: str,
    key: str,
    level: str,
    area: str,
    title: str,
    reporter: str,
) -> Joined:
    """The open incident linked to (source, key), or a new one declared and linked; in the
    caller's transaction (the caller commits, then wakes the ticker)."""
    link = lock_link(s, source=source, key=key, baton=baton)
    current = s.get(Incident, link.incident_id) if link.incident_id is not None else None
    if joinable(current):
        assert current is not None
        return Joined(current, declared=False, link=link)
    inc = declare_in(s, baton=baton, level=level, area=area, title=title, reporter=reporter)
    link.incident_id, link.state, link.updated_at = inc.id, {}, baton.clock.now()
    s.add(link)
    return Joined(inc, declared=True, link=link)


def open_incident(s: Session, *, source: str, key: str) -> Incident | None:
    """The open incident linked to (source, key), if any (no lock: for reading)."""
    link = s.get(MonitorLink, (source, digest(key)))
    if link is None or link.incident_id is None:
        return None
    inc = s.get(Incident, link.incident_id)
    return inc if joinable(inc) else None


def joinable(inc: Incident | None) -> bool:
    """Whether a signal may join `inc`: open, and never a drill: an alert, an SLO
    breach or the product's failure cases never attach to a rehearsal)."""
    return inc is not None and inc.state != "resolved" and not inc.drill
