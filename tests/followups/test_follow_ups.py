"""Follow-ups through the real path: `/incident follow-up` and `/incident follow-ups` as signed
slash commands to a running Baton, the Done button clicked on the list and on App Home, what
the incident channel was told, the note posted on resolve, and `baton export` in Markdown, JSON
and HTML; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from bot.followups.messages import DONE
from bot.records.export import export_command
from bot.slack.standin import Channel
from bot.store.db import session
from bot.store.models import FollowUp, TimelineEvent
from tests.conftest import RunningBaton, settle
from tests.handlers.test_app_home import buttons, open_home
from tests.handlers.test_app_home import click as click_on_home
from tests.handlers.test_app_home import section as home_section
from tests.handlers.test_app_home import text as home_text
from tests.handlers.test_incident_command import (
    LEO,
    LI,
    MAYA,
    OMAR,
    SAM,
    channel_of,
    declare,
    in_channel,
    posted,
    reply,
    shown,
)
from tests.slack_signing import block_actions_body

JONAS = "U07JONAS01"  # the shipped ownership.yaml's admin
NEWBIE = "U07NEWBIE1"  # a Slack user with no role anywhere
ELSEWHERE = "C0GENERAL1"  # a channel that is no incident's
CANARY = "Add a canary for prompt changes"
ISSUE = "https://github.com/acme/ml/issues/12"  # as the tracker's helper stores it


def follow_ups(rb: RunningBaton, number: int = 1) -> list[FollowUp]:
    with session(rb.baton.engine) as s:
        return list(
            s.exec(
                select(FollowUp).where(col(FollowUp.incident_id) == number).order_by(col(FollowUp.id))
            ).all()
        )


def kinds(rb: RunningBaton, number: int = 1) -> list[str]:
    with session(rb.baton.engine) as s:
        rows = s.exec(select(TimelineEvent).where(col(TimelineEvent.incident_id) == number)).all()
        return [e.kind for e in rows]


def add(rb: RunningBaton, channel: Channel, text: str, user: str = LEO) -> str:
    """`/incident follow-up <text>` in the incident channel; the ephemeral answer's text."""
    return str(reply(in_channel(rb, channel, f"follow-up {text}", user=user))["text"])


def listed(rb: RunningBaton, channel: Channel, user: str = LEO) -> dict[str, Any]:
    return reply(in_channel(rb, channel, "follow-ups", user=user))


def done_buttons(body: dict[str, Any]) -> list[str]:
    return [
        b["accessory"]["value"] for b in body["blocks"] if (b.get("accessory") or {}).get("action_id") == DONE
    ]


def click_done(rb: RunningBaton, channel: Channel, follow_up: int, user: str) -> dict[str, Any]:
    """`user` presses Done on their `/incident follow-ups` list (an ephemeral message); what
    Baton answered through the response_url."""
    ts = "1700000000.000100"
    url = rb.fake.response_url(channel.id, user, ts)
    resp = rb.post(
        block_actions_body(
            DONE,
            str(follow_up),
            user_id=user,
            channel_id=channel.id,
            message_ts=ts,
            is_ephemeral=True,
            response_url=url,
            block_id=f"follow-up-{follow_up}",
        )
    )
    assert resp.status_code == 200, resp.text
    return dict(rb.fake.wait_for(lambda: rb.fake.responses(url)[-1], message="Done answered").body)


def started(rb: RunningBaton) -> Channel:
    """Incident #1, P1 model-quality, declared by leo; maya (A) is its commander."""
    declare(rb)
    return channel_of(rb.fake)


# -- adding and listing ---------------------------------------------------------------------------


def test_anyone_adds_in_the_channel_owned_by_the_commander_or_the_person_named(running: RunningBaton) -> None:
    rb = running
    channel = started(rb)

    answer = add(rb, channel, CANARY)
    assert answer == (
        f":clipboard: Follow-up added to #1, owned by <@{MAYA}>. `/incident follow-ups` lists them."
    )
    # Slack writes a typed @omar as a mention; a typed @li as Baton knows her handle works too.
    add(rb, channel, f"Alert on refusal rate <@{OMAR}|omar>")
    assert "yours" not in add(rb, channel, "Write the runbook section @li", user=SAM)

    found = follow_ups(rb)
    assert [(f.text, f.owner, f.created_by, f.state) for f in found] == [
        (CANARY, MAYA, LEO, "open"),
        ("Alert on refusal rate", OMAR, LEO, "open"),
        ("Write the runbook section", LI, SAM, "open"),
    ]
    assert kinds(rb).count("follow_up") == 3
    said = posted(rb.fake, channel.id, f"added a follow-up for <@{OMAR}>")
    assert said.startswith(f":clipboard: <@{LEO}> added a follow-up for <@{OMAR}>: Alert on refusal rate")

    body = listed(rb, channel, user=NEWBIE)  # anyone may list them
    assert done_buttons(body) == [str(f.id) for f in found]
    text = shown(body)
    assert f"{CANARY} · owner <@{MAYA}> · open" in text
    assert f"Write the runbook section · owner <@{LI}> · open" in text


