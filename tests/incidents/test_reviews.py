"""Reviews (severity.yaml `review:`, bot/incidents/reviews.py) and what the weekly review says of
keeping people told (bot/nudges/keeping.py), through the real services and ticker on an injected
clock where days pass at once, on both databases: the commander's DM on resolve with the due date
and the note as draft, daily nudges while overdue and none after the review, the weekly review's
missed status updates and reviews overdue and done, drills left out of them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.access.rule import NotAllowed
from bot.app.ticker import Ticker
from bot.drills import start as drills
from bot.incidents import reviews
from bot.incidents import services as incidents
from bot.incidents.errors import IncidentError
from bot.nudges import review
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident, Job
from bot.store.runtime import Baton
from tests.incidents.test_cadence import declared, with_cadence
from tests.records.test_export import DANA, MAYA, move_to, settle

JONAS = "U07JONAS01"  # an admin
LINK = "https://docs.example.com/reviews/incident-1"


@pytest.fixture
def told(clocked: tuple[Baton, Ticker, FakeClock], tmp_path: Path) -> tuple[Baton, Ticker, FakeClock]:
    """`clocked`, its P1 with `update_every: 30m` and `review: 5d`."""
    with_cadence(clocked[0], tmp_path)
    return clocked


def dms(fake: FakeSlack, user: str, marker: str) -> list[str]:
    return [str(m.get("text")) for m in fake.dm_messages(user) if marker in str(m.get("text"))[:20]]


def resolved(baton: Baton, ticker: Ticker, clock: FakeClock) -> Incident:
    inc = declared(baton, ticker, clock)
    assert inc.id is not None
    incidents.acknowledge(baton=baton, number=inc.id, user=MAYA)
    incidents.resolve(baton=baton, number=inc.id, summary="Rolled back prompt v42", user=MAYA)
    settle(baton, ticker, clock)
    with session(baton.engine) as s:
        found = s.get(Incident, inc.id)
    assert found is not None
    return found


def test_on_resolve_the_commander_is_told_the_due_date_with_the_note_as_draft(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    inc = resolved(baton, ticker, clock)
    assert inc.resolved_at is not None
    assert inc.review_due_at == inc.resolved_at + timedelta(days=5)
    (dm,) = dms(fake_slack, MAYA, ":memo:")
    assert "Incident #1 (Slow answers) is resolved. Its review is due by <!date^" in dm
    assert "(5d). A draft, from the incident note:\n```" in dm
    assert "Rolled back prompt v42" in dm  # the note's summary, in the draft
    assert dm.endswith("record it: `/incident review #1 &lt;link&gt;`")
    assert len(dm) < 4000  # the note's start (Slack's limits), however long the incident


def test_overdue_reviews_are_nudged_daily_until_recorded_and_never_after(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    inc = resolved(baton, ticker, clock)
    assert inc.id is not None and inc.resolved_at is not None
    done = inc.resolved_at
    move_to(clock, done, timedelta(days=5) - timedelta(seconds=1))
    ticker.run_until_idle()
    assert dms(fake_slack, MAYA, ":alarm_clock:") == []
    move_to(clock, done, timedelta(days=5))
    ticker.run_until_idle()
    (first,) = dms(fake_slack, MAYA, ":alarm_clock:")
    assert "The review of incident #1 (Slow answers) was due <!date^" in first and "(just now)" in first
    move_to(clock, done, timedelta(days=5, hours=23))
    ticker.run_until_idle()
    assert len(dms(fake_slack, MAYA, ":alarm_clock:")) == 1  # daily, not more
    move_to(clock, done, timedelta(days=6))
    ticker.run_until_idle()
    second = dms(fake_slack, MAYA, ":alarm_clock:")[1]
    assert "(1d ago)" in second

    with pytest.raises(NotAllowed) as refused:  # the area's C is not among those who may
        reviews.record(baton=baton, number=inc.id, link=LINK, user=DANA)
    assert str(refused.value).startswith("Only the commander (<@U07MAYA001>), the area's owners (")
    assert "record the review of #1" in str(refused.value)
    with pytest.raises(IncidentError, match="an http\\(s\\) address"):
        reviews.record(baton=baton, number=inc.id, link="javascript:alert(1)", user=JONAS)
    reviews.record(baton=baton, number=inc.id, link=f"<{LINK}>", user=JONAS)  # as Slack sends a link
    settle(baton, ticker, clock)
    move_to(clock, done, timedelta(days=12))
    ticker.run_until_idle()
    assert len(dms(fake_slack, MAYA, ":alarm_clock:")) == 2
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None and (row.review_link, row.reviewed_by) == (LINK, JONAS)
        kinds = [j.state for j in s.exec(select(Job).where(col(Job.kind) == "review_nudge")).all()]
    assert "pending" not in kinds and kinds.count("done") == 2


def test_a_level_without_review_asks_for_none(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    inc = resolved(baton, ticker, clock)
    assert inc.review_due_at is None
    move_to(clock, clock.now(), timedelta(days=30))
    ticker.run_until_idle()
    assert dms(fake_slack, MAYA, ":memo:") == [] and dms(fake_slack, MAYA, ":alarm_clock:") == []


def test_the_weekly_review_counts_missed_updates_and_lists_reviews_without_drills(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    start = clock.now()
    inc = declared(baton, ticker, clock)  # #1: two cadences missed, then resolved
    assert inc.id is not None
    for minutes in (30, 60):
        move_to(clock, start, timedelta(minutes=minutes))
        ticker.run_until_idle()
    incidents.resolve(baton=baton, number=inc.id, summary="Fixed", user=MAYA)
    drill = drills.start(baton=baton, severity="P1", area="model-quality", title="Game day", starter=MAYA)
    settle(baton, ticker, clock)
    move_to(clock, start, timedelta(minutes=95))
    ticker.run_until_idle()  # the drill's cadence post: not counted
    incidents.resolve(baton=baton, number=drill.id or 0, summary="Rehearsed", user=MAYA)
    settle(baton, ticker, clock)
    move_to(clock, start, timedelta(days=6))
    ticker.run_until_idle()

    area = review.review(baton).area("model-quality")
    assert area.kept.missed_updates == 2
    assert [r.number for r in area.kept.overdue] == [1]  # not the drill's, overdue too
    assert "2 missed status updates, 1 review overdue" in area.summary()
    md = review.review(baton).markdown()
    assert "### Keeping people told: 2 missed status updates" in md
    assert "### Reviews overdue: 1\n- #1 P1 Slow answers · due 2026-11-27 10:" in md

    reviews.record(baton=baton, number=inc.id, link=LINK, user=MAYA)
    reviews.record(baton=baton, number=drill.id or 0, link=LINK + "-drill", user=MAYA)  # allowed
    area = review.review(baton).area("model-quality")
    assert area.kept.overdue == () and [(r.number, r.link) for r in area.kept.reviewed] == [(1, LINK)]
    text, blocks = review.message(review.review(baton), area)
    shown = str(blocks)
    assert "*Reviews done*: 1" in shown and LINK in shown and "1 review done" in text


def test_a_reopen_stops_the_nudges_and_the_next_resolve_sets_a_new_due_date(
    told: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = told
    inc = resolved(baton, ticker, clock)
    assert inc.id is not None and inc.resolved_at is not None
    first = inc.resolved_at
    move_to(clock, first, timedelta(days=1))
    incidents.reopen(baton=baton, number=inc.id, user=MAYA)
    settle(baton, ticker, clock)
    move_to(clock, first, timedelta(days=5, hours=1))
    ticker.run_until_idle()
    assert dms(fake_slack, MAYA, ":alarm_clock:") == []  # reopened: not overdue
    incidents.resolve(baton=baton, number=inc.id, summary="Fixed for good", user=MAYA)
    settle(baton, ticker, clock)
    again = clock.now()
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None and row.review_due_at == again + timedelta(days=5)
    assert len(dms(fake_slack, MAYA, ":memo:")) == 2
    move_to(clock, again, timedelta(days=5))
    ticker.run_until_idle()
    assert len(dms(fake_slack, MAYA, ":alarm_clock:")) == 1
