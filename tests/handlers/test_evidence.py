"""Evidence through the real path: `/incident evidence`, the message shortcut, a :pushpin: reaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.slack.standin import Channel
from bot.store.db import session
from bot.store.models import Evidence, EvidenceDraft, TimelineEvent
from tests.conftest import RunningBaton, incident_channel
from tests.slack_signing import event_callback_body, message_shortcut_body, view_submission_body

MAYA, SAM = "U07MAYA001", "U07SAM0001"


@pytest.fixture
def channel(fast: RunningBaton) -> Iterator[Channel]:
    resp = fast.command("/incident", "P1 model-quality Hallucination spike on checkout", user_id=SAM)
    assert "Declared" in resp.text
    ch = incident_channel(fast.fake)
    fast.fake.wait_for(lambda: ch.pins or None)  # set up
    yield ch


def _rows(rb: RunningBaton) -> list[Evidence]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(Evidence)).all())


def _said(rb: RunningBaton, ch: Channel, needle: str) -> dict:  # type: ignore[type-arg]
    return rb.fake.wait_for(lambda: next((m for m in rb.fake.messages(ch.id) if needle in m["text"]), None))


def test_command_keeps_a_link_and_announces_it(fast: RunningBaton, channel: Channel) -> None:
    url = "https://grafana.example.com/d/llm?from=now-1h"
    resp = fast.command("/incident", f"evidence <{url}>", user_id=MAYA, channel_id=channel.id)
    assert resp.status_code == 200 and "warning" not in resp.text
    (row,) = _rows(fast)
    assert (row.kind, row.link, row.author, row.incident_id) == ("link", url, MAYA, 1)
    assert url in _said(fast, channel, ":pushpin: Evidence")["text"]
    with session(fast.baton.engine) as s:
        kinds = [e.kind for e in s.exec(select(TimelineEvent)).all()]
    assert "evidence" in kinds
    note = fast.command("/incident", "note", user_id=MAYA, channel_id=channel.id).text
    assert "Evidence (1)" in note and url in note


def test_pii_and_secrets_are_masked_before_storage(fast: RunningBaton, channel: Channel) -> None:
    text = "user jane.doe@example.com saw it; token xoxb-1234567890-abcdefghijkl leaked"
    fast.command("/incident", f"evidence {text}", user_id=MAYA, channel_id=channel.id)
    (row,) = _rows(fast)
    assert "jane.doe@example.com" not in row.text and "xoxb-1234567890" not in row.text
    assert row.masked and sum(row.masked.values()) == 2
    said = _said(fast, channel, ":pushpin: Evidence")["text"]
    assert "jane.doe@example.com" not in said and "2 items masked" in said


def test_empty_evidence_is_refused_with_an_example(fast: RunningBaton, channel: Channel) -> None:
    body = fast.command("/incident", "evidence", user_id=MAYA, channel_id=channel.id).json()
    assert ":warning:" in body["text"] and "/incident evidence https://" in body["text"]
    assert _rows(fast) == []


def test_message_shortcut_in_the_incident_channel(fast: RunningBaton, channel: Channel) -> None:
    message = fast.fake.post_as_user(channel.id, MAYA, "refusal rate 12% since 14:05, call +44 20 7946 0958")

    def shortcut() -> str:  # each use of the shortcut is its own request (trigger_id, action_ts)
        return message_shortcut_body(
            "add_evidence",
            user_id=SAM,
            channel_id=channel.id,
            message=message,
            response_url=fast.fake.response_url(channel.id, SAM),
        )

    assert fast.post(shortcut()).status_code == 200
    row = fast.fake.wait_for(lambda: _rows(fast)[0] if _rows(fast) else None)
    assert (row.kind, row.source_ts, row.message_author, row.author) == ("message", message["ts"], MAYA, SAM)
    assert row.link and row.link.startswith("http") and "+44 20 7946 0958" not in row.text
    fast.fake.wait_for(
        lambda: any("Added to the evidence of #1" in str(r.body) for r in fast.fake.responses()) or None
    )
    fast.post(shortcut())  # the same message again
    fast.fake.wait_for(
        lambda: any("already in the evidence" in str(r.body) for r in fast.fake.responses()) or None
    )
    assert len(_rows(fast)) == 1


def test_message_shortcut_elsewhere_asks_which_incident(fast: RunningBaton, channel: Channel) -> None:
    message = fast.fake.post_as_user("C0GENERAL", MAYA, "users report wrong prices in answers")
    body = message_shortcut_body(
        "add_evidence",
        user_id=MAYA,
        channel_id="C0GENERAL",
        message=message,
        response_url=fast.fake.response_url("C0GENERAL", MAYA),
    )
    assert fast.post(body).status_code == 200
    view = fast.fake.wait_for(
        lambda: [v for v in fast.fake.opened_views() if v["callback_id"] == "evidence_target"]
    )[0]
    options = view["blocks"][0]["element"]["options"]
    assert [o["value"] for o in options] == ["1"]
    submit = view_submission_body(
        "evidence_target",
        {"incident": {"value": {"type": "static_select", "selected_option": {"value": "1"}}}},
        user_id=MAYA,
        private_metadata=view["private_metadata"],
    )
    slack_calls = len(fast.fake.calls)
    assert fast.post(submit).status_code == 200
    (row,) = _rows(fast)
    assert row.source_channel == "C0GENERAL" and row.text == "users report wrong prices in answers"
    # The permalink was asked for with the shortcut: the submission, answered within Slack's 3 s,
    # waits on no Slack call of its own.
    permalink = f"/archives/C0GENERAL/p{message['ts'].replace('.', '')}"
    assert row.link is not None and row.link.endswith(permalink)
    assert "chat.getPermalink" not in [c.method for c in fast.fake.calls[slack_calls:]]


def test_a_pushpin_reaction_adds_the_message(fast: RunningBaton, channel: Channel) -> None:
    message = fast.fake.post_as_user(channel.id, MAYA, "rollback of prompt v42 started")
    other = fast.fake.post_as_user("C0GENERAL", MAYA, "lunch?")
    for reaction, where, msg in (("eyes", channel.id, message), ("pushpin", "C0GENERAL", other)):
        event = {
            "type": "reaction_added",
            "user": SAM,
            "reaction": reaction,
            "item_user": MAYA,
            "item": {"type": "message", "channel": where, "ts": msg["ts"]},
            "event_ts": "1.2",
        }
        assert fast.post(event_callback_body(event), content_type="application/json").status_code == 200
    event = {
        "type": "reaction_added",
        "user": SAM,
        "reaction": "pushpin",
        "item_user": MAYA,
        "item": {"type": "message", "channel": channel.id, "ts": message["ts"]},
        "event_ts": "1.3",
    }
    assert fast.post(event_callback_body(event), content_type="application/json").status_code == 200
    row = fast.fake.wait_for(lambda: _rows(fast)[0] if _rows(fast) else None)
    assert (row.text, row.source_ts, row.author) == ("rollback of prompt v42 started", message["ts"], SAM)
    _said(fast, channel, "rollback of prompt v42 started")
    assert len(_rows(fast)) == 1  # the other two reactions kept nothing


# -- the shortcut outside an incident channel: the message waits as a draft ----------------------


def _drafts(rb: RunningBaton) -> list[EvidenceDraft]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(EvidenceDraft)).all())


def _pick_elsewhere(rb: RunningBaton, text: str, user: str = MAYA) -> dict:  # type: ignore[type-arg]
    """Use the shortcut on a message in #general; returns the modal it opened."""
    message = rb.fake.post_as_user("C0GENERAL", MAYA, text)
    opened = len(rb.fake.opened_views())
    body = message_shortcut_body(
        "add_evidence",
        user_id=user,
        channel_id="C0GENERAL",
        message=message,
        response_url=rb.fake.response_url("C0GENERAL", user),
    )
    assert rb.post(body).status_code == 200
    return rb.fake.wait_for(lambda: rb.fake.opened_views()[opened:])[0]


