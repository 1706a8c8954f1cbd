"""The announcement (ownership.yaml `announce:`) and the FYI to the consulted and informed,
through the real paths (signed /incident commands, POST /feedback, the drill service) into a
running Baton and the fake Slack, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.runner import JOB_KINDS, boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.incidents.announce import posted_ts
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from tests.conftest import (
    SHIPPED_OWNERSHIP,
    RunningBaton,
    incident_channel,
    page_dms,
    settings_for,
    settle,
    start_baton,
)
from tests.drilling import declare_drill
from tests.monitoring.test_feedback import TOKEN, case, ownership_with_alert, send

ANNOUNCE = "C07INCIDENTS"
MAYA, SAM = "U07MAYA001", "U07SAM0001"
# model-quality's consulted (Data Team, rosa) and informed (Product Team): a P1 or P2 there pages
# the ML Team (or its on-call) at once, none of them.
C_AND_I = {"U07DANA001", "U07KENJI01", "U07ROSA001", "U07ANA0001", "U07TOM0001"}


def with_announce(path: Path, *, channel: str = ANNOUNCE, min_severity: str = "P2") -> Path:
    path.write_text(path.read_text() + f"\nannounce:\n  channel: {channel}\n  min_severity: {min_severity}\n")
    return path


@pytest.fixture
def announcing(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[RunningBaton]:
    """A running Baton announcing P2 and above in #incidents (Baton is in it), taking
    POST /feedback with an alert at 3 cases."""
    fake_slack.add_channel("incidents", channel_id=ANNOUNCE)
    ownership = with_announce(ownership_with_alert(tmp_path, 3))
    rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership), BATON_FEEDBACK_TOKEN=TOKEN)
    yield rb
    rb.stop()


def announcements(fake: FakeSlack) -> list[Any]:
    """Posts to the announce channel outside any thread."""
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.params.get("channel") == ANNOUNCE and not c.params.get("thread_ts")
    ]


def updates(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.calls_to("chat.update") if c.params.get("channel") == ANNOUNCE]


def shown(fake: FakeSlack) -> list[dict[str, Any]]:
    """The announce channel's messages as Slack keeps them (edits applied), threads aside."""
    messages = fake.channels[ANNOUNCE].messages
    return [m for m in messages if not m.get("thread_ts") or m.get("thread_ts") == m.get("ts")]


def whole(message: dict[str, Any]) -> str:
    return f"{message.get('text')} {message.get('blocks')}"


def fyis(fake: FakeSlack) -> list[Any]:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if str(c.params.get("channel", "")).startswith("U") and "FYI" in str(c.params.get("text"))
    ]


def incident(rb: RunningBaton, number: int = 1) -> Incident:
    with session(rb.baton.engine) as s:
        inc = s.get(Incident, number)
        assert inc is not None
        return inc


def command(rb: RunningBaton, text: str) -> None:
    resp = rb.command("/incident", text)
    assert resp.status_code == 200 and "error" not in resp.text.lower(), resp.text


def test_a_declared_incident_is_announced_once_and_edited_in_place_as_it_changes(
    announcing: RunningBaton,
) -> None:
    rb, fake = announcing, announcing.fake
    command(rb, "P1 model-quality Answers cite the <b>old</b> refund policy")
    (post,) = fake.wait_for(lambda: announcements(fake), message="announced")
    room = incident_channel(fake)
    said = f"{post.params['text']} {post.params['blocks']}"
    for part in (
        "P1",
        "Model / Prompt",
        "#1",
        "&lt;b&gt;old&lt;/b&gt;",
        "Open",
        f"<@{MAYA}>",
        f"<#{room.id}>",
    ):
        assert part in said, part
    assert "<!date^" in said and "1h window" in said  # the window's deadline
    assert "incident_ack" not in said

    steps = [
        ("sev #1 P0", "P0"),  # a raise re-opens the window: acknowledged after it
        ("ack #1", "Acknowledged"),
        (f"commander #1 <@{SAM}|sam>", f"<@{SAM}>"),
        ("status #1 Rolled back to prompt v41, watching", "Rolled back to prompt v41, watching"),
        ("resolve #1 Rolled back prompt v42", "Resolved"),
    ]
    for n, (text, expect) in enumerate(steps, 1):
        command(rb, text)
        fake.wait_for(lambda n=n: len(updates(fake)) >= n, message=f"edited after {text}")
        assert expect in str(updates(fake)[n - 1].params), text

    settle(rb)
    assert len(announcements(fake)) == 1 and len(updates(fake)) == len(steps)
    inc = incident(rb)
    assert inc.announce_channel == ANNOUNCE and inc.announce_ts == shown(fake)[0]["ts"]
    assert all(u.params["ts"] == inc.announce_ts for u in updates(fake))
    (final,) = shown(fake)
    for part in ("Resolved", "Rolled back prompt v42", "*Duration*", "acknowledged after", f"<@{SAM}>", "P0"):
        assert part in whole(final), part

    # The status went to the announcement's thread too, once.
    thread = [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.params.get("channel") == ANNOUNCE and c.params.get("thread_ts") == inc.announce_ts
    ]
    assert len(thread) == 1 and "Rolled back to prompt v41, watching" in thread[0].params["text"]


