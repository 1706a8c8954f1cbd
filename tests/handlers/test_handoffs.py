"""Handoff receipts through the real path: `/owner handoff`, the
sign buttons in DMs, no gap in ownership, ownership.yaml edits that open receipts, the RACI card
and `/owner history`; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.records.handoff_messages import SIGN
from bot.slack.standin import FakeSlack
from bot.store.db import session
from bot.store.models import OwnerOverride, Receipt
from tests.conftest import (
    BATON,
    FAST_SEVERITY,
    SHIPPED_OWNERSHIP,
    SHIPPED_SEVERITY,
    RunningBaton,
    clean_env,
    start_baton,
)
from tests.handlers.test_incident_command import LEO, LI, MAYA, OMAR, SAM, page_dms, reply
from tests.slack_signing import block_actions_body

DANA, KENJI, JONAS = "U07DANA001", "U07KENJI01", "U07JONAS01"


def owner(rb: RunningBaton, text: str, user: str) -> dict[str, Any]:
    return reply(rb.command("/owner", text, user_id=user))


def shown(body: dict[str, Any]) -> str:
    return body["text"] + "\n" + json.dumps(body["blocks"], ensure_ascii=False)


def receipts(rb: RunningBaton) -> list[Receipt]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(Receipt).order_by(col(Receipt.id))).all())


def sign_request(rb: RunningBaton, user: str, receipt_id: int) -> dict[str, Any]:
    """The DM asking `user` to sign handoff #receipt_id (waits for it)."""
    return rb.fake.wait_for(
        lambda: next(
            (m for m in rb.fake.dm_messages(user) if f'"{receipt_id}:' in json.dumps(m.get("blocks"))),
            None,
        ),
        message=f"sign request #{receipt_id} to {user}",
    )


