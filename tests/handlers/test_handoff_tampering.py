"""Signing never launders tampering: before Baton changes a chained
row (a countersignature, a signature with a handover note, a withdrawal, the re-seal of every
later receipt) it checks the stored hash against the row's content and refuses, changing
nothing and saying so, when they differ; an append after an altered link is reported and still
recorded. `baton verify` keeps naming the altered row. Through signed HTTP requests to a running
Baton, on SQLite and PostgreSQL; the handover note and the withdrawal at a re-plan are in
tests/handlers/test_handover_modal.py and tests/oncall/test_handovers.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.records import verify
from bot.store.db import session
from bot.store.models import ChainHead, Evidence, OwnerOverride
from tests.conftest import RunningBaton, incident_channel
from tests.handlers.test_handoffs import click_sign, owner
from tests.handlers.test_incident_command import LEO, LI, MAYA, SAM
from tests.records.test_chain import EVIDENCE, RECEIPT, refusals, stored, tamper

DANA, KENJI = "U07DANA001", "U07KENJI01"


def test_a_receipt_altered_in_the_database_is_not_countersigned(
    editable: tuple[RunningBaton, Path], caplog: pytest.LogCaptureFixture
) -> None:
    rb, _ = editable
    engine = rb.baton.engine
    assert "Handoff #1" in owner(rb, f"handoff model-quality <@{LI}|li> back on Monday", MAYA)["text"]
    tamper(engine, RECEIPT, 1, to_ref="omar", note="maya asked omar to take it")
    before = stored(engine, 1)

    refused = click_sign(rb, LI, "1:incoming", dm_of=LI)
    assert refused["text"] == (
        ":warning: Handoff #1 cannot be signed: receipt #1 (model-quality, seq 1) does not match its stored "
        "hash: it was changed outside Baton, and a signature would re-seal it as if it were genuine. "
        "Nothing was signed; `baton verify` names it. Tell an admin."
    )
    after = stored(engine, 1)
    assert (after.hash, after.incoming_signed_at, after.state) == (before.hash, None, "pending")
    with session(engine) as s:
        assert s.exec(select(OwnerOverride)).all() == []
    assert rb.baton.ownership.raci("model-quality").accountable == "maya"
    (problem,) = verify.verify(engine)
    assert problem.row_id == 1 and "its content does not match its hash" in problem.text
    assert refusals(caplog, "receipt #1 (model-quality, seq 1)")


def test_a_signature_that_would_reseal_a_later_altered_receipt_is_refused(
    editable: tuple[RunningBaton, Path], caplog: pytest.LogCaptureFixture
) -> None:
    rb, path = editable
    engine = rb.baton.engine
    # Two receipts of the data area: an edit of its A (#1, both asked to sign), then a handoff
    # of its on-call in Slack (#2).
    path.write_text(path.read_text().replace("    accountable: dana\n", "    accountable: kenji\n"))
    assert rb.baton.reload() is None
    assert "Handoff #2" in owner(rb, f"handoff data oncall <@{KENJI}|kenji>", DANA)["text"]
    tamper(engine, RECEIPT, 2, note="dana said nothing")
    first = stored(engine, 1)

    refused = click_sign(rb, DANA, "1:outgoing", dm_of=DANA)
    assert refused["text"].startswith(
        ":warning: Handoff #1 cannot be signed: receipt #2 (data, seq 2) does not match its stored hash"
    )
    assert stored(engine, 1).hash == first.hash and stored(engine, 1).outgoing_signed_at is None
    (problem,) = verify.verify(engine)
    assert problem.row_id == 2
    assert refusals(caplog, "receipt #2 (data, seq 2)")


def test_evidence_after_an_altered_item_is_kept_and_the_break_reported(
    running: RunningBaton, caplog: pytest.LogCaptureFixture
) -> None:
    rb = running
    engine = rb.baton.engine
    assert "Declared" in rb.command("/incident", "P2 model-quality Refusals up", user_id=SAM).text
    ch = incident_channel(rb.fake)
    rb.command("/incident", "evidence refusal rate 12% since 14:05", user_id=MAYA, channel_id=ch.id)
    with session(engine) as s:
        (item,) = s.exec(select(Evidence)).all()
    tamper(engine, EVIDENCE, item.id or 0, text="refusal rate normal")

    rb.command("/incident", "evidence rollback of prompt v42 started", user_id=LEO, channel_id=ch.id)
    with session(engine) as s:
        rows = s.exec(select(Evidence).order_by(col(Evidence.seq))).all()
        head = s.get(ChainHead, "evidence:1")
    assert [r.text for r in rows] == ["refusal rate normal", "rollback of prompt v42 started"]
    assert head is not None and (head.seq, head.hash) == (2, rows[1].hash)
    assert any(
        r.levelno == logging.ERROR
        and r.getMessage().startswith("the chain evidence:1 does not end as its head")
        for r in caplog.records
    )
    (problem,) = verify.verify(engine)
    assert problem.row_id == item.id and "its content does not match its hash" in problem.text
