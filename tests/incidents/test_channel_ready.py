"""The incident channel ready in the fewest round trips: one invitation for everyone,
the invite, topic and opening message side by side before the pin, a resumed set-up that does
only what is missing, and channel messages that go the moment the set-up ends. Behaviour only:
the timings are in bench/."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from bot.app.ticker import Ticker
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.slack.chat import ChatError
from bot.slack.standin import Call, FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident, Job
from bot.store.runtime import Baton
from tests.incidents.test_paging_ladder import MAYA, OWNING_TEAM

SAM = "U07SAM0001"  # the reporter: Platform Team, not paged for model-quality
SETUP_CALLS = ("conversations.create", "conversations.invite", "conversations.setTopic", "pins.add")


def _declare(baton: Baton, reporter: str = SAM) -> Incident:
    return incidents.declare(baton=baton, severity="P1", area="model", title="Refusals up", reporter=reporter)


def _channel_calls(fake: FakeSlack, channel: str) -> list[Call]:
    with fake._lock:
        return [c for c in fake.calls if c.params.get("channel") == channel]


def _opening(call: Call) -> bool:
    raw = call.params.get("blocks")
    blocks: list[dict[str, Any]] = (json.loads(raw) if isinstance(raw, str) else raw) or []
    return call.method == "chat.postMessage" and bool(blocks) and blocks[0].get("type") == "header"


def _channel_of(baton: Baton, number: int) -> str:
    with session(baton.engine) as s:
        inc = s.get(Incident, number)
        assert inc is not None and inc.channel_id is not None
        return inc.channel_id


def test_one_invitation_for_everyone_and_the_card_pinned_after_the_rest(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, _ = clocked
    inc = _declare(baton)
    ticker.run_until_idle()
    channel = _channel_of(baton, inc.id or 0)
    calls = _channel_calls(fake_slack, channel)
    invites = [c for c in calls if c.method == "conversations.invite"]
    # One call names the reporter and every person step 0 pages (the commander is one of them);
    # step 0's notice, which mentions them, does not invite them again.
    assert len(invites) == 1
    assert set(str(invites[0].params["users"]).split(",")) == OWNING_TEAM | {SAM}
    assert inc.commander == MAYA
    assert fake_slack.channels[channel].members >= OWNING_TEAM | {SAM}
    methods = [c.method for c in calls]
    pin = methods.index("pins.add")
    assert methods.index("conversations.invite") < pin and methods.index("conversations.setTopic") < pin
    assert [i for i, c in enumerate(calls) if _opening(c)][0] < pin
    assert len(fake_slack.channels[channel].pins) == 1
    # The paging notice still comes after the opening message.
    texts = [m["text"] for m in fake_slack.messages(channel)]
    assert any("Paging" in t for t in texts[1:])


def test_a_crash_after_invite_and_topic_resumes_with_the_post_and_pin_only(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    inc = _declare(baton)
    # The dying worker claims everything due (pages first, then the set-up).
    claimed = jobs.claim_due(baton.engine, worker="dies", now=clock.now(), limit=50)
    claimed = [j for j in claimed if j.kind == "setup"]
    assert len(claimed) == 1
    # The opening message never reaches Slack (the process dies while sending it): invite and
    # topic are done and recorded, and the job stays claimed by the dead worker.
    fake_slack.inject(
        "chat.postMessage", status=200, error="fatal_error", when=lambda p: str(p["channel"]).startswith("C")
    )
    try:
        rooms.SETUP(baton, claimed[0])  # as the ticker calls it
    except ChatError:
        pass
    else:
        raise AssertionError("the opening message should have failed")
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None
        assert {"create", "invite", "topic"} <= set(row.setup_done) and "post" not in row.setup_done
    channel = _channel_of(baton, inc.id or 0)
    fake_slack.reset_calls()
    clock.advance(jobs.LEASE + timedelta(seconds=1))  # the dead worker's lease runs out
    ticker.run_until_idle()
    calls = _channel_calls(fake_slack, channel)
    assert [c.method for c in calls if c.method in SETUP_CALLS] == ["pins.add"]
    assert len([c for c in calls if _opening(c)]) == 1
    assert [c.method for c in fake_slack.calls if c.method == "conversations.create"] == []
    assert len(fake_slack.channels[channel].pins) == 1
    with session(baton.engine) as s:
        setup = s.get(Job, claimed[0].id)
        assert setup is not None and setup.state == "done"


def test_a_notice_waiting_for_the_channel_goes_as_soon_as_the_set_up_ends(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, _ = clocked
    # Slack is slow to create the channel; step 0's notice waits for the set-up. The clock never
    # moves: the notice goes only if the set-up's end makes it due again, not when its wait
    # runs out.
    fake_slack.set_latency("conversations.create", 0.3)
    inc = _declare(baton)
    ticker.run_until_idle()
    channel = _channel_of(baton, inc.id or 0)
    texts = [m["text"] for m in fake_slack.messages(channel)]
    assert len(texts) >= 2 and "Paging" in texts[1], texts
    with session(baton.engine) as s:
        notice = s.exec(select(Job).where(col(Job.kind) == "notice", col(Job.step) == 0)).one()
        assert notice.state == "done" and notice.retry_at is None  # deferred, then released


def test_the_first_claim_holds_the_pages_and_the_set_up_not_the_notice_that_needs_the_channel(
    clocked: tuple[Baton, Ticker, FakeClock],
) -> None:
    baton, _, clock = clocked
    inc = _declare(baton)
    claimed = jobs.claim_due(baton.engine, worker="w", now=clock.now(), limit=50)
    # The notice would only find no channel and defer, on a worker and the database's writer
    # turn the first pages need: it waits for the set-up instead.
    assert {j.kind for j in claimed} == {"page", "setup"}
    assert sorted(j.kind for j in claimed)[:3] == ["page"] * 3
    with session(baton.engine) as s:
        notice = s.exec(
            select(Job).where(col(Job.incident_id) == inc.id, col(Job.kind) == "notice", col(Job.step) == 0)
        ).one()
        assert notice.state == "pending"
        assert notice.due_at == clock.now() and notice.retry_at == clock.now() + paging.SETUP_WAIT
        # Channel jobs take turns by id (jobs.wait_turn): the set-up, queued first, is ahead.
        setup = s.exec(select(Job).where(col(Job.incident_id) == inc.id, col(Job.kind) == "setup")).one()
        assert setup.id is not None and notice.id is not None and setup.id < notice.id


def test_a_set_up_that_gives_up_releases_the_notice_that_waited_for_it(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, _ = clocked
    fake_slack.inject("conversations.create", status=200, error="restricted_action")  # never retried
    inc = _declare(baton)
    ticker.run_until_idle()  # the clock stands still: only the set-up's end can release the notice
    told = [m["text"] for m in fake_slack.dm_messages(SAM)]
    assert any(t.startswith(f"#{inc.id} (no channel): :pager: Paging") for t in told), told
    with session(baton.engine) as s:
        notice = s.exec(
            select(Job).where(col(Job.incident_id) == inc.id, col(Job.kind) == "notice", col(Job.step) == 0)
        ).one()
        assert notice.state == "done"


def test_an_invitation_slack_refuses_for_one_person_still_invites_the_others(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, _ = clocked
    inc = _declare(baton, reporter="U0NOBODY01")  # no such user: Slack refuses the whole call
    ticker.run_until_idle()
    channel = _channel_of(baton, inc.id or 0)
    assert fake_slack.channels[channel].members >= OWNING_TEAM
    assert "U0NOBODY01" not in fake_slack.channels[channel].members
    invites = [c for c in _channel_calls(fake_slack, channel) if c.method == "conversations.invite"]
    assert invites[0].error == "user_not_found" and len(invites) == 1 + len(OWNING_TEAM | {"U0NOBODY01"})
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None and "invite" in row.setup_done and "pin" in row.setup_done


def test_a_wake_while_a_tick_runs_is_not_lost(clocked: tuple[Baton, Ticker, FakeClock]) -> None:
    baton, _, clock = clocked
    ran = threading.Event()
    ticker = Ticker(baton, handlers={"probe": lambda b, j: ran.set()})
    in_tick, go_on = threading.Event(), threading.Event()
    real_tick, ticks = ticker.tick, []

    def slow_tick() -> int:
        started = real_tick()
        ticks.append(started)
        if len(ticks) == 2:  # it has looked for due jobs: hold it while one arrives
            in_tick.set()
            go_on.wait(10)
        return started

    ticker.tick = slow_tick  # type: ignore[method-assign]
    ticker.start(timedelta(hours=1))  # no poll would come to the rescue
    try:
        ticker.wake()
        assert in_tick.wait(10)
        # The job arrives, and its wake lands, while that tick is still running but past its query.
        with session(baton.engine) as s:
            jobs.enqueue(s, kind="probe", due_at=clock.now(), now=clock.now())
            s.commit()
        ticker.wake()
        go_on.set()
        assert ran.wait(10), "the wake that landed during the tick was dropped"
    finally:
        ticker.shutdown()
