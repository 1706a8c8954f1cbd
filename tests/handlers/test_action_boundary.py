"""The operating boundary held under attack, through the real path:
Slack-signed `/incident` commands and Approve clicks to a running Baton on an injected clock, a
local webhook server standing in for the action, and what the fake Slack saw. On SQLite and
PostgreSQL.

- A request whose incident is resolved ends: a click after it runs nothing.
- What is approved is what was asked: a change of the action's rule, url or params seen on a
  reload or at start-up voids a pending request, and an approver who may no longer approve is
  refused when they click.
- The webhook gets what was typed (Slack's escaping read back, masked only where the config
  says); Slack, the timeline and the log get the masked copy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.actions.messages import APPROVE
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import ActionRequest, Incident, Job, TimelineEvent
from tests.actions.test_action_requests import LI, MAYA, OMAR
from tests.handlers.test_incident_command import channel_of, in_channel, posted, reply
from tests.handlers.test_incident_run import (
    HOOK_PATH,
    App,
    action_events,
    approval_dm,
    calls,
    click,
    hooked_app,
    incident,
    requests_,
    run,
    start,
)
from tests.webhookserver import WebhookServer, webhook_server


@pytest.fixture
def hooked(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[tuple[App, WebhookServer]]:
    with hooked_app(fake_slack, db_url, tmp_path) as found:
        yield found


def edit_ownership(app: App, old: str, new: str) -> None:
    text = app.ownership.read_text()
    assert old in text, old
    app.ownership.write_text(text.replace(old, new, 1))


def dm_with(app: App, user: str, needle: str) -> str:
    return app.rb.fake.wait_for(
        lambda: next((m["text"] for m in app.rb.fake.dm_messages(user) if needle in m.get("text", "")), None),
        message=f"{needle!r} in the DM of {user}",
    )


# -- resolving ends the incident's requests ------------------------------------------------


def test_resolving_expires_a_pending_request_and_a_later_click_runs_nothing(
    hooked: tuple[App, WebhookServer],
) -> None:
    app, hook = hooked
    fake = app.rb.fake
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    dm = approval_dm(app, MAYA, 1)

    assert in_channel(app.rb, channel, "resolve Rolled back by hand", user=MAYA).status_code == 200
    why = "incident #1 was resolved before anyone decided"
    (req,) = requests_(app)
    assert (req.state, req.error, req.call_params) == ("expired", why, {})
    posted(fake, channel.id, f"<@{LI}>'s request to run `rollback-prompt` (version=v41) expired: {why}")
    dm_with(app, MAYA, f"Request #1 to run `rollback-prompt` (version=v41) for #1 ended: {why}")
    # The note posted at the resolution says so.
    note = posted(fake, channel.id, "## Actions (1)")
    assert f"expired at 2026-11-22 09:00:00 UTC, nobody decided (asked: maya <@{MAYA}>): {why}" in note

    late = click(app, APPROVE, 1, user=MAYA, dm_of=MAYA, ts=dm["ts"])
    assert late["replace_original"] is True
    assert "ended at <!date^" in late["text"] and f"{why}, so nothing ran" in late["text"]
    app.clock.advance(timedelta(hours=2))  # the window's expiry comes and says nothing more
    app.rb.baton.wake()
    reply(in_channel(app.rb, channel, "timeline", user=LI))
    assert hook.received() == [] and calls(app) == []
    assert [k for k, _ in action_events(app)] == ["action requested", "action expired"]
    assert not any("Nobody decided" in m.get("text", "") for m in fake.messages(channel.id))


# -- what is approved is what was asked ----------------------------------------------------


def test_an_edit_to_two_person_with_a_new_url_voids_the_request_on_reload(
    hooked: tuple[App, WebhookServer],
) -> None:
    """Without the check, after the edit the old accountable person approved alone and the new URL
    was called."""
    app, hook = hooked
    fake = app.rb.fake
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    dm = approval_dm(app, MAYA, 1)
    with webhook_server() as other:
        edit_ownership(app, "        approval: accountable\n", "        approval: two-person\n")
        edit_ownership(app, hook.url(HOOK_PATH), other.url("/new"))
        assert app.rb.baton.reload() is None  # what SIGHUP and `baton reload` do

        why = (
            "its approval rule (accountable → two-person) and its url changed in ownership.yaml "
            "since it was asked"
        )
        (req,) = requests_(app)
        assert (req.state, req.error) == ("expired", why)
        said = posted(
            fake, channel.id, f"<@{LI}>'s request to run `rollback-prompt` (version=v41) was voided"
        )
        assert why in said and "ask again with `/incident run`" in said
        dm_with(app, LI, f"Your request #1 to run `rollback-prompt` (version=v41) for #1 was voided: {why}")
        dm_with(app, MAYA, f"Request #1 to run `rollback-prompt` (version=v41) for #1 ended: {why}")

        late = click(app, APPROVE, 1, user=MAYA, dm_of=MAYA, ts=dm["ts"])
        assert f"{why}, so nothing ran" in late["text"]
        app.clock.advance(timedelta(minutes=5))
        app.rb.baton.wake()
        reply(in_channel(app.rb, channel, "timeline", user=LI))
        assert hook.received() == [] and other.received() == [] and calls(app) == []
    assert [k for k, _ in action_events(app)] == ["action requested", "action voided"]


def test_an_edit_of_the_params_seen_at_start_up_voids_the_request(
    hooked: tuple[App, WebhookServer], fake_slack: FakeSlack
) -> None:
    app, hook = hooked
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    approval_dm(app, MAYA, 1)
    app.rb.stop()
    edit_ownership(app, "        params: [version]\n", "        params: [{name: version, mask: true}]\n")
    app.rb = start(fake_slack, app.db_url, app.ownership, app.clock)
    (req,) = requests_(app)
    assert (req.state, req.error) == (
        "expired",
        "its parameters changed in ownership.yaml since it was asked",
    )
    posted(app.rb.fake, channel.id, "was voided: its parameters changed")
    late = click(app, APPROVE, 1, user=MAYA, dm_of=MAYA)
    assert "so nothing ran" in late["text"] and hook.received() == [] and calls(app) == []


def test_an_approver_who_may_no_longer_approve_is_refused_when_they_click(
    hooked: tuple[App, WebhookServer],
) -> None:
    """The action did not change, its accountable person did (ownership.yaml edited): maya was
    asked, but may no longer approve; the request waits, nothing runs."""
    app, hook = hooked
    channel = incident(app)
    run(app, channel, "rollback-prompt version=v41", LI)
    dm = approval_dm(app, MAYA, 1)
    edit_ownership(app, "    accountable: maya ", "    accountable: omar ")
    assert app.rb.baton.reload() is None
    assert requests_(app)[0].state == "pending"  # the action's config is as it was asked

    refused = click(app, APPROVE, 1, user=MAYA, dm_of=MAYA, ts=dm["ts"])
    assert refused["replace_original"] is False
    assert refused["text"] == (
        ":warning: You were asked to decide request #1 to run `rollback-prompt` (version=v41), but you may "
        "no longer approve `rollback-prompt` for `model-quality`. None of those asked may any longer, so "
        f"nobody can approve it: <@{LI}> can ask again with `/incident run`. Nothing changed."
    )
    (req,) = requests_(app)
    assert (req.state, req.decided_by) == ("pending", None) and calls(app) == []
    # Asked again, the accountable person now is asked, and may.
    run(app, channel, "rollback-prompt version=v41", LI)
    approval_dm(app, OMAR, 2)
    assert "You approved request #2" in click(app, APPROVE, 2, user=OMAR, dm_of=OMAR)["text"]
    hook.wait_for(lambda: hook.received() or None)
    assert [r.json()["approved_by"] for r in hook.received()] == [OMAR]


# -- the webhook gets what was typed ------------------------------------------------------


def test_the_webhook_gets_what_was_typed_and_slack_the_masked_escaped_copy(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    masked_reason = lambda text: text.replace(  # noqa: E731
        "        params: [version]\n", "        params: [version, {name: reason, mask: true}]\n", 1
    )
    with hooked_app(fake_slack, db_url, tmp_path, edit=masked_reason) as (app, hook):
        channel = incident(app)
        # As Slack sends `version=v41&by=ops@example.com reason=jane@example.com<b>`: `&`, `<`
        # and `>` as entities.
        typed = "version=v41&amp;by=ops@example.com reason=jane@example.com&lt;b&gt;"
        run(app, channel, f"rollback-prompt {typed}", LI)
        approval_dm(app, MAYA, 1)
        click(app, APPROVE, 1, user=MAYA, dm_of=MAYA)
        (got,) = hook.wait_for(lambda: hook.received() or None)
        # As typed; `reason` masked, as the config says (and not Slack-escaped either).
        assert got.json()["params"] == {"version": "v41&by=ops@example.com", "reason": "[email]<b>"}
        app.rb.fake.wait_for(lambda: requests_(app)[0].state == "called" or None, message="called")

        (req,) = requests_(app)
        assert req.params == {"version": "v41&by=[email]", "reason": "[email]<b>"}  # kept masked
        assert req.call_params == {}  # what the webhook got is not kept once called
        shown = posted(app.rb.fake, channel.id, "Action `rollback-prompt`")
        assert "(version=v41&amp;by=[email], reason=[email]&lt;b&gt;)" in shown
        with session(app.rb.baton.engine) as s:
            stored = [
                *s.exec(select(TimelineEvent)).all(),
                *s.exec(select(Job)).all(),
                *s.exec(select(ActionRequest)).all(),
            ]
        everywhere = {
            "database": " ".join(json.dumps(r.model_dump(), default=str) for r in stored),
            "Slack": json.dumps([c.params for c in app.rb.fake.calls], default=str),
            "log": caplog.text,
        }
        for where, text in everywhere.items():
            assert "ops@example.com" not in text and "jane@example.com" not in text, where


def test_a_title_typed_with_an_ampersand_is_kept_as_typed_and_shown_escaped(
    hooked: tuple[App, WebhookServer],
) -> None:
    """The same class: Slack-escaped command text stored as it came would reach a pager, an
    export or a channel name as `&amp;`."""
    app, _ = hooked
    body = reply(
        app.rb.command("/incident", "P1 model-quality Checkout &amp; cart &lt;broken&gt;", user_id=LI)
    )
    assert "Declared" in body["text"]
    with session(app.rb.baton.engine) as s:
        inc = s.exec(select(Incident)).one()
    assert inc.title == "Checkout & cart <broken>"
    posted(app.rb.fake, channel_of(app.rb.fake).id, "Checkout &amp; cart &lt;broken&gt;")