def test_a_drill_and_a_feedback_incident_are_announced_once_each_and_a_p3_is_not(
    announcing: RunningBaton,
) -> None:
    rb, fake = announcing, announcing.fake
    drill = declare_drill(rb.baton, severity="P2", title="Rehearsal of a bad prompt")
    fake.wait_for(lambda: len(announcements(fake)) == 1, message="the drill announced")
    assert announcements(fake)[0].params["text"].startswith("DRILL")
    command(rb, f"ack #{drill.id}")
    fake.wait_for(lambda: updates(fake), message="the drill's announcement edited")
    assert (
        updates(fake)[0].params["text"].startswith("DRILL")
        and "Acknowledged" in updates(fake)[0].params["text"]
    )

    for i in range(3):
        send(rb, case(text=f"wrong answer {i}"))
    fake.wait_for(lambda: len(announcements(fake)) == 2, message="the feedback incident announced")
    assert "3 failure cases from the product" in announcements(fake)[1].params["text"]
    assert not announcements(fake)[1].params["text"].startswith("DRILL")

    command(rb, "P3 model-quality A typo in the footer")  # backlog: below min_severity P2
    settle(rb)
    assert len(announcements(fake)) == 2
    assert len(shown(fake)) == 2


def test_a_5xx_after_slack_posted_it_is_retried_and_still_one_message(announcing: RunningBaton) -> None:
    rb, fake = announcing, announcing.fake
    fake.inject("chat.postMessage", status=500, effect=True, when=lambda p: p.get("channel") == ANNOUNCE)
    command(rb, "P1 model-quality Answers are wrong")
    fake.wait_for(lambda: incident(rb).announce_ts, message="the announcement on record")
    settle(rb)
    assert len(shown(fake)) == 1
    assert [c.http_status for c in announcements(fake)] == [500]  # found, not posted again
    assert incident(rb).announce_ts == shown(fake)[0]["ts"]


def test_a_429_is_waited_out_and_the_announcement_goes(announcing: RunningBaton) -> None:
    rb, fake = announcing, announcing.fake
    fake.inject("chat.postMessage", status=429, retry_after=1, when=lambda p: p.get("channel") == ANNOUNCE)
    command(rb, "P1 model-quality Answers are wrong")
    fake.wait_for(lambda: incident(rb).announce_ts, message="the announcement on record")
    settle(rb)
    assert len(shown(fake)) == 1


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        ("not_in_channel", "/invite @baton"),
        ("channel_not_found", "check `announce.channel` in ownership.yaml"),
    ],
)
def test_an_announce_channel_slack_refuses_is_explained_once_and_the_incident_pages_on_time(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, error: str, advice: str
) -> None:
    if error == "not_in_channel":
        fake_slack.add_channel("incidents", channel_id=ANNOUNCE, bot_member=False, members=[MAYA])
    # channel_not_found: no such channel in the workspace at all (a mistyped ID)
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    with_announce(ownership)
    rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership))
    try:
        command(rb, "P1 model-quality Answers are wrong")
        # Pages go out as ever: the owning team, at once.
        fake_slack.wait_for(
            lambda: {c.params["channel"] for c in page_dms(fake_slack)} >= {MAYA, "U07OMAR001"},
            message="step 0 paged",
        )
        room = incident_channel(fake_slack)
        said = fake_slack.wait_for(
            lambda: [m for m in room.messages if "could not announce" in str(m.get("text"))],
            message="explained in the incident channel",
        )
        assert error in said[0]["text"] and advice in said[0]["text"]
        command(rb, "status #1 Still looking")
        command(rb, "ack #1")
        settle(rb)
        assert len([m for m in room.messages if "could not announce" in str(m.get("text"))]) == 1
        assert ANNOUNCE not in fake_slack.channels or fake_slack.channels[ANNOUNCE].messages == []
        with session(rb.baton.engine) as s:
            refused = s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == "announce_refused")).all()
        assert len(refused) == 1 and incident(rb).announce_ts is None
    finally:
        rb.stop()


