"""Severity changes re-plan from that moment, through the real path with 6 s
windows: raising pages the new scope at once with a new window, even after an acknowledgement;
lowering cancels the steps the new level would not have."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlmodel import col, select

from bot.store.db import session
from bot.store.models import Incident, Job
from tests.conftest import RunningBaton, settle
from tests.handlers.test_incident_command import (
    EVERYONE,
    LEO,
    LI,
    MAYA,
    OWNING_TEAM,
    T,
    channel_of,
    declare,
    events,
    in_channel,
    page_dms,
    paged_since,
    paged_users,
    posted,
)


def incident(rb: RunningBaton) -> Incident:
    with session(rb.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None
        return inc


def pending_ladder(rb: RunningBaton) -> Counter[tuple[int | None, float]]:
    """Pending page rows: (step, seconds after the incident's current window start) -> count."""
    inc = incident(rb)
    assert inc.window_started_at is not None
    with session(rb.baton.engine) as s:
        rows = s.exec(
            select(Job).where(col(Job.incident_id) == 1, col(Job.kind) == "page", col(Job.state) == "pending")
        ).all()
    return Counter((j.step, round((j.due_at - inc.window_started_at).total_seconds(), 1)) for j in rows)


def test_raising_after_an_acknowledgement_pages_at_once_with_a_new_window(fast: RunningBaton) -> None:
    fake = fast.fake
    declare(fast, "P2 model-quality Refusals up", user=LEO)
    channel = channel_of(fake)
    fake.wait_for(lambda: paged_users(page_dms(fake)) >= {MAYA}, message="step 0")
    assert "warning" not in in_channel(fast, channel, "ack", user=MAYA).text
    fake.wait_for(lambda: "| acknowledged" in channel.topic, message="acknowledged")
    before = len(page_dms(fake))
    resp = in_channel(fast, channel, "sev P0", user=LEO)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text

    fake.wait_for(lambda: paged_users(page_dms(fake)[before:]) == EVERYONE, timeout=30, message="P0 pages")
    # "At once" from the record, not a stopwatch: the new window's step 0, due at the raise (not
    # at its T/2, 3 s on).
    (change,) = [e for e in events(fast) if e.kind == "severity"]
    fake.wait_for(lambda: len(paged_since(fast, change.at)) >= len(EVERYONE), timeout=30, message="recorded")
    raised = paged_since(fast, change.at)
    assert {e.data["user"] for e in raised} == EVERYONE and {e.data["step"] for e in raised} == {0}
    assert all(datetime.fromisoformat(e.data["due_at"]) <= change.at for e in raised)
    fake.wait_for(lambda: channel.topic.startswith("P0 ") and "| open" in channel.topic, message="open again")
    inc = incident(fast)
    assert inc.state == "open" and inc.acknowledged_by is None
    assert inc.window_started_at is not None and inc.deadline == inc.window_started_at + timedelta(seconds=T)
    assert inc.window_started_at > inc.declared_at
    # The new window's ladder is planned from the raise: T/2 and T of the P0 level.
    assert pending_ladder(fast) == Counter({(1, T / 2): len(EVERYONE), (2, T): len(EVERYONE)})
    said = posted(fake, channel.id, "raised the severity")
    assert "from P2 to *P0*" in said and "Paging the everyone scope now" in said

    # Acknowledged again: the time counts from the raise, not from the declaration.
    assert "warning" not in in_channel(fast, channel, "ack", user=LI).text
    acks = [e for e in events(fast) if e.kind == "acknowledged"]
    assert [e.actor for e in acks] == [MAYA, LI]
    assert acks[1].data["seconds"] < T / 2 and acks[1].data["within"] is True
    assert pending_ladder(fast) == Counter()
    changes = [e for e in events(fast) if e.kind == "severity"]
    assert [(e.actor, e.data["old"], e.data["new"]) for e in changes] == [(LEO, "P2", "P0")]
    assert changes[0].text.startswith("severity raised from P2 to P0")


def test_lowering_cancels_the_steps_the_new_level_would_not_have(fast: RunningBaton) -> None:
    fake = fast.fake
    declare(fast, "P0 model-quality Everything is down", user=LEO)
    channel = channel_of(fake)
    fake.wait_for(lambda: paged_users(page_dms(fake)) == EVERYONE, message="P0 step 0")
    assert pending_ladder(fast) == Counter({(1, T / 2): len(EVERYONE), (2, T): len(EVERYONE)})
    count = len(page_dms(fake))

    resp = in_channel(fast, channel, "sev P2", user=MAYA)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text
    # P2's ladder from now, without its first step: owner + A + owning team at T/2, everyone at T.
    inc = incident(fast)
    assert inc.severity == "P2" and inc.state == "open"
    assert inc.deadline is not None and inc.deadline > inc.declared_at + timedelta(seconds=T)
    start = inc.window_started_at
    assert start is not None
    with session(fast.baton.engine) as s:
        rows = s.exec(
            select(Job).where(col(Job.incident_id) == 1, col(Job.kind) == "page", col(Job.state) == "pending")
        ).all()
    assert Counter(j.step for j in rows) == Counter({1: len(OWNING_TEAM), 2: len(EVERYONE)})
    assert {round((j.due_at - inc.deadline).total_seconds(), 1) for j in rows if j.step == 2} == {0.0}
    settle(fast)
    assert len(page_dms(fake)) == count  # nobody is paged at once by a downgrade
    said = posted(fake, channel.id, "lowered the severity")
    assert "from P0 to *P2*" in said and "re-planned" in said
    change = [e for e in events(fast) if e.kind == "severity"][-1]
    assert change.data["cancelled"] > 0 and change.text.startswith("severity lowered from P0 to P2")


def test_lowering_to_the_backlog_level_stops_every_page(fast: RunningBaton) -> None:
    fake = fast.fake
    declare(fast, "P1 model-quality Refusals up", user=LEO)
    channel = channel_of(fake)
    fake.wait_for(lambda: paged_users(page_dms(fake)) >= OWNING_TEAM, message="step 0")
    assert "warning" not in in_channel(fast, channel, "sev P3", user=MAYA).text
    inc = incident(fast)
    assert (inc.severity, inc.state, inc.deadline, inc.backlog) == ("P3", "open", None, True)
    assert pending_ladder(fast) == Counter()
    posted(fake, channel.id, "Nobody is paged at this level")  # the channel, which exists, hears it