def click_sign(
    rb: RunningBaton, user: str, value: str, dm_of: str, message: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Press a sign button (found in `dm_of`'s DM, or on `message` as a client still showing it
    has it) as `user`; what respond() said."""
    message = message or sign_request(rb, dm_of, int(value.split(":")[0]))
    dm = rb.fake.dm_channel(dm_of)
    url = rb.fake.response_url(dm, user, message["ts"])
    resp = rb.post(
        block_actions_body(
            SIGN, value, user_id=user, channel_id=dm, message_ts=message["ts"], response_url=url
        )
    )
    assert resp.status_code == 200, resp.text
    return rb.fake.wait_for(lambda: rb.fake.responses(url)[-1], message="respond()").body


def first_paged(fake: FakeSlack, number: int) -> str:
    """Whom incident #number's first page DM went to (waits for it)."""
    return str(
        fake.wait_for(
            lambda: next(
                (c for c in page_dms(fake) if f"incident #{number}:" in str(c.params["text"])), None
            ),
            message=f"#{number}'s first page",
        ).params["channel"]
    )


def test_a_handoff_in_slack_is_signed_countersigned_and_then_effective(
    editable: tuple[RunningBaton, Path],
) -> None:
    rb, _ = editable
    fake = rb.fake
    # Something open in the area, so the snapshot has it.
    assert "Declared" in rb.command("/incident", "P2 model-quality Refusals up", user_id=LEO).text
    answer = owner(
        rb, f"handoff model-quality oncall <@{OMAR}|omar> peer <@{SAM}|sam> Maya is on leave", MAYA
    )
    assert "Handoff #1" in answer["text"] and f"<@{MAYA}> is still the one paged" in answer["text"]
    (receipt,) = receipts(rb)
    assert (receipt.role, receipt.team, receipt.from_ref, receipt.to_user, receipt.peer_user) == (
        "oncall",
        "ml",
        "maya",
        OMAR,
        SAM,
    )
    assert receipt.outgoing_signed_by == MAYA and receipt.outgoing_signed_at is not None
    assert receipt.state == "pending" and receipt.incoming_signed_at is None and len(receipt.hash) == 64
    snap = receipt.snapshot
    assert [(i["number"], i["severity"]) for i in snap["open_incidents"]] == [(1, "P2")]
    assert snap["runbook"].endswith("/model-quality") and snap["readiness"]["raci-defined"] is True
    assert snap["slo"]["queries"] == ["latency_p95", "success_rate"]
    request = sign_request(rb, OMAR, 1)
    assert "Maya is on leave" in json.dumps(request) and "Countersign" in json.dumps(request)
    sign_request(rb, SAM, 1)  # the peer is asked too

    # Until countersigned the outgoing on-call is still the one paged (#2's first page: the
    # windows are seconds long, so #1's later steps may page meanwhile, and #2's own).
    assert "Declared" in rb.command("/incident", "P2 model-quality Latency up", user_id=LEO).text
    assert first_paged(fake, 2) == MAYA

    # Anyone else is refused; the incoming owner signs; a second click changes nothing.
    refused = click_sign(rb, SAM, "1:incoming", dm_of=OMAR)
    assert refused["text"].startswith(":warning: Only the incoming owner (<@U07OMAR001>)")
    assert receipts(rb)[0].incoming_signed_at is None
    asked = sign_request(rb, OMAR, 1)
    done = click_sign(rb, OMAR, "1:incoming", dm_of=OMAR)
    assert done.get("replace_original") is True and "You hold the role from now on" in done["text"]
    signed = receipts(rb)[0]
    assert signed.state == "signed" and signed.incoming_signed_at is not None and signed.hash != receipt.hash
    # The reply replaced the request, button and all; a second click (a double click, a client
    # still showing the old message) changes nothing.
    assert not any("Countersign" in json.dumps(m.get("blocks")) for m in fake.dm_messages(OMAR))
    again = click_sign(rb, OMAR, "1:incoming", dm_of=OMAR, message=asked)
    assert "already" in again["text"] and receipts(rb)[0].hash == signed.hash
    assert "peer signature pending" in shown(owner(rb, "history model-quality", LEO))
    click_sign(rb, SAM, "1:peer", dm_of=SAM)

    # Effective at once: paging, /owner and the card.
    assert "Declared" in rb.command("/incident", "P2 model-quality Timeouts", user_id=LEO).text
    assert first_paged(fake, 3) == OMAR
    card = shown(owner(rb, "model-quality", LEO))
    assert "*On call*\\n<@U07OMAR001>" in card
    assert "holds the on-call of ML Team since handoff #1; ownership.yaml still names <@U07MAYA001>" in card
    assert "Last handoff: #1 on-call of ml" in card and "countersigned by <@U07OMAR001>" in card
    history = shown(owner(rb, "history model-quality", LEO))
    assert "signed as peer by <@U07SAM0001>" in history


def test_who_may_start_a_handoff(editable: tuple[RunningBaton, Path]) -> None:
    rb, _ = editable
    body = owner(rb, f"handoff model-quality <@{LI}|li>", SAM)
    assert body["text"].startswith(":warning: Only its holder (<@U07MAYA001>)")
    assert f"an admin (<@{JONAS}>)" in body["text"] and "accountable role of Model / Prompt" in body["text"]
    assert receipts(rb) == []
    # The area's A and admins may; a second handoff of the same role waits for the first.
    assert "Handoff #1" in owner(rb, f"handoff model-quality <@{LI}|li>", JONAS)["text"]
    assert "still waiting for signatures" in owner(rb, f"handoff model-quality <@{OMAR}|omar>", MAYA)["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("handoff", "Say which area and to whom"),
        ("handoff modle-quality @li", "Did you mean `model-quality`?"),
        ("handoff model-quality", "Name the new owner as @someone"),
        ("handoff model-quality responsible @li", "R is a team"),
        ("handoff model-quality @maya", "already holds the accountable role"),
        ("handoff model-quality @li peer @nobody-here", "There is no person `@nobody-here`. People: `maya`"),
        ("history nowhere", "There is no area `nowhere`. Areas:"),
    ],
)
def test_bad_handoff_input_says_what_would_be_right(
    editable: tuple[RunningBaton, Path], text: str, expected: str
) -> None:
    rb, _ = editable
    body = owner(rb, text, MAYA)
    assert body["text"].startswith(":warning:") and expected in body["text"], body["text"]
    assert receipts(rb) == []


def test_editing_the_file_to_match_retires_the_override(editable: tuple[RunningBaton, Path]) -> None:
    rb, ownership = editable
    owner(rb, f"handoff model-quality <@{LI}|li>", MAYA)
    click_sign(rb, LI, "1:incoming", dm_of=LI)
    assert rb.baton.ownership.raci("model-quality").accountable == "li"
    ownership.write_text(ownership.read_text().replace("    accountable: maya  ", "    accountable: li    "))
    assert rb.baton.reload() is None
    with session(rb.baton.engine) as s:
        assert s.exec(select(OwnerOverride)).all() == []
    assert len(receipts(rb)) == 1  # the edit only wrote down what the handoff had done
    assert rb.baton.ownership.raci("model-quality").accountable == "li"
    assert "ownership.yaml still names" not in shown(owner(rb, "model-quality", LEO))


def test_an_edit_of_the_file_opens_a_receipt_both_are_asked_to_sign(
    editable: tuple[RunningBaton, Path],
) -> None:
    rb, ownership = editable
    ownership.write_text(ownership.read_text().replace("    accountable: dana\n", "    accountable: kenji\n"))
    assert rb.baton.reload() is None
    (receipt,) = receipts(rb)
    assert (receipt.area, receipt.role, receipt.origin, receipt.from_user, receipt.to_user) == (
        "data",
        "accountable",
        "config",
        DANA,
        KENJI,
    )
    assert receipt.state == "pending" and receipt.outgoing_signed_at is None
    assert rb.baton.ownership.raci("data").accountable == "kenji"  # config takes effect at once
    assert ":warning: *Unsigned handoff* #1 accountable" in shown(owner(rb, "data", LEO))
    click_sign(rb, DANA, "1:outgoing", dm_of=DANA)
    assert "Unsigned handoff" in shown(owner(rb, "data", LEO))  # still one signature to go
    click_sign(rb, KENJI, "1:incoming", dm_of=KENJI)
    card = shown(owner(rb, "data", LEO))
    assert "Unsigned handoff" not in card and "Last handoff: #1 accountable" in card
    assert receipts(rb)[0].state == "signed"


