"""Storage: migrations, SQLite pragmas and the people cache, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.app.runner import open_database
from bot.slack.chat import Chat, make_client
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import make_engine, normalize_url, reading, session, upgrade
from bot.store.models import PersonCache
from bot.store.people import resolve_emails
from bot.store.settings import SettingsError


def test_normalize_url_accepts_pasted_postgres_urls() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///baton.db") == "sqlite:///baton.db"


def test_upgrade_creates_schema_and_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)  # a restart runs it again
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert "person_cache" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def _write_from_another_thread(engine: sa.Engine, email: str) -> threading.Event:
    """Start a write on another thread; the event is set once it committed."""
    done = threading.Event()

    def write() -> None:
        with session(engine) as s:
            s.add(PersonCache(email=email, user_id="U1", resolved_at=FakeClock().now()))
            s.commit()
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done


def _writes_from_another_thread(engine: sa.Engine, email: str) -> bool:
    """Whether another thread can write within 5 s (a turn left held would keep it 30 s)."""
    return _write_from_another_thread(engine, email).wait(5)


def test_sqlite_writers_hand_over_however_a_transaction_ends(sqlite_url: str) -> None:
    """Writers of one process take turns on a lock (not SQLite's sleeping busy handler); every
    way a write transaction can end gives the turn back."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with session(engine) as s:  # committed
        s.add(PersonCache(email="a@x", user_id="U0", resolved_at=FakeClock().now()))
        s.commit()
    assert _writes_from_another_thread(engine, "after-commit@x")
    try:  # an error inside the transaction
        with session(engine) as s:
            s.add(PersonCache(email="b@x", user_id="U0", resolved_at=FakeClock().now()))
            s.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert _writes_from_another_thread(engine, "after-error@x")
    with session(engine) as s:  # closed without commit or rollback
        s.exec(select(PersonCache)).all()
    assert _writes_from_another_thread(engine, "after-close@x")
    with engine.connect() as conn:  # Core, closed with its transaction open
        conn.execute(sa.text("SELECT 1"))
    assert _writes_from_another_thread(engine, "after-core@x")
    with reading(engine) as r:  # a reader holds no turn: a writer goes on while it reads
        r.exec(select(PersonCache)).all()
        assert _writes_from_another_thread(engine, "during-read@x")
    # While one writer holds its transaction, another waits, and goes once it commits.
    with session(engine) as s:
        s.add(PersonCache(email="held@x", user_id="U0", resolved_at=FakeClock().now()))
        s.flush()
        waiting = _write_from_another_thread(engine, "waiting@x")
        assert not waiting.wait(1)  # waits its turn
        s.commit()
    assert waiting.wait(5)  # and takes it once the first commits
    with session(engine) as s:
        emails = {p.email for p in s.exec(select(PersonCache)).all()}
    wrote = {"a@x", "after-commit@x", "after-error@x", "after-close@x", "after-core@x", "during-read@x"}
    assert emails >= wrote | {"held@x", "waiting@x"}
    assert "b@x" not in emails
    engine.dispose()


def test_sqlite_many_writers_at_once_all_commit(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for j in range(10):
                with session(engine) as s:
                    s.add(PersonCache(email=f"{i}-{j}@x", user_id="U1", resolved_at=FakeClock().now()))
                    s.commit()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with session(engine) as s:
        assert len(s.exec(select(PersonCache)).all()) == 200
    engine.dispose()


def test_replicas_upgrading_at_once_both_succeed(pg_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(pg_url)
        try:
            upgrade(engine)
        except BaseException as e:  # collected and asserted below
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_emails_resolve_through_slack_and_are_cached(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    clock = FakeClock()
    with FakeSlack() as fake:
        fake.add_user("U0LICHEN1", "li", email="li.chen@example.com")
        chat = Chat(make_client(token=fake.bot_token, base_url=fake.url))
        emails = ["li.chen@example.com", "ghost@example.com"]
        assert resolve_emails(emails=emails, chat=chat, engine=engine, clock=clock) == {
            "li.chen@example.com": "U0LICHEN1"
        }
        assert len(fake.calls_to("users.lookupByEmail")) == 2
        # A second start within the TTL asks Slack only about the unknown address.
        resolve_emails(emails=emails, chat=chat, engine=engine, clock=clock)
        assert len(fake.calls_to("users.lookupByEmail")) == 3
        # Slack down after the TTL: the last known ID is kept, not dropped.
        clock.advance(timedelta(days=2))
        fake.inject("users.lookupByEmail", status=503, times=10)
        assert resolve_emails(emails=emails, chat=chat, engine=engine, clock=clock) == {
            "li.chen@example.com": "U0LICHEN1"
        }
    with session(engine) as s:
        row = s.get(PersonCache, "ghost@example.com")
        assert row is not None and row.user_id is None and row.error == "users_not_found"
    engine.dispose()


def test_replicas_resolving_the_same_emails_at_once_both_succeed(db_url: str) -> None:
    """Person-cache writes are upserts: two replicas starting together both start."""
    engine = make_engine(db_url)
    upgrade(engine)
    clock = FakeClock()
    emails = [f"person{i}@example.com" for i in range(20)]
    with FakeSlack() as fake:
        for i, email in enumerate(emails):
            fake.add_user(f"U0PERSON{i:02d}", f"person{i}", email=email)
        fake.set_latency("users.lookupByEmail", 0.05)  # keep both replicas in the same stretch
        chat = Chat(make_client(token=fake.bot_token, base_url=fake.url))
        barrier = threading.Barrier(2)
        results: list[dict[str, str]] = []
        errors: list[BaseException] = []

        def start() -> None:
            barrier.wait()
            try:
                results.append(resolve_emails(emails=emails, chat=chat, engine=engine, clock=clock))
            except BaseException as e:  # noqa: BLE001 - the test reports whatever broke a start
                errors.append(e)

        threads = [threading.Thread(target=start) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        # Both looked addresses up before either had written: the same rows were written twice.
        assert len(fake.calls_to("users.lookupByEmail")) > len(emails)
    assert errors == []
    assert len(results) == 2 and results[0] == results[1] and len(results[0]) == len(emails)
    with session(engine) as s:
        assert len(s.exec(select(PersonCache)).all()) == len(emails)
    engine.dispose()


def test_the_migrations_build_exactly_the_models(db_url: str) -> None:
    """Alembic's revisions and bot/store/models.py describe the same schema (no table, column,
    index or constraint in one and not the other)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_serve_upgrades_a_schema_in_a_child_and_never_loads_alembic(sqlite_url: str) -> None:
    """`baton serve` (migrate_apart) creates the schema through `python -m bot.store.migrate`, so
    the long-running process never holds Alembic's ~10 MB."""
    code = (
        "import sys\n"
        "from bot.app.runner import open_database\n"
        "from bot.store.db import current_revision, head_revision\n"
        f"engine = open_database({sqlite_url!r}, migrate_apart=True)\n"
        "assert current_revision(engine) == head_revision(), current_revision(engine)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    # In process (tests, the other commands) it is the same schema.
    engine = make_engine(sqlite_url)
    upgrade(engine)
    assert "person_cache" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_the_migration_child_says_what_went_wrong_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no-such-dir/baton.db"
    done = _python("import sys; from bot.store.migrate import main; sys.exit(main())", BATON_MIGRATE_URL=url)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"cannot open the SQLite database {tmp_path}/no-such-dir/baton.db")
    assert "Traceback" not in done.stderr
    unset = _python("import sys; from bot.store.migrate import main; sys.exit(main())", BATON_MIGRATE_URL="")
    assert unset.returncode == 2 and "BATON_MIGRATE_URL is not set" in unset.stderr
    # And serve's start turns it into its one-line refusal.
    with pytest.raises(SettingsError, match="cannot open the SQLite database .*no-such-dir"):
        open_database(url, migrate_apart=True)
