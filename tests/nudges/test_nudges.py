"""Scheduled nudges on an injected clock:
the pending-handoff reminder runs at `nudges.handoffs` (09:00 Europe/London, daily) once per
due time across replicas, and a day missed while Baton was down runs once, not once per day."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import select

from bot.app.ticker import Ticker
from bot.incidents import services as incidents
from bot.nudges import schedule
from bot.readiness import services as readiness
from bot.records import handoffs
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import NudgeRun
from bot.store.runtime import Baton
from tests.conftest import BATON, SHIPPED_OWNERSHIP, SHIPPED_SEVERITY, clean_env
from tests.dbfaults import refusing

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
    # The SLO digest (MON-FRI 09:00) is due too: it runs beside, see tests/monitoring/test_slo.py.
    assert schedule.tick(baton, worker="a") == ["slo_digest", "handoffs"]
    assert schedule.tick(baton, worker="b") == []  # another replica: claimed already
    ticker.run_until_idle()
    (reminder,) = reminders_to(fake_slack, LI)
    assert "Handoff #1" in reminder

    # Down from Monday 10:00 until Thursday 12:00: three due times missed, one reminder.
    clock.advance(timedelta(days=3, hours=3))
    # Monday 10:00's readiness nudge was missed too: it runs now, once.
    assert schedule.tick(baton, worker="c") == ["slo_digest", "readiness", "handoffs"]
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


ML_CHANNEL, DATA_CHANNEL, ROSA = "C07MLTEAM", "C07DATATEAM", "U07ROSA001"


def _posts(fake: FakeSlack, channel: str, starts: str) -> list[str]:
    return [m["text"] for m in fake.messages(channel) if m["text"].startswith(starts)]


def test_readiness_and_the_failure_review_run_on_their_crons_once_per_due_time(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked  # Sunday 2026-11-22 09:00 in London
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    assert schedule.tick(baton, worker="a") == []  # first sight: noted, nothing sent
    readiness.check_item(baton=baton, area="model-quality", item="dashboard", user=MAYA)
    incidents.declare(baton=baton, severity="P1", area="model-quality", title="Refusals up", reporter=MAYA)
    ticker.run_until_idle()

    clock.advance(timedelta(days=1, hours=1))  # Monday 10:00: readiness "0 10 * * MON"
    assert "readiness" in schedule.tick(baton, worker="a")
    assert "readiness" not in schedule.tick(baton, worker="b")  # another replica: claimed already
    ticker.run_until_idle()
    (nudge,) = _posts(fake_slack, ML_CHANNEL, "Readiness · Model / Prompt")
    assert "organization 5/11" in nudge  # four the config proves, and the dashboard
    open_items = nudge.split("please tick what is done: ")[1]
    assert "rollback" in open_items and "dashboard" not in open_items
    assert "<@U07MAYA001> (accountable)" in nudge
    # Legal has no channel: its accountable person gets the nudge by DM.
    assert any(m["text"].startswith("Readiness · Policy / Guardrails") for m in fake_slack.dm_messages(ROSA))

    clock.advance(timedelta(days=4, hours=5))  # Friday 15:00: failure_review "0 15 * * FRI"
    assert "failure_review" in schedule.tick(baton, worker="b")
    assert "failure_review" not in schedule.tick(baton, worker="a")
    ticker.run_until_idle()
    (review,) = _posts(fake_slack, ML_CHANNEL, "Weekly failure review · Model / Prompt")
    assert "1 incident" in review

    # Down from Friday 16:00 for eight days: Monday's and Friday's missed runs happen once each.
    clock.advance(timedelta(days=8, hours=1))
    ran = schedule.tick(baton, worker="c")
    assert ran.count("readiness") == 1 and ran.count("failure_review") == 1
    assert schedule.tick(baton, worker="c") == []
    ticker.run_until_idle()
    assert len(_posts(fake_slack, ML_CHANNEL, "Readiness · Model / Prompt")) == 2
    assert len(_posts(fake_slack, ML_CHANNEL, "Weekly failure review · Model / Prompt")) == 2


def _nudge(fake: FakeSlack, db_url: str, name: str) -> subprocess.CompletedProcess[str]:
    env = {
        **clean_env(),
        "DATABASE_URL": db_url,
        "BATON_OWNERSHIP_FILE": str(SHIPPED_OWNERSHIP),
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_API_URL": fake.url,
    }
    return subprocess.run([BATON, "nudge", name], env=env, capture_output=True, text=True, timeout=60)


def test_baton_nudge_readiness_and_review_post_now_and_say_where(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack, db_url: str
) -> None:
    baton, ticker, _ = clocked
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    fake_slack.add_channel("data-team", channel_id=DATA_CHANNEL)
    incidents.declare(
        baton=baton, severity="P2", area="data", title="Index stale <!channel>", reporter="U07DANA001"
    )
    ticker.run_until_idle()

    run = _nudge(fake_slack, db_url, "readiness")
    # The platform and product channels do not exist in this Slack: those two posts fail, and say so.
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"posted to <#{ML_CHANNEL}>: Readiness · Model / Prompt: 12 items open" in run.stdout
    assert f"posted to <@{ROSA}> by DM: Readiness · Policy / Guardrails" in run.stdout
    assert "could not post the readiness nudge of infra-deploy to <#C07PLATFORM>" in run.stderr
    assert len(_posts(fake_slack, ML_CHANNEL, "Readiness · Model / Prompt")) == 1

    review = _nudge(fake_slack, db_url, "review")
    assert review.returncode == 1, review.stdout + review.stderr
    assert review.stdout.startswith("# Weekly failure review, ")
    # The incident was declared on the test clock, a week ago: it shows as still open.
    assert "## Data (data): 1 still open" in review.stdout
    assert "Index stale" in review.stdout
    assert f"posted to <#{DATA_CHANNEL}>: Weekly failure review · Data" in review.stdout
    (posted,) = [
        m for m in fake_slack.messages(DATA_CHANNEL) if m["text"].startswith("Weekly failure review")
    ]
    assert "<!channel>" not in str(posted["blocks"]) and "&lt;!channel&gt;" in str(posted["blocks"])


# -- each due time runs exactly once, failures retried and told --------------

JONAS = "U07JONAS01"  # the shipped ownership.yaml's admin
MONDAY_10 = timedelta(days=1, hours=1)  # from the clocked fixture's Sunday 09:00: readiness is due


def _readiness_posts(fake: FakeSlack) -> list[str]:
    return _posts(fake, ML_CHANNEL, "Readiness · Model / Prompt")


def _run(baton: Baton, name: str) -> NudgeRun:
    """The nudge's latest run."""
    with session(baton.engine) as s:
        runs = [r for r in s.exec(select(NudgeRun)).all() if r.name == name]
    return max(runs, key=lambda r: r.due_at.replace(tzinfo=UTC))


