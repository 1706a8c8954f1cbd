"""Masking everywhere a person types: a real `baton serve` runs a whole
incident fed with PII and secrets in every field (title, status, evidence, commander note,
modal fields, resolve summary). None of them may reach the database, the log, the channel's
name or anything Baton sends to Slack."""

from __future__ import annotations

import json
import signal
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.slack.standin import FakeSlack
from tests.conftest import SIGNING_SECRET, RunningBaton, incident_channel, serve, serve_env
from tests.slack_signing import post_signed, slash_command_body, view_submission_body

SECRETS = {
    "e-mail": "jane.doe@corp.example",
    "aws key": "AKIAIOSFODNN7EXAMPLE",
    "phone": "+44 20 7946 0958",
    "slack token": "xoxb-1234567890-abcdefghijkl",
    "card": "4111 1111 1111 1111",
    "password": "hunter2secret",
    "bearer": "abcdef1234567890XYZ",
    "national number": "06 12 34 56 78",
    "fullwidth e-mail": "ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ",
}
MAYA, LEO = "U07MAYA001", "U07LEO0002"


def test_nothing_a_person_typed_leaks_into_storage_logs_names_or_slack(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = serve_env(fake_slack, tmp_path)
    url = f"http://127.0.0.1:{env['PORT']}/slack/events"
    proc = serve(env, tmp_path)
    answers: list[str] = []

    def signed(body: str) -> None:
        resp = post_signed(url, body, SIGNING_SECRET)
        assert resp.status_code == 200, resp.text
        answers.append(resp.text)

    try:
        s = SECRETS
        signed(
            slash_command_body(
                "/incident",
                f"P1 model-quality Refusals for {s['fullwidth e-mail']} {s['aws key']}",
                user_id=LEO,
            )
        )
        channel = incident_channel(fake_slack).id

        def in_channel(text: str, user: str = MAYA) -> None:
            signed(slash_command_body("/incident", text, user_id=user, channel_id=channel))

        in_channel(f"status Customer called from {s['phone']}, pasted {s['slack token']}")
        in_channel(f"evidence card {s['card']} in the prompt log")
        in_channel(f"commander <@U07SAM0001|sam> ring me, password={s['password']}")
        in_channel("sev P0", user="U07SAM0001")
        in_channel(f"status #1 Authorization: Bearer {s['bearer']}", user=LEO)
        # The resolve form, as the Resolve button opens it.
        summary = f"Reverted; told {s['e-mail']} on {s['phone']} and {s['national number']}"
        state = {"summary": {"value": summary}}
        signed(view_submission_body("resolve_incident", state, user_id="U07SAM0001", private_metadata="1"))
        fake_slack.wait_for(
            lambda: any("Who was paged when" in m["text"] for m in fake_slack.messages(channel)), timeout=10
        )
        in_channel("note", user=LEO)
        in_channel("timeline", user=LEO)
        # A declaration through the form, too.
        form = {
            "severity": {"value": {"type": "static_select", "selected_option": {"value": "P2"}}},
            "area": {"value": {"type": "static_select", "selected_option": {"value": "data"}}},
            "title": {"value": f"Index has {s['e-mail']} in it"},
        }
        signed(view_submission_body("declare_incident", form, user_id=LEO))
        fake_slack.wait_for(
            lambda: len([c for c in fake_slack.channels.values() if c.name.startswith("inc-")]) == 2
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        log, _ = proc.communicate(timeout=15)

    db = sqlite3.connect(tmp_path / "baton.db")
    dump = "\n".join(db.iterdump())
    db.close()
    sent = json.dumps([c.params for c in fake_slack.calls], ensure_ascii=False)
    names = " ".join(c.name for c in fake_slack.channels.values())
    assert "Refusals for" in dump  # the dump is the real thing
    places = {
        "database": dump,
        "log": log,
        "Slack calls": sent,
        "answers": "\n".join(answers),
        "channel names": names,
    }
    for where, text in places.items():
        for what, secret in SECRETS.items():
            assert secret not in text, f"the {what} reached the {where}"
            plain = unicodedata.normalize("NFKC", secret).lower()
            assert plain not in text.lower(), f"the {what} reached the {where} as {plain!r}"
    assert "jane" not in names and "corp" not in names


# -- national numbers and lookalike characters, on every path that stores text --

# What people type that masking used to miss (tests/text/test_masking.py draws the whole family with
# hypothesis; here one of each goes through every path that stores text). Each with the forms it
# may be stored in once NFKC and dropping invisible characters have read it.
LOOKALIKES = {
    "UK number": ("020 7946 0958",),
    "French number": ("06 12 34 56 78",),
    "German number": ("0151 23456789",),
    "US number": ("415 555 0142",),
    "fullwidth e-mail": ("ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ", "JANE@CORP.EXAMPLE"),
    "fullwidth number": ("０６ ９８ ７６ ５４ ３２", "06 98 76 54 32"),
    "e-mail with a zero-width space": ("omar\u200b.ali@corp.example", "omar.ali@corp.example"),
    "number with no-break spaces": ("0161\u00a0496\u00a00000", "0161 496 0000"),
    "number with dots": ("06.12.34.56.78",),
}
TYPED = ", ".join(forms[0] for forms in LOOKALIKES.values())
ALERT_TOKEN, FEEDBACK_TOKEN = "alert-token-0123456789", "feedback-token-0123456789"
MAYA_ID, LI_ID, OMAR_ID, JONAS_ID = "U07MAYA001", "ULIE", "U07OMAR001", "U07JONAS01"


def _everything_stored(rb: RunningBaton) -> str:
    """Every row of every table, as text."""
    from sqlmodel import SQLModel

    with rb.baton.engine.connect() as conn:
        return "\n".join(
            repr(tuple(row)) + json.dumps([str(v) for v in row], ensure_ascii=False)
            for table in SQLModel.metadata.sorted_tables
            for row in conn.execute(table.select())
        )


def test_every_path_that_stores_text_masks_national_numbers_and_lookalikes(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Alerts, feedback, titles and status, evidence, incident notes, action parameters, handoff
    notes, override notes and handover notes, through signed HTTP and the two endpoints."""
    import httpx

    from bot.store.db import session
    from bot.store.models import ActionRequest, Evidence, FailureCase, OncallOverride, Receipt
    from handlers.actions.handover import NOTE_VIEW
    from tests.actions.test_action_requests import write_ownership
    from tests.conftest import settle, start_baton
    from tests.handlers.test_incident_command import reply

    rb = start_baton(
        fake_slack,
        db_url,
        BATON_OWNERSHIP_FILE=str(write_ownership(tmp_path)),
        BATON_ALERT_TOKEN=ALERT_TOKEN,
        BATON_FEEDBACK_TOKEN=FEEDBACK_TOKEN,
    )
    try:
        # An alert whose annotations carry them: its title, its evidence.
        annotations = {"summary": f"Callers {TYPED}", "description": f"Reported by {TYPED}"}
        alert = {
            "status": "firing",
            "labels": {"alertname": "CustomerEscalation", "area": "model-quality"},
            "annotations": annotations,
            "generatorURL": "http://prometheus.example.com/graph?g0.expr=up",
            "fingerprint": "f1",
        }
        note = {"version": "4", "groupKey": "{}:{x}", "status": "firing", "alerts": [alert]}
        resp = httpx.post(
            f"{rb.url}/alerts/alertmanager",
            json=note,
            headers={"Authorization": f"Bearer {ALERT_TOKEN}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        # A failure case from the product: its text and its ref.
        case = {"area": "model-quality", "kind": "thumbs_down", "text": f"User {TYPED}", "ref": TYPED[:60]}
        resp = httpx.post(
            f"{rb.url}/feedback", json=case, headers={"Authorization": f"Bearer {FEEDBACK_TOKEN}"}, timeout=10
        )
        assert resp.status_code == 200, resp.text

        # An incident declared in Slack, its status, evidence and note; an action's parameter.
        declared = reply(rb.command("/incident", f"P2 model-quality Calls from {TYPED}", user_id=LEO))
        assert "Declared" in declared["text"], declared
        channel = rb.fake.wait_for(
            lambda: next(
                (c for c in rb.fake.channels.values() if c.name.startswith("inc-") and "-2-" in c.name), None
            )
        ).id

        def in_channel(text: str, user: str = MAYA) -> str:
            resp = rb.command("/incident", text, user_id=user, channel_id=channel)
            assert resp.status_code == 200, resp.text
            return resp.text

        in_channel(f"status Customer {TYPED}")
        in_channel(f"evidence Pasted {TYPED}")
        # A parameter is one word: the address in fullwidth letters, and a number with dots.
        asked = in_channel("run rollback-prompt version=ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ,06.12.34.56.78")
        assert "rollback-prompt" in asked, asked

        # A handoff with a note; an on-call override with a note, whose handover receipt opens
        # at once and whose outgoing on-call writes the handover note in the modal.
        handoff = reply(
            rb.command("/owner", f"handoff model-quality accountable <@{LI_ID}|li> {TYPED}", user_id=MAYA_ID)
        )
        assert "Handoff #" in handoff["text"], handoff
        override = reply(rb.command("/owner", f"oncall ml <@{OMAR_ID}|omar> 4h {TYPED}", user_id=MAYA_ID))
        assert "is on call" in override["text"], override
        settle(rb)
        with session(rb.baton.engine) as s:
            receipt = s.exec(select(Receipt).where(col(Receipt.role) == "oncall")).one()
        body = view_submission_body(
            NOTE_VIEW,
            {"note": {"value": f"Watch {TYPED}"}},
            user_id=MAYA_ID,
            private_metadata=str(receipt.id),
        )
        assert rb.post(body).status_code == 200
        settle(rb)
        # The one place by design (the webhook gets what was typed unless the area masks the
        # parameter): the request's own copy for its call, kept only while it may still be called.
        with session(rb.baton.engine) as s:
            assert s.exec(select(ActionRequest)).one().call_params == {
                "version": "ＪＡＮＥ＠ＣＯＲＰ.ＥＸＡＭＰＬＥ,06.12.34.56.78"
            }
        in_channel("resolve Calls answered")  # ends the request: its copy goes
        settle(rb)

        with session(rb.baton.engine) as s:
            # Each path really stored something, so the search below means something.
            assert s.exec(select(Evidence).where(col(Evidence.author) == "alertmanager")).first() is not None
            assert s.exec(select(FailureCase)).one().text.startswith("User ")
            request = s.exec(select(ActionRequest)).one()
            assert request.params["version"] and (request.state, request.call_params) == ("expired", {})
            assert s.exec(select(OncallOverride)).one().note
            assert (
                s.exec(select(Receipt).where(col(Receipt.role) == "oncall")).one().note.startswith("Watch ")
            )
        stored = _everything_stored(rb)
    finally:
        rb.stop()

    places = {
        "database": stored,
        "Slack calls": json.dumps([c.params for c in fake_slack.calls], ensure_ascii=False),
        "channel names": " ".join(c.name for c in fake_slack.channels.values()),
        "log": caplog.text,
    }
    assert "Callers " in stored and "Watch " in stored
    for where, text in places.items():
        for what, forms in LOOKALIKES.items():
            for form in forms:
                i = text.lower().find(form.lower())
                assert i < 0, f"the {what} reached the {where} as {form!r}: {text[max(0, i - 300) : i + 100]}"
    assert "jane" not in places["channel names"] and "corp" not in places["channel names"]
