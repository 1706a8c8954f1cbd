"""Scheduled nudges on an injected clock (issue 7 item 3, and the schedule of issue 9 item 2):
the pending-handoff reminder runs at `nudges.handoffs` (09:00 Europe/London, daily) once per
due time across replicas, and a day missed while Baton was down runs once, not once per day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import select

from bot.app.ticker import Ticker
from bot.nudges import schedule
from bot.records import handoffs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import NudgeRun
from bot.store.runtime import Baton
from tests.fakeslack import FakeSlack

MAYA, LI = "U07MAYA001", "ULIE"


def reminders_to(fake: FakeSlack, user: str) -> list[str]:
    return [m["text"] for m in fake.dm_messages(user) if "still needs your signature" in m["text"]]


def test_last_due_is_the_latest_fire_time_at_or_before_now() -> None:
    daily = CronTrigger.from_crontab("0 9 * * *", timezone="Europe/London")
    now = datetime(2026, 7, 1, 7, 59, tzinfo=UTC)  # 08:59 in London (summer time)
    assert schedule.last_due(daily, now) == datetime(2026, 6, 30, 8, 0, tzinfo=UTC)
    assert schedule.last_due(daily, now + timedelta(minutes=1)) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    weekly = CronTrigger.from_crontab("0 15 * * FRI", timezone="Europe/London")
    assert schedule.last_due(weekly, datetime(2026, 11, 30, 12, 0, tzinfo=UTC)) == datetime(
        2026, 11, 27, 15, 0, tzinfo=UTC
    )


def test_pending_handoffs_are_nudged_once_a_day_across_replicas(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked  # 2026-11-22 09:00 UTC, a Sunday: 09:00 in London
    assert schedule.tick(baton, worker="a") == []  # first sight: noted, not run
    handoffs.start(
        baton=baton, area="model-quality", role="accountable", to="li", peer=None, note="", user=MAYA
    )
    ticker.run_until_idle()
    assert reminders_to(fake_slack, LI) == []

    clock.advance(timedelta(hours=23, minutes=59))
    assert schedule.tick(baton, worker="a") == []  # not due yet
    clock.advance(timedelta(minutes=1))  # Monday 09:00
    # The SLO digest (MON-FRI 09:00) is due too: it runs beside, see tests/test_slo.py.
    assert schedule.tick(baton, worker="a") == ["slo_digest", "handoffs"]
    assert schedule.tick(baton, worker="b") == []  # another replica: claimed already
    ticker.run_until_idle()
    (reminder,) = reminders_to(fake_slack, LI)
    assert "Handoff #1" in reminder

    # Down from Monday 10:00 until Thursday 12:00: three due times missed, one reminder.
    clock.advance(timedelta(days=3, hours=3))
    assert schedule.tick(baton, worker="c") == ["slo_digest", "handoffs"]
    assert schedule.tick(baton, worker="c") == []
    ticker.run_until_idle()
    assert len(reminders_to(fake_slack, LI)) == 2
    with session(baton.engine) as s:
        runs = sorted(r.due_at for r in s.exec(select(NudgeRun)).all() if r.name == "handoffs")
    assert [r.strftime("%a %H:%M") for r in runs] == ["Sun 09:00", "Mon 09:00", "Thu 09:00"]

    # Signed: nothing left to nudge.
    handoffs.sign(baton=baton, receipt_id=1, as_="incoming", user=LI)
    clock.advance(timedelta(days=1))
    assert schedule.tick(baton, worker="a") == ["slo_digest", "handoffs"]
    ticker.run_until_idle()
    assert len(reminders_to(fake_slack, LI)) == 2
