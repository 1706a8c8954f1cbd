"""The App Home tab through the real path: Slack-signed `app_home_opened`
events and Home button clicks to /slack/events of a running Baton, and the views it published
on the fake Slack; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View
from sqlmodel import col, select

from bot.home.overview import OpenIncident, Overview, OwnedArea, Signature
from bot.incidents.messages import ACK
from bot.readiness.checklist import Readiness
from bot.records.handoff_messages import NOTE, SIGN
from bot.store.db import session
from bot.store.models import Incident, Job, Receipt
from handlers.render.home import home_view
from tests.conftest import RunningBaton
from tests.handlers.test_incident_command import LEO, MAYA, OMAR, SAM, page_dms
from tests.slack_signing import block_actions_body, event_callback_body

ANA = "U07ANA0001"  # Product Team; A of user-experience, only informed of model-quality
JONAS = "U07JONAS01"  # an admin, and a member of the Platform Team


# -- helpers ---------------------------------------------------------------------------------


def published(rb: RunningBaton, user: str) -> list[dict[str, Any]]:
    """The Home views Baton published for `user`, oldest first (the ones Slack took)."""
    views = []
    for call in rb.fake.calls_to("views.publish"):
        if call.params.get("user_id") == user and call.ok:
            view = call.params["view"]
            views.append(json.loads(view) if isinstance(view, str) else view)
    return views


def open_home(rb: RunningBaton, user: str) -> dict[str, Any]:
    """`user` opens Baton's Home tab; the view Baton published in answer."""
    before = len(published(rb, user))
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME" + user[-4:], "tab": "home"}
    assert rb.post(event_callback_body(event), content_type="application/json").status_code == 200
    return rb.fake.wait_for(lambda: published(rb, user)[before:][-1], message=f"Home of {user}")


def click(rb: RunningBaton, user: str, action_id: str, value: str, view: dict[str, Any]) -> dict[str, Any]:
    """`user` presses a button on their Home `view`; the Home Baton published next."""
    before = len(published(rb, user))
    current = rb.fake.home_view(user)
    assert current is not None
    home = {**view, "id": current["id"]}
    resp = rb.post(block_actions_body(action_id, value, user_id=user, view=home, block_id="home"))
    assert resp.status_code == 200, resp.text
    return rb.fake.wait_for(lambda: published(rb, user)[before:][-1], message=f"Home of {user} again")


