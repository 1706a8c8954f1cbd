"""Who may do what, through the real path: every row of the table, allowed and
refused, from the slash command, the buttons, the modal and `#N` from another channel.

A refusal is an ephemeral answer naming who may, and changes nothing: no timeline event, no
state change, nothing said in the channel, no page.
"""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.incidents import messages
from bot.slack.standin import Channel
from bot.store.db import session
from bot.store.models import Incident, Job
from tests.conftest import RunningBaton, settle
from tests.handlers.test_incident_actions import answer, click, opening_ts
from tests.handlers.test_incident_command import (
    LEO,
    LI,
    MAYA,
    OMAR,
    SAM,
    channel_of,
    declare,
    events,
    in_channel,
    page_dms,
    paged_users,
    posted,
    reply,
    texts,
)
from tests.slack_signing import view_submission_body

DANA = "U07DANA001"  # Data Team: consulted on model-quality, paged only by everyone-wide steps
JONAS = "U07JONAS01"  # the shipped ownership.yaml's admin (and in Platform Team, not in this RACI)
NEWBIE = "U07NEWBIE1"  # a Slack user with no role anywhere
TITLE = "Refusals up on checkout"


@pytest.fixture
def p2(fast: RunningBaton) -> Channel:
    """Incident #1, P2 model-quality, declared by leo: only the on-call (maya, also A and
    commander) is paged at 0; li and omar are R but not paged yet; dana is C."""
    fast.fake.add_user(NEWBIE, "newbie")
    declare(fast, f"P2 model-quality {TITLE}", user=LEO)
    channel = channel_of(fast.fake)
    fast.fake.wait_for(lambda: paged_users(page_dms(fast.fake)) >= {MAYA}, message="step 0 DM")
    posted(fast.fake, channel.id, ":pager: Paging")
    return channel


# What the ladder itself writes as its 6 s window runs on (a slow machine reaches T/2 = 3 s while
# the refusals are asked): not what a refusal could change.
LADDER = {"paged", "breached", "channel"}


def said_by_people(rb: RunningBaton, channel: Channel) -> list[str]:
    """The channel's messages apart from the ladder's own (its pages at T/2, the breach at T)."""
    ladder = (":pager: Paging", ":alarm_clock: *Response window breached*")
    return [t for t in texts(rb.fake, channel.id) if not t.startswith(ladder)]


def snapshot(rb: RunningBaton) -> tuple[object, ...]:
    """What a refusal must leave as it was: the incident, its pages (none cancelled or added),
    and its timeline apart from the ladder's own progress."""
    with session(rb.baton.engine) as s:
        inc = s.get(Incident, 1)
        assert inc is not None
        pages = s.exec(select(Job.id).where(col(Job.state) != "cancelled", col(Job.kind) == "page")).all()
        state = (inc.state, inc.severity, inc.commander, inc.acknowledged_by, inc.deadline, sorted(pages))
    return state, [e.kind for e in events(rb) if e.kind not in LADDER]


def refused(rb: RunningBaton, body_text: str, verb: str, *names: str) -> None:
    assert body_text.startswith(":warning: Only "), body_text
    assert f"can {verb} #1" in body_text, body_text
    for name in names:
        assert name in body_text, (name, body_text)


REFUSED = [
    # (command text, who, what the refusal says they cannot do)
    ("ack", DANA, "acknowledge"),  # consulted, not paged yet
    ("ack", LEO, "acknowledge"),  # the reporter alone may not silence the page
    ("ack", NEWBIE, "acknowledge"),
    ("sev P0", NEWBIE, "raise the severity of"),
    ("sev P3", LEO, "lower the severity of"),  # the reporter may raise, not lower
    ("sev P3", DANA, "lower the severity of"),
    ("resolve Looks fine now", LEO, "resolve"),
    ("resolve Looks fine now", NEWBIE, "resolve"),
    (f"commander <@{LEO}|leo>", LEO, "hand over command of"),  # the commander loophole
    (f"commander <@{NEWBIE}|newbie>", NEWBIE, "hand over command of"),
    (f"commander <@{SAM}|sam>", DANA, "hand over command of"),
]


def test_every_refusal_names_who_may_and_changes_nothing(fast: RunningBaton, p2: Channel) -> None:
    before = snapshot(fast)
    said = said_by_people(fast, p2)
    for text, user, verb in REFUSED:
        body = reply(in_channel(fast, p2, text, user=user))
        who = ("the commander (<@U07MAYA001>)", "the area's owners (ML Team, <@U07MAYA001>)")
        refused(fast, body["text"], verb, *who, f"an admin (<@{JONAS}>)")
        if verb in ("acknowledge", "raise the severity of"):
            assert "the people paged so far (<@U07MAYA001>)" in body["text"]
        if verb == "raise the severity of":
            assert f"the reporter (<@{LEO}>)" in body["text"]
    settle(fast)
    assert snapshot(fast) == before
    assert said_by_people(fast, p2) == said  # nothing said in the channel


def test_anyone_may_update_status_add_evidence_and_read(fast: RunningBaton, p2: Channel) -> None:
    for text in ("status Checking the prompt diff", "evidence https://grafana.example.com/d/llm"):
        resp = in_channel(fast, p2, text, user=NEWBIE)
        assert resp.status_code == 200 and "warning" not in resp.text, resp.text
    for text in ("timeline", "note", "list"):
        assert "warning" not in reply(in_channel(fast, p2, text, user=NEWBIE))["text"]
    kinds = [e.kind for e in events(fast)]
    assert "status" in kinds and "evidence" in kinds


