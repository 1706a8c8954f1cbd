"""Shared fixtures: the fake Slack, a real Baton on a free port, SQLite files and PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import sqlalchemy as sa
import yaml

from bot.app.runner import JOB_KINDS, Runner, boot
from bot.app.ticker import Ticker
from bot.config.loader import Config, load_config
from bot.incidents import rooms
from bot.slack.standin import Call, Channel, FakeSlack
from bot.store.clock import FakeClock
from bot.store.runtime import Baton
from bot.store.settings import Settings
from handlers.app import create_app
from tests.slack_signing import post_signed, slash_command_body

# Fixtures for a real Prometheus and Alertmanager: promstack, alert_webhook.
pytest_plugins = ["tests.promstack"]

# Hypothesis fails an example that takes over 200 ms by default: a timed assert, which a loaded
# 2-core machine trips (it failed one run in ten). Properties are checked, never their speed.
hypothesis.settings.register_profile("baton", deadline=None)
hypothesis.settings.load_profile("baton")

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_OWNERSHIP = ROOT / "ownership.yaml"
SHIPPED_SEVERITY = ROOT / "severity.yaml"
# Windows of 6 s (P0–P2) and a backlog P3, for tests that watch a ladder run in real time.
FAST_SEVERITY = ROOT / "tests" / "data" / "fast" / "severity.yaml"
BACKLOG_CHANNEL = "C07BACKLOG"
SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
METRICS_TOKEN = "test-metrics-token-0123456789"  # /metrics on PORT answers only with it
CHAIN_KEY = "test-chain-key-0123456789abcdef-0123456789"  # BATON_CHAIN_KEY: 32 characters or more
PG_URL = os.environ.get("BATON_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("BATON_REQUIRE_POSTGRES") == "1"


def add_people(fake: FakeSlack, ownership_path: Path) -> dict[str, str]:
    """Give every person in an ownership file a Slack account in the fake; returns e-mail -> ID."""
    people = (yaml.safe_load(ownership_path.read_text()) or {}).get("people") or {}
    emails = {}
    for handle, ref in people.items():
        if "@" in str(ref):
            user_id = "U" + handle.upper().replace("-", "")[:8] + "E"
            fake.add_user(user_id, handle, email=str(ref))
            emails[str(ref)] = user_id
        else:
            fake.add_user(str(ref), handle)
    return emails


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        fake.add_channel("ai-backlog", channel_id=BACKLOG_CHANNEL)
        yield fake


def page_dms(fake: FakeSlack) -> list[Call]:
    """Pages: chat.postMessage straight to a user ID, carrying the Acknowledge button."""
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if str(c.params.get("channel", "")).startswith("U") and "incident_ack" in str(c.params.get("blocks"))
    ]


def incident_channel(fake: FakeSlack, timeout: float = 30.0) -> Channel:
    """The first incident channel Baton created (waits for it)."""
    return fake.wait_for(
        lambda: next((c for c in fake.channels.values() if c.name.startswith("inc-")), None), timeout=timeout
    )


# -- `baton serve` as a separate process ------------------------------------------------------

BATON = str(Path(sys.executable).parent / "baton")


def clean_env() -> dict[str, str]:
    """This process's environment without anything that configures Baton."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BATON_", "DATABASE_URL"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for as long as the block runs. The socket is
    bound but never listens, so no parallel test can take it meanwhile: a port merely found free
    by free_port() can be bound by another worker, which would then answer."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def serve_env(fake: FakeSlack, tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'baton.db'}",
        "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
        "BATON_PID_FILE": str(tmp_path / "baton.pid"),
        "PORT": str(free_port()),
    }
    env.update(overrides)
    return env


