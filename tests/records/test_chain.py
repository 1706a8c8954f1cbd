"""Hash chains: the canonical encoding, receipts chained per area and resealed
after a signature, evidence chained per incident through the real service (also when added at
once from two threads or two replicas), and the migration that chains evidence made before,
on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.app.ticker import Ticker
from bot.incidents import services as incidents
from bot.records import chain, evidence
from bot.records.verify import verify
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import alembic_config, make_engine, session, upgrade
from bot.store.models import ChainHead, Evidence, Receipt
from bot.store.policy import Policy
from bot.store.runtime import Baton
from tests.conftest import FAST_SEVERITY, RunningBaton, early_incident_table, start_baton

MAYA, LI, LEO, SAM = "U07MAYA001", "ULIE", "U07LEO0002", "U07SAM0001"
RECEIPT = Receipt.__table__  # type: ignore[attr-defined]
EVIDENCE = Evidence.__table__  # type: ignore[attr-defined]
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

# -- helpers, also used by tests/records/test_verify.py --------------------------------------------------


def new_receipt(area: str, n: int, at: datetime = T0) -> Receipt:
    """A Slack handoff receipt as the handoff service opens it: signed by its starter only."""
    return Receipt(
        area=area,
        seq=0,
        role="accountable",
        from_ref="maya",
        from_user=MAYA,
        to_ref="li",
        to_user=LI,
        note=f"handover {n}: refusal spike under watch",
        origin="slack",
        started_by=MAYA,
        started_at=at,
        snapshot={"open_incidents": [n], "readiness": {"score": 9, "of": 17}, "runbook": "https://wiki/x"},
        outgoing_signed_by=MAYA,
        outgoing_signed_at=at,
        state="pending",
    )


def add_receipts(engine: Engine, area: str, n: int) -> list[int]:
    """n receipts of an area, each appended in its own transaction; ids in chain order."""
    ids = []
    for i in range(n):
        with session(engine) as s:
            r = new_receipt(area, i + 1, T0 + timedelta(hours=i))
            chain.append_receipt(s, r)
            s.add(r)
            s.commit()
            assert r.id is not None
            ids.append(r.id)
    return ids


def countersign(engine: Engine, receipt_id: int, at: datetime) -> None:
    """What a countersignature does to the chain: the receipt changes, the chain is resealed.
    The chain is locked before the receipt (the lock order amend_receipt relies on)."""
    with session(engine) as s:
        area = s.exec(select(Receipt.area).where(col(Receipt.id) == receipt_id)).one()
        chain.lock_receipt_chain(s, area)
        query = select(Receipt).where(col(Receipt.id) == receipt_id).with_for_update()
        r = s.exec(query.execution_options(populate_existing=True)).one()
        chain.amend_receipt(s, r, incoming_signed_at=at, state="signed")
        s.commit()


def tamper(engine: Engine, table: sa.Table, row_id: int, **values: Any) -> None:
    """What someone with write access to the database does: change a row, leave its hash."""
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))


def stored(engine: Engine, receipt_id: int) -> Receipt:
    with session(engine) as s:
        row = s.get(Receipt, receipt_id)
        assert row is not None
        return row


def refusals(caplog: pytest.LogCaptureFixture, what: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR and r.getMessage().startswith(f"{what} does not match its stored hash")
    ]


def receipts(engine: Engine, area: str) -> list[Receipt]:
    with session(engine) as s:
        query = select(Receipt).where(col(Receipt.area) == area).order_by(col(Receipt.seq))
        return list(s.exec(query).all())


def evidence_rows(engine: Engine, number: int) -> list[Evidence]:
    with session(engine) as s:
        query = select(Evidence).where(col(Evidence.incident_id) == number).order_by(col(Evidence.seq))
        return list(s.exec(query).all())


def head(engine: Engine, name: str) -> ChainHead | None:
    with session(engine) as s:
        return s.get(ChainHead, name)


def declare(baton: Baton, title: str = "Refusals up") -> int:
    inc = incidents.declare(baton=baton, severity="P2", area="model", title=title, reporter=SAM)
    assert inc.id is not None
    return inc.id


def assert_linked(rows: list[Any], last: ChainHead | None) -> None:
    """seq 1..n, each prev_hash the hash before, each hash its content's, the head on the last."""
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    prev = ""
    for r in rows:
        content = chain.receipt_content(r) if isinstance(r, Receipt) else chain.evidence_content(r)
        assert r.prev_hash == prev
        assert r.hash == chain.digest(content, prev)
        prev = r.hash
    assert last is not None and (last.seq, last.hash) == (len(rows), prev)