def test_a_responsible_member_not_yet_paged_may_acknowledge(fast: RunningBaton, p2: Channel) -> None:
    resp = in_channel(fast, p2, "ack", user=LI)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text
    assert [e.actor for e in events(fast) if e.kind == "acknowledged"] == [LI]


def test_people_paged_so_far_may_acknowledge_but_not_resolve(fast: RunningBaton) -> None:
    declare(fast, f"P0 model-quality {TITLE}", user=LEO)  # P0 pages everyone at once, dana too
    channel = channel_of(fast.fake)
    fast.fake.wait_for(lambda: DANA in paged_users(page_dms(fast.fake)), message="dana paged")
    refused(fast, reply(in_channel(fast, channel, "resolve Fine", user=DANA))["text"], "resolve")
    resp = in_channel(fast, channel, "ack", user=DANA)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text
    assert [e.actor for e in events(fast) if e.kind == "acknowledged"] == [DANA]


def test_the_reporter_may_raise_and_escalate(fast: RunningBaton, p2: Channel) -> None:
    url = click(fast, messages.ESCALATE, user=LEO, channel_id=p2.id, message_ts=opening_ts(p2))
    fast.fake.wait_for(lambda: [e for e in events(fast) if e.kind == "escalated"], message="escalated")
    assert fast.fake.responses(url) == []  # no refusal
    resp = in_channel(fast, p2, "sev P1", user=LEO)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text
    assert [(e.actor, e.data["new"]) for e in events(fast) if e.kind == "severity"] == [(LEO, "P1")]


def test_the_commander_loophole_is_closed(fast: RunningBaton, p2: Channel) -> None:
    # Nobody can make themselves commander and then act as one ...
    refused(
        fast, reply(in_channel(fast, p2, f"commander <@{SAM}|sam>", user=SAM))["text"], "hand over command of"
    )
    refused(fast, reply(in_channel(fast, p2, "resolve Fine", user=SAM))["text"], "resolve")
    # ... but the commander may hand the role on, and the new commander acts as one.
    assert "warning" not in in_channel(fast, p2, f"commander <@{SAM}|sam>", user=MAYA).text
    assert "warning" not in in_channel(fast, p2, f"commander <@{OMAR}|omar>", user=SAM).text
    # Having been commander grants nothing once the role has moved on.
    body = reply(in_channel(fast, p2, "resolve Fine", user=SAM))
    refused(fast, body["text"], "resolve", "the commander (<@U07OMAR001>)")
    changes = [(e.actor, e.data["old"], e.data["new"]) for e in events(fast) if e.kind == "commander"]
    assert changes == [(MAYA, MAYA, SAM), (SAM, SAM, OMAR)]


def test_lower_resolve_and_reopen_by_owners_and_admins(fast: RunningBaton, p2: Channel) -> None:
    assert "warning" not in in_channel(fast, p2, "sev P3", user=OMAR).text  # R
    assert "warning" not in in_channel(fast, p2, "resolve Reverted prompt v42", user=JONAS).text  # admin
    refused(fast, reply(in_channel(fast, p2, "reopen", user=LEO))["text"], "reopen")
    assert "warning" not in in_channel(fast, p2, "reopen", user=LI).text  # R
    kinds = [(e.kind, e.actor) for e in events(fast) if e.kind in ("severity", "resolved", "reopened")]
    assert kinds == [("severity", OMAR), ("resolved", JONAS), ("reopened", LI)]


def test_buttons_and_the_modal_obey_the_same_rule(fast: RunningBaton, p2: Channel) -> None:
    before = snapshot(fast)
    ts = opening_ts(p2)
    for action, verb in (
        (messages.ACK, "acknowledge"),
        (messages.ESCALATE, "escalate"),
        (messages.RESOLVE, "resolve"),
    ):
        url = click(fast, action, user=NEWBIE, channel_id=p2.id, message_ts=ts)
        body = answer(fast.fake, url)
        refused(fast, body["text"], verb)
        assert body.get("response_type") == "ephemeral" and body.get("replace_original") is False
    assert fast.fake.opened_views() == []  # the Resolve form does not even open
    # A form submitted anyway (opened before a handover, say) is refused on the form itself.
    resp = fast.post(
        view_submission_body(
            "resolve_incident", {"summary": {"value": "Fine"}}, user_id=NEWBIE, private_metadata="1"
        )
    )
    assert resp.status_code == 200 and resp.json()["response_action"] == "errors"
    assert "Only the commander" in resp.json()["errors"]["summary"]
    settle(fast)
    assert snapshot(fast) == before


def test_number_from_another_channel_obeys_the_same_rule(fast: RunningBaton, p2: Channel) -> None:
    def from_general(text: str, user: str) -> str:
        resp = fast.command("/incident", text, user_id=user, channel_id="C0GENERAL", channel_name="general")
        assert resp.status_code == 200
        # An empty 200 when it was done (the channel hears of it), else the ephemeral answer.
        return str(resp.json()["text"]) if resp.content.strip() else ""

    refused(fast, from_general("resolve #1 Fine", NEWBIE), "resolve")
    refused(fast, from_general("ack #1", NEWBIE), "acknowledge")
    assert "warning" not in from_general("ack #1", JONAS)
    assert [e.actor for e in events(fast) if e.kind == "acknowledged"] == [JONAS]
