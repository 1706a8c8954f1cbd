"""Incident buttons through the real path: Slack-signed block_actions and view_submission
requests to /slack/events of a running Baton with 6 s windows."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.incidents import messages
from bot.slack.standin import Channel, FakeSlack
from bot.store.db import session
from bot.store.models import Incident, TimelineEvent
from tests.conftest import RunningBaton, settle
from tests.handlers.test_incident_command import (
    EVERYONE,
    LEO,
    LI,
    MAYA,
    OMAR,
    OWNING_TEAM,
    SAM,
    TITLE,
    T,
    channel_of,
    declare,
    events,
    in_channel,
    no_open_incidents,
    page_dms,
    paged_users,
    pending_pages,
    posted,
    reply,
    texts,
)
from tests.slack_signing import block_actions_body, view_submission_body

NEWBIE = "U07NEWBIE1"  # a Slack user nobody paged


@pytest.fixture
def declared(fast: RunningBaton) -> tuple[Channel, float]:
    """Incident #1 (P1 model-quality, by leo) with its channel set up and step 0 paged by DM;
    with the monotonic time it was declared."""
    t0 = time.monotonic()
    declare(fast)
    channel = channel_of(fast.fake)
    fast.fake.wait_for(lambda: paged_users(page_dms(fast.fake)) >= OWNING_TEAM, message="step 0 DMs")
    return channel, t0


def paged(rb: RunningBaton) -> list[TimelineEvent]:
    return [e for e in events(rb) if e.kind == "paged"]


def opening_ts(channel: Channel) -> str:
    return channel.pins[0]


def click(
    rb: RunningBaton, action_id: str, *, user: str, channel_id: str, message_ts: str, value: str = "1"
) -> str:
    """Press a button on a message; returns the response_url the answer goes to."""
    url = rb.fake.response_url(channel_id, user, message_ts)
    resp = rb.post(
        block_actions_body(
            action_id,
            value,
            user_id=user,
            channel_id=channel_id,
            message_ts=message_ts,
            response_url=url,
            block_id="incident-1",
        )
    )
    assert resp.status_code == 200, resp.text
    return url


def answer(fake: FakeSlack, url: str) -> dict[str, Any]:
    """What the listener said through respond()."""
    post = fake.wait_for(lambda: fake.responses(url)[-1], message=f"respond() to {url}")
    return post.body


def click_ack_in_dm(rb: RunningBaton, user: str) -> tuple[str, str, str]:
    """Press Acknowledge on the page in `user`'s DM; (dm channel id, page ts, response_url)."""
    dm = rb.fake.dm_channel(user)
    assert dm is not None and dm.startswith("D")
    page = next(m for m in reversed(rb.fake.dm_messages(user)) if messages.ACK in json.dumps(m.get("blocks")))
    return dm, page["ts"], click(rb, messages.ACK, user=user, channel_id=dm, message_ts=page["ts"])


# -- Acknowledge ------------------------------------------------------------------------------


def test_ack_from_the_dm_stops_the_escalation(fast: RunningBaton, declared: tuple[Channel, float]) -> None:
    fake = fast.fake
    channel, t0 = declared
    dm, page_ts, url = click_ack_in_dm(fast, LI)
    body = answer(fake, url)
    # In a DM the page itself is replaced, so the button cannot be pressed twice.
    assert body.get("replace_original") is True
    assert "You acknowledged #1" in body["text"] and TITLE in body["text"]
    page = next(m for m in fake.messages(dm) if m["ts"] == page_ts)
    assert "You acknowledged #1" in page["text"]

    announced = posted(fake, channel.id, "acknowledged after")
    assert announced.startswith(f":white_check_mark: <@{LI}> acknowledged after ")
    assert "inside the 6s window" in announced and "Escalation stopped" in announced
    fake.wait_for(lambda: "| acknowledged" in channel.topic, message="topic says acknowledged")
    assert pending_pages(fast) == []
    acked = [e for e in events(fast) if e.kind == "acknowledged"]
    assert [(e.actor, e.data.get("within")) for e in acked] == [(LI, True)]
    assert 0 <= acked[0].data["seconds"] < T / 2
    listed = reply(fast.command("/incident", "list", user_id=LEO))["text"]
    assert "· acknowledged ·" in listed
    # The T/2 step does not come.
    count = len(page_dms(fake))
    time.sleep(max(0.0, t0 + T / 2 + 0.8 - time.monotonic()))
    assert len(page_dms(fake)) == count
    assert not any("owning-team + everyone" in t for t in texts(fake, channel.id))