# -- the canonical encoding ----------------------------------------------------------------------


def test_canonical_sorts_keys_compact_and_utf8() -> None:
    got = chain.canonical({"b": 1, "a": {"d": [1, "Übergabe"], "c": None, "B": True}})
    assert got == '{"a":{"B":true,"c":null,"d":[1,"Übergabe"]},"b":1}'.encode()
    assert "Ü".encode() in got and b"\\u" not in got  # UTF-8 bytes, not \u escapes
    assert chain.canonical({"a": 1, "b": 2}) == chain.canonical({"b": 2, "a": 1})
    assert chain.canonical({"t": ("x", "y")}) == chain.canonical({"t": ["x", "y"]})


def test_canonical_times_are_iso_8601_utc() -> None:
    london_winter = timezone(timedelta(hours=1))
    assert (
        chain.canonical(datetime(2026, 11, 29, 10, 0, tzinfo=london_winter))
        == b'"2026-11-29T09:00:00.000000Z"'
    )
    assert (
        chain.canonical(datetime(2026, 11, 29, 9, 0, 0, 250, tzinfo=UTC)) == b'"2026-11-29T09:00:00.000250Z"'
    )
    # SQLite hands back stored times without their zone: naive means UTC.
    assert chain.canonical(datetime(2026, 11, 29, 9, 0)) == chain.canonical(
        datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    )


def test_canonical_numbers_have_one_encoding_and_odd_values_are_refused() -> None:
    got = chain.canonical({"big": 10**30, "half": 0.5, "tenth": 0.1, "whole": 2.0, "tiny": 1e-7, "neg": -3})
    assert (
        got
        == b'{"big":1000000000000000000000000000000,"half":0.5,"neg":-3,"tenth":0.1,"tiny":1e-07,"whole":2}'
    )
    assert chain.canonical(2.0) == chain.canonical(2)  # a JSON round trip may turn one into the other
    for odd in (float("nan"), float("inf"), {1: "int key"}, {"s": {1, 2}}, Decimal("1.5"), b"bytes"):
        with pytest.raises((TypeError, ValueError)):
            chain.canonical(odd)


PINNED_CONTENT = (
    "{'area': 'model-quality', 'seq': 1, 'note': 'Übergabe', "
    "'at': datetime(2026, 11, 29, 9, 0, tzinfo=UTC), 'snapshot': {'score': 0.5, 'open': [7, 9]}}"
)
PINNED_BYTES = (
    '{"content":{"area":"model-quality","at":"2026-11-29T09:00:00.000000Z","note":"Übergabe",'
    '"seq":1,"snapshot":{"open":[7,9],"score":0.5}},"prev":""}'
).encode()
PINNED_DIGEST = "878031253eac00afa41ba68d8a6396a423a0df4b4e30afc133e6842c74b6d8eb"


def test_digest_is_sha256_of_the_canonical_bytes_and_the_same_in_every_process() -> None:
    assert hashlib.sha256(PINNED_BYTES).hexdigest() == PINNED_DIGEST
    script = (
        "from datetime import datetime, UTC\nfrom bot.records import chain\n"
        f"c = {PINNED_CONTENT}\n"
        "print(chain.canonical({'content': c, 'prev': ''}).hex(), chain.digest(c, ''))"
    )
    seen = set()
    for seed in ("1", "2", "random"):  # another hash seed orders sets and dicts' internals differently
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        seen.add((bytes.fromhex(out[0]), out[1]))
    assert seen == {(PINNED_BYTES, PINNED_DIGEST)}


def test_the_hash_covers_every_stored_column_but_id_and_the_chain_links() -> None:
    for model, fields in ((Receipt, chain.RECEIPT_FIELDS), (Evidence, chain.EVIDENCE_FIELDS)):
        columns = {c.name for c in model.__table__.columns}  # type: ignore[attr-defined]
        assert set(fields) == columns - {"id", "prev_hash", "hash"}, model.__name__


# -- receipts ------------------------------------------------------------------------------------


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    upgrade(e)
    yield e
    e.dispose()


