"""`baton verify`, the installed command against a real database, SQLite and
PostgreSQL: exit 0 on an untouched database; exit 1 naming the first receipt or evidence item
that fails when a stored field was altered, a row deleted (in the middle, the last) or two rows
swapped; exit 2, in one line, when there is no database to read."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from bot.app.ticker import Ticker
from bot.records import evidence
from bot.store.clock import FakeClock
from bot.store.db import alembic_config, make_engine
from bot.store.models import ChainHead, Evidence, Receipt
from bot.store.runtime import Baton
from tests.conftest import BATON, clean_env, closed_port
from tests.records.test_chain import LEO, LI, MAYA, SAM, T0, add_receipts, countersign, declare

RECEIPT = Receipt.__table__  # type: ignore[attr-defined]
EVIDENCE = Evidence.__table__  # type: ignore[attr-defined]
HEAD = ChainHead.__table__  # type: ignore[attr-defined]


@dataclass
class Records:
    """What the fixture recorded: receipt ids by area in chain order, evidence ids of incident 1."""

    url: str
    engine: Engine
    receipts: dict[str, list[int]]
    evidence: list[int]
    tmp_path: Path

    def verify(self) -> subprocess.CompletedProcess[str]:
        return run_verify(self.url, self.tmp_path)

    def change(self, table: sa.Table, row_id: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))

    def delete(self, table: sa.Table, row_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.id == row_id))

    def swap(self, table: sa.Table, a: int, b: int, names: tuple[str, ...]) -> None:
        """Exchange those columns between two rows (seq through a free value: receipts' (area,
        seq) is unique)."""
        with self.engine.begin() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    sa.select(table.c.id, *(table.c[n] for n in names)).where(table.c.id.in_([a, b]))
                )
            }
            if "seq" in names:
                conn.execute(sa.update(table).where(table.c.id == a).values(seq=-1))
            for this, other in ((b, a), (a, b)):
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == this)
                    .values(**{n: getattr(rows[other], n) for n in names})
                )


def run_verify(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, "verify"],
        env={**clean_env(), "DATABASE_URL": url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The problem lines: every line of stderr but the closing count."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("baton: ") and "failed verification" in lines[-1], lines
    return lines[:-1]


@pytest.fixture
def records(clocked: tuple[Baton, Ticker, FakeClock], tmp_path: Path) -> Iterator[Records]:
    """Four receipts of model-quality (the 2nd countersigned), two of data; four evidence items
    of incident 1 (a text, a link, a Slack message, a masked text) and one of incident 2."""
    baton, _, clock = clocked
    mq = add_receipts(baton.engine, "model-quality", 4)
    countersign(baton.engine, mq[1], T0 + timedelta(days=1))
    data = add_receipts(baton.engine, "data", 2)
    one, two = declare(baton), declare(baton, "Latency up")
    ids = []
    for author, text, extra in (
        (MAYA, "refusal rate 12% since 14:05", {}),
        (LEO, "<https://grafana.example.com/d/llm>", {}),
        (
            SAM,
            "rollback of prompt v42 started",
            {"source_channel": "C0INC1", "source_ts": "1.000100", "message_author": LI},
        ),
        (MAYA, "customer jane.doe@example.com saw it", {}),
    ):
        clock.advance(timedelta(minutes=3))
        added = evidence.add(baton=baton, number=one, author=author, text=text, **extra)
        assert added.evidence.id is not None
        ids.append(added.evidence.id)
    evidence.add(baton=baton, number=two, author=LEO, text="p95 at 7s")
    yield Records(
        url=baton.settings.database_url,
        engine=baton.engine,
        receipts={"model-quality": mq, "data": data},
        evidence=ids,
        tmp_path=tmp_path,
    )


def test_an_untouched_database_verifies(records: Records) -> None:
    result = records.verify()
    assert (result.returncode, result.stderr) == (0, "")
    ok, note = result.stdout.splitlines()
    assert (
        ok == "ok: 6 receipts in 2 chains and 5 evidence items in 2 chains match their hashes (plain SHA-256)"
    )
    assert note == (
        "note: the chains are not keyed: their hashes are plain SHA-256, which whoever can write the "
        "database can recompute. To key them, set BATON_CHAIN_KEY to a random secret of at least 32 "
        "characters (e.g. the output of `openssl rand -hex 32`), or BATON_CHAIN_KEY_FILE to the path of a "
        "file holding one, run `baton seal` once, and set it for `baton serve` and `baton verify`."
    )


# -- receipts ------------------------------------------------------------------------------------

ALTERED_RECEIPT = {
    "note": "nothing happened",
    "to_user": "U0MALLORY1",
    "from_ref": "li",
    "incoming_signed_at": T0 + timedelta(days=2),  # a signature time
    "outgoing_signed_by": "U0MALLORY1",
    "peer_signed_at": T0,  # a signature that was never given
    "snapshot": {"open_incidents": [], "readiness": {"score": 17, "of": 17}, "runbook": "https://wiki/x"},
    "state": "pending",
    "started_at": T0 - timedelta(days=30),
    "prev_hash": "0" * 64,
    "hash": "f" * 64,
}


@pytest.mark.parametrize("column", ALTERED_RECEIPT)
def test_an_altered_receipt_field_names_that_receipt(records: Records, column: str) -> None:
    second = records.receipts["model-quality"][1]
    records.change(RECEIPT, second, **{column: ALTERED_RECEIPT[column]})
    assert problems(records.verify()) == [
        f"receipt #{second} (model-quality, 2nd in its chain): its content does not match its hash "
        "(a stored field was changed)"
    ]


def test_a_receipt_deleted_in_the_middle_names_the_one_after_it(records: Records) -> None:
    mq = records.receipts["model-quality"]
    records.delete(RECEIPT, mq[1])
    assert problems(records.verify()) == [
        f"receipt #{mq[2]} (model-quality, 3rd in its chain): the 2nd receipt of model-quality before it "
        "is missing (deleted)"
    ]


def test_the_first_receipt_deleted_names_the_one_after_it(records: Records) -> None:
    data = records.receipts["data"]
    records.delete(RECEIPT, data[0])
    assert problems(records.verify()) == [
        f"receipt #{data[1]} (data, 2nd in its chain): the 1st receipt of data before it is missing (deleted)"
    ]


def test_the_last_receipt_deleted_shows_against_the_chain_head(records: Records) -> None:
    records.delete(RECEIPT, records.receipts["model-quality"][3])
    assert problems(records.verify()) == [
        "the last receipt of model-quality (4th) is missing (the chain head records 4; deleted)"
    ]


def test_every_receipt_of_an_area_deleted_shows(records: Records) -> None:
    for row_id in records.receipts["data"]:
        records.delete(RECEIPT, row_id)
    assert problems(records.verify()) == [
        "all 2 receipts of data are missing (the chain head records 2; deleted)"
    ]


def test_two_receipts_with_their_places_swapped_name_the_first_out_of_place(records: Records) -> None:
    mq = records.receipts["model-quality"]
    records.swap(RECEIPT, mq[1], mq[2], ("seq",))
    # In chain order the 2nd place now holds the receipt that was 3rd.
    assert problems(records.verify()) == [
        f"receipt #{mq[2]} (model-quality, 2nd in its chain): its content does not match its hash "
        "(a stored field was changed)"
    ]


def test_two_receipts_with_their_contents_swapped_name_the_first(records: Records) -> None:
    mq = records.receipts["model-quality"]
    records.swap(RECEIPT, mq[1], mq[2], ("note", "started_at", "snapshot", "incoming_signed_at", "state"))
    assert problems(records.verify()) == [
        f"receipt #{mq[1]} (model-quality, 2nd in its chain): its content does not match its hash "
        "(a stored field was changed)"
    ]


def test_a_changed_chain_head_shows(records: Records) -> None:
    with records.engine.begin() as conn:
        conn.execute(sa.update(HEAD).where(HEAD.c.name == "receipts:data").values(hash="0" * 64))
    last = records.receipts["data"][1]
    assert problems(records.verify()) == [
        f"receipt #{last} (data, 2nd in its chain): the chain head records another hash for the last receipt "
        "(the last receipt was replaced, or the head was changed)"
    ]


# -- evidence ------------------------------------------------------------------------------------

ALTERED_EVIDENCE = {
    "text": "all fine",
    "author": "U0MALLORY1",
    "at": T0 + timedelta(days=1),
    "kind": "link",
    "link": "https://elsewhere.example.com/",
    "source_channel": "C0OTHER01",
    "source_ts": "2.000200",
    "message_author": "U0MALLORY1",
    "masked": {},  # hide that something was masked
}


@pytest.mark.parametrize("column", ALTERED_EVIDENCE)
def test_an_altered_evidence_field_names_that_item(records: Records, column: str) -> None:
    # The 3rd item is the Slack message and the 4th had an e-mail masked: alter the one whose
    # field is set, so every change is a change.
    index = 3 if column == "masked" else 2
    row_id = records.evidence[index]
    records.change(EVIDENCE, row_id, **{column: ALTERED_EVIDENCE[column]})
    place = {2: "3rd", 3: "4th"}[index]
    assert problems(records.verify()) == [
        f"evidence #{row_id} of incident #1 ({place} in its chain): its content does not match its hash "
        "(a stored field was changed)"
    ]


def test_evidence_deleted_in_the_middle_names_the_item_after_it(records: Records) -> None:
    records.delete(EVIDENCE, records.evidence[1])
    assert problems(records.verify()) == [
        f"evidence #{records.evidence[2]} of incident #1 (3rd in its chain): the 2nd evidence item of "
        "incident #1 before it is missing (deleted)"
    ]


def test_the_last_evidence_item_deleted_shows_against_the_chain_head(records: Records) -> None:
    records.delete(EVIDENCE, records.evidence[3])
    assert problems(records.verify()) == [
        "the last evidence item of incident #1 (4th) is missing (the chain head records 4; deleted)"
    ]


def test_two_evidence_items_with_their_places_swapped_name_the_first_out_of_place(records: Records) -> None:
    ev = records.evidence
    records.swap(EVIDENCE, ev[0], ev[1], ("seq",))
    assert problems(records.verify()) == [
        f"evidence #{ev[1]} of incident #1 (1st in its chain): its content does not match its hash "
        "(a stored field was changed)"
    ]


def test_two_evidence_items_with_their_contents_swapped_name_the_first(records: Records) -> None:
    ev = records.evidence
    records.swap(EVIDENCE, ev[1], ev[2], ("text", "author", "kind", "link"))
    assert problems(records.verify()) == [
        f"evidence #{ev[1]} of incident #1 (2nd in its chain): its content does not match its hash "
        "(a stored field was changed)"
    ]


def test_a_problem_in_each_chain_is_named_once_per_chain(records: Records) -> None:
    mq, ev = records.receipts["model-quality"], records.evidence
    records.change(RECEIPT, mq[0], note="rewritten")
    records.change(RECEIPT, mq[2], note="rewritten too")  # later in the same chain: not named
    records.change(EVIDENCE, ev[3], text="rewritten")
    found = problems(records.verify())
    assert len(found) == 2
    assert found[0].startswith(f"receipt #{mq[0]} (model-quality, 1st in its chain): its content")
    assert found[1].startswith(f"evidence #{ev[3]} of incident #1 (4th in its chain): its content")


# -- when there is nothing to verify -------------------------------------------------------------


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    result = run_verify(f"sqlite:///{path}", tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"baton: no database at {path} (DATABASE_URL=sqlite:///{path}): point DATABASE_URL at Baton's "
        "database, or start `baton serve` once to create it."
    ]
    assert not path.exists()


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    with closed_port() as port:
        result = run_verify(f"postgresql://baton:secret-pw@127.0.0.1:{port}/baton", tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"baton: cannot connect to the database at 127.0.0.1:{port} (connection refused)")
    assert "secret-pw" not in line


def test_a_database_baton_has_not_upgraded_is_refused_until_it_is(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    engine.dispose()
    result = run_verify(db_url, tmp_path)
    assert result.returncode == 2
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"has schema revision 0005 and this Baton {head}: start `baton serve`" in result.stderr
    assert len(result.stderr.splitlines()) == 1
