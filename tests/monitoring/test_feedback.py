"""POST /feedback through a running Baton, on SQLite and PostgreSQL: the bearer
token, the endpoint off without one, every refusal with its reason, masking before storage, the
`feedback:` threshold declaring one incident per area while it is open (also across replicas),
counting again after a resolution, and the counts on /metrics. The window sliding past old cases
runs on an injected clock."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from bot.app.runner import boot
from bot.config.loader import load_config
from bot.incidents import services as incidents
from bot.monitoring import feedback
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Evidence, FailureCase, Incident, TimelineEvent
from tests.conftest import (
    SHIPPED_OWNERSHIP,
    RunningBaton,
    incident_channel,
    page_dms,
    settings_for,
    start_baton,
)

TOKEN = "feedback-token-0123456789"
MAYA = "U07MAYA001"  # ML Team's on-call: the `owner` a P2 in model-quality pages


def ownership_with_alert(tmp_path: Path, alert: int, window: str = "1h") -> Path:
    """The shipped ownership.yaml with its feedback: block set to `alert` cases in `window`."""
    text = SHIPPED_OWNERSHIP.read_text()
    block = "feedback:\n  window: 1h\n  alert: 20\n  severity: P2\n"
    assert block in text, "the shipped ownership.yaml carries the feedback defaults"
    path = tmp_path / "ownership.yaml"
    path.write_text(text.replace(block, f"feedback:\n  window: {window}\n  alert: {alert}\n  severity: P2\n"))
    return path


@pytest.fixture
def taking(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[RunningBaton]:
    """A running Baton with BATON_FEEDBACK_TOKEN set and feedback alert 3 within 1h."""
    ownership = ownership_with_alert(tmp_path, 3)
    rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership), BATON_FEEDBACK_TOKEN=TOKEN)
    yield rb
    rb.stop()


def case(**fields: Any) -> dict[str, Any]:
    return {"area": "model-quality", "kind": "thumbs_down", "text": "wrong refund policy", **fields}


def send(
    rb: RunningBaton, body: Any, *, token: str | None = TOKEN, raw: bytes | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body).encode()
    return httpx.post(f"{rb.url}/feedback", content=data, headers=headers, timeout=10)


def stored(rb: RunningBaton) -> list[FailureCase]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(FailureCase).order_by(col(FailureCase.id))).all())


def incidents_of(rb: RunningBaton) -> list[Incident]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(Incident).order_by(col(Incident.id))).all())


def feedback_lines(rb: RunningBaton, number: int) -> list[str]:
    with session(rb.baton.engine) as s:
        query = select(TimelineEvent.text).where(
            col(TimelineEvent.incident_id) == number, col(TimelineEvent.kind) == "feedback"
        )
        return list(s.exec(query.order_by(col(TimelineEvent.id))).all())


# -- who may send, and what ------------------------------------------------------------------


def test_the_token_is_required(taking: RunningBaton) -> None:
    rb = taking
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1]):
        resp = send(rb, case(), token=token)
        assert resp.status_code == 401 and "BATON_FEEDBACK_TOKEN" in resp.json()["error"]
    basic = httpx.post(f"{rb.url}/feedback", json=case(), headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    assert stored(rb) == []
    ok = send(rb, case())
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "ok": True,
        "case": 1,
        "area": "model-quality",
        "incident": None,
        "action": "recorded",
        "clipped": False,
    }


def test_without_a_token_the_endpoint_is_off_and_says_so(
    fake_slack: FakeSlack, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.app.server")
    rb = start_baton(fake_slack, db_url)
    try:
        offs = [r.getMessage() for r in caplog.records if "POST /feedback is off" in r.getMessage()]
        assert offs == [
            "POST /feedback is off: set BATON_FEEDBACK_TOKEN to receive failure cases from the product"
        ]
        resp = send(rb, case(), token=TOKEN)
        assert resp.status_code == 404 and "BATON_FEEDBACK_TOKEN" in resp.json()["error"]
        assert stored(rb) == []
        assert 'baton_feedback_requests_total{code="404"} 1.0' in rb.metrics()
    finally:
        rb.stop()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "the body is not JSON: send one failure case as a JSON object, e.g. {"),
        (b"[1, 2]", "the body is not a JSON object"),
        (case(kind="angry"), "kind 'angry' is not accepted: use one of thumbs_down, low_confidence, "),
        ({"kind": "other"}, "area is required: an area key or alias from ownership.yaml (model-quality, "),
        (case(area=""), "area must be a non-empty string"),
        (
            case(area="modl-quality"),
            "area 'modl-quality' is not an area (did you mean 'model-quality'?): use one of ",
        ),
        (
            case(area="billing"),
            "area 'billing' is not an area: use one of model-quality, infra-deploy, data, ",
        ),
        (case(confidence=1.5), "confidence 1.5 is not accepted: a number from 0 to 1, or leave it out"),
        (case(confidence=-0.1), "confidence -0.1 is not accepted"),
        (case(confidence="0.5"), "confidence '0.5' is not accepted"),
        (case(text=["a"]), "text must be a string"),
        (case(txt="typo"), "unknown field 'txt': a case has the fields area, kind, text, confidence, ref"),
        (case(ref="r" * 513), "ref is 513 characters: at most 512"),
    ],
    ids=[
        "not-json",
        "not-object",
        "bad-kind",
        "no-area",
        "empty-area",
        "misspelt-area",
        "unknown-area",
        "confidence-high",
        "confidence-negative",
        "confidence-string",
        "text-list",
        "unknown-field",
        "ref-long",
    ],
)
def test_anything_but_a_failure_case_is_a_400_with_the_reason(
    taking: RunningBaton, body: Any, reason: str
) -> None:
    resp = send(taking, None, raw=body) if isinstance(body, bytes) else send(taking, body)
    assert resp.status_code == 400, resp.text
    assert reason in resp.json()["error"], resp.json()["error"]
    assert stored(taking) == []


def test_a_large_body_is_refused_and_requests_are_counted(taking: RunningBaton) -> None:
    rb = taking
    big = json.dumps(case(text="x" * (1024 * 1024))).encode()
    resp = send(rb, None, raw=big)
    assert resp.status_code == 413 and "larger than 1048576 bytes" in resp.json()["error"]
    send(rb, case(kind="nope"))
    send(rb, case(), token="wrong")
    send(rb, case(area="model", kind="low_confidence", confidence=0.2))  # an alias
    send(rb, case(area="data", kind="handed_to_human"))
    send(rb, case(area="data", kind="handed_to_human", text=None, ref=8812))  # no text, a numeric ref
    metrics = rb.metrics()
    for line in (
        'baton_feedback_requests_total{code="413"} 1.0',
        'baton_feedback_requests_total{code="400"} 1.0',
        'baton_feedback_requests_total{code="401"} 1.0',
        'baton_feedback_requests_total{code="200"} 3.0',
        'baton_feedback_cases_total{area="model-quality",kind="low_confidence"} 1.0',
        'baton_feedback_cases_total{area="data",kind="handed_to_human"} 2.0',
    ):
        assert line in metrics, line
    assert 'kind="thumbs_down"' not in metrics  # the refused ones counted no case
    rows = stored(rb)
    assert [(r.area, r.kind, r.confidence, r.ref, r.text) for r in rows] == [
        ("model-quality", "low_confidence", 0.2, None, "wrong refund policy"),
        ("data", "handed_to_human", None, None, "wrong refund policy"),
        ("data", "handed_to_human", None, "8812", ""),
    ]


def test_text_is_masked_before_storage_and_long_text_clipped(taking: RunningBaton) -> None:
    rb = taking
    text = "Customer jane.doe@corp.example pasted xoxb-1234567890-abcdefghijkl and got a wrong answer"
    resp = send(rb, case(text=text, ref="jane.doe@corp.example"))
    assert resp.status_code == 200 and resp.json()["clipped"] is False
    (row,) = stored(rb)
    assert row.text == "Customer [email] pasted [slack-token] and got a wrong answer"
    assert row.masked == {"email": 1, "slack_token": 1}
    assert row.ref == "[email]"
    long = send(rb, case(text="a" * 5000))
    assert long.json()["clipped"] is True
    assert len(stored(rb)[-1].text) == feedback.MAX_TEXT


def test_a_ref_that_masking_lengthens_is_still_stored(taking: RunningBaton) -> None:
    """The product's ref may be up to MAX_REF characters; masking can make it longer (`a@b.co`
    becomes `[email]`), past the column PostgreSQL enforces (SQLite does not): the masked ref is
    clipped to the column, never refused with a 500."""
    rb = taking
    ref = ("a@b.co " * 80)[: feedback.MAX_REF]
    resp = send(rb, case(ref=ref))
    assert resp.status_code == 200, resp.text
    (row,) = stored(rb)
    assert row.ref is not None and len(row.ref) == feedback.MAX_REF
    assert row.ref.startswith("[email] [email] ") and row.ref.endswith("…")


# -- the threshold ------------------------------------------------------------------------------


def test_the_alert_th_case_declares_one_incident_and_later_cases_join_it(taking: RunningBaton) -> None:
    rb = taking
    answers = [send(rb, case(text=f"answer {i} mailed to jane@corp.example")).json() for i in (1, 2)]
    assert [a["action"] for a in answers] == ["recorded", "recorded"]
    send(rb, case(area="data"))  # another area's case counts for that area only
    third = send(rb, case(kind="low_confidence", confidence=0.12, text="<!channel> <@U07SAM0001> help"))
    assert third.json()["action"] == "declared" and third.json()["incident"] == 1
    (inc,) = incidents_of(rb)
    assert (inc.area, inc.severity, inc.declared_by) == ("model-quality", "P2", "feedback")
    assert inc.title == "3 failure cases from the product in 1h (thumbs_down 2, low_confidence 1)"
    # P2 pages the owner: ML Team's on-call.
    rb.fake.wait_for(
        lambda: {c.params["channel"] for c in page_dms(rb.fake)} == {MAYA}, message="owner paged"
    )

    with session(rb.baton.engine) as s:
        (evidence,) = s.exec(select(Evidence)).all()
    assert (evidence.author, evidence.kind) == ("feedback", "feedback")
    assert evidence.text.splitlines() == [
        "3 failure cases for Model / Prompt within 1h (alert at 3): thumbs_down 2, low_confidence 1. "
        "Examples:",
        "- low_confidence, confidence 0.12: <!channel> @U07SAM0001 help",
        "- thumbs_down: answer 2 mailed to [email]",
        "- thumbs_down: answer 1 mailed to [email]",
    ]
    assert evidence.masked == {"email": 2}

    # The 4th and 5th join it: on the timeline, no second incident, nothing said per case.
    for i in (4, 5):
        joined = send(rb, case(text=f"case {i}")).json()
        assert (joined["action"], joined["incident"]) == ("joined", 1)
    assert len(incidents_of(rb)) == 1
    assert feedback_lines(rb, 1)[1:] == ["thumbs_down: case 4", "thumbs_down: case 5"]

    channel = incident_channel(rb.fake)
    said = rb.fake.wait_for(
        lambda: [m["text"] for m in channel.messages if "the product's feedback" in m["text"]] or None
    )
    # Once, at declaration: product text is escaped and its mentions shown as text.
    assert len(said) == 1
    assert "&lt;!channel&gt; @U07SAM0001 help" in said[0] and "<@U07SAM0001>" not in said[0]
    # The 6th case is the `alert`-th since declaration: the channel hears how many came.
    send(rb, case(text="case 6"))
    more = rb.fake.wait_for(
        lambda: [m["text"] for m in channel.messages if "more failure case" in m["text"]] or None
    )
    assert more == [
        ":speech_balloon: the product's feedback: 3 more failure case(s) since #1 was declared "
        "(6 in all; the latest: thumbs_down: case 6)."
    ]
    opening = channel.messages[0]
    assert "the product's feedback" in json.dumps(opening.get("blocks"))  # "Declared by"

    # Resolved: the cases that declared it do not declare again; the next `alert` cases do.
    incidents.resolve(baton=rb.baton, number=1, summary="Rolled back prompt v42", user=MAYA)
    after = [send(rb, case(text=f"after {i}")).json() for i in (1, 2, 3)]
    assert [(a["action"], a["incident"]) for a in after] == [
        ("recorded", None),
        ("recorded", None),
        ("declared", 2),
    ]
    assert [(i.id, i.state) for i in incidents_of(rb)] == [(1, "resolved"), (2, "open")]
    metrics = rb.metrics()
    assert 'baton_feedback_cases_total{area="model-quality",kind="thumbs_down"} 8.0' in metrics
    assert 'baton_feedback_cases_total{area="model-quality",kind="low_confidence"} 1.0' in metrics
    assert 'baton_feedback_cases_total{area="data",kind="thumbs_down"} 1.0' in metrics


def test_two_replicas_receiving_cases_at_once_declare_once(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    ownership = ownership_with_alert(tmp_path, 3)
    env = {"BATON_OWNERSHIP_FILE": str(ownership), "BATON_FEEDBACK_TOKEN": TOKEN}
    a, b = start_baton(fake_slack, db_url, **env), start_baton(fake_slack, db_url, **env)
    try:
        assert send(a, case()).json()["action"] == "recorded"
        assert send(b, case()).json()["action"] == "recorded"
        barrier = threading.Barrier(4)
        answers: list[dict[str, Any]] = []

        def post(rb: RunningBaton) -> None:
            barrier.wait()
            answers.append(send(rb, case()).json())

        threads = [threading.Thread(target=post, args=(rb,)) for rb in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(x["action"] for x in answers) == ["declared", "joined", "joined", "joined"]
        assert {x["incident"] for x in answers} == {1}
        assert len(incidents_of(a)) == 1 and len(stored(a)) == 6
    finally:
        a.stop()
        b.stop()


def test_cases_older_than_the_window_do_not_count(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> None:
    settings = settings_for(
        fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership_with_alert(tmp_path, 3, "1h"))
    )
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock()
    baton = boot(settings, config, clock=clock)
    body = json.dumps(case()).encode()
    try:
        actions = []
        for step in (0, 40, 30, 25, 1):  # minutes between cases: 0, 40, 70, 95, 96
            clock.advance(timedelta(minutes=step))
            actions.append(feedback.receive(baton=baton, body=body).action)
        # At 70 the first (at 0) is out of the hour; at 95 the three since 40 make it.
        assert actions == ["recorded", "recorded", "recorded", "declared", "joined"]
    finally:
        baton.engine.dispose()
