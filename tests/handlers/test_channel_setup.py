"""The incident channel when Slack refuses, through the real path: set-up that
gives up hands the channel's messages to the reporter by DM; set-up that fails half-way resumes
at the step that failed; a lost answer to conversations.create never makes a second channel; a
backlog post Slack refuses is reported to the reporter."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from bot.store.db import session
from bot.store.models import Incident
from tests.conftest import BACKLOG_CHANNEL, RunningBaton
from tests.handlers.test_incident_command import (
    LEO,
    OWNING_TEAM,
    channel_of,
    declare,
    incident_channels,
    page_dms,
    paged_users,
    reply,
)


def dms_to(rb: RunningBaton, user: str, needle: str) -> str:
    return rb.fake.wait_for(
        lambda: next((m["text"] for m in rb.fake.dm_messages(user) if needle in m["text"]), None),
        message=f"{needle!r} in the DM of {user}",
    )


def ok_calls(
    rb: RunningBaton, method: str, when: Callable[[Mapping[str, Any]], bool] = lambda p: True
) -> int:
    return len([c for c in rb.fake.calls_to(method) if c.ok and when(c.params)])


def test_setup_that_gives_up_sends_the_channel_s_messages_to_the_reporter(fast: RunningBaton) -> None:
    fake = fast.fake
    fake.inject("conversations.create", status=200, error="restricted_action")  # never retried
    declare(fast, "P1 model-quality Refusals up", user=LEO)
    told = dms_to(fast, LEO, "Could not set up the channel for incident #1")
    assert "restricted_action" in told and "comes to you here" in told
    # Pages still go out, and what the channel would have heard comes to the reporter.
    fake.wait_for(lambda: paged_users(page_dms(fake)) >= OWNING_TEAM, message="step 0 pages")
    dms_to(fast, LEO, "#1 (no channel): :pager: Paging")
    assert fast.command("/incident", "status #1 Rolled back prompt v42", user_id=LEO).status_code == 200
    dms_to(fast, LEO, "Status from <@U07LEO0002>: Rolled back prompt v42")
    assert incident_channels(fake) == [] and len(fake.calls_to("conversations.create")) == 1
    with session(fast.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None and inc.channel_id is None and "restricted_action" in (inc.channel_error or "")
    metrics = fast.metrics()
    assert 'baton_jobs_given_up_total{kind="setup"} 1.0' in metrics


def _to_a_channel(params: Mapping[str, Any]) -> bool:
    return str(params.get("channel", "")).startswith("C")  # not a page DM to a user ID


@pytest.mark.parametrize(
    ("method", "when"),
    [
        ("conversations.invite", None),
        ("conversations.setTopic", None),
        ("chat.postMessage", _to_a_channel),  # the opening message
        ("pins.add", None),
    ],
    ids=["invite", "topic", "post", "pin"],
)
def test_setup_resumes_at_the_step_that_failed(
    fast: RunningBaton, method: str, when: Callable[[Mapping[str, Any]], bool] | None
) -> None:
    fake = fast.fake
    fake.inject(method, status=200, error="internal_error", when=when)  # transient: retried
    declare(fast, "P1 model-quality Refusals up", user=LEO)
    channel = channel_of(fake, timeout=8)
    assert [c.name for c in incident_channels(fake)] == [channel.name]
    assert len(channel.pins) == 1
    # Each step that had worked was not done again after the retry.
    assert ok_calls(fast, "conversations.create") == 1
    for done in ("conversations.invite", "conversations.setTopic", "pins.add"):
        if done != method:
            first_invite = lambda p: "U07LEO0002" in str(p.get("users"))  # noqa: E731
            assert (
                ok_calls(fast, done, first_invite if done == "conversations.invite" else lambda p: True) == 1
            )
    openings = [
        m for m in fake.messages(channel.id) if m.get("blocks") and m["blocks"][0]["type"] == "header"
    ]
    assert len(openings) == 1


def test_a_lost_answer_to_create_never_makes_a_second_channel(fast: RunningBaton) -> None:
    fake = fast.fake
    # Slack creates the channel, but the answer is lost (a gateway's 500 after the work was done).
    fake.inject("conversations.create", status=500, effect=True)
    declare(fast, "P1 model-quality Refusals up", user=LEO)
    channel = channel_of(fake, timeout=8)
    assert [c.name for c in incident_channels(fake)] == [channel.name]
    assert not channel.name.endswith("-2")
    errors = [c.error for c in fake.calls_to("conversations.create")]
    assert errors == ["fatal_error", "name_taken"]  # the retry found its own channel taken ...
    with session(fast.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None and inc.channel_id == channel.id  # ... and adopted it


def test_a_backlog_post_slack_refuses_is_reported_to_the_reporter(fast: RunningBaton) -> None:
    fake = fast.fake
    del fake.channels[BACKLOG_CHANNEL]  # backlog_channel names a channel that does not exist
    body = reply(fast.command("/incident", "P3 data Stale index on docs search", user_id=LEO))
    assert "backlog item #1" in body["text"]
    told = dms_to(fast, LEO, "Could not post backlog item #1")
    assert "channel_not_found" in told and f"<#{BACKLOG_CHANNEL}>" in told and "It is recorded" in told
    assert "#1" in reply(fast.command("/incident", "list", user_id=LEO))["text"]
