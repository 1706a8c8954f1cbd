"""Database engine, per-call sessions and schema migrations (Alembic, run at start-up)."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlmodel import Session, create_engine

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

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


def _engine(url: Any, **kwargs: Any) -> Engine:
    """Every engine Baton opens: a database error never carries the values of a row into a log.

    SQLAlchemy puts a failed statement's bound parameters in its message (an incident title, a
    note, a Slack ID, a link with a token), and PostgreSQL adds the row's values in its DETAIL
    ("Key (x)=(...)", "Failing row contains (...)"): both are left out. The statement, the error's
    kind and the constraint or column it names stay, which is what a fix needs."""
    engine = create_engine(url, hide_parameters=True, **kwargs)
    event.listen(engine, "handle_error", _without_values)
    return engine


# SQLSTATE classes whose messages quote values: 22 (data exception: "invalid input syntax for
# type integer: \"...\"") in the first line, 23 (integrity) in the DETAIL line.
_QUOTES_VALUES = ("22", "23")


def _without_values(context: Any) -> None:
    orig = context.original_exception
    state = getattr(orig, "sqlstate", None)
    if not isinstance(state, str) or not state.startswith(_QUOTES_VALUES):
        return
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or type(orig).__name__
    if state.startswith("22"):
        column = getattr(diag, "column_name", None)
        primary = f"{type(orig).__name__} (SQLSTATE {state}){f' in column {column}' if column else ''}"
    # Both the driver's exception (shown as the cause in a traceback) and SQLAlchemy's wrapper,
    # whose message was built from it before this hook ran.
    orig.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        wrapped.args = (f"({type(orig).__module__}.{type(orig).__name__}) {primary}",)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = _engine(
            url,
            # Bolt runs listeners on worker threads and the ticker runs on its own: each takes
            # its own connection from the pool, so cross-thread use of the module is safe.
            connect_args={"check_same_thread": False, "timeout": 30},
            # Enough pooled connections for Bolt's and the ticker's threads at once: past
            # SQLAlchemy's default 5 (+10 overflow) a request waited for a connection, and each
            # overflow connection was opened (its PRAGMAs run) and closed again per request.
            pool_size=20,
            max_overflow=20,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN, which breaks SELECT-then-UPDATE
        # claims; emit BEGIN IMMEDIATE ourselves so a writer holds the lock from the start.
        # Reads (`reading()`) begin deferred: in WAL mode they never wait for a writer, where
        # BEGIN IMMEDIATE would queue them behind it through SQLite's sleeping busy handler.
        _WriterTurns().listen(engine)
        return engine
    return _engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class _WriterTurns:
    """One SQLite writer at a time within the process, handed over the moment it ends.

    SQLite allows one writer; a second BEGIN IMMEDIATE waits in SQLite's busy handler, which
    sleeps 1, 2, 5 ... 100 ms between tries, so with 20 writers some waited seconds for a lock
    that had been free for most of that time. The writers of this process queue on a lock
    instead and are woken when it is released; SQLite's busy handler still arbitrates between
    processes. We emit BEGIN, COMMIT and ROLLBACK ourselves so the lock is held exactly while
    the database's is.
    """

    _HELD = "baton_write_turn"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        # A connection checked in, closed or invalidated with its transaction open (the pool
        # rolls it back without a rollback event) must not keep the turn.
        event.listen(engine.pool, "reset", self._pool_reset)
        event.listen(engine.pool, "close", self._pool_drop)
        event.listen(engine.pool, "invalidate", self._pool_invalidate)
        event.listen(engine.pool, "soft_invalidate", self._pool_invalidate)

    def _begin(self, conn: Any) -> None:
        if conn.get_execution_options().get(_READING):
            conn.exec_driver_sql("BEGIN")
            return
        # As long as SQLite's own busy_timeout: a writer that never ends fails the same way.
        if not self._lock.acquire(timeout=30):
            raise sqlite3.OperationalError("database is locked (another writer in this process for 30 s)")
        conn.info[self._HELD] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._release(conn.info)
            raise

    def _commit(self, conn: Any) -> None:
        self._end(conn, "commit")

    def _rollback(self, conn: Any) -> None:
        self._end(conn, "rollback")

    def _end(self, conn: Any, how: str) -> None:
        dbapi = conn.connection.dbapi_connection
        if dbapi is not None and dbapi.in_transaction:
            # The dialect's own commit() / rollback() that follows finds nothing left to do.
            getattr(dbapi, how)()
        self._release(conn.info)

    def _pool_reset(self, dbapi_conn: Any, record: Any, reset_state: Any) -> None:
        self._pool_drop(dbapi_conn, record)

    def _pool_invalidate(self, dbapi_conn: Any, record: Any, exception: BaseException | None) -> None:
        self._pool_drop(dbapi_conn, record)

    def _pool_drop(self, dbapi_conn: Any, record: Any) -> None:
        if record is not None and record.info.get(self._HELD):
            if getattr(dbapi_conn, "in_transaction", False):
                dbapi_conn.rollback()
            self._release(record.info)

    def _release(self, info: dict[str, Any]) -> None:
        if info.pop(self._HELD, False):
            self._lock.release()


_READING = "baton_reading"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see make_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; replicas starting together take turns.

    A schema already at the newest revision (every start but the first of a version) is left
    alone without loading Alembic, which would add about 10 MB to an idle Baton for nothing.
    """
    if current_revision(engine) == head_revision():
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def head_revision() -> str:
    """The newest migration's revision: read from the files, or from Alembic when they do not
    make one plain line of revisions."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[!_]*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None:
            revisions.add(path.name)  # something this reading does not understand: ask Alembic
            continue
        revisions.add(revision.group(1))
        if down is not None:
            downs.add(down.group(1))
    heads = revisions - downs
    if len(heads) == 1 and len(downs) == len(revisions) - 1:
        return heads.pop()
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def current_revision(engine: Engine) -> str | None:
    """The schema's revision (None for a database Baton never set up)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if version is None else str(version)


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


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session that only reads: on SQLite its transaction is a snapshot that never waits for
    (or holds up) a writer. Never write through it: a deferred transaction that turns into a
    writer can fail at once with SQLITE_BUSY instead of waiting its turn."""
    with Session(engine.execution_options(**{_READING: True}), expire_on_commit=False) as s:
        yield s


# -- what went wrong, in one line; and reading a database without changing it ---------------------

DEFAULT_DATABASE = "sqlite:///baton.db"  # DATABASE_URL's default: a file beside the YAML
EXAMPLE_URLS = "sqlite:///path/to/baton.db or postgresql://user:password@host:5432/db"
NOT_A_DATABASE = f"DATABASE_URL is not a database Baton can use: set it to {EXAMPLE_URLS}."
_PG_PREFIX = re.compile(r'^(connection failed: )?(connection to server at "[^"]*"(, port \d+)? failed: )?')


def shown(url: str) -> str:
    """The database as people recognise it: a SQLite file's path, else the URL without its password."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        return "DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return os.path.abspath(parsed.database or "")
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)


