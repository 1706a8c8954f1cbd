"""/incident through the real path: Slack-signed requests to /slack/events of a running Baton
(6 s windows), and what the fake Slack saw afterwards."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.incidents import messages
from bot.slack.standin import Call, Channel, FakeSlack
from bot.store.db import session
from bot.store.models import Job, TimelineEvent
from tests.conftest import (
    BACKLOG_CHANNEL,
    FAST_SEVERITY,
    SHIPPED_OWNERSHIP,
    RunningBaton,
    add_people,
    settle,
    start_baton,
)
from tests.slack_signing import block_actions_body, view_submission_body

EXAMPLE = "/incident P1 model-quality Hallucination spike on checkout"
TITLE = "Hallucination spike on checkout"
SLUG = "hallucination-spike-on-checkout"
T = 6.0  # the fast fixture's window for P0–P2
# The shipped ownership.yaml's model-quality RACI, with the IDs tests/conftest.add_people gives.
MAYA, LI, OMAR = "U07MAYA001", "ULIE", "U07OMAR001"  # ML Team; maya is also accountable
SAM = "U07SAM0001"  # Platform Team: not in model-quality's RACI
DANA = "U07DANA001"  # Data Team, accountable for the data area
LEO = "U07LEO0002"  # a Slack user who is in no team at all: our reporter
OWNING_TEAM = {MAYA, LI, OMAR}
EVERYONE = OWNING_TEAM | {"U07DANA001", "U07KENJI01", "U07ROSA001", "U07ANA0001", "U07TOM0001"}


# -- helpers (also used by test_incident_actions.py) ----------------------------------------------


def shown(body: dict[str, Any]) -> str:
    """All the text a reader sees in a reply's blocks."""
    return "\n".join(b["text"]["text"] for b in body["blocks"] if b.get("text"))