# -- FYI ----------------------------------------------------------------------------------------


def test_the_unpaged_consulted_and_informed_get_one_fyi_on_declare_and_one_on_resolve(
    running: RunningBaton,
) -> None:
    rb, fake = running, running.fake
    command(rb, "P2 model-quality Answers are slow")  # pages the ML Team's on-call, maya, only
    fake.wait_for(lambda: {c.params["channel"] for c in fyis(fake)} == C_AND_I, message="FYI on declare")
    room = incident_channel(fake)
    for dm in fyis(fake):
        assert "incident_ack" not in str(dm.params.get("blocks")) and "declared" in dm.params["text"]
        assert f"<#{room.id}>" in str(dm.params.get("blocks"))
    assert {c.params["channel"] for c in page_dms(fake)} == {MAYA}

    command(rb, "resolve #1 Scaled the pool")
    fake.wait_for(lambda: len(fyis(fake)) == 2 * len(C_AND_I), message="FYI on resolve")
    settle(rb)
    resolved = [c for c in fyis(fake) if "resolved" in c.params["text"]]
    assert sorted(c.params["channel"] for c in resolved) == sorted(C_AND_I)
    assert all("Scaled the pool" in str(c.params["blocks"]) for c in resolved)
    assert len(fyis(fake)) == 2 * len(C_AND_I)


def test_a_raise_to_a_level_that_pages_them_pages_them(running: RunningBaton) -> None:
    rb, fake = running, running.fake
    command(rb, "P2 model-quality Answers are slow")
    fake.wait_for(lambda: {c.params["channel"] for c in fyis(fake)} == C_AND_I, message="FYI on declare")
    assert not {c.params["channel"] for c in page_dms(fake)} & C_AND_I
    command(rb, "sev #1 P0")  # P0 pages everyone in the RACI at once
    fake.wait_for(
        lambda: {c.params["channel"] for c in page_dms(fake)} >= C_AND_I, message="paged with the button"
    )
    settle(rb)
    assert len(fyis(fake)) == len(C_AND_I)  # the raise pages; it sends no second FYI