def test_receipts_chain_per_area_and_a_countersignature_reseals_that_one_and_later(engine: Engine) -> None:
    ids = add_receipts(engine, "model-quality", 3)
    add_receipts(engine, "data", 1)
    before = receipts(engine, "model-quality")
    assert_linked(before, head(engine, "receipts:model-quality"))
    assert_linked(receipts(engine, "data"), head(engine, "receipts:data"))  # its own chain, from 1

    countersign(engine, ids[1], T0 + timedelta(days=1))
    after = receipts(engine, "model-quality")
    assert after[1].incoming_signed_at == T0 + timedelta(days=1)
    assert_linked(after, head(engine, "receipts:model-quality"))
    assert after[0].hash == before[0].hash  # the receipts before it keep their hashes
    assert after[1].hash != before[1].hash and after[2].hash != before[2].hash
    assert verify(engine) == []


def test_countersignatures_at_once_in_one_area_each_reseal_the_chain(engine: Engine) -> None:
    ids = add_receipts(engine, "model-quality", 5)
    errors = _at_once(4, lambda i: countersign(engine, ids[i], T0 + timedelta(days=1, minutes=i)))
    assert errors == []
    rows = receipts(engine, "model-quality")
    assert [r.state for r in rows] == ["signed"] * 4 + ["pending"]
    assert_linked(rows, head(engine, "receipts:model-quality"))
    assert verify(engine) == []


def test_a_reseal_does_not_bless_a_receipt_altered_outside_baton(engine: Engine) -> None:
    ids = add_receipts(engine, "model-quality", 3)
    with engine.begin() as conn:
        conn.execute(
            sa.update(Receipt.__table__).where(Receipt.__table__.c.id == ids[2]).values(note="nothing to see")
        )  # type: ignore[attr-defined]
    before = receipts(engine, "model-quality")
    # Re-sealing from the 1st would rewrite the altered 3rd: refused, nothing changed.
    with pytest.raises(chain.Tampered, match=f"receipt #{ids[2]} \\(model-quality, seq 3\\) does not match"):
        countersign(engine, ids[0], T0 + timedelta(days=1))
    after = receipts(engine, "model-quality")
    assert [(r.hash, r.incoming_signed_at) for r in after] == [(r.hash, r.incoming_signed_at) for r in before]
    (problem,) = verify(engine)
    assert problem.row_id == ids[2]
    assert "its content does not match its hash" in problem.text


def test_times_in_another_zone_are_stored_and_hashed_as_utc(engine: Engine) -> None:
    with session(engine) as s:
        r = new_receipt("data", 1, datetime(2026, 11, 29, 10, 0, tzinfo=timezone(timedelta(hours=1))))
        chain.append_receipt(s, r)
        s.add(r)
        s.commit()
    (stored,) = receipts(engine, "data")
    assert stored.started_at == T0 and stored.started_at.tzinfo is UTC
    assert verify(engine) == []


# -- evidence, through the real service ----------------------------------------------------------


def test_evidence_is_chained_per_incident_and_a_repeated_message_adds_no_link(
    clocked: tuple[Baton, Ticker, FakeClock],
) -> None:
    baton, _, clock = clocked
    one, two = declare(baton), declare(baton, "Latency up")
    evidence.add(baton=baton, number=one, author=MAYA, text="refusal rate 12% since 14:05")
    clock.advance(timedelta(minutes=1))
    evidence.add(baton=baton, number=two, author=LEO, text="<https://grafana.example.com/d/llm>")
    message = {"source_channel": "C0INC1", "source_ts": "1764406800.000100", "message_author": LI}
    first = evidence.add(
        baton=baton, number=one, author=SAM, text="rollback started, ring me +44 20 7946 0958", **message
    )
    again = evidence.add(baton=baton, number=one, author=MAYA, text="rollback started", **message)
    assert not first.already and again.already and again.evidence.id == first.evidence.id

    rows = evidence_rows(baton.engine, one)
    assert [r.kind for r in rows] == ["text", "message"]
    assert "+44 20 7946 0958" not in rows[1].text  # masked before it was hashed and stored
    assert_linked(rows, head(baton.engine, "evidence:1"))
    assert_linked(evidence_rows(baton.engine, two), head(baton.engine, "evidence:2"))
    assert verify(baton.engine) == []


