"""Masking everywhere a person types (issue 6, item 13): a real `baton serve` runs a whole
incident fed with PII and secrets in every field (title, status, evidence, commander note,
modal fields, resolve summary). None of them may reach the database, the log, the channel's
name or anything Baton sends to Slack."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

from tests.conftest import SIGNING_SECRET, incident_channel, serve, serve_env
from tests.fakeslack import FakeSlack
from tests.slack_signing import post_signed, slash_command_body, view_submission_body

SECRETS = {
    "e-mail": "jane.doe@corp.example",
    "aws key": "AKIAIOSFODNN7EXAMPLE",
    "phone": "+44 20 7946 0958",
    "slack token": "xoxb-1234567890-abcdefghijkl",
    "card": "4111 1111 1111 1111",
    "password": "hunter2secret",
    "bearer": "abcdef1234567890XYZ",
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
                "/incident", f"P1 model-quality Refusals for {s['e-mail']} {s['aws key']}", user_id=LEO
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
        summary = f"Reverted; told {s['e-mail']} on {s['phone']}"
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
    assert "jane" not in names and "corp" not in names
