"""Database engine, per-call sessions and schema migrations (Alembic, run at start-up)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every replica.
_MIGRATION_LOCK_ID = 0x6261746F6E  # "baton"


def normalize_url(url: str) -> str:
    """Accept URLs as people paste them: `postgresql://` / `postgres://` mean psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            # Bolt runs listeners on worker threads and the ticker runs on its own: each takes
            # its own connection from the pool, so cross-thread use of the module is safe.
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN, which breaks SELECT-then-UPDATE
        # claims; emit BEGIN IMMEDIATE ourselves so a writer holds the lock from the start.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; replicas starting together take turns."""
    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


# Which sessions of this thread hold an open database transaction. A Slack call made while one
# is open keeps its locks for a network round trip (on SQLite: the whole database's write lock),
# so a slow Slack would stall every other request; the Slack port asks before each call.
_open = threading.local()


@event.listens_for(Session, "after_begin")
def _began(session: Session, transaction: Any, connection: Any) -> None:
    _sessions().add(id(session))


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        _sessions().discard(id(session))


def _sessions() -> set[int]:
    if not hasattr(_open, "ids"):
        _open.ids = set()
    ids: set[int] = _open.ids
    return ids


def in_transaction() -> bool:
    """Whether this thread has a database transaction open."""
    return bool(_sessions())


def warn_if_in_transaction(method: str) -> None:
    """Called before every Slack call: a call inside a transaction is a bug worth a loud line."""
    if in_transaction():
        log.error("Slack %s was called inside an open database transaction; commit first", method)


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """One session per call: never share one across Bolt's listener threads."""
    with Session(engine, expire_on_commit=False) as s:
        yield s
