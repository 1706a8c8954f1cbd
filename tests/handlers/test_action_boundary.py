"""The operating boundary held under attack (issue 17 item 7), through the real path:
Slack-signed `/incident` commands and Approve clicks to a running Baton on an injected clock, a
local webhook server standing in for the action, and what the fake Slack saw. On SQLite and
PostgreSQL.

- The webhook gets what was typed (Slack's escaping read back, masked only where the config
  says); Slack, the timeline and the log get the masked copy (item 7).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import select

from bot.actions.messages import APPROVE
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import ActionRequest, Incident, Job, TimelineEvent
from tests.fakeslack import FakeSlack
from tests.handlers.test_incident_command import channel_of, posted, reply
from tests.handlers.test_incident_run import (
    GENERAL,
    App,
    _release_turns,
    approval_dm,
    click,
    incident,
    requests_,
    run,
    start,
)
from tests.test_action_requests import LI, MAYA, NEVER, write_ownership
from tests.webhookserver import WebhookServer, webhook_server

HOOK_PATH = "/rollback?token=s3cret"


@contextmanager
def hooked_app(
    fake: FakeSlack, db_url: str, tmp_path: Path, edit: Callable[[str], str] = lambda t: t
) -> Iterator[tuple[App, WebhookServer]]:
    """A running Baton whose rollback-prompt POSTs to a local webhook server."""
    with webhook_server() as hook:
        fake.add_channel("general", channel_id=GENERAL)
        ownership = write_ownership(tmp_path)
        ownership.write_text(edit(ownership.read_text().replace(NEVER, hook.url(HOOK_PATH), 1)))
        clock = FakeClock()
        app = App(start(fake, db_url, ownership, clock), clock, ownership, db_url)
        stop = threading.Event()
        releaser = threading.Thread(target=_release_turns, args=(stop, app), daemon=True)
        releaser.start()
        try:
            yield app, hook
        finally:
            stop.set()
            releaser.join()
            app.rb.stop()


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


# -- item 7: the webhook gets what was typed ------------------------------------------------------


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