def reply(resp: httpx.Response) -> dict[str, Any]:
    """The ephemeral answer in the command's HTTP response."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["response_type"] == "ephemeral", body
    return body


def page_dms(fake: FakeSlack) -> list[Call]:
    """Pages: chat.postMessage to a user ID with the Acknowledge button."""
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if str(c.params.get("channel", "")).startswith("U") and messages.ACK in str(c.params.get("blocks"))
    ]


def paged_users(calls: list[Call]) -> set[str]:
    return {str(c.params["channel"]) for c in calls}


def incident_channels(fake: FakeSlack) -> list[Channel]:
    return [c for c in list(fake.channels.values()) if c.name.startswith("inc-")]


def declare(rb: RunningBaton, text: str = f"P1 model-quality {TITLE}", user: str = LEO) -> dict[str, Any]:
    body = reply(rb.command("/incident", text, user_id=user))
    assert "Declared" in body["text"], body
    return body


def channel_of(fake: FakeSlack, timeout: float = 30.0) -> Channel:
    """The incident channel once set up: created, topic set and opening message pinned."""
    return fake.wait_for(
        lambda: next((c for c in incident_channels(fake) if c.pins and c.topic), None),
        timeout=timeout,
        message="incident channel set up",
    )


def texts(fake: FakeSlack, channel_id: str) -> list[str]:
    return [m.get("text", "") for m in fake.messages(channel_id)]


def posted(fake: FakeSlack, channel_id: str, needle: str, timeout: float = 30.0) -> str:
    """Wait for a message in a channel containing `needle`; returns its text."""
    return fake.wait_for(
        lambda: next((t for t in texts(fake, channel_id) if needle in t), None),
        timeout=timeout,
        message=f"{needle!r} in {channel_id}",
    )


def in_channel(rb: RunningBaton, channel: Channel, text: str, user: str = LEO) -> httpx.Response:
    return rb.command("/incident", text, user_id=user, channel_id=channel.id, channel_name=channel.name)


def events(rb: RunningBaton, number: int = 1) -> list[TimelineEvent]:
    with session(rb.baton.engine) as s:
        return list(
            s.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.incident_id) == number)
                .order_by(col(TimelineEvent.id))
            ).all()
        )


def pending_pages(rb: RunningBaton, number: int = 1) -> list[Job]:
    with session(rb.baton.engine) as s:
        return list(
            s.exec(
                select(Job).where(
                    col(Job.incident_id) == number,
                    col(Job.state) == "pending",
                    col(Job.kind).in_(["page", "notice", "breach"]),
                )
            ).all()
        )


def no_open_incidents(rb: RunningBaton) -> None:
    body = reply(rb.command("/incident", "list", user_id=LEO))
    assert "No open incidents" in body["text"], body["text"]


# -- declaring ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"P1 model-quality {TITLE}",
        f"declare P1 model-quality {TITLE}",
        f"P1 model {TITLE}",
        f"p1 model-quality {TITLE}",
    ],
    ids=["plain", "declare-first", "alias", "lowercase-severity"],
)
def test_declare_creates_the_channel_pages_and_pins(fast: RunningBaton, text: str) -> None:
    fake = fast.fake
    before = datetime.now(UTC)
    body = declare(fast, text)
    after = datetime.now(UTC)
    assert "*P1*" in body["text"] and "*#1*" in body["text"] and "`model-quality`" in body["text"]
    assert TITLE in body["text"] and "respond by" in body["text"]

    channel = channel_of(fake)
    days = {f"{d:%Y%m%d}" for d in (before, after)}
    assert channel.name in {f"inc-{d}-1-{SLUG}" for d in days}, channel.name
    assert len(incident_channels(fake)) == 1
    # Topic: severity, area, commander (the accountable person) and status.
    assert channel.topic == f"P1 Core feature failure | model-quality | IC <@{MAYA}> | open"
    # The reporter, the commander and the people paged at step 0 are in the channel.
    fake.wait_for(lambda: {LEO, *OWNING_TEAM} <= channel.members, message="members invited")

    # The opening message is pinned (and is the only pin).
    assert [c.params["timestamp"] for c in fake.calls_to("pins.add")] == channel.pins
    assert len(channel.pins) == 1
    opening = next(m for m in fake.messages(channel.id) if m["ts"] == channel.pins[0])
    assert opening["blocks"][0]["type"] == "header"
    assert opening["blocks"][0]["text"]["text"] == f"P1 · #1 {TITLE}"
    blocks = json.dumps(opening["blocks"])
    assert "P1 Core feature failure" in blocks
    assert "*Respond by*" in blocks and "6s window" in blocks and "<!date^" in blocks
    paged_field = next(
        f["text"] for b in opening["blocks"] for f in b.get("fields", []) if f["text"].startswith("*Paged*")
    )
    assert set(re.findall(r"<@(\w+)>", paged_field)) == OWNING_TEAM
    actions = next(b for b in opening["blocks"] if b["type"] == "actions")
    assert [(e["text"]["text"], e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("Acknowledge", messages.ACK, "1"),
        ("Escalate now", messages.ESCALATE, "1"),
        ("Resolve", messages.RESOLVE, "1"),
    ]
    # Step 0: P1 pages the owning team by DM, each with an Acknowledge button, and mentions them.
    fake.wait_for(lambda: paged_users(page_dms(fake)) >= OWNING_TEAM, message="step 0 DMs")
    notice = posted(fake, channel.id, ":pager: Paging")
    assert set(re.findall(r"<@(\w+)>", notice)) == OWNING_TEAM


def test_no_text_opens_the_declare_modal_and_its_submission_declares(fast: RunningBaton) -> None:
    fake = fast.fake
    resp = fast.command("/incident", "", user_id=LEO)
    assert resp.status_code == 200
    view = fake.wait_for(lambda: fake.opened_views()[-1], message="views.open")
    assert view["callback_id"] == "declare_incident"
    blocks = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert set(blocks) == {"severity", "area", "title"}
    assert {o["value"] for o in blocks["severity"]["options"]} == {"P0", "P1", "P2", "P3"}
    assert "model-quality" in {o["value"] for o in blocks["area"]["options"]}
    assert all(e["action_id"] == "value" for e in blocks.values())
    assert incident_channels(fake) == []

    def select_(value: str) -> dict[str, Any]:
        return {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        }

    state = {
        "severity": {"value": select_("P1")},
        "area": {"value": select_("model-quality")},
        "title": {"value": TITLE},
    }
    resp = fast.post(view_submission_body("declare_incident", state, user_id=LEO))
    assert resp.status_code == 200 and not resp.content.strip(), resp.text  # modal closes
    channel = channel_of(fake)
    assert channel.name.endswith(f"-1-{SLUG}")
    assert LEO in channel.members
    assert any(TITLE in t for t in texts(fake, channel.id))


def test_declare_modal_with_blank_title_shows_the_error_on_the_form(fast: RunningBaton) -> None:
    state = {
        "severity": {"value": {"type": "static_select", "selected_option": {"value": "P1"}}},
        "area": {"value": {"type": "static_select", "selected_option": {"value": "data"}}},
        "title": {"value": "   "},
    }
    resp = fast.post(view_submission_body("declare_incident", state, user_id=LEO))
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_action"] == "errors" and "title" in body["errors"]["title"]
    no_open_incidents(fast)


# -- bad input --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBaton]:
    """One Baton (6 s windows) for every bad-input case: none of them may leave anything behind,
    so sharing it makes "nothing was created" a check over all of them together."""
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        fake.add_channel("ai-backlog", channel_id=BACKLOG_CHANNEL)
        db = tmp_path_factory.mktemp("quiet") / "baton.db"
        rb = start_baton(fake, f"sqlite:///{db}", BATON_SEVERITY_FILE=str(FAST_SEVERITY))
        yield rb
        rb.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"P7 model-quality {TITLE}", "There is no severity `P7`"),
        (f"P1 modle-quality {TITLE}", "Did you mean `model-quality`?"),
        (f"P1 zzzz {TITLE}", "There is no area `zzzz`"),
        ("P1 model-quality", "title"),
        ("P1", "Name the area"),
        ("declare", "Start with a severity"),
        ("frobnicate the thing", "I don't know `/incident frobnicate`"),
        ("ack", "works inside an incident channel"),
        ("status rolled back", "works inside an incident channel"),
        ("resolve rolled back", "works inside an incident channel"),
    ],
    ids=[
        "unknown-severity",
        "near-miss-area",
        "unknown-area",
        "missing-title",
        "missing-area",
        "declare-alone",
        "unknown-subcommand",
        "ack-outside",
        "status-outside",
        "resolve-outside",
    ],
)
def test_bad_input_says_what_was_wrong_and_creates_nothing(
    quiet: RunningBaton, text: str, expected: str
) -> None:
    fast = quiet
    body = reply(fast.command("/incident", text, user_id=LEO))
    assert body["text"].startswith(":warning:")
    assert expected in body["text"], body["text"]
    assert EXAMPLE in body["text"], "every error shows a correct example"
    assert expected in json.dumps(body["blocks"])
    no_open_incidents(fast)
    settle(fast)  # anything wrongly queued would have gone out by now
    fake = fast.fake
    assert fake.calls_to("conversations.create") == []
    assert fake.calls_to("chat.postMessage") == []
    assert incident_channels(fake) == []


def test_unknown_area_lists_the_real_ones(fast: RunningBaton) -> None:
    body = reply(fast.command("/incident", "P1 zzzz Broken", user_id=LEO))
    for key in ("model-quality", "infra-deploy", "data", "user-experience", "policy-guardrails"):
        assert f"`{key}`" in body["text"]


def test_help_lists_the_commands(fast: RunningBaton) -> None:
    body = reply(fast.command("/incident", "help", user_id=LEO))
    for word in ("ack", "sev P0", "status", "commander", "resolve", "reopen", "timeline", "note", "list"):
        assert word in body["text"], word
    assert EXAMPLE.removeprefix("/incident ") in body["text"]


# -- in the incident channel ------------------------------------------------------------------


@pytest.fixture
def declared(fast: RunningBaton) -> Channel:
    """Incident #1, P1 model-quality, declared by leo; its channel set up and step 0 paged."""
    declare(fast)
    channel = channel_of(fast.fake)
    fast.fake.wait_for(lambda: len(page_dms(fast.fake)) >= 3, message="step 0 DMs")
    # Slack has the DMs a moment before Baton records them as sent (a loaded machine shows it).
    fast.fake.wait_for(lambda: len(sent_pages(fast)) >= 3, message="step 0 pages recorded as sent")
    return channel


