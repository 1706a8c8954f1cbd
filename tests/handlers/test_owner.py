"""/owner through the real path: a Slack-signed request to /slack/events of a running Baton."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import RunningBaton
from tests.slack_signing import post_signed, slash_command_body


def _reply(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    return body


def _text(body: dict[str, Any]) -> str:
    return json.dumps(body["blocks"])


def test_no_text_lists_every_area_with_r_and_a(running: RunningBaton) -> None:
    body = _reply(running.command("/owner"))
    blocks = _text(body)
    for key in ("model-quality", "infra-deploy", "data", "user-experience", "policy-guardrails"):
        assert f"`{key}`" in blocks
    assert "ML Team" in blocks and "Platform Team" in blocks


def test_area_alias_gives_the_raci_card(running: RunningBaton) -> None:
    body = _reply(running.command("/owner", "model"))
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header" and "model-quality" in blocks[0]["text"]["text"]
    fields = next(b for b in blocks if b.get("fields"))["fields"]
    labels = [f["text"].split("\n")[0] for f in fields]
    assert labels == ["*Responsible*", "*On call*", "*Accountable*", "*Consulted*", "*Informed*"]
    assert "ML Team" in fields[0]["text"]
    assert "<@U07MAYA001>" in _text(body)  # people rendered as Slack mentions
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons and buttons[0]["url"].startswith("https://")


def test_misspelt_area_gets_the_closest_one(running: RunningBaton) -> None:
    body = _reply(running.command("/owner", "modle-quality"))
    assert "Did you mean `model-quality`?" in body["text"]
    assert any(b["type"] == "header" and "model-quality" in b["text"]["text"] for b in body["blocks"])


def test_nonsense_area_lists_the_real_ones(running: RunningBaton) -> None:
    body = _reply(running.command("/owner", "zzzzzz"))
    assert "There is no area `zzzzzz`" in body["text"] and "`infra-deploy`" in body["text"]


def test_escaped_mention_gives_what_that_person_owns(running: RunningBaton) -> None:
    body = _reply(running.command("/owner", "<@U07MAYA001|maya>"))
    assert "model-quality" in body["text"]
    assert "A" in body["text"].split("model-quality", 1)[1]


def test_unknown_person_is_told_so(running: RunningBaton) -> None:
    body = _reply(running.command("/owner", "<@U0NOBODY1|nobody>"))
    assert "owns nothing" in body["text"] or "don't know" in body["text"]


def test_the_answer_does_not_wait_for_slack(running: RunningBaton) -> None:
    """Slack's 3 s: the answer is the ack itself, never behind a Slack call. Every Slack answer is
    held until the reply is in; a reply that waited for one would only come after the release."""
    before = len(running.fake.calls)  # Baton's start-up calls
    release = running.fake.hold("*")
    try:
        resp = post_signed(
            f"{running.url}/slack/events", slash_command_body("/owner", "data"), running.secret, timeout=30
        )
        assert resp.status_code == 200 and "Data Team" in resp.text
        assert len(running.fake.calls) == before  # no Slack answer came before the reply
    finally:
        release.set()


def test_bad_signature_is_refused(running: RunningBaton) -> None:
    resp = post_signed(f"{running.url}/slack/events", slash_command_body("/owner", ""), "wrong-secret")
    assert resp.status_code == 401