def text(view: dict[str, Any]) -> str:
    """Everything a reader sees on the view."""
    out = []
    for block in view["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e["text"] for e in block.get("elements", []) if "text" in e and isinstance(e["text"], str)]
    return "\n".join(out)


def buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    """(action_id, value) of every button on the view."""
    found = []
    for block in view["blocks"]:
        for element in [block.get("accessory") or {}, *block.get("elements", [])]:
            if element.get("type") == "button":
                found.append((element["action_id"], element["value"]))
    return found


def section(view: dict[str, Any], heading: str) -> str:
    """The text under one heading (up to the next)."""
    out, inside = [], False
    for block in view["blocks"]:
        if block["type"] == "header":
            inside = block["text"]["text"] == heading
        elif inside and "text" in block:
            out.append(block["text"]["text"])
        elif inside and block["type"] == "context":
            out += [e["text"] for e in block["elements"]]
    return "\n".join(out)


def declare(rb: RunningBaton, text: str, user: str = LEO) -> int:
    resp = rb.command("/incident", text, user_id=user)
    assert "Declared" in resp.text, resp.text
    with session(rb.baton.engine) as s:
        number = s.exec(select(Incident.id).order_by(col(Incident.id).desc())).first()
    assert number is not None
    return number


def channel_of(rb: RunningBaton, number: int) -> str:
    def ready() -> str | None:
        with session(rb.baton.engine) as s:
            inc = s.get(Incident, number)
            return inc.channel_id if inc is not None else None

    return rb.fake.wait_for(ready, message=f"#{number}'s channel")


INCIDENTS, AREAS, HANDOFFS = "Your open incidents", "Areas you own", "Handoffs waiting for your signature"


# -- through HTTP ----------------------------------------------------------------------------


def test_a_paged_person_sees_the_deadline_and_acknowledges_on_home(running: RunningBaton) -> None:
    rb = running
    number = declare(rb, "P0 model-quality Checkout answers are wrong")
    # P0 pages everyone in the RACI at once: ana only because she is informed.
    rb.fake.wait_for(lambda: [c for c in page_dms(rb.fake) if c.params["channel"] == ANA], message="ana")
    channel = channel_of(rb, number)

    home = open_home(rb, ANA)
    mine = section(home, INCIDENTS)
    assert f"*P0* · *#{number}* Checkout answers are wrong" in mine
    assert "open · deadline <!date^" in mine and "^{date_short_pretty} {time}|" in mine
    assert "you were paged" in mine and "your area" not in mine and f"<#{channel}>" in mine
    assert buttons(home) == [(ACK, str(number))]
    assert "User Experience" in section(home, AREAS)  # her own area, not the one she is told of

    after = click(rb, ANA, ACK, str(number), home)
    assert f"You acknowledged #{number}" in text(after)
    assert (ACK, str(number)) not in buttons(after)
    assert f"acknowledged by <@{ANA}>" in section(after, INCIDENTS)
    with session(rb.baton.engine) as s:
        inc = s.get(Incident, number)
        assert inc is not None and (inc.state, inc.acknowledged_by) == ("acknowledged", ANA)


def test_commander_owner_and_someone_unrelated(running: RunningBaton) -> None:
    rb = running
    number = declare(rb, "P1 model-quality Refusals up")
    # Ana (informed) has a page waiting for T/2, not yet due: she is not paged so far.
    with session(rb.baton.engine) as s:
        waiting = [
            j for j in s.exec(select(Job).where(col(Job.kind) == "page")).all() if j.payload["user"] == ANA
        ]
    assert waiting and all(j.state == "pending" for j in waiting)
    resp = rb.command("/incident", f"commander #{number} <@{SAM}|sam> taking this one", user_id=MAYA)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text

    # The commander: not paged, owns nothing of model-quality.
    sam = open_home(rb, SAM)
    assert "you are the commander" in section(sam, INCIDENTS)
    assert "you were paged" not in section(sam, INCIDENTS)
    assert "*Infra / Deploy* (`infra-deploy`) · you are R, A, on-call" in section(sam, AREAS)

    # The area's A (and on-call, paged by the P1): her area and its readiness.
    maya = open_home(rb, MAYA)
    mine = section(maya, INCIDENTS)
    assert f"*#{number}* Refusals up" in mine and "you were paged, your area" in mine
    areas = section(maya, AREAS)
    assert "*Model / Prompt* (`model-quality`) · you are R, A, on-call" in areas
    assert "Readiness: organization 4/11 · production 1/6 · still an experiment" in areas
    assert "policy-guardrails" not in areas  # she is only informed there
    assert "No handoff is waiting for your signature." in section(maya, HANDOFFS)

    # Someone unrelated to model-quality, and an admin who owns nothing there: nothing open.
    for user in (ANA, JONAS):
        home = open_home(rb, user)
        assert "Nothing open on your areas" in section(home, INCIDENTS), user
        assert (ACK, str(number)) not in buttons(home)
    ana_areas = section(open_home(rb, ANA), AREAS)
    assert "*User Experience* (`user-experience`) · you are R, A" in ana_areas
    assert "organization 3/11 · production 1/6" in ana_areas

    # Resolved: gone on the next opening.
    resp = rb.command("/incident", f"resolve #{number} prompt rolled back", user_id=MAYA)
    assert resp.status_code == 200 and "warning" not in resp.text, resp.text
    for user in (MAYA, SAM):
        assert "Nothing open on your areas" in section(open_home(rb, user), INCIDENTS), user


def test_a_pending_handoff_is_signed_from_home(running: RunningBaton) -> None:
    rb = running
    resp = rb.command(
        "/owner", f"handoff model-quality oncall <@{OMAR}|omar> peer <@{SAM}|sam> Maya on leave", user_id=MAYA
    )
    assert "Handoff #1" in resp.text, resp.text

    omar = open_home(rb, OMAR)
    assert (SIGN, "1:incoming") in buttons(omar)
    assert "*Handoff #1*: the on-call of ML Team" in section(omar, HANDOFFS)
    assert "Maya on leave" in section(omar, HANDOFFS)
    assert (SIGN, "1:peer") in buttons(open_home(rb, SAM))
    assert not [b for b in buttons(open_home(rb, MAYA)) if b[0] == SIGN]  # she signed when starting

    # Someone else pressing it is refused, on their own Home; nothing is signed.
    sam = open_home(rb, SAM)
    refused = click(rb, SAM, SIGN, "1:incoming", sam)
    assert ":warning: Only the incoming owner (<@U07OMAR001>)" in text(refused)
    with session(rb.baton.engine) as s:
        assert s.exec(select(Receipt)).one().incoming_signed_at is None

    after = click(rb, OMAR, SIGN, "1:incoming", omar)
    assert "You signed handoff #1" in text(after)
    assert not [b for b in buttons(after) if b[0] == SIGN]
    assert "No handoff is waiting for your signature." in section(after, HANDOFFS)
    with session(rb.baton.engine) as s:
        receipt = s.exec(select(Receipt)).one()
        assert receipt.state == "signed" and receipt.incoming_signed_at is not None
    # The peer still owes a signature once both owners signed.
    assert (SIGN, "1:peer") in buttons(open_home(rb, SAM))


def test_a_typed_broadcast_in_a_title_is_shown_not_obeyed(running: RunningBaton) -> None:
    rb = running
    number = declare(rb, "P2 model-quality Bot says <!channel> & <https://evil.example|Acknowledge>")
    mine = section(open_home(rb, MAYA), INCIDENTS)
    assert f"*#{number}* Bot says &lt;!channel&gt; &amp; &lt;https://evil.example|Acknowledge&gt;" in mine
    assert "<!channel>" not in mine and "<https://evil" not in mine


def test_the_messages_tab_publishes_nothing(running: RunningBaton) -> None:
    rb = running
    event = {"type": "app_home_opened", "user": MAYA, "channel": "D0MAYA", "tab": "messages"}
    assert rb.post(event_callback_body(event), content_type="application/json").status_code == 200
    open_home(rb, ANA)  # answered after the messages tab was
    assert published(rb, MAYA) == []
    assert {c.params.get("user_id") for c in rb.fake.calls_to("views.publish")} == {ANA}


def test_a_refused_publish_is_logged_once_without_the_token(
    running: RunningBaton, caplog: pytest.LogCaptureFixture
) -> None:
    rb = running
    caplog.set_level(logging.WARNING, logger="handlers.events.app_home")
    rb.fake.inject("views.publish", status=500, times=3)  # slack_sdk retries 5xx twice
    event = {"type": "app_home_opened", "user": MAYA, "channel": "D0MAYA", "tab": "home"}
    assert rb.post(event_callback_body(event), content_type="application/json").status_code == 200
    logged = rb.fake.wait_for(
        lambda: [r for r in caplog.records if r.name == "handlers.events.app_home"], message="the log line"
    )
    assert len(rb.fake.calls_to("views.publish")) == 3
    (record,) = logged
    assert "App Home of U07MAYA001 not published" in record.getMessage()
    assert rb.baton.settings.bot_token not in record.getMessage()
    # Nothing broke: the next opening publishes.
    assert "Areas you own" in text(open_home(rb, MAYA))


# -- the view itself -------------------------------------------------------------------------


def test_long_lists_are_capped_under_slacks_100_blocks() -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    incidents = [
        OpenIncident(
            number=n,
            severity="P1",
            title=f"Incident {n}",
            area="model-quality",
            area_name="Model / Prompt",
            state="open",
            backlog=False,
            deadline=now + timedelta(hours=1),
            breached=n % 2 == 0,
            acknowledged_by=None,
            channel_id=f"C{n:08d}",
            why=("paged",),
        )
        for n in range(1, 31)
    ]
    areas = [
        OwnedArea(area=f"area-{n}", name=f"Area {n}", roles=("A",), readiness=Readiness(f"area-{n}", ()))
        for n in range(30)
    ]
    signatures = [
        Signature(
            receipt_id=n,
            as_="incoming",
            what="the accountable role of Area",
            area="area-1",
            origin="slack",
            from_user=MAYA,
            from_ref="maya",
            to_user=OMAR,
            to_ref="omar",
            note="<!here> please",
            started_at=now,
        )
        for n in range(1, 31)
    ]
    view = home_view(Overview(OMAR, now, incidents, areas, signatures), notice="done")
    assert len(view["blocks"]) <= 100
    View(**view).validate_json()  # slack_sdk's own Block Kit limits
    shown = text(view)
    assert "and 10 more: `/incident list`" in shown and "Incident 20" in shown and "Incident 21" not in shown
    assert ":alarm_clock: open · *breached*" in shown and "&lt;!here&gt; please" in shown
    assert len([b for b in buttons(view) if b[0] == ACK]) == 20
    assert len([b for b in buttons(view) if b[0] == SIGN]) == 20
    ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids))


