"""`/incident status` and `/incident review` through the real path: Slack-signed requests to a
running Baton on an injected clock, on a severity.yaml whose P1 has `update_every: 30m` and
`review: 5d`, and what the fake Slack saw. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app.runner import Runner, boot
from bot.config.loader import load_config
from bot.slack.standin import Channel, FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident
from handlers.app import create_app
from tests.conftest import RunningBaton, settings_for
from tests.handlers.test_incident_command import channel_of, declare, in_channel, posted, reply, texts
from tests.handlers.test_incident_run import App, _release_turns
from tests.incidents.test_cadence import told_severity

LEO, MAYA, DANA, JONAS = "U07LEO0002", "U07MAYA001", "U07DANA001", "U07JONAS01"
GENERAL = "C07GENERAL"
LINK = "https://docs.example.com/reviews/incident-1?tab=1&x=2"


@pytest.fixture
def app(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[App]:
    fake_slack.add_channel("general", channel_id=GENERAL)
    settings = settings_for(fake_slack, db_url, BATON_SEVERITY_FILE=str(told_severity(tmp_path)))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock()
    baton = boot(settings, config, clock=clock)
    runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
    runner.start()
    found = App(
        RunningBaton(baton=baton, runner=runner, fake=fake_slack), clock, settings.ownership_file, db_url
    )
    stop = threading.Event()
    releaser = threading.Thread(target=_release_turns, args=(stop, found), daemon=True)
    releaser.start()
    yield found
    stop.set()
    releaser.join()
    found.rb.stop()


def later(app: App, delta: timedelta) -> None:
    app.clock.advance(delta)
    app.rb.baton.wake()


def dues(app: App, channel: Channel) -> list[str]:
    return [t for t in texts(app.rb.fake, channel.id) if t.startswith(":hourglass:")]


def test_a_status_typed_in_slack_resets_the_cadence(app: App) -> None:
    declare(app.rb)
    channel = channel_of(app.rb.fake)
    later(app, timedelta(minutes=20))
    assert in_channel(app.rb, channel, "status Rolled back, watching", user=MAYA).status_code == 200
    posted(app.rb.fake, channel.id, "Rolled back, watching")
    later(app, timedelta(minutes=10))  # +30m: it would have been due without the status
    later(app, timedelta(minutes=19))
    # The next status update due is 30m after the status (+50m); nothing before it.
    assert dues(app, channel) == []
    later(app, timedelta(minutes=1))
    got = posted(app.rb.fake, channel.id, "Status update due")
    assert (
        got == f":hourglass: <@{MAYA}> Status update due — last one 30m ago: `/incident status &lt;text&gt;`"
    )
    assert len(dues(app, channel)) == 1


def test_incident_review_is_recorded_by_those_who_may_with_an_http_link(app: App) -> None:
    declare(app.rb)
    channel = channel_of(app.rb.fake)
    assert in_channel(app.rb, channel, "resolve Rolled back prompt v42", user=MAYA).status_code == 200
    app.rb.fake.wait_for(
        lambda: next(
            (m for m in app.rb.fake.dm_messages(MAYA) if "Its review is due by" in str(m["text"])), None
        ),
        message="the review's DM",
    )

    def elsewhere(text: str, user: str) -> str:
        body = reply(
            app.rb.command("/incident", text, user_id=user, channel_id=GENERAL, channel_name="general")
        )
        return str(body["text"])

    refused = elsewhere(f"review #1 {LINK}", DANA)
    assert refused.startswith(":warning: Only the commander (<@U07MAYA001>), the area's owners (ML Team")
    assert "or an admin (<@U07JONAS01>) can record the review of #1. Ask one of them." in refused
    bad = elsewhere("review #1 docs/review-1", MAYA)
    assert "Give the review's link, an http(s) address (`docs/review-1` is not one)" in bad
    assert "an http(s) address, e.g. `/incident review #12 https://" in elsewhere("review #1", MAYA)
    # In the channel, without #N; Slack sends a typed link wrapped and its & escaped.
    wrapped = "<" + LINK.replace("&", "&amp;") + ">"
    ok = reply(in_channel(app.rb, channel, f"review {wrapped}", user=JONAS))
    assert ok["text"] == ":white_check_mark: Recorded the review of #1."
    said = posted(app.rb.fake, channel.id, "recorded the review")
    assert said == f":white_check_mark: <@{JONAS}> recorded the review: {LINK.replace('&', '&amp;')}"
    with session(app.rb.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None and (inc.review_link, inc.reviewed_by) == (LINK, JONAS)
        assert inc.reviewed_at == app.clock.now()