def test_ack_from_the_channel_then_a_second_ack(fast: RunningBaton, declared: tuple[Channel, float]) -> None:
    fake = fast.fake
    channel, _ = declared
    url = click(fast, messages.ACK, user=OMAR, channel_id=channel.id, message_ts=opening_ts(channel))
    body = answer(fake, url)
    assert body.get("replace_original") is False  # the pinned opening message stays as it is
    assert "You acknowledged #1" in body["text"]
    mine = fake.wait_for(lambda: [e for e in fake.ephemerals(OMAR) if e.via == "response_url"])
    assert mine[0].channel == channel.id
    announced = posted(fake, channel.id, "acknowledged after")
    assert f"<@{OMAR}>" in announced and "inside the 6s window" in announced

    url2 = click(fast, messages.ACK, user=MAYA, channel_id=channel.id, message_ts=opening_ts(channel))
    again = answer(fake, url2)
    assert "already acknowledged" in again["text"] and f"<@{OMAR}>" in again["text"]
    assert [e.actor for e in events(fast) if e.kind == "acknowledged"] == [OMAR]
    assert sum("acknowledged after" in t for t in texts(fake, channel.id)) == 1


def test_ack_by_someone_not_paged_is_refused_and_changes_nothing(
    fast: RunningBaton, declared: tuple[Channel, float]
) -> None:
    fake = fast.fake
    channel, _ = declared
    fake.add_user(NEWBIE, "newbie")
    url = click(fast, messages.ACK, user=NEWBIE, channel_id=channel.id, message_ts=opening_ts(channel))
    body = answer(fake, url)
    assert body["text"].startswith(":warning:") and "Only the people paged so far" in body["text"]
    assert body.get("replace_original") is False
    # It names who may, so the person refused knows whom to ask.
    for who in (f"<@{MAYA}>", f"<@{LI}>", f"<@{OMAR}>", "the commander", "ML Team", "an admin"):
        assert who in body["text"], who
    assert [e.text for e in fake.ephemerals(NEWBIE)] == [body["text"]]
    assert [e for e in events(fast) if e.kind == "acknowledged"] == []
    assert pending_pages(fast), "the escalation is still running"
    assert "· open ·" in reply(fast.command("/incident", "list", user_id=LEO))["text"]
    settle(fast)
    assert not any("acknowledged" in t for t in texts(fake, channel.id))


def test_a_new_commander_may_acknowledge(fast: RunningBaton, declared: tuple[Channel, float]) -> None:
    fake = fast.fake
    channel, _ = declared
    assert in_channel(fast, channel, f"commander <@{SAM}|sam>", user=MAYA).status_code == 200
    url = click(fast, messages.ACK, user=SAM, channel_id=channel.id, message_ts=opening_ts(channel))
    assert "You acknowledged #1" in answer(fake, url)["text"]
    posted(fake, channel.id, f"<@{SAM}> acknowledged after")


def test_ack_after_resolve_says_it_is_resolved(fast: RunningBaton, declared: tuple[Channel, float]) -> None:
    fake = fast.fake
    channel, _ = declared
    assert in_channel(fast, channel, "resolve Fixed", user=MAYA).status_code == 200
    _, _, url = click_ack_in_dm(fast, MAYA)
    body = answer(fake, url)
    assert ":warning:" in body["text"] and "is resolved" in body["text"] and "reopen" in body["text"]
    assert [e for e in events(fast) if e.kind == "acknowledged"] == []


# -- Escalate now -----------------------------------------------------------------------------


