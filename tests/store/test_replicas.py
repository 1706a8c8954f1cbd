"""Several replicas on one PostgreSQL: every page is sent exactly once, none skipped."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.app.runner import Runner, boot
from bot.config.loader import load_config
from bot.slack.standin import FakeSlack
from bot.store.clock import SystemClock
from bot.store.db import session
from bot.store.models import TimelineEvent
from handlers.app import create_app
from tests.conftest import FAST_SEVERITY, RunningBaton, page_dms, settings_for, settle, start_baton
from tests.incidents.test_paging_ladder import EVERYONE, LADDER, OWNING_TEAM, T, _between, _dms, _plan


def test_three_replicas_send_each_page_once(fake_slack: FakeSlack, pg_url: str) -> None:
    replicas = [start_baton(fake_slack, pg_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY)) for _ in range(3)]
    try:
        t0 = time.monotonic()
        # Two incidents, declared through two different replicas.
        for rb, title in ((replicas[0], "Hallucination spike"), (replicas[1], "Refusals up")):
            resp = rb.command("/incident", f"P1 model-quality {title}", user_id="U07SAM0001")
            assert "Declared" in resp.text, resp.text
        expected = 2 * (3 + 8 + 8)
        fake_slack.wait_for(lambda: len(_dms(replicas[0])) >= expected or None, timeout=T + 4)
        for rb in replicas:
            settle(rb)  # every replica has done all it had: a duplicate would have arrived
        dms = _dms(replicas[0])
        assert len(dms) == expected
        # Per incident and user: once at 0 (owning team), once at T/2, once at T.
        per = Counter(
            (re.search(r"incident #(\d+)", str(c.params["text"])).group(1), c.params["channel"])  # type: ignore[union-attr]
            for c in dms
        )
        assert {n for n, _ in per} == {"1", "2"}
        assert {user: count for (n, user), count in per.items() if n == "1"} == {
            user: 3 if user in OWNING_TEAM else 2 for user in EVERYONE
        }
        # Each step paged its people, due when the window says (the record; how late a step may
        # fire is bench/'s to measure), and no page went out before its step was due.
        for number in (1, 2):
            assert _plan(replicas[0], number) == LADDER
        assert _between(dms, t0, -60, T / 2 - 0.05) <= OWNING_TEAM
        assert len([d for d in dms if d.monotonic - t0 < T / 2 - 0.05]) <= 2 * 3
        channels = [c for c in fake_slack.calls_to("conversations.create") if c.ok]
        assert len(channels) == 2  # one channel per incident, not per replica
        with session(replicas[0].baton.engine) as s:
            paged = s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == "paged")).all()
        assert len(paged) == expected
    finally:
        for rb in replicas:
            rb.stop()


class SkewedClock(SystemClock):
    """A machine clock ten minutes fast: past the 5-minute lease of every job in flight."""

    def now(self) -> datetime:
        return super().now() + timedelta(minutes=10)


def test_a_replica_whose_clock_is_ten_minutes_fast_keeps_the_databases_time(
    fake_slack: FakeSlack, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The skewed replica takes no job a live replica holds (each page DM goes
    once although Slack takes seconds to answer it), fires no step early, and says how far off
    its clock is on /metrics and in the log."""
    live = start_baton(fake_slack, pg_url)
    settings = settings_for(fake_slack, pg_url)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    with caplog.at_level(logging.WARNING, logger="bot.store.clock"):
        baton = boot(settings, config, clock=SkewedClock())
    skewed = RunningBaton(baton, Runner(baton, create_app(baton), host="127.0.0.1", port=0), fake_slack)
    skewed.runner.start()
    try:
        fake_slack.set_latency("chat.postMessage", 2.0)  # every job stays in flight for seconds
        resp = live.command(
            "/incident", "P1 model-quality Hallucination spike on checkout", user_id="U07SAM0001"
        )
        assert "Declared" in resp.text, resp.text
        fake_slack.wait_for(lambda: len(page_dms(fake_slack)) >= 3 or None, timeout=10)
        for rb in (live, skewed):
            settle(rb, timeout=15)
        per = Counter(c.params["channel"] for c in page_dms(fake_slack))
        assert per == {user: 1 for user in OWNING_TEAM}  # step 0 once each; T/2 (30 min) not early
        with session(live.baton.engine) as s:
            paged = s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == "paged")).all()
        assert len(paged) == 3
        offset = float(
            next(
                line.split()[-1]
                for line in skewed.baton.metrics.render().decode().splitlines()
                if line.startswith("baton_clock_offset_seconds ")
            )
        )
        assert -601 < offset < -599
        assert any(
            "600." in r.getMessage() and "ahead of the database's" in r.getMessage() for r in caplog.records
        )
    finally:
        fake_slack.set_latency("chat.postMessage", 0)
        skewed.stop()
        live.stop()