def _to_monday_ten(baton: Baton, clock: FakeClock, fake: FakeSlack) -> None:
    """The ML Team's channel exists, the schedule has been seen, and the readiness nudge is due."""
    fake.add_channel("ml-team", channel_id=ML_CHANNEL)
    schedule.tick(baton, worker="a")
    clock.advance(MONDAY_10)


def _reads_ticks(sql: str, params: object) -> bool:
    return "FROM readiness_tick" in sql


def test_a_nudge_run_that_fails_is_tried_again_after_its_backoff_and_posts_once(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    assert schedule.tick(baton, worker="a") == []  # first sight
    clock.advance(MONDAY_10)
    with refusing(baton.engine, _reads_ticks) as fault:
        assert "readiness" not in schedule.tick(baton, worker="a")  # the database refused it
    assert fault.refused == 1
    run = _run(baton, "readiness")
    assert (run.state, run.attempts) == ("pending", 1) and "OperationalError" in (run.last_error or "")
    assert "readiness" not in schedule.tick(baton, worker="b")  # not before its backoff
    clock.advance(schedule.backoff(1))
    assert "readiness" in schedule.tick(baton, worker="b")
    assert schedule.tick(baton, worker="a") == []
    ticker.run_until_idle()
    assert len(_readiness_posts(fake_slack)) == 1
    assert (_run(baton, "readiness").state, _run(baton, "readiness").attempts) == ("done", 2)


def test_a_nudge_that_keeps_failing_is_given_up_and_the_admins_are_told(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    _to_monday_ten(baton, clock, fake_slack)
    with refusing(baton.engine, _reads_ticks, times=1000) as fault:
        for tries in range(1, schedule.MAX_TRIES + 1):
            assert "readiness" not in schedule.tick(baton, worker="a")
            clock.advance(schedule.backoff(tries))
        assert "readiness" not in schedule.tick(baton, worker="a")  # given up: not tried again
    assert fault.refused == schedule.MAX_TRIES
    run = _run(baton, "readiness")
    assert (run.state, run.attempts) == ("failed", schedule.MAX_TRIES)
    ticker.run_until_idle()
    told = [m["text"] for m in fake_slack.dm_messages(JONAS)]
    assert any(
        t.startswith(":warning: The readiness nudge due ")
        and "failed 5 times and was given up" in t
        and "`baton nudge readiness`" in t
        for t in told
    ), told
    assert _readiness_posts(fake_slack) == []


def test_a_run_whose_replica_died_is_taken_over_after_its_lease_and_runs_once(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    _to_monday_ten(baton, clock, fake_slack)
    now = clock.now()
    with session(baton.engine) as s:  # a replica claimed Monday 10:00's readiness run, then died
        s.add(
            NudgeRun(
                name="readiness",
                due_at=now,
                claimed_by="dead-host:1:gone",
                claimed_at=now,
                state="running",
                attempts=1,
                lease_until=now + schedule.LEASE,
            )
        )
        s.commit()
    assert "readiness" not in schedule.tick(baton, worker="a")  # still its lease
    clock.advance(schedule.LEASE + timedelta(seconds=1))
    assert "readiness" in schedule.tick(baton, worker="a")
    assert "readiness" not in schedule.tick(baton, worker="b")
    ticker.run_until_idle()
    assert len(_readiness_posts(fake_slack)) == 1
    assert _run(baton, "readiness").attempts == 2


def test_a_nudge_dm_slack_refuses_is_told_to_the_admins(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    """A message of no incident with nobody named to tell (Legal has
    no channel, so its readiness nudge is Rosa's DM) still reaches a person when Slack refuses
    it for good: the admins."""
    baton, ticker, clock = clocked
    fake_slack.add_channel("ml-team", channel_id=ML_CHANNEL)
    fake_slack.inject(
        "chat.postMessage", status=200, error="user_disabled", when=lambda p: p.get("channel") == ROSA
    )
    schedule.tick(baton, worker="a")
    clock.advance(MONDAY_10)
    assert "readiness" in schedule.tick(baton, worker="a")
    ticker.run_until_idle()
    told = [m["text"] for m in fake_slack.dm_messages(JONAS)]
    assert any(
        t.startswith(f":warning: Could not send the readiness nudge of Policy / Guardrails to <@{ROSA}>: ")
        and "user_disabled" in t
        for t in told
    ), told