def serve(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start `baton serve` and wait until /healthz answers."""
    proc = subprocess.Popen(
        [BATON, "serve"],
        env={**clean_env(), **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{env['PORT']}"
    # Not a measurement: how long a start takes is bench/'s business. The wait ends when it
    # answers or exits; the deadline only stops a start that hangs (a loaded 2-core machine took
    # over 20 s to upgrade a fresh schema in its child process and start).
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"baton serve exited {proc.returncode}: {out}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("baton serve did not become healthy")


@dataclass
class RunningBaton:
    """A real Baton (Bolt app, HTTP server, scheduler) on 127.0.0.1:<free port>."""

    baton: Baton
    runner: Runner
    fake: FakeSlack
    secret: str = SIGNING_SECRET
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.runner.http.port}"

    def post(self, body: str, content_type: str = "application/x-www-form-urlencoded") -> httpx.Response:
        return post_signed(f"{self.url}/slack/events", body, self.secret, content_type=content_type)

    def command(self, command: str, text: str = "", **kwargs: Any) -> httpx.Response:
        return self.post(slash_command_body(command, text, **kwargs))

    def metrics(self) -> str:
        """GET /metrics with BATON_METRICS_TOKEN, as a scraper configured for it does."""
        resp = httpx.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert resp.status_code == 200, resp.text
        return resp.text

    def stop(self) -> None:
        self.runner.stop()
        self.client.close()


def settings_for(fake: FakeSlack, db_url: str, **env: str) -> Settings:
    base = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.url,
        "DATABASE_URL": db_url,
        "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
        "PORT": "0",
        "BATON_METRICS_TOKEN": METRICS_TOKEN,
    }
    base.update(env)
    return Settings.from_env(base)


def start_baton(fake: FakeSlack, db_url: str, *, config: Config | None = None, **env: str) -> RunningBaton:
    settings = settings_for(fake, db_url, **env)
    config = config or load_config(
        ownership_path=settings.ownership_file, severity_path=settings.severity_file
    )
    baton = boot(settings, config)
    runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
    runner.start()
    return RunningBaton(baton=baton, runner=runner, fake=fake)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'baton.db'}"


@pytest.fixture
def running(fake_slack: FakeSlack, db_url: str) -> Iterator[RunningBaton]:
    """A running Baton on the shipped files, on SQLite and on PostgreSQL."""
    rb = start_baton(fake_slack, db_url)
    yield rb
    rb.stop()


@pytest.fixture
def fast(fake_slack: FakeSlack, db_url: str) -> Iterator[RunningBaton]:
    """A running Baton whose P0–P2 windows are 6 s (T/2 = 3 s), on SQLite and on PostgreSQL."""
    rb = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    yield rb
    rb.stop()


def settle(rb: RunningBaton, timeout: float = 30.0) -> None:
    """Wait until Baton has nothing left to do soon: no job due within a second (deferred and
    retried jobs come back within that), none running, no worker busy.

    The signal for "nothing happened" checks: whatever a command wrongly queued would have
    gone out by the time this returns.
    """
    from sqlalchemy import func
    from sqlmodel import col, select

    from bot.store.db import session
    from bot.store.models import Job

    def idle() -> bool:
        ticker = rb.runner.ticker
        with ticker._lock:
            busy = ticker._busy
        soon = rb.baton.clock.now() + timedelta(seconds=1)
        with session(rb.baton.engine) as s:
            due = s.exec(
                select(func.count())
                .select_from(Job)
                .where(
                    col(Job.state).in_(["pending", "running"]),
                    func.coalesce(col(Job.retry_at), col(Job.due_at)) <= soon,
                )
            ).one()
        return busy == 0 and due == 0

    rb.fake.wait_for(lambda: idle() and idle(), timeout=timeout, message="Baton idle")


@pytest.fixture(autouse=True)
def no_slack_call_inside_a_transaction(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test also checks that Baton never called Slack with a database transaction open."""
    yield
    records = [*caplog.get_records("setup"), *caplog.get_records("call")]  # .records: teardown's only
    offending = [r.getMessage() for r in records if "inside an open database transaction" in r.getMessage()]
    assert offending == [], offending


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL, dropped afterwards."""
    try:
        admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as e:
        reason = f"PostgreSQL not reachable at {PG_URL} ({type(e).__name__}); set BATON_TEST_POSTGRES_URL"
        if REQUIRE_PG:
            pytest.fail(reason + " (BATON_REQUIRE_POSTGRES=1 makes this a failure)")
        pytest.skip(reason)
    schema = f"baton_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Storage tests run on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'baton.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def clocked(fake_slack: FakeSlack, db_url: str) -> Iterator[tuple[Baton, Ticker, FakeClock]]:
    """A Baton on an injected clock with its ticker, run by hand (`ticker.run_until_idle()`):
    hours of a window pass in a millisecond. On SQLite and PostgreSQL."""
    settings = settings_for(fake_slack, db_url)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock()
    baton = boot(settings, config, clock=clock)
    ticker = Ticker(
        baton,
        handlers=JOB_KINDS,
        on_failure=rooms.report_failure,
    )
    yield baton, ticker, clock
    ticker.shutdown()
    baton.engine.dispose()


def early_incident_table() -> sa.TableClause:
    """The incident table as the first revisions made it, for a test that writes rows before
    an upgrade: only those columns (today's model has more, with defaults, which a database at
    an early revision lacks), typed as the model types them."""
    from bot.store.models import Incident

    model = Incident.__table__  # type: ignore[attr-defined]
    columns = (
        "id",
        "title",
        "area",
        "severity",
        "state",
        "backlog",
        "declared_by",
        "declared_at",
        "policy",
        "breached",
        "setup_done",
    )
    return sa.table("incident", *(sa.column(c, model.c[c].type) for c in columns))
