"""baton demo --speed: a clock running N times faster, honoured only against a Slack on this machine."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import ScaledClock, clock_span, real_seconds
from bot.store.db import session
from bot.store.models import Job
from bot.store.runtime import Baton
from bot.store.settings import Settings, SettingsError
from tests.conftest import settings_for

BOT = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def env(**extra: str) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET, **extra}


def test_a_scaled_clock_runs_faster_from_its_origin() -> None:
    origin = time.time() - 10  # ten real seconds ago
    clock = ScaledClock(60, origin)
    ahead = clock.now() - datetime.fromtimestamp(origin, UTC)
    assert timedelta(seconds=590) < ahead < timedelta(seconds=660)  # ~10 min of demo time
    # The ticker sleeps real seconds: 30 s of demo time is half a real second at 60x.
    assert real_seconds(clock, timedelta(seconds=30)) == pytest.approx(0.5)


def fast_baton(fake: FakeSlack, db_url: str, clock: ScaledClock) -> Baton:
    """A Baton on the shipped files and `clock`, its ticker left to the test."""
    settings = settings_for(fake, db_url)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    return boot(settings, config, clock=clock)


def test_a_lease_lasts_as_many_real_seconds_on_a_fast_clock(fake_slack: FakeSlack, sqlite_url: str) -> None:
    """A job claimed on a 180x clock is leased for 5 real minutes (15 hours of its time), not
    5 of its minutes (under 2 real seconds), after which a second worker could take it while
    its page is still being sent."""
    clock = ScaledClock(180)
    assert clock_span(clock, jobs.LEASE) == timedelta(minutes=5) * 180
    baton = fast_baton(fake_slack, sqlite_url, clock)
    running, release = threading.Event(), threading.Event()

    def hold(_baton: object, _job: Job) -> None:
        running.set()
        release.wait(10)

    ticker = Ticker(baton, handlers={"post": hold})
    try:
        with session(baton.engine) as s:
            jobs.enqueue(s, kind="post", due_at=clock.now(), now=clock.now())
            s.commit()
        claimed_at = clock.now()
        assert ticker.tick() == 1 and running.wait(10)
        with session(baton.engine) as s:
            (job,) = s.exec(select(Job)).all()
        assert job.state == "running" and job.lease_until is not None
        assert job.lease_until - claimed_at > timedelta(hours=14)
    finally:
        release.set()
        ticker.shutdown()
        baton.engine.dispose()


def test_a_retry_waits_as_many_real_seconds_on_a_fast_clock(fake_slack: FakeSlack, sqlite_url: str) -> None:
    """A failed try's backoff (1 s after the first) is a real second on a 180x clock, 3 minutes of
    its time, not 6 ms that would spin the retry; the job is not given up early either."""
    clock = ScaledClock(180)
    baton = fast_baton(fake_slack, sqlite_url, clock)
    tried = threading.Event()

    def fail(_baton: object, _job: Job) -> None:
        tried.set()
        raise jobs.Retry("Slack answered 503")

    ticker = Ticker(baton, handlers={"post": fail})
    try:
        with session(baton.engine) as s:
            jobs.enqueue(s, kind="post", due_at=clock.now(), now=clock.now())
            s.commit()
        failed_at = clock.now()
        ticker.run_until_idle()
        assert tried.is_set()
        with session(baton.engine) as s:
            (job,) = s.exec(select(Job)).all()
        assert job.state == "pending" and job.retry_at is not None
        assert job.retry_at - failed_at >= timedelta(seconds=170)  # 1 real second at 180x
    finally:
        ticker.shutdown()
        baton.engine.dispose()


def test_serve_honours_the_scale_only_against_a_stand_in_on_this_machine() -> None:
    for url in ("http://127.0.0.1:4000/api/", "http://localhost:4000/api/", "http://[::1]:4000/api/"):
        assert Settings.from_env(env(SLACK_API_URL=url, BATON_TIME_SCALE="60")).time_scale == 60
    with pytest.raises(SettingsError) as e:
        Settings.from_env(env(BATON_TIME_SCALE="60"))  # Slack itself
    assert "BATON_TIME_SCALE" in str(e.value) and "slack.com" in str(e.value)
    with pytest.raises(SettingsError):
        Settings.from_env(env(SLACK_API_URL="http://10.0.0.5/api/", BATON_TIME_SCALE="2"))
    with pytest.raises(SettingsError):
        Settings.from_env(env(SLACK_API_URL="http://127.0.0.1/api/", BATON_TIME_SCALE="-1"))
    assert Settings.from_env(env()).time_scale == 1.0


def test_serve_listens_where_host_says() -> None:
    assert Settings.from_env(env()).host == "0.0.0.0"
    assert Settings.from_env(env(HOST="127.0.0.1")).host == "127.0.0.1"


def test_baton_serve_refuses_a_fast_clock_against_slack_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    from tests.conftest import BATON, clean_env

    env = {
        **clean_env(),
        **env_real(),
        "BATON_TIME_SCALE": "60",
        "DATABASE_URL": f"sqlite:///{tmp_path}/b.db",
    }
    done = subprocess.run([BATON, "serve"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "BATON_TIME_SCALE" in done.stderr, done.stderr
    assert not (tmp_path / "b.db").exists(), "refused before the database was touched"


def env_real() -> dict[str, str]:
    return env(SLACK_API_URL="https://slack.com/api/")