def test_from_elsewhere_with_the_number_and_on_a_backlog_the_adder_owns_it(running: RunningBaton) -> None:
    rb = running
    started(rb)
    declare_backlog = rb.command("/incident", "P3 model-quality Typos in the footer", user_id=LEO)
    assert "backlog" in reply(declare_backlog)["text"]

    from_general = rb.command("/incident", f"follow-up #1 {CANARY}", user_id=SAM, channel_id=ELSEWHERE)
    assert f"added to #1, owned by <@{MAYA}>" in reply(from_general)["text"]
    # A backlog item has no commander: whoever adds it owns it.
    backlog = rb.command("/incident", "follow-up #2 Fix the footer", user_id=SAM, channel_id=ELSEWHERE)
    assert "Follow-up added to #2, yours." in reply(backlog)["text"]
    assert [(f.text, f.owner) for f in follow_ups(rb, 2)] == [("Fix the footer", SAM)]

    listing = rb.command("/incident", "follow-ups #2", user_id=LEO, channel_id=ELSEWHERE)
    assert done_buttons(reply(listing)) == [str(follow_ups(rb, 2)[0].id)]
    # Without a number, outside an incident channel: where to say it.
    lost = rb.command("/incident", f"follow-up {CANARY}", user_id=LEO, channel_id=ELSEWHERE)
    assert "`/incident follow-up #12 …`" in reply(lost)["text"]
    empty = rb.command("/incident", "follow-up #1", user_id=LEO, channel_id=ELSEWHERE)
    assert reply(empty)["text"].startswith(":warning: Say what is to be done")
    only_owner = rb.command("/incident", f"follow-up #1 <@{OMAR}|omar>", user_id=LEO, channel_id=ELSEWHERE)
    assert reply(only_owner)["text"].startswith(":warning: Say what is to be done")
    assert len(follow_ups(rb)) == 1


def test_a_typed_broadcast_is_shown_not_obeyed(running: RunningBaton) -> None:
    rb = running
    channel = started(rb)
    add(rb, channel, "Tell <!channel> & <https://evil.example|Acknowledge> about it")
    escaped = "Tell &lt;!channel&gt; &amp; &lt;https://evil.example|Acknowledge&gt; about it"
    said = posted(rb.fake, channel.id, "added a follow-up")
    assert escaped in said and "<!channel>" not in said
    text = shown(listed(rb, channel))
    assert escaped in text and "<!channel>" not in text and "<https://evil" not in text
    home = home_section(open_home(rb, MAYA), "My follow-ups")
    assert escaped in home and "<!channel>" not in home
    # Kept as typed (masked, not escaped): the export and a tracker get the words themselves.
    assert follow_ups(rb)[0].text == "Tell <!channel> & <https://evil.example|Acknowledge> about it"


# -- who may mark one done ----------------------------------------------------------------------


def test_done_by_the_owner_the_commander_the_area_a_or_an_admin_and_nobody_else(
    running: RunningBaton,
) -> None:
    rb = running
    channel = started(rb)
    assert in_channel(rb, channel, f"commander <@{LI}|li>", user=MAYA).status_code == 200
    for n in range(4):
        add(rb, channel, f"Item {n} <@{SAM}|sam>")
    ids = [f.id for f in follow_ups(rb)]
    assert len(ids) == 4 and all(isinstance(i, int) for i in ids)

    # omar is R (not A) and not the owner; a newcomer is nobody: both told who may, nothing changes.
    for user in (OMAR, NEWBIE):
        refused = click_done(rb, channel, ids[0], user)
        assert refused["text"] == (
            f":warning: Only its owner (<@{SAM}>), the commander (<@{LI}>), the area's A (<@{MAYA}>) or "
            f"an admin (<@{JONAS}>) can mark this follow-up of #1 done. Ask one of them."
        )
    assert [f.state for f in follow_ups(rb)] == ["open"] * 4

    for follow_up, user in zip(ids, (SAM, LI, MAYA, JONAS), strict=True):
        assert follow_up is not None
        answer = click_done(rb, channel, follow_up, user)
        assert answer.get("replace_original") is True, answer  # the list refreshed, its button gone
        assert str(follow_up) not in done_buttons(answer)
    found = follow_ups(rb)
    assert [(f.state, f.done_by) for f in found] == [("done", u) for u in (SAM, LI, MAYA, JONAS)]
    assert kinds(rb).count("follow_up_done") == 4
    posted(rb.fake, channel.id, f":ballot_box_with_check: <@{JONAS}> marked a follow-up done: Item 3")

    # Pressed again on an old list: said, nothing recorded twice.
    again = click_done(rb, channel, found[0].id or 0, SAM)
    assert f"already done (by <@{SAM}>)" in again["blocks"][0]["text"]["text"]
    assert kinds(rb).count("follow_up_done") == 4