def _at_once(n: int, work: Callable[[int], object]) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as e:  # collected and asserted by the caller
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_evidence_added_at_once_from_threads_never_forks_the_chain(
    clocked: tuple[Baton, Ticker, FakeClock],
) -> None:
    baton, _, _ = clocked
    number = declare(baton)

    def add_five(i: int) -> None:
        for k in range(5):
            evidence.add(baton=baton, number=number, author=MAYA, text=f"thread {i} item {k}")

    assert _at_once(4, add_five) == []
    rows = evidence_rows(baton.engine, number)
    assert len(rows) == 20
    assert_linked(rows, head(baton.engine, f"evidence:{number}"))
    assert verify(baton.engine) == []


def test_the_same_message_added_at_once_is_kept_once_and_chained_once(
    clocked: tuple[Baton, Ticker, FakeClock],
) -> None:
    baton, _, _ = clocked
    number = declare(baton)
    results: list[evidence.Added] = []

    def add(i: int) -> None:
        results.append(
            evidence.add(
                baton=baton,
                number=number,
                author=MAYA,
                text="the message",
                source_channel="C1",
                source_ts="1.000001",
            )
        )

    assert _at_once(4, add) == []
    assert sorted(r.already for r in results) == [False, True, True, True]
    rows = evidence_rows(baton.engine, number)
    assert len(rows) == 1
    assert_linked(rows, head(baton.engine, f"evidence:{number}"))


@pytest.fixture
def replicas(fake_slack: FakeSlack, db_url: str) -> Iterator[tuple[RunningBaton, RunningBaton]]:
    a = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    b = start_baton(fake_slack, db_url, BATON_SEVERITY_FILE=str(FAST_SEVERITY))
    yield a, b
    a.stop()
    b.stop()


def test_two_replicas_adding_evidence_at_once_never_fork_the_chain(
    replicas: tuple[RunningBaton, RunningBaton],
) -> None:
    a, b = replicas
    assert "Declared" in a.command("/incident", "P1 model-quality Refusals up", user_id=LEO).text

    def send(i: int) -> None:
        rb = (a, b)[i % 2]
        for k in range(3):
            resp = rb.command("/incident", f"evidence #1 replica {i % 2} item {i}.{k}", user_id=MAYA)
            assert resp.status_code == 200 and ":warning:" not in resp.text, resp.text

    assert _at_once(4, send) == []
    rows = evidence_rows(a.baton.engine, 1)
    assert len(rows) == 12
    assert_linked(rows, head(a.baton.engine, "evidence:1"))
    assert verify(a.baton.engine) == []


# -- evidence recorded before chaining: migration 0006 -------------------------------------------


def test_the_migration_chains_evidence_recorded_before_chaining(db_url: str) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    incident = early_incident_table()
    table = Evidence.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        for n in (1, 2):
            conn.execute(
                sa.insert(incident).values(
                    id=n,
                    title=f"old {n}",
                    area="model-quality",
                    severity="P1",
                    state="open",
                    backlog=False,
                    declared_by=SAM,
                    declared_at=T0,
                    policy=Policy(),
                    breached=False,
                    setup_done=[],
                )
            )
        # Interleaved: incident 1 gets ids 1, 3, 4 and incident 2 ids 2, 5.
        for i, n in enumerate((1, 2, 1, 1, 2)):
            conn.execute(
                sa.insert(table).values(
                    incident_id=n,
                    at=T0 + timedelta(minutes=i),
                    author=MAYA,
                    kind="text",
                    text=f"old evidence {i} — ünïcode",
                    masked={"email": 1} if i == 3 else {},
                )
            )
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c.seq.is_not(None))
            ).scalar()
            == 0
        )

    upgrade(engine)  # to head: 0006 chains them
    one, two = evidence_rows(engine, 1), evidence_rows(engine, 2)
    assert [r.id for r in one] == [1, 3, 4] and [r.id for r in two] == [2, 5]  # seq follows id
    assert_linked(one, head(engine, "evidence:1"))
    assert_linked(two, head(engine, "evidence:2"))
    assert verify(engine) == []

    # New evidence continues the chain the migration started.
    with session(engine) as s:
        row = Evidence(
            incident_id=1, at=T0 + timedelta(hours=1), author=LEO, kind="text", text="new", masked={}
        )
        chain.append_evidence(s, row)
        s.add(row)
        s.commit()
    assert_linked(evidence_rows(engine, 1), head(engine, "evidence:1"))
    assert [r.seq for r in evidence_rows(engine, 1)] == [1, 2, 3, 4]
    assert verify(engine) == []
    engine.dispose()