def test_escalate_now_brings_the_t2_step_forward(fast: RunningBaton, declared: tuple[Channel, float]) -> None:
    fake = fast.fake
    channel, t0 = declared
    step0 = len(page_dms(fake))
    assert step0 == 3
    url = click(fast, messages.ESCALATE, user=MAYA, channel_id=channel.id, message_ts=opening_ts(channel))
    fake.wait_for(lambda: len(page_dms(fake)) >= step0 + len(EVERYONE), timeout=30)
    step1 = page_dms(fake)[step0:]
    assert paged_users(step1) == EVERYONE  # the T/2 step: owning team again plus everyone in the RACI
    # From the record, not a stopwatch: the press came before the step's own time (T/2 after the
    # window opened), and the step's pages were due at the press, not at T/2.
    (escalated,) = [e for e in events(fast) if e.kind == "escalated"]
    with session(fast.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None and inc.window_started_at is not None
        opened = inc.window_started_at
    assert escalated.at < opened + timedelta(seconds=T / 2), "pressed after T/2: the test proves nothing"
    fake.wait_for(lambda: len([e for e in paged(fast) if e.data["step"] == 1]) >= len(EVERYONE), timeout=30)
    due = [datetime.fromisoformat(e.data["due_at"]) for e in paged(fast) if e.data["step"] == 1]
    assert all(d <= escalated.at for d in due), (due, escalated.at)
    echo = posted(fake, channel.id, "escalated now")
    assert f"<@{MAYA}>" in echo and "page owning-team + everyone" in echo
    notice = posted(fake, channel.id, "Paging")
    assert notice
    fake.wait_for(lambda: channel.members >= EVERYONE, message="step 1 invited to the channel")
    assert (escalated.actor, escalated.text) == (MAYA, "escalated now to step 1: page owning-team + everyone")
    assert fake.responses(url) == []  # nothing to say to the presser: the channel heard it


def test_escalate_after_ack_says_there_is_nothing_running(
    fast: RunningBaton, declared: tuple[Channel, float]
) -> None:
    fake = fast.fake
    channel, _ = declared
    assert in_channel(fast, channel, "ack", user=MAYA).status_code == 200
    url = click(fast, messages.ESCALATE, user=MAYA, channel_id=channel.id, message_ts=opening_ts(channel))
    body = answer(fake, url)
    assert ":warning:" in body["text"] and "acknowledged" in body["text"]
    assert [e for e in events(fast) if e.kind == "escalated"] == []


# -- Resolve ----------------------------------------------------------------------------------


def test_resolve_button_opens_a_modal_whose_submission_resolves(
    fast: RunningBaton, declared: tuple[Channel, float]
) -> None:
    fake = fast.fake
    channel, _ = declared
    click(fast, messages.RESOLVE, user=MAYA, channel_id=channel.id, message_ts=opening_ts(channel))
    view = fake.wait_for(lambda: fake.opened_views()[-1], message="resolve modal opened")
    assert view["callback_id"] == "resolve_incident" and view["private_metadata"] == "1"
    assert [b["block_id"] for b in view["blocks"]] == ["summary"]
    assert "1" in view["title"]["text"]
    assert "· open ·" in reply(fast.command("/incident", "list", user_id=LEO))["text"]  # not yet

    blank = fast.post(
        view_submission_body(
            "resolve_incident", {"summary": {"value": " "}}, user_id=MAYA, private_metadata="1"
        )
    )
    assert blank.status_code == 200 and blank.json()["response_action"] == "errors"
    assert "summary" in blank.json()["errors"]

    resp = fast.post(
        view_submission_body(
            "resolve_incident",
            {"summary": {"value": "Rolled back prompt v42"}},
            user_id=MAYA,
            private_metadata="1",
        )
    )
    assert resp.status_code == 200 and not resp.content.strip(), resp.text  # the modal closes
    echo = posted(fake, channel.id, "resolved the incident")
    assert f"<@{MAYA}>" in echo and "Rolled back prompt v42" in echo
    posted(fake, channel.id, "Who was paged when")
    fake.wait_for(lambda: "| resolved" in channel.topic)
    no_open_incidents(fast)
    assert pending_pages(fast) == []
    assert [e.actor for e in events(fast) if e.kind == "resolved"] == [MAYA]


def test_resolve_button_on_a_resolved_incident_opens_nothing(
    fast: RunningBaton, declared: tuple[Channel, float]
) -> None:
    fake = fast.fake
    channel, _ = declared
    assert in_channel(fast, channel, "resolve Fixed", user=MAYA).status_code == 200
    url = click(fast, messages.RESOLVE, user=MAYA, channel_id=channel.id, message_ts=opening_ts(channel))
    body = answer(fake, url)
    assert ":warning:" in body["text"] and "already resolved" in body["text"]
    assert fake.opened_views() == []