def test_an_on_call_handover_on_home_asks_the_outgoing_person_for_the_note() -> None:
    """A shift change's receipt: the outgoing on-call gets the note form's button (as in the DM),
    the incoming one Countersign; Home says where it came from and shows the note, escaped."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def owed(as_: str, origin: str) -> Signature:
        return Signature(
            receipt_id=7,
            as_=as_,
            what="the on-call of ML Team",
            area="model-quality",
            origin=origin,
            from_user=MAYA,
            from_ref="maya",
            to_user=OMAR,
            to_ref="omar",
            note="<!channel> rollback at 3",
            started_at=now,
        )

    outgoing = home_view(Overview(MAYA, now, [], [], [owed("outgoing", "rotation")]))
    assert [b for b in buttons(outgoing) if b[0] in (NOTE, SIGN)] == [(NOTE, "7")]
    assert "(a shift change, " in text(outgoing) and "&lt;!channel&gt; rollback at 3" in text(outgoing)
    incoming = home_view(Overview(OMAR, now, [], [], [owed("incoming", "override")]))
    assert [b for b in buttons(incoming) if b[0] in (NOTE, SIGN)] == [(SIGN, "7:incoming")]
    assert "(an on-call override, " in text(incoming)
    slack = home_view(Overview(MAYA, now, [], [], [owed("outgoing", "slack")]))
    assert [b for b in buttons(slack) if b[0] in (NOTE, SIGN)] == [(SIGN, "7:outgoing")]