def clocked_announcing(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> tuple[Baton, FakeClock]:
    """A Baton on an injected clock announcing in #incidents (Baton is in it); its ticker is the
    test's to build and shut down."""
    fake_slack.add_channel("incidents", channel_id=ANNOUNCE)
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    settings = settings_for(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(with_announce(ownership)))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock()
    return boot(settings, config, clock=clock), clock


def test_a_slow_channel_set_up_does_not_hold_the_announcement_and_its_link_follows(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """On an injected clock: the channel's creation fails twice (a Slack error); the first post
    waits 30 s for it, then goes saying the channel is being set up; the link follows as soon
    as the channel is made."""
    baton, clock = clocked_announcing(fake_slack, db_url, tmp_path)
    ticker = Ticker(baton, handlers={**paging.HANDLERS, **rooms.HANDLERS}, on_failure=rooms.report_failure)
    try:
        fake_slack.inject("conversations.create", status=200, error="fatal_error", times=2)
        incidents.declare(baton=baton, severity="P1", area="model-quality", title="Slow", reporter=MAYA)
        ticker.run_until_idle()
        assert {c.params["channel"] for c in page_dms(fake_slack)} >= {MAYA}  # pages never wait
        assert announcements(fake_slack) == []  # waiting for the channel
        clock.advance(timedelta(seconds=31))
        ticker.run_until_idle()
        (post,) = announcements(fake_slack)
        assert "being set up" in str(post.params["blocks"])
        clock.advance(timedelta(seconds=3))  # the set-up's third try: the channel is made
        ticker.run_until_idle()
        room = incident_channel(fake_slack, timeout=1)
        (edit,) = updates(fake_slack)  # at once, not LINK_AGAIN later
        assert f"<#{room.id}>" in str(edit.params["blocks"]) and len(shown(fake_slack)) == 1
        clock.advance(timedelta(seconds=60))
        ticker.run_until_idle()
        assert len(updates(fake_slack)) == 1 and len(announcements(fake_slack)) == 1
    finally:
        ticker.shutdown()
        baton.engine.dispose()


def test_a_channel_made_while_the_first_post_was_on_its_way_is_linked_at_once(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """The announcement waited its 30 s and goes without the channel; the set-up, claimed with
    it, makes the channel while the post is on its way. The record of the post then sees the
    channel: the link is edited in at once (before, never: channel_made found no job to bring
    forward, and no later edit was queued). Slack's answers are held to fix the order."""
    baton, clock = clocked_announcing(fake_slack, db_url, tmp_path)
    ticker = Ticker(baton, handlers=JOB_KINDS, on_failure=rooms.report_failure)
    creating, posting = fake_slack.hold("conversations.create"), fake_slack.hold("chat.postMessage")
    try:
        number = incidents.declare(
            baton=baton, severity="P1", area="model-quality", title="Slow", reporter=MAYA
        ).id
        clock.advance(timedelta(seconds=31))  # nothing has run: the set-up and the post go together
        running = threading.Thread(target=ticker.run_until_idle, kwargs={"timeout": 30})
        running.start()

        def on_its_way() -> bool:  # drawn, marked as going out, not yet answered
            with session(baton.engine) as s:
                job = s.exec(select(Job).where(col(Job.kind) == "announce")).first()
                return job is not None and "announce" in job.delivery

        def channel_made() -> bool:
            with session(baton.engine) as s:
                inc = s.get(Incident, number)
                return inc is not None and inc.channel_id is not None

        fake_slack.wait_for(lambda: on_its_way() or None, message="the announcement on its way")
        creating.set()
        fake_slack.wait_for(lambda: channel_made() or None, message="the channel made")
        posting.set()
        running.join(timeout=40)
        assert not running.is_alive()
        (post,) = announcements(fake_slack)
        assert "being set up" in str(post.params["blocks"])  # drawn before the channel existed
        room = incident_channel(fake_slack, timeout=1)
        (edit,) = updates(fake_slack)  # at once: the clock has not moved since
        assert f"<#{room.id}>" in str(edit.params["blocks"])
    finally:
        creating.set()
        posting.set()
        ticker.shutdown()
        baton.engine.dispose()


def test_three_replicas_and_changes_at_once_post_one_announcement(
    fake_slack: FakeSlack, pg_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL, three Batons share the queue; changes come in before the channel exists
    and while the announcement is being posted (Slack slow): still one message, ending in the
    last state, the status once in its thread."""
    fake_slack.add_channel("incidents", channel_id=ANNOUNCE)
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    with_announce(ownership)
    replicas = [start_baton(fake_slack, pg_url, BATON_OWNERSHIP_FILE=str(ownership)) for _ in range(3)]
    try:
        fake_slack.set_latency("chat.postMessage", 0.3)
        first = replicas[0]
        command(first, "P1 model-quality Answers are wrong")
        command(replicas[1], "status #1 Looking at the prompt")
        command(replicas[2], "ack #1")
        command(replicas[0], "status #1 Rolled back")
        fake_slack.wait_for(lambda: posted_ts(incident(first)), message="announced")
        for rb in replicas:
            settle(rb)
        fake_slack.wait_for(
            lambda: (
                "Rolled back" in whole(shown(fake_slack)[0]) and "Acknowledged" in whole(shown(fake_slack)[0])
            ),
            message="the last state shown",
        )
        assert len(shown(fake_slack)) == 1 and len(announcements(fake_slack)) == 1
        thread = [
            c.params["text"]
            for c in fake_slack.calls_to("chat.postMessage")
            if c.params.get("channel") == ANNOUNCE and c.params.get("thread_ts")
        ]
        assert sorted(thread) == sorted(
            t for t in thread if "Looking at the prompt" in t or "Rolled back" in t
        )
        assert len(thread) == 2
    finally:
        for rb in replicas:
            rb.stop()


def test_a_status_whose_answer_is_lost_is_found_in_the_thread_not_posted_twice(
    announcing: RunningBaton,
) -> None:
    rb, fake = announcing, announcing.fake
    command(rb, "P1 model-quality Answers are wrong")
    ts = fake.wait_for(lambda: posted_ts(incident(rb)), message="announced")
    fake.inject("chat.postMessage", status=502, effect=True, when=lambda p: p.get("thread_ts") == ts)
    command(rb, "status #1 Rolled back to prompt v41")
    fake.wait_for(lambda: fake.calls_to("conversations.replies"), message="looked in the thread")
    settle(rb)
    replies = [m for m in fake.channels[ANNOUNCE].messages if m.get("thread_ts") == ts and m["ts"] != ts]
    assert len(replies) == 1 and "Rolled back to prompt v41" in replies[0]["text"]
    assert [m["ts"] for m in shown(fake)] == [ts]  # the channel's history leaves the reply out