# -- where they show ---------------------------------------------------------------------------


def test_in_the_resolve_note_and_the_export_with_the_tracker_link(
    running: RunningBaton, tmp_path: Path
) -> None:
    rb = running
    channel = started(rb)
    add(rb, channel, CANARY)
    add(rb, channel, f"Alert on refusal rate <@{OMAR}|omar>")
    add(rb, channel, "Retire prompt v41")
    first, second, third = follow_ups(rb)
    assert click_done(rb, channel, second.id or 0, OMAR)["replace_original"] is True
    # What the tracker's helper writes once the issue exists, and while it does not yet.
    with session(rb.baton.engine) as s:
        for fu, values in (
            (
                first,
                {
                    "tracker": "github",
                    "tracker_state": "created",
                    "tracker_key": "acme/ml#12",
                    "tracker_url": "https://github.com/acme/ml/issues/12",
                },
            ),
            (third, {"tracker": "jira", "tracker_state": "pending"}),
        ):
            row = s.get(FollowUp, fu.id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            s.add(row)
        s.commit()

    text = shown(listed(rb, channel))
    assert f"{CANARY} · owner <@{MAYA}> · open · GitHub: <https://github.com/acme/ml/issues/12>" in text
    assert "Retire prompt v41 · owner" in text and "open · not yet in Jira" in text

    assert in_channel(rb, channel, "resolve Rolled back", user=MAYA).status_code == 200
    note = posted(rb.fake, channel.id, "## Follow-ups (3, 1 done)")
    assert f"- [ ] {CANARY} (owner: maya <@{MAYA}>; GitHub: {ISSUE})" in note
    omar = f"omar <@{OMAR}>"
    assert f"- [x] Alert on refusal rate (owner: {omar}; done by {omar} at " in note
    assert "- [ ] Retire prompt v41 (owner: maya" in note and "; not yet in Jira)" in note

    env = {"DATABASE_URL": str(rb.baton.settings.database_url)}
    out = io.StringIO()
    assert export_command(1, env=env, out=out) == 0
    assert "## Follow-ups (3, 1 done)" in out.getvalue()
    assert f"- [ ] {CANARY} (owner: maya <@{MAYA}>; GitHub: {ISSUE})" in out.getvalue()

    out = io.StringIO()
    assert export_command(1, as_json=True, env=env, out=out) == 0
    exported = json.loads(out.getvalue())["follow_ups"]
    assert [(f["text"], f["owner"], f["state"], f["tracker_url"]) for f in exported] == [
        (CANARY, MAYA, "open", "https://github.com/acme/ml/issues/12"),
        ("Alert on refusal rate", OMAR, "done", None),
        ("Retire prompt v41", MAYA, "open", None),
    ]
    assert exported[1]["done_by"] == OMAR and exported[2]["tracker_state"] == "pending"

    page = tmp_path / "incident-1.html"
    assert export_command(1, as_html=True, env=env, out=io.StringIO(), output=str(page)) == 0
    html = page.read_text()
    assert '<section id="follow-ups"><h2>Follow-ups (3)</h2>' in html
    link = '<a href="https://github.com/acme/ml/issues/12" rel="noreferrer">https://github.com/acme/ml/issues/12</a>'
    assert f"GitHub: {link}" in html
    assert "not yet in Jira" in html and "done by omar (U07OMAR001)" in html


def test_my_follow_ups_on_app_home_with_done(running: RunningBaton) -> None:
    rb = running
    channel = started(rb)
    add(rb, channel, CANARY)  # maya's: the commander's
    add(rb, channel, f"Alert on refusal rate <@{OMAR}|omar>")
    mine = follow_ups(rb)[0]

    home = open_home(rb, MAYA)
    shown_mine = home_section(home, "My follow-ups")
    assert f"*#1* {CANARY} · owner <@{MAYA}> · open" in shown_mine
    assert "Alert on refusal rate" not in shown_mine  # omar's, not hers
    assert (DONE, str(mine.id)) in buttons(home)

    after = click_on_home(rb, MAYA, DONE, str(mine.id), home)
    assert f":ballot_box_with_check: Done: {CANARY} (#1)." in home_text(after)
    assert home_section(after, "My follow-ups") == "No open follow-up is yours."
    assert follow_ups(rb)[0].state == "done"
    # Someone else's, pressed on an old Home of theirs: refused there, naming who may.
    theirs = follow_ups(rb)[1]
    refused = click_on_home(rb, SAM, DONE, str(theirs.id), open_home(rb, SAM))
    assert ":warning: Only its owner (<@U07OMAR001>)" in home_text(refused)
    settle(rb)
    assert follow_ups(rb)[1].state == "open"