def database_problem(url: str, error: DBAPIError) -> str:
    """One line: what the database said, and what to change. The password is never shown."""
    parsed = make_url(normalize_url(url))
    text_ = str(error.orig).strip()
    detail = _PG_PREFIX.sub("", text_.splitlines()[0]).replace("FATAL:  ", "").strip() if text_ else ""
    detail = detail or type(error.orig).__name__
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or "(in memory)"
        if "readonly" in detail:
            return (
                f"the SQLite database {path} is read-only ({detail}): make it and its directory writable "
                "by this user, or point DATABASE_URL at a writable path."
            )
        if "no such table" in detail or "no such column" in detail:
            return f"{path} is not a Baton database of this version ({detail}): check DATABASE_URL."
        return (
            f"cannot open the SQLite database {path} ({detail}): its directory must exist and be "
            "writable by this user; create it or fix its permissions, or point DATABASE_URL elsewhere "
            "(e.g. sqlite:///data/baton.db)."
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    url_shown = shown(url)
    if "Connection refused" in detail:
        return (
            f"cannot connect to the database at {where} (connection refused): is PostgreSQL running "
            f"there? Start it, or fix the host and port in DATABASE_URL ({url_shown})."
        )
    if "authentication failed" in detail or re.search(r'role "[^"]*" does not exist', detail):
        return (
            f"the database at {where} refused to log in {parsed.username or 'the default user'!r} "
            f"({detail}): fix the user and password in DATABASE_URL ({url_shown})."
        )
    if re.search(r'database "[^"]*" does not exist', detail):
        return (
            f"the database at {where} has no database {parsed.database!r} ({detail}): create it "
            f"(createdb {parsed.database}) or fix its name in DATABASE_URL ({url_shown})."
        )
    if "resolve host" in detail or "not known" in detail:
        return (
            f"cannot find the database host {parsed.host!r} ({detail}): fix the host in DATABASE_URL "
            f"({url_shown})."
        )
    return f"cannot use the database at {where} ({detail}): check DATABASE_URL ({url_shown}) and the server."


class DatabaseUnavailable(Exception):
    """A database a command only reads cannot be read as it is: the message says what to do."""


def _read_only_sqlite(file: Path) -> sqlite3.Connection:
    """A read-only connection to a SQLite file, also on a read-only filesystem (a backup mount, a
    container's read-only volume).

    `mode=ro` reads a WAL database through its `-shm` index, which SQLite must create beside the
    file when it is missing (after a clean shutdown it is): where nothing may be created, that
    fails with SQLITE_CANTOPEN. A file nothing can write to cannot change, so it is then opened
    `immutable`, which needs no index, unless a write-ahead log holds commits not yet copied into
    the file: those would be silently left out, so that stays an error."""
    uri = file.as_uri()
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as e:
        conn.close()
        if e.sqlite_errorname != "SQLITE_CANTOPEN":
            raise
        wal = file.with_name(file.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise DatabaseUnavailable(
                f"{file} is on a read-only filesystem and its write-ahead log {wal.name} holds changes "
                "not yet in the file, which SQLite can only read with a writable directory: copy "
                f"{file.name} and {wal.name} somewhere writable and point DATABASE_URL there."
            ) from None
    return sqlite3.connect(uri + "?immutable=1", uri=True, timeout=30, check_same_thread=False)


def open_existing(url: str) -> Engine:
    """An engine reading Baton's database as it is, for commands that change nothing (verify,
    export, plan, check): a missing SQLite file is an error, never created; a schema of another
    version is an error, never migrated. SQLite is opened read-only, so the running bot keeps
    writing while a snapshot is read."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        raise DatabaseUnavailable(f"DATABASE_URL is not a database URL: set it to {EXAMPLE_URLS}.") from None
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or path.startswith("file:"):
            raise DatabaseUnavailable(f"DATABASE_URL names no SQLite file ({url}): set it to {EXAMPLE_URLS}.")
        file = Path(path)
        if not file.is_file():
            raise DatabaseUnavailable(
                f"no database at {file.resolve()} (DATABASE_URL={url}): point DATABASE_URL at Baton's "
                "database, or start `baton serve` once to create it."
            )
        resolved = file.resolve()
        engine = _engine("sqlite://", creator=lambda: _read_only_sqlite(resolved))
    else:
        try:
            # An unreachable host answers in seconds, not minutes.
            engine = _engine(parsed, connect_args={"connect_timeout": 10}, pool_pre_ping=True)
        except (ArgumentError, NoSuchModuleError, ImportError):
            raise DatabaseUnavailable(
                f"DATABASE_URL is not a database Baton can use: set it to {EXAMPLE_URLS}."
            ) from None
    try:
        _check_revision(engine, url)
    except DBAPIError as e:
        engine.dispose()
        raise DatabaseUnavailable(database_problem(url, e)) from None
    except DatabaseUnavailable:
        engine.dispose()
        raise
    return engine


def _check_revision(engine: Engine, url: str) -> None:
    head = head_revision()
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            raise DatabaseUnavailable(f"{shown(url)} has no Baton tables: is DATABASE_URL Baton's database?")
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if version != head:
        raise DatabaseUnavailable(
            f"{shown(url)} has schema revision {version} and this Baton {head}: start `baton serve` of "
            "this version once (it upgrades the schema), then try again."
        )