def test_two_replicas_seeing_one_edit_open_one_receipt(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(SHIPPED_OWNERSHIP.read_text())
    env = {"BATON_OWNERSHIP_FILE": str(ownership), "BATON_SEVERITY_FILE": str(FAST_SEVERITY)}
    a, b = start_baton(fake_slack, db_url, **env), start_baton(fake_slack, db_url, **env)
    try:
        ownership.write_text(ownership.read_text().replace("    oncall: sam\n", "    oncall: priya\n"))
        barrier = threading.Barrier(2)

        def reload(rb: RunningBaton) -> None:
            barrier.wait()
            rb.baton.reload()

        threads = [threading.Thread(target=reload, args=(rb,)) for rb in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        found = receipts(a)
        assert [(r.area, r.role, r.team, r.from_ref, r.to_ref) for r in found] == [
            ("infra-deploy", "oncall", "platform", "sam", "priya")
        ]
    finally:
        a.stop()
        b.stop()


def cli(rb: RunningBaton, ownership: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **clean_env(),
        "DATABASE_URL": db_url,
        "BATON_OWNERSHIP_FILE": str(ownership),
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
        "SLACK_BOT_TOKEN": rb.fake.bot_token,
        "SLACK_API_URL": rb.fake.url,
    }
    return subprocess.run([BATON, *args], env=env, capture_output=True, text=True, timeout=60)


def _first_step(plan: str) -> str:
    """The ladder's first line (`+0s  page …`) of `baton plan`'s output."""
    return next(line for line in plan.splitlines() if line.lstrip().startswith("+0s"))


def test_plan_and_check_know_a_countersigned_handover_and_nudge_reminds(
    editable: tuple[RunningBaton, Path], db_url: str
) -> None:
    rb, ownership = editable
    owner(rb, f"handoff model-quality oncall <@{OMAR}|omar>", MAYA)
    # Pending: plan still pages maya first, and `baton nudge handoffs` reminds omar now.
    assert "+0s  page owner" in (plan := cli(rb, ownership, db_url, "plan", "P2", "model-quality")).stdout
    assert "maya <@U07MAYA001>" in _first_step(plan.stdout), plan.stdout
    nudged = cli(rb, ownership, db_url, "nudge", "handoffs")
    assert nudged.returncode == 0, nudged.stderr
    assert nudged.stdout.startswith(f"reminded <@{OMAR}>: :hourglass: Handoff #1")
    rb.fake.wait_for(
        lambda: any("still needs your signature" in m["text"] for m in rb.fake.dm_messages(OMAR))
    )

    click_sign(rb, OMAR, "1:incoming", dm_of=OMAR)
    plan = cli(rb, ownership, db_url, "plan", "P2", "model-quality")
    assert plan.returncode == 0, plan.stderr
    assert "omar <@U07OMAR001>" in _first_step(plan.stdout), plan.stdout
    line = next(i for i, t in enumerate(ownership.read_text().splitlines(), 1) if "oncall: maya" in t)
    note = (
        f"{ownership}:{line} teams.ml.oncall: names 'maya', but 'omar' holds the role since handoff #1 "
        "(countersigned in Slack): edit the file to match"
    )
    assert f"note: {note}" in plan.stdout
    check = cli(rb, ownership, db_url, "check")
    assert check.returncode == 0 and note in check.stdout, check.stdout + check.stderr
    assert "ok: no handoff is waiting" in cli(rb, ownership, db_url, "nudge", "handoffs").stdout


def test_a_request_to_sign_slack_refuses_is_reported_to_the_starter(
    editable: tuple[RunningBaton, Path],
) -> None:
    rb, _ = editable
    rb.fake.inject(
        "chat.postMessage", status=200, error="channel_not_found", when=lambda p: p.get("channel") == LI
    )
    assert "Handoff #1" in owner(rb, f"handoff model-quality <@{LI}|li>", MAYA)["text"]
    told = rb.fake.wait_for(
        lambda: next((m["text"] for m in rb.fake.dm_messages(MAYA) if "Could not send" in m["text"]), None),
        message="the starter is told",
    )
    assert told == (
        ":warning: Could not send handoff #1's request to sign to <@ULIE>: Slack chat.postMessage failed: "
        "channel_not_found. Tell them another way."
    )