def paged_since(rb: RunningBaton, at: datetime) -> list[TimelineEvent]:
    """The pages Baton recorded as sent from `at` on."""
    return [e for e in events(rb) if e.kind == "paged" and e.at >= at]


def sent_pages(rb: RunningBaton) -> list[int]:
    with session(rb.baton.engine) as s:
        done = select(Job.id).where(col(Job.kind) == "page", col(Job.state) == "done")
        return list(s.exec(done).all())


def test_status_is_echoed_on_the_topic_and_the_timeline(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    resp = in_channel(fast, declared, "status Rolled back to prompt v41, watching")
    assert resp.status_code == 200 and "warning" not in resp.text
    echo = posted(fake, declared.id, "Rolled back to prompt v41")
    assert f"<@{LEO}>" in echo
    fake.wait_for(lambda: declared.topic.endswith("| open | Rolled back to prompt v41, watching"))
    status = [e for e in events(fast) if e.kind == "status"]
    assert [(e.actor, e.text) for e in status] == [(LEO, "Rolled back to prompt v41, watching")]


def test_status_without_text_asks_for_it(fast: RunningBaton, declared: Channel) -> None:
    body = reply(in_channel(fast, declared, "status"))
    assert ":warning:" in body["text"] and "/incident status " in body["text"]
    assert [e for e in events(fast) if e.kind == "status"] == []


def test_commander_handover_is_echoed_on_the_topic_and_invites(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    assert SAM not in declared.members
    resp = in_channel(fast, declared, f"commander <@{SAM}|sam> taking over for the night", user=MAYA)
    assert resp.status_code == 200 and "warning" not in resp.text
    echo = posted(fake, declared.id, "incident commander")
    assert f"<@{MAYA}> made <@{SAM}>" in echo and "taking over for the night" in echo
    fake.wait_for(lambda: f"IC <@{SAM}>" in declared.topic, message="topic names the new IC")
    fake.wait_for(lambda: SAM in declared.members, message="new commander invited")
    change = [e for e in events(fast) if e.kind == "commander"]
    assert [(e.actor, e.data.get("old"), e.data.get("new")) for e in change] == [(MAYA, MAYA, SAM)]
    assert change[0].text == f"commander is now <@{SAM}>: taking over for the night"


def test_commander_by_plain_handle(fast: RunningBaton, declared: Channel) -> None:
    assert in_channel(fast, declared, "commander @sam", user=MAYA).status_code == 200
    fast.fake.wait_for(lambda: f"IC <@{SAM}>" in declared.topic)


def test_commander_unknown_person_is_refused(fast: RunningBaton, declared: Channel) -> None:
    body = reply(in_channel(fast, declared, "commander @nobody-at-all", user=MAYA))
    assert ":warning:" in body["text"] and "/incident commander @" in body["text"]
    assert [e for e in events(fast) if e.kind == "commander"] == []


def test_upgrade_to_p0_pages_everyone_at_once(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    before = len(page_dms(fake))
    resp = in_channel(fast, declared, "sev P0")
    assert resp.status_code == 200 and "warning" not in resp.text
    echo = posted(fake, declared.id, "raised the severity")
    assert "from P1 to *P0*" in echo and f"<@{LEO}>" in echo
    fake.wait_for(lambda: declared.topic.startswith("P0 Total service outage |"), message="topic P0")
    fake.wait_for(lambda: paged_users(page_dms(fake)[before:]) == EVERYONE, timeout=30)
    new = page_dms(fake)[before:]
    assert "P0" in json.dumps(new[0].params.get("blocks"))
    change = [e for e in events(fast) if e.kind == "severity"]
    assert [(e.actor, e.data.get("old"), e.data.get("new")) for e in change] == [(LEO, "P1", "P0")]
    # "At once": the new ladder's step 0, due when the severity changed (not at its T/2, 3 s on).
    fake.wait_for(lambda: len(paged_since(fast, change[0].at)) >= len(EVERYONE), message="pages recorded")
    raised = paged_since(fast, change[0].at)
    assert {e.data["user"] for e in raised} == EVERYONE
    assert {e.data["step"] for e in raised} == {0}
    assert all(datetime.fromisoformat(e.data["due_at"]) <= change[0].at for e in raised)


def test_same_or_unknown_severity_is_refused(fast: RunningBaton, declared: Channel) -> None:
    assert "already P1" in reply(in_channel(fast, declared, "sev P1"))["text"]
    assert "There is no severity `P9`" in reply(in_channel(fast, declared, "sev P9"))["text"]
    assert "/incident sev P0" in reply(in_channel(fast, declared, "sev"))["text"]
    assert [e for e in events(fast) if e.kind == "severity"] == []


def test_ack_in_the_channel_then_again(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    resp = in_channel(fast, declared, "ack", user=OMAR)
    assert resp.status_code == 200 and "warning" not in resp.text
    announced = posted(fake, declared.id, "acknowledged after")
    assert f"<@{OMAR}>" in announced and "inside the 6s window" in announced
    again = reply(in_channel(fast, declared, "ack", user=LI))
    assert "already acknowledged" in again["text"] and f"<@{OMAR}>" in again["text"]
    fake.wait_for(lambda: "| acknowledged" in declared.topic)


def test_resolve_posts_the_note_and_stops_the_pages(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    t_declared = min(c.monotonic for c in fake.calls_to("conversations.create"))
    resp = in_channel(fast, declared, "resolve Rolled back prompt v42", user=MAYA)
    assert resp.status_code == 200 and "warning" not in resp.text
    echo = posted(fake, declared.id, "resolved the incident")
    assert f"<@{MAYA}>" in echo and "Rolled back prompt v42" in echo
    note = posted(fake, declared.id, "Who was paged when")
    assert "## Timeline" in note and "## Summary" in note and "Rolled back prompt v42" in note
    for user in OWNING_TEAM:
        assert f"<@{user}> (step 0)" in note
    assert "- Acknowledged: never" in note
    fake.wait_for(lambda: "| resolved" in declared.topic)
    assert pending_pages(fast) == []
    no_open_incidents(fast)
    # Nothing more after T/2, when the next step would have gone out.
    count = len(page_dms(fake))
    after_note = texts(fake, declared.id).index(note) + 1
    time.sleep(max(0.0, t_declared + T / 2 + 0.8 - time.monotonic()))
    assert len(page_dms(fake)) == count
    later = texts(fake, declared.id)[after_note:]
    assert not any("owning-team + everyone" in t or "breached" in t for t in later), later
    resolved = [e for e in events(fast) if e.kind == "resolved"]
    assert [(e.actor, e.text) for e in resolved] == [(MAYA, "resolved: Rolled back prompt v42")]


def test_resolve_needs_a_summary_and_only_once(fast: RunningBaton, declared: Channel) -> None:
    body = reply(in_channel(fast, declared, "resolve", user=MAYA))
    assert ":warning:" in body["text"] and "/incident resolve " in body["text"]
    assert in_channel(fast, declared, "resolve Fixed", user=MAYA).status_code == 200
    assert "already resolved" in reply(in_channel(fast, declared, "resolve Fixed again", user=MAYA))["text"]


def test_reopen_brings_it_back_and_pages_again(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    assert "not resolved" in reply(in_channel(fast, declared, "reopen", user=MAYA))["text"]
    assert in_channel(fast, declared, "resolve Fixed", user=MAYA).status_code == 200
    fake.wait_for(lambda: "| resolved" in declared.topic)
    before = len(page_dms(fake))
    resp = in_channel(fast, declared, "reopen", user=MAYA)
    assert resp.status_code == 200 and "warning" not in resp.text
    said = posted(fake, declared.id, f"<@{MAYA}> reopened the incident")
    assert "(open)" in said and "paging now" in said
    fake.wait_for(lambda: declared.topic.endswith("| open"), message="topic open again")
    fake.wait_for(lambda: paged_users(page_dms(fake)[before:]) >= OWNING_TEAM, message="paged again")
    body = reply(fast.command("/incident", "list", user_id=LEO))
    assert "#1" in body["text"] and "· open ·" in body["text"]
    assert [(e.actor, e.text) for e in events(fast) if e.kind == "reopened"] == [(MAYA, "reopened (open)")]


def test_timeline_shows_each_change_with_its_actor(fast: RunningBaton, declared: Channel) -> None:
    in_channel(fast, declared, "status Looking at the prompt diff", user=MAYA)
    in_channel(fast, declared, f"commander <@{SAM}|sam>", user=MAYA)
    in_channel(fast, declared, "sev P0", user=SAM)
    in_channel(fast, declared, "resolve Prompt v42 reverted", user=SAM)
    body = reply(in_channel(fast, declared, "timeline"))
    assert body["text"].startswith(f"*Timeline of #1* {TITLE}")
    text = shown(body)
    for line in (
        f"<@{LEO}> _declared_: declared P1 in model-quality: {TITLE}",
        f"<@{MAYA}> _status_: Looking at the prompt diff",
        f"<@{MAYA}> _commander_: commander is now <@{SAM}>",
        f"<@{SAM}> _severity_: severity raised from P1 to P0",
        f"<@{SAM}> _resolved_: resolved: Prompt v42 reverted",
    ):
        assert line in text, line
    assert "Baton _paged_: paged <@" in text
    order = [text.index(k) for k in ("_declared_", "_status_", "_commander_", "_severity_", "_resolved_")]
    assert order == sorted(order)


def test_note_is_the_incident_summary(fast: RunningBaton, declared: Channel) -> None:
    fast.fake.wait_for(lambda: len([e for e in events(fast) if e.kind == "paged"]) >= 3)
    body = reply(in_channel(fast, declared, "note"))
    text = shown(body)
    assert f"# Incident #1: {TITLE}" in text
    assert "- Severity: P1 (Core feature failure)" in text
    assert "- Response window: 6s" in text
    assert "## Who was paged when" in text and "## Timeline" in text
    assert f"<@{MAYA}> (step 0)" in text


def test_list_in_the_channel_names_the_incident(fast: RunningBaton, declared: Channel) -> None:
    body = reply(in_channel(fast, declared, "list"))
    assert "*Open incidents*" in body["text"]
    assert f"*#1* P1 `model-quality` {TITLE} · open · <#{declared.id}>" in body["text"]


def test_in_channel_command_in_a_channel_that_is_no_incident(fast: RunningBaton, declared: Channel) -> None:
    other = fast.fake.add_channel("random")
    body = reply(
        fast.command("/incident", "status hello", user_id=LEO, channel_id=other.id, channel_name="random")
    )
    assert "works inside an incident channel" in body["text"]
    assert [e for e in events(fast) if e.kind == "status"] == []


# -- P3: the backlog --------------------------------------------------------------------------


def test_p3_goes_to_the_backlog_without_a_channel_or_pages(fast: RunningBaton) -> None:
    fake = fast.fake
    body = reply(fast.command("/incident", "P3 data Stale index on docs search", user_id=LEO))
    assert "backlog item #1" in body["text"] and "Nobody is paged" in body["text"]
    post = fake.wait_for(
        lambda: next((m for m in fake.messages(BACKLOG_CHANNEL) if "Stale index" in m["text"]), None),
        message="backlog post",
    )
    assert "#1" in post["text"] and "P3" in post["text"] and f"<@{LEO}>" in post["text"]
    listed = reply(fast.command("/incident", "list", user_id=LEO))["text"]
    assert "*#1* P3 `data` Stale index on docs search · open · backlog" in listed
    settle(fast)  # anything wrongly queued would have gone out by now
    assert fake.calls_to("conversations.create") == []
    assert page_dms(fake) == []
    assert [c.params["channel"] for c in fake.calls_to("chat.postMessage")] == [BACKLOG_CHANNEL]
    # And the window never comes: no breach, nothing pending.
    assert pending_pages(fast) == []


# -- long and busy incidents ------------------------------------------------------------------


def test_status_longer_than_the_topic_limit_still_updates_the_topic(
    fast: RunningBaton, declared: Channel
) -> None:
    fake = fast.fake
    status = "Rolled back prompt v42; " + "watching the refusal rate and the hallucination evals " * 6
    assert in_channel(fast, declared, f"status {status}").status_code == 200
    fake.wait_for(lambda: "Rolled back prompt v42" in declared.topic, message="topic carries the status")
    assert len(declared.topic) <= 250  # Slack's limit for a topic
    assert declared.topic.startswith(f"P1 Core feature failure | model-quality | IC <@{MAYA}> | open | ")
    assert all(c.ok for c in fake.calls_to("conversations.setTopic"))


@pytest.fixture
def busy(fast: RunningBaton) -> Channel:
    """A P0 incident whose every step was paged (Escalate now twice): 24 pages on its timeline."""
    fake = fast.fake
    declare(fast, f"P0 model-quality {TITLE}")
    channel = channel_of(fake)

    def pages_reach(n: int) -> None:
        fake.wait_for(lambda: len(page_dms(fake)) >= n, timeout=30, message=f"{n} pages")

    pages_reach(8)
    for n in (16, 24):  # Escalate now: step 1, then step 2 (the breach step's pages)
        resp = fast.post(
            block_actions_body(
                messages.ESCALATE,
                "1",
                user_id=MAYA,
                channel_id=channel.id,
                message_ts=channel.pins[0],
                response_url=fake.response_url(channel.id, MAYA, channel.pins[0]),
            )
        )
        assert resp.status_code == 200
        pages_reach(n)
    fake.wait_for(lambda: len([e for e in events(fast) if e.kind == "paged"]) >= 24, message="recorded")
    assert in_channel(fast, channel, "status Rolled back prompt v42, watching", user=MAYA).status_code == 200
    return channel


def test_timeline_of_an_incident_with_24_pages_shows_its_first_and_latest_events(
    fast: RunningBaton, busy: Channel
) -> None:
    body = reply(in_channel(fast, busy, "timeline"))
    everything = body["text"] + json.dumps(body["blocks"])
    assert "_declared_" in everything
    assert f"<@{MAYA}> _status_: Rolled back prompt v42, watching" in everything


def test_note_of_an_incident_with_24_pages_lists_the_pages_and_the_latest_status(
    fast: RunningBaton, busy: Channel
) -> None:
    body = reply(in_channel(fast, busy, "note"))
    everything = body["text"] + json.dumps(body["blocks"])
    assert "## Who was paged when" in everything
    assert "status: Rolled back prompt v42, watching" in everything


def test_channel_messages_keep_their_order_after_a_rate_limit(fast: RunningBaton, declared: Channel) -> None:
    fake = fast.fake
    posted(fake, declared.id, ":pager: Paging")  # step 0's notice is out
    assert in_channel(fast, declared, "ack", user=MAYA).status_code == 200
    posted(fake, declared.id, "acknowledged after")
    settle(fast)  # nothing else is left to post: the ladder is cancelled
    calls = len(fake.calls_to("chat.postMessage"))
    fake.inject("chat.postMessage", status=429, retry_after=1)
    assert in_channel(fast, declared, "status First: rolled back prompt v42").status_code == 200
    fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) > calls, message="the 429")
    assert in_channel(fast, declared, "status Second: refusals back to normal").status_code == 200
    posted(fake, declared.id, "Second:")
    posted(fake, declared.id, "First:", timeout=5)
    order = [t for t in texts(fake, declared.id) if "First:" in t or "Second:" in t]
    assert "First:" in order[0], order


def test_a_backlog_item_is_handled_by_number_from_anywhere(fast: RunningBaton) -> None:
    fake = fast.fake
    reply(fast.command("/incident", "P3 data Stale index on docs search", user_id=LEO))
    fake.wait_for(lambda: fake.messages(BACKLOG_CHANNEL), message="backlog post")
    assert fast.command("/incident", "status #1 Reindex scheduled", user_id=LEO).status_code == 200
    resp = fast.command("/incident", "resolve #1 Reindexed overnight", user_id=DANA)
    assert resp.status_code == 200 and "warning" not in resp.text
    assert "No open incidents" in reply(fast.command("/incident", "list", user_id=LEO))["text"]
    kinds = [e.kind for e in events(fast)]
    assert kinds[0] == "declared" and "status" in kinds and kinds[-1] == "resolved"
    missing = reply(fast.command("/incident", "resolve #99 nope", user_id=DANA))
    assert "There is no incident #99" in missing["text"]


def test_a_team_paged_whole_is_named_by_its_user_group(fast: RunningBaton) -> None:
    """The team's `usergroup` is mentioned when the whole team is paged."""
    fake = fast.fake
    declare(fast, f"P2 model-quality {TITLE}")  # step 0 pages the on-call alone
    channel = channel_of(fake)
    first = posted(fake, channel.id, ":pager: Paging")
    assert "<!subteam^" not in first and f"<@{MAYA}>" in first
    resp = in_channel(fast, channel, "sev P1", user=MAYA)  # the owning team, whole
    assert resp.status_code == 200 and "warning" not in resp.text
    whole = fake.wait_for(
        lambda: next((t for t in texts(fake, channel.id) if "<!subteam^" in t), None), message="team notice"
    )
    assert whole.startswith(":pager: Paging <!subteam^S07MLTEAM> ")
    assert set(re.findall(r"<@(\w+)>", whole)) == OWNING_TEAM
