"""Shift handovers through the running app: the outgoing on-call's "Write
handover note" button opens a modal whose submission signs with a masked note; anyone else is
told who may; the incoming on-call countersigns with the existing button; the note shows in
`/owner history`; a reload re-plans at once; `/owner handoff … oncall` of a rotating team is
refused. On SQLite and PostgreSQL, on a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app.runner import Runner, boot
from bot.config.loader import load_config
from bot.oncall import handovers
from bot.records import verify
from bot.records.handoff_messages import NOTE
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from handlers.actions.handover import NOTE_VIEW
from handlers.app import create_app
from tests.conftest import RunningBaton, settings_for
from tests.handlers.test_handoffs import click_sign, owner, receipts, shown
from tests.oncall.test_handovers import CHANGE1, HOUR, LEO, LI, MAYA, OMAR, change_at, ownership_with
from tests.records.test_chain import RECEIPT, stored, tamper
from tests.slack_signing import block_actions_body, view_submission_body


@pytest.fixture
def rotating(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[tuple[RunningBaton, Path]]:
    """A running Baton whose ML Team rotates weekly (maya, li, omar), on a fake clock an hour
    before the first change's handover opens."""
    path = tmp_path / "ownership.yaml"
    path.write_text(ownership_with(["maya", "li", "omar"]))
    settings = settings_for(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(path))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock(CHANGE1 - 2 * HOUR)
    baton = boot(settings, config, clock=clock)
    runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
    runner.start()
    rb = RunningBaton(baton=baton, runner=runner, fake=fake_slack)
    yield rb, path
    rb.stop()


def open_handover(rb: RunningBaton) -> int:
    """Move to the first change's handover time and open it; the receipt's id."""
    clock = rb.baton.clock
    assert isinstance(clock, FakeClock)
    handovers.sync(baton=rb.baton)  # watched from now (the runner may have done it already)
    clock.advance(CHANGE1 - HOUR - clock.now())
    handovers.sync(baton=rb.baton)
    (receipt,) = receipts(rb)
    assert receipt.id is not None
    return receipt.id


def note_request(rb: RunningBaton, receipt_id: int) -> dict[str, Any]:
    """The DM asking maya, the outgoing on-call, for the note (waits for it)."""
    return rb.fake.wait_for(
        lambda: next((m for m in rb.fake.dm_messages(MAYA) if f"Handover #{receipt_id}" in m["text"]), None),
        message="note request",
    )


def click_note(rb: RunningBaton, user: str, receipt_id: int) -> str:
    """Press the "Write handover note" button of maya's DM as `user`; the response_url it got."""
    message = note_request(rb, receipt_id)
    (button,) = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"]) == (NOTE, str(receipt_id))
    dm = rb.fake.dm_channel(MAYA)
    url = rb.fake.response_url(dm, user, message["ts"])
    body = block_actions_body(
        NOTE, str(receipt_id), user_id=user, channel_id=dm, message_ts=message["ts"], response_url=url
    )
    assert rb.post(body).status_code == 200
    return url


def submit(rb: RunningBaton, user: str, receipt_id: int, note: str) -> dict[str, Any]:
    """Submit the note modal as `user`; what the HTTP answer said ({} when it closes)."""
    body = view_submission_body(
        NOTE_VIEW, {"note": {"value": note}}, user_id=user, private_metadata=str(receipt_id)
    )
    resp = rb.post(body)
    assert resp.status_code == 200, resp.text
    return resp.json() if resp.content else {}


def test_the_outgoing_on_call_writes_the_note_in_a_modal_and_the_incoming_countersigns(
    rotating: tuple[RunningBaton, Path],
) -> None:
    rb, _ = rotating
    fake = rb.fake
    receipt_id = open_handover(rb)

    # Someone else pressing the button is told who may; no modal opens.
    url = click_note(rb, LI, receipt_id)
    refused = fake.wait_for(lambda: fake.responses(url)[-1] if fake.responses(url) else None).body
    assert (
        refused["text"]
        == f":warning: Only the outgoing on-call (<@{MAYA}>) can write handover #{receipt_id}'s note."
    )
    assert [v for v in fake.opened_views() if v["callback_id"] == NOTE_VIEW] == []

    click_note(rb, MAYA, receipt_id)
    view = fake.wait_for(lambda: [v for v in fake.opened_views() if v["callback_id"] == NOTE_VIEW])[0]
    assert view["private_metadata"] == str(receipt_id)
    assert view["blocks"][0]["element"]["multiline"] is True

    # A submission by someone else is answered on the form, naming who may; nothing changes.
    answer = submit(rb, LI, receipt_id, "not mine to write")
    assert answer["response_action"] == "errors"
    assert answer["errors"]["note"].startswith(f"Only the outgoing owner (<@{MAYA}>)")
    (before,) = receipts(rb)
    assert before.outgoing_signed_at is None and before.note == ""

    note = "Refusals up since 14:00, watching #1.\nCall me on +44 20 7946 0958 or maya@example.com"
    assert submit(rb, MAYA, receipt_id, note) == {}
    (signed,) = receipts(rb)
    assert signed.outgoing_signed_by == MAYA and signed.outgoing_signed_at is not None
    assert signed.note.startswith("Refusals up since 14:00, watching #1.\nCall me on ")
    assert "7946" not in signed.note and "maya@example.com" not in signed.note
    assert signed.state == "pending" and signed.hash != before.hash
    # A second submission changes nothing.
    again = submit(rb, MAYA, receipt_id, "something else")
    assert "already" in again["errors"]["note"]
    assert receipts(rb)[0].note == signed.note and receipts(rb)[0].hash == signed.hash

    # The incoming on-call hears the note, and countersigns with the existing button.
    notice = fake.wait_for(
        lambda: next((m for m in fake.dm_messages(LI) if f"signed handoff #{receipt_id}" in m["text"]), None)
    )
    assert "> Refusals up since 14:00, watching #1." in notice["text"]
    done = click_sign(rb, LI, f"{receipt_id}:incoming", dm_of=LI)
    assert done["text"] == f":white_check_mark: You signed handoff #{receipt_id}."  # nothing overridden
    (final,) = receipts(rb)
    assert final.state == "signed" and final.incoming_signed_at is not None
    assert rb.baton.overrides == {}

    history = shown(owner(rb, "history model-quality", LEO))
    assert f"#{receipt_id} on-call of ml: <@{MAYA}> → <@{LI}> (at a shift change" in history
    assert 'note: \\"Refusals up since 14:00, watching #1. Call me on' in history
    assert verify.verify(rb.baton.engine) == []


