"""What may grow without bound goes out as one message, capped, pointing to
the whole: the incident note posted on resolve, a person's handoff reminders, `/incident list`.
Through a running Baton (signed HTTP, POST /feedback) and an injected clock, on SQLite and
PostgreSQL."""

from __future__ import annotations

from bot.app.ticker import Ticker
from bot.nudges import schedule
from bot.records import handoffs
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.runtime import Baton
from tests.conftest import RunningBaton, incident_channel, settle
from tests.handlers.test_incident_command import reply, shown
from tests.monitoring.test_feedback import case, send, taking  # noqa: F401 - taking: a fixture

MAYA, LI, DANA, SAM = "U07MAYA001", "ULIE", "U07DANA001", "U07SAM0001"


def test_resolving_an_incident_with_many_feedback_cases_posts_one_note(
    taking: RunningBaton,  # noqa: F811  (the fixture imported above)
    fake_slack: FakeSlack,
) -> None:
    words = "the answer quoted a refund policy that is gone " * 13
    for n in range(60):  # each a timeline line of 500 characters: a note of ~35,000
        assert send(taking, case(text=f"case {n}: {words}")).status_code == 200
    channel = incident_channel(fake_slack)
    settle(taking, timeout=15)
    before = len(fake_slack.messages(channel.id))
    resp = taking.command("/incident", "resolve Prompt v42 rolled back", user_id=MAYA, channel_id=channel.id)
    assert resp.status_code == 200, resp.text
    settle(taking, timeout=15)
    said = fake_slack.messages(channel.id)[before:]
    notes = [m["text"] for m in said if m["text"].startswith("```")]
    assert len(notes) == 1, [t[:80] for t in notes]
    (note,) = notes
    assert note.startswith("```# Incident #1: ") and len(note) < 3200
    assert "more lines of the note are not shown here" in note
    assert note.endswith("_The whole note: `/incident note` in this channel, or `baton export 1`._")
    assert len(said) <= 3  # the resolution, the note (and nothing else per case)


def test_a_person_with_many_handoffs_to_sign_gets_one_reminder(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    assert schedule.tick(baton, worker="a") == []  # first sight
    for area, holder in (("model-quality", MAYA), ("data", DANA), ("infra-deploy", SAM)):
        handoffs.start(baton=baton, area=area, role="accountable", to="li", peer=None, note="", user=holder)
    ticker.run_until_idle()
    before = len(fake_slack.dm_messages(LI))
    clock.advance(schedule.LOOKBACK / 8)  # a day: the 09:00 handoffs reminder is due
    assert "handoffs" in schedule.tick(baton, worker="a")
    ticker.run_until_idle()
    (dm,) = fake_slack.dm_messages(LI)[before:]
    assert dm["text"] == ":hourglass: 3 handoffs still need your signature."
    shown_blocks = str(dm["blocks"])
    assert all(f"Handoff #{n}*" in shown_blocks for n in (1, 2, 3))
    assert shown_blocks.count("Countersign") == 3


def test_a_long_incident_list_is_one_block_that_says_how_many_are_left_out(running: RunningBaton) -> None:
    for n in range(25):
        title = f"Stale index on docs search, shard {n} " + "x" * 150
        assert "Recorded" in running.command("/incident", f"P3 data {title}", user_id=DANA).text
    body = reply(running.command("/incident", "list", user_id=DANA))
    text = shown(body)
    assert len(body["blocks"]) == 1 and len(text) <= 3000
    assert "*#1* P3 `data`" in text and text.rstrip().split("\n")[-1].startswith("… and ")
    assert text.rstrip().endswith("more")