def _submit(rb: RunningBaton, view: dict, user: str = MAYA) -> dict:  # type: ignore[type-arg]
    submit = view_submission_body(
        "evidence_target",
        {"incident": {"value": {"type": "static_select", "selected_option": {"value": "1"}}}},
        user_id=user,
        private_metadata=view["private_metadata"],
    )
    resp = rb.post(submit)
    assert resp.status_code == 200
    return resp.json() if resp.content else {}


def test_a_long_message_in_any_script_is_kept_whole(fast: RunningBaton, channel: Channel) -> None:
    text = ("推論結果が不正確です。" * 300)[:3000]  # 3,000 CJK characters
    assert len(text) == 3000
    view = _pick_elsewhere(fast, text)
    # The modal carries the draft's id, not the message (private_metadata holds 3,000 characters).
    assert len(view["private_metadata"]) <= 32 and "推論" not in view["private_metadata"]
    (draft,) = _drafts(fast)
    assert draft.text == text and draft.user == MAYA
    assert _submit(fast, view) == {}
    (row,) = _rows(fast)
    assert row.text == text and row.source_channel == "C0GENERAL" and row.message_author == MAYA
    assert _drafts(fast) == []  # used up


def test_a_draft_is_masked_before_it_is_stored(fast: RunningBaton, channel: Channel) -> None:
    view = _pick_elsewhere(fast, "customer jane.doe@example.com sees wrong prices")
    (draft,) = _drafts(fast)
    assert "jane.doe@example.com" not in draft.text and "[email]" in draft.text
    # Filed, it still says what was masked, though the draft had masked it already.
    assert _submit(fast, view) == {}
    (row,) = _rows(fast)
    assert row.masked == {"email": 1}
    assert "1 item masked" in _said(fast, channel, "sees wrong prices")["text"]


def test_a_message_longer_than_anything_slack_shows_at_once_is_kept_whole(
    fast: RunningBaton, channel: Channel
) -> None:
    text = ("refusal rate log line; " * 1700).strip()  # 39,099 characters, under Slack's 40,000
    view = _pick_elsewhere(fast, text)
    assert _submit(fast, view) == {}
    (row,) = _rows(fast)
    assert row.text == text


def test_only_the_person_who_picked_the_message_can_file_it(fast: RunningBaton, channel: Channel) -> None:
    view = _pick_elsewhere(fast, "users report wrong prices in answers", user=MAYA)
    answer = _submit(fast, view, user=SAM)
    assert answer["response_action"] == "errors"
    assert "picked by someone else" in answer["errors"]["incident"]
    assert _rows(fast) == [] and len(_drafts(fast)) == 1


def test_a_draft_a_day_old_is_gone(fast: RunningBaton, channel: Channel) -> None:
    old = EvidenceDraft(
        id="0" * 32,
        created_at=datetime.now(UTC) - timedelta(days=1, minutes=1),
        user=MAYA,
        channel="C0GENERAL",
        ts="1.000001",
        text="an abandoned pick",
    )
    with session(fast.baton.engine) as s:
        s.add(old)
        s.commit()
    _pick_elsewhere(fast, "a fresh pick")  # saving a draft clears the old ones
    assert [d.text for d in _drafts(fast)] == ["a fresh pick"]
    answer = _submit(fast, {"private_metadata": "0" * 32})
    assert answer["response_action"] == "errors"
    assert "no longer kept" in answer["errors"]["incident"]
    assert _rows(fast) == []