def test_a_reload_re_plans_at_once_and_the_card_flags_a_handover_unsigned_at_the_change(
    rotating: tuple[RunningBaton, Path],
) -> None:
    rb, path = rotating
    first = open_handover(rb)
    path.write_text(ownership_with(["maya", "omar", "li"]))
    assert rb.baton.reload() is None  # the runner's on_config re-plans; no sync called here
    old, new = receipts(rb)
    assert (old.id, old.state) == (first, "withdrawn")
    assert (new.from_ref, new.to_ref, new.state) == ("maya", "omar", "pending")
    history = shown(owner(rb, "history model-quality", LEO))
    assert f"#{first} on-call of ml" in history and "withdrawn: the on-call plan changed" in history

    clock = rb.baton.clock
    assert isinstance(clock, FakeClock)
    clock.advance(CHANGE1 - clock.now())
    handovers.sync(baton=rb.baton)
    assert change_at(rb.baton, CHANGE1).flagged is True
    card = shown(owner(rb, "model-quality", LEO))
    assert f":warning: on-call handover #{new.id} was not signed at the shift change" in card
    assert f"on-call handover #{first} was not" not in card
    told = rb.fake.wait_for(
        lambda: next((m for m in rb.fake.dm_messages(OMAR) if "You are on call for" in m["text"]), None)
    )
    assert "ML Team" in told["text"]
    assert verify.verify(rb.baton.engine) == []


def test_handing_over_a_rotating_on_call_by_hand_points_to_owner_oncall(
    rotating: tuple[RunningBaton, Path],
) -> None:
    rb, _ = rotating
    body = owner(rb, f"handoff model-quality oncall <@{OMAR}|omar>", MAYA)
    assert body["text"].startswith(":warning: ML Team's on-call rotates")
    assert "`/owner oncall ml @someone <duration> [note]`" in body["text"]
    assert receipts(rb) == []


def test_the_handover_is_on_the_outgoing_on_calls_home_with_the_note_button(
    rotating: tuple[RunningBaton, Path],
) -> None:
    from tests.handlers.test_app_home import buttons, click, open_home, text

    rb, _ = rotating
    receipt_id = open_handover(rb)
    maya = open_home(rb, MAYA)
    assert (NOTE, str(receipt_id)) in buttons(maya) and "(a shift change, " in text(maya)
    # Pressed from someone else's Home: refused there (Home has no response_url), no modal.
    li = open_home(rb, LI)
    refused = click(rb, LI, NOTE, str(receipt_id), li)
    assert ":warning:" in text(refused) and f"<@{MAYA}>" in text(refused)
    assert [v for v in rb.fake.opened_views() if v["callback_id"] == NOTE_VIEW] == []
    # Pressed by maya on her Home: the note form opens.
    home = {**maya, "id": rb.fake.home_view(MAYA)["id"]}
    body = block_actions_body(NOTE, str(receipt_id), user_id=MAYA, view=home, block_id="home")
    assert rb.post(body).status_code == 200
    (view,) = rb.fake.wait_for(lambda: [v for v in rb.fake.opened_views() if v["callback_id"] == NOTE_VIEW])
    assert view["private_metadata"] == str(receipt_id)


def test_a_handover_note_on_an_altered_receipt_is_refused_on_the_form(
    rotating: tuple[RunningBaton, Path], caplog: pytest.LogCaptureFixture
) -> None:
    rb, _ = rotating
    engine = rb.baton.engine
    receipt_id = open_handover(rb)
    tamper(engine, RECEIPT, receipt_id, to_ref="omar")  # altered, then signed
    answer = submit(rb, MAYA, receipt_id, "Refusals up since 14:00, watching #1.")
    assert answer["response_action"] == "errors"
    assert answer["errors"]["note"].startswith(
        f"Handoff #{receipt_id} cannot be signed: receipt #{receipt_id}"
    )
    row = stored(engine, receipt_id)
    assert (row.note, row.outgoing_signed_at, row.to_ref) == ("", None, "omar")
    (problem,) = verify.verify(engine)
    assert problem.row_id == receipt_id
