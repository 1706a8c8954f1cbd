"""Keyed chains and anchors, through the installed `baton` command and
Baton's real start-up, on SQLite and PostgreSQL.

Three attacks by someone who can write the database and recompute plain SHA-256 with their own
code: (1) rewrite an item and recompute its hash and every later one's, and the head; (2) delete
the last item and move the head back; (3) delete an incident's evidence together with its chain
head. Without a key or an anchor `baton verify` passes all three (the limit the README states).
The key catches (1) (the rewritten link is not sealed with it); only an anchor written earlier by
`baton export --heads` catches (2) and (3), and (1) too. What was appended after the last anchor
can still be cut back unseen, key or not.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.app.runner import boot
from bot.config.loader import load_config
from bot.incidents.errors import IncidentError
from bot.records import chain, evidence
from bot.records.seal import SealError
from bot.slack.standin import FakeSlack
from bot.store.chainkey import ChainKey
from bot.store.db import session, shown
from bot.store.models import ChainHead, ChainSeal, Evidence
from bot.store.runtime import Baton
from bot.store.settings import Settings, SettingsError
from tests.conftest import (
    BATON,
    CHAIN_KEY,
    SHIPPED_OWNERSHIP,
    add_people,
    clean_env,
    serve,
    serve_env,
    settings_for,
)
from tests.records.test_chain import EVIDENCE, LEO, MAYA, RECEIPT, add_receipts, declare
from tests.slack.test_slack_check import Lines, add_workspace

HEAD = sa.table("chain_head", sa.column("name"), sa.column("seq"), sa.column("hash"))
OTHER_KEY = "another-chain-key-abcdefghijklmnopqrstuvwxyz"
FINGERPRINT = ChainKey(CHAIN_KEY.encode(), "test").fingerprint


# -- the attacker's own code: plain SHA-256 over the canonical encoding the README documents -----


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def attacker_hash(content: dict[str, Any], prev: str) -> str:
    data = json.dumps(
        {"content": _plain(content), "prev": prev}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def rewrite(engine: Engine, table: sa.Table, row_id: int, **values: Any) -> None:
    """Attack 1: change a link, then recompute its hash, every later link's and the head's."""
    receipts = table.name == "receipt"
    fields = chain.RECEIPT_FIELDS if receipts else chain.EVIDENCE_FIELDS
    owner = table.c.area if receipts else table.c.incident_id
    with engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))
        row = conn.execute(sa.select(table).where(table.c.id == row_id)).mappings().one()
        later = conn.execute(
            sa.select(table).where(owner == row[owner.name], table.c.seq >= row["seq"]).order_by(table.c.seq)
        ).mappings()
        prev = row["prev_hash"]
        for link in later.all():
            prev_now, prev = prev, attacker_hash({f: link[f] for f in fields}, prev)
            conn.execute(
                sa.update(table).where(table.c.id == link["id"]).values(prev_hash=prev_now, hash=prev)
            )
        name = f"receipts:{row['area']}" if receipts else f"evidence:{row['incident_id']}"
        conn.execute(sa.update(HEAD).where(HEAD.c.name == name).values(hash=prev))


def cut_last(engine: Engine, table: sa.Table, name: str) -> None:
    """Attack 2: delete a chain's last link and move its head back to the link before."""
    owner = table.c.area if table.name == "receipt" else table.c.incident_id
    key: Any = name.split(":", 1)[1] if table.name == "receipt" else int(name.split(":", 1)[1])
    with engine.begin() as conn:
        links = conn.execute(
            sa.select(table.c.id, table.c.hash).where(owner == key).order_by(table.c.seq)
        ).all()
        conn.execute(sa.delete(table).where(table.c.id == links[-1].id))
        conn.execute(
            sa.update(HEAD).where(HEAD.c.name == name).values(seq=len(links) - 1, hash=links[-2].hash)
        )


def delete_evidence(engine: Engine, incident: int) -> None:
    """Attack 3: delete an incident's evidence together with its chain head."""
    with engine.begin() as conn:
        conn.execute(sa.delete(EVIDENCE).where(EVIDENCE.c.incident_id == incident))
        conn.execute(sa.delete(HEAD).where(HEAD.c.name == f"evidence:{incident}"))


# -- the records, and the command -----------------------------------------------------------------


@dataclass
class Records:
    baton: Baton
    url: str
    cwd: Path
    receipts: list[int]
    evidence: dict[int, list[int]]  # incident -> ids

    @property
    def engine(self) -> Engine:
        return self.baton.engine

    def verify(self, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        return baton(self.url, self.cwd, "verify", *args, key=key)

    def anchor(self, name: str = "heads.json") -> Path:
        path = self.cwd / name
        done = baton(self.url, self.cwd, "export", "--heads", "-o", str(path))
        assert done.returncode == 0, done.stderr
        return path


def baton(url: str, cwd: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "DATABASE_URL": url}
    if key is not None:
        env["BATON_CHAIN_KEY"] = key
    return subprocess.run([BATON, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def start(fake: FakeSlack, db_url: str, key: str | None) -> Baton:
    """Baton's start-up (bot.app.runner.boot), with or without a chain key."""
    env = {"BATON_CHAIN_KEY": key} if key else {}
    settings = settings_for(fake, db_url, **env)
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    return boot(settings, config)


def record(baton: Baton, cwd: Path) -> Records:
    """Three receipts of model-quality; two evidence items each of incidents 1 and 2."""
    receipts = add_receipts(baton.engine, "model-quality", 3)
    items: dict[int, list[int]] = {}
    for title in ("Refusals up", "Latency up"):
        number = declare(baton, title)
        for who, text in ((MAYA, f"{title}: first look"), (LEO, f"{title}: graph attached")):
            added = evidence.add(baton=baton, number=number, author=who, text=text)
            items.setdefault(number, []).append(added.evidence.id or 0)
    return Records(baton, baton.settings.database_url, cwd, receipts, items)


@pytest.fixture(params=["unkeyed", "keyed"])
def made(
    request: pytest.FixtureRequest, fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> Iterator[Records]:
    """The records, by a Baton without a key and by one with a key."""
    rb = start(fake_slack, db_url, CHAIN_KEY if request.param == "keyed" else None)
    yield record(rb, tmp_path)
    rb.engine.dispose()


@pytest.fixture
def keyed(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[Records]:
    """The records, by a Baton with a key."""
    rb = start(fake_slack, db_url, CHAIN_KEY)
    yield record(rb, tmp_path)
    rb.engine.dispose()


def problems(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1, (result.stdout, result.stderr)
    return result.stderr.splitlines()[:-1]


# -- the three attacks ----------------------------------------------------------------------------


def test_the_three_attacks_against_the_key_and_the_anchor(made: Records) -> None:
    keyed = made.baton.settings.chain_key is not None
    key = CHAIN_KEY if keyed else None
    ok = made.verify(key=key)
    assert ok.returncode == 0, ok.stderr
    assert ("HMAC-SHA256, key " + FINGERPRINT if keyed else "(plain SHA-256)") in ok.stdout
    anchor = made.anchor()
    assert made.verify("--anchor", str(anchor), key=key).returncode == 0

    mq = made.receipts
    rewrite(made.engine, RECEIPT, mq[1], note="nothing was handed over", to_ref="omar")
    cut_last(made.engine, EVIDENCE, "evidence:1")
    delete_evidence(made.engine, 2)

    # Without the anchor: only the key sees anything, and only the rewrite.
    alone = made.verify(key=key)
    if keyed:
        assert problems(alone) == [
            f"receipt #{mq[1]} (model-quality, 2nd in its chain): it is sealed with plain SHA-256, not with "
            "the chain key: it was written without the key, or rewritten by someone who recomputed the hashes"
        ]
    else:
        assert alone.returncode == 0, alone.stderr  # all three undetectable: the README says so
        assert "ok: 3 receipts in 1 chain and 1 evidence item in 1 chain match their hashes" in alone.stdout

    # With the anchor written before: each attack is named, one line per chain.
    against = problems(made.verify("--anchor", str(anchor), key=key))
    written = json.loads(anchor.read_text())["written_at"]
    where = f"the anchor {anchor} (written {written})"
    rewritten = (
        f"receipt #{mq[1]} (model-quality, 2nd in its chain): it is sealed with plain SHA-256, not with the "
        "chain key: it was written without the key, or rewritten by someone who recomputed the hashes"
        if keyed
        else f"receipt #{mq[2]} (model-quality, 3rd in its chain): its hash is not the one anchored in "
        f"{where} (the chain was rewritten up to it, its hashes recomputed)"
    )
    assert sorted(against) == sorted(
        [
            rewritten,
            f"the evidence items of incident #1 are shorter than anchored: {where} records 2, the database 1 "
            "(the last 1 evidence item deleted and the chain head moved back)",
            f"the evidence items of incident #2 are missing: {where} records 2 evidence items, the database "
            "none, nor their chain head (deleted)",
        ]
    )


def test_what_was_added_after_the_last_anchor_can_still_be_cut_back_unseen(made: Records) -> None:
    keyed = made.baton.settings.chain_key is not None
    key = CHAIN_KEY if keyed else None
    anchor = made.anchor()
    evidence.add(baton=made.baton, number=1, author=LEO, text="added after the anchor")
    cut_last(made.engine, EVIDENCE, "evidence:1")
    result = made.verify("--anchor", str(anchor), key=key)
    assert result.returncode == 0, result.stderr


def test_an_anchor_of_another_sealing_is_named_and_still_counts_chains(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    made = record(start(fake_slack, db_url, None), tmp_path)
    anchor = made.anchor()
    made.engine.dispose()
    sealed = baton(made.url, tmp_path, "seal", key=CHAIN_KEY)  # keys the chains: every hash changes
    assert sealed.returncode == 0, sealed.stderr
    delete_evidence(made.engine, 2)
    found = problems(made.verify("--anchor", str(anchor), key=CHAIN_KEY))
    assert found[0] == (
        f"the anchor {anchor} was written when the chains were sealed with plain SHA-256; they are "
        f"now sealed with HMAC-SHA256, key {FINGERPRINT}: its hashes cannot be compared, only that no "
        "chain is missing or shorter. If `baton seal` keyed them after the anchor was written, that is "
        "why; if not, investigate."
    )
    assert "new anchor" not in "\n".join(found)  # an attacker's state never becomes the new truth
    assert found[1].startswith("the evidence items of incident #2 are missing")
    assert len(found) == 2


# -- keying plain chains: only `baton seal`, never a start --------------------------------------


def rewrite_all_plain(made: Records) -> None:
    """The attacker's laundering: rewrite every chain from its first link with plain hashes."""
    rewrite(made.engine, RECEIPT, made.receipts[0], note="nothing was handed over")
    for items in made.evidence.values():
        rewrite(made.engine, EVIDENCE, items[0], text="all fine")


def test_a_removed_record_and_plain_rewrite_are_never_re_sealed_by_a_start(
    keyed: Records, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with keyed.engine.begin() as conn:
        conn.execute(sa.delete(ChainSeal.__table__))  # type: ignore[attr-defined]
    rewrite_all_plain(keyed)
    caplog.set_level(logging.INFO)
    again = start(fake_slack, keyed.url, CHAIN_KEY)
    try:
        said = [r.getMessage() for r in caplog.records if r.name == "bot.records.rekey"]
        assert said == [
            f"the handoff and evidence chains in {shown(keyed.url)} are not sealed with the chain key "
            f"(fingerprint {FINGERPRINT}): the database records no key. No receipt or evidence item is "
            "written until an admin runs `baton seal` once with this key (it checks each chain and seals "
            "those that verify). If they were sealed before, the record was removed: investigate first "
            "(baton verify --anchor FILE)"
        ]
        with pytest.raises(IncidentError, match="not sealed with the chain key .* `baton seal`"):
            evidence.add(baton=again, number=1, author=LEO, text="while unsealed")
        with session(again.engine) as s:
            assert s.get(ChainSeal, 1) is None  # nothing recorded, nothing re-sealed
    finally:
        again.engine.dispose()
    found = problems(keyed.verify(key=CHAIN_KEY))
    assert found[0] == (
        f"the chains in {shown(keyed.url)} are not sealed with the chain key (fingerprint {FINGERPRINT}): "
        "the database records no key, and Baton writes no receipt or evidence with the key until they are. "
        "If they were never sealed, run `baton seal` once with this key; if they were, the record of the "
        "key was removed: investigate (baton verify --anchor FILE) instead of sealing"
    )


def test_baton_seal_keys_plain_chains_once_and_leaves_one_that_does_not_verify(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    made = record(start(fake_slack, db_url, None), tmp_path)
    altered = made.evidence[2][1]
    with made.engine.begin() as conn:
        conn.execute(sa.update(EVIDENCE).where(EVIDENCE.c.id == altered).values(text="all fine"))
    made.engine.dispose()
    keyed = start(fake_slack, db_url, CHAIN_KEY)  # running, unsealed: writes nothing yet
    try:
        with pytest.raises(IncidentError):
            evidence.add(baton=keyed, number=1, author=LEO, text="before sealing")
        no_key = baton(made.url, tmp_path, "seal")
        assert no_key.returncode == 2 and no_key.stderr.startswith(
            "baton: baton seal needs the chain key: set"
        )
        sealed = baton(made.url, tmp_path, "seal", key=CHAIN_KEY)
        assert sealed.returncode == 1, sealed.stderr
        where = shown(made.url)
        assert sealed.stdout == (
            f"ok: sealed 5 links in 2 chains of {where} with HMAC-SHA256, key {FINGERPRINT}, and recorded "
            "the key's fingerprint; anchors written before this have other hashes: write a new one now "
            "(baton export --heads)\n"
        )
        left, total = sealed.stderr.splitlines()
        assert left.startswith(f"not sealed, left as it was because it does not verify: evidence #{altered}")
        assert total == "baton: 1 chain left unsealed; `baton verify` names it"
        assert CHAIN_KEY not in sealed.stdout + sealed.stderr
        with session(keyed.engine) as s:
            row = s.get(ChainSeal, 1)
            assert row is not None and (row.key_fingerprint, row.resealed) == (FINGERPRINT, 5)
        # The running Baton reads the record per link: it writes again, keyed, without a restart.
        evidence.add(baton=keyed, number=1, author=LEO, text="after sealing")
        once_more = baton(made.url, tmp_path, "seal", key=CHAIN_KEY)
        assert (once_more.returncode, once_more.stdout) == (
            0,
            f"ok: the chains in {where} are sealed with HMAC-SHA256, key {FINGERPRINT} already\n",
        )
        other = baton(made.url, tmp_path, "seal", key=OTHER_KEY)
        assert other.returncode == 2 and f"sealed with the key of fingerprint {FINGERPRINT}" in other.stderr
    finally:
        keyed.engine.dispose()
    (problem,) = problems(made.verify(key=CHAIN_KEY))
    assert problem.startswith(f"evidence #{altered} of incident #2 (2nd in its chain): its content does not")


def test_baton_seal_run_at_once_by_three_keys_the_chains_once(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    made = record(start(fake_slack, db_url, None), tmp_path)
    made.engine.dispose()
    runs = [
        subprocess.Popen(
            [BATON, "seal"],
            env={**clean_env(), "DATABASE_URL": made.url, "BATON_CHAIN_KEY": CHAIN_KEY},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outs
    said = sorted(out for out, _ in outs)
    assert sum(line.startswith("ok: sealed 7 links in 3 chains") for line in said) == 1, said
    assert sum(line.endswith(f"key {FINGERPRINT} already\n") for line in said) == 2, said
    result = made.verify(key=CHAIN_KEY)
    assert result.returncode == 0, result.stderr


def test_a_missing_or_other_key_is_refused_naming_both_fingerprints(
    keyed: Records, fake_slack: FakeSlack
) -> None:
    other = ChainKey(OTHER_KEY.encode(), "test").fingerprint
    with pytest.raises(SettingsError) as missing:
        start(fake_slack, keyed.url, None)
    assert f"are sealed with a key (fingerprint {FINGERPRINT}) and no key is set: set BATON_CHAIN_KEY" in str(
        missing.value
    )
    with pytest.raises(SettingsError) as wrong:
        start(fake_slack, keyed.url, OTHER_KEY)
    assert str(wrong.value).startswith(
        f"BATON_CHAIN_KEY is a key with fingerprint {other}, but the chains in "
    )
    assert f"are sealed with the key of fingerprint {FINGERPRINT}: set the key they were sealed with" in str(
        wrong.value
    )
    assert OTHER_KEY not in str(wrong.value)
    for key, expected in ((None, f"(fingerprint {FINGERPRINT}) and no key is set"), (OTHER_KEY, other)):
        result = keyed.verify(key=key)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert keyed.verify(key=CHAIN_KEY).returncode == 0  # nothing was changed by the refusals


def test_a_removed_record_of_the_key_is_written_back_and_nothing_re_sealed(
    keyed: Records, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    with keyed.engine.begin() as conn:
        conn.execute(sa.delete(ChainSeal.__table__))  # type: ignore[attr-defined]
    rewrite(keyed.engine, EVIDENCE, keyed.evidence[1][1], text="nothing to see")
    again = start(fake_slack, keyed.url, CHAIN_KEY)
    again.engine.dispose()
    assert any(r.getMessage().startswith("links sealed with this key") for r in caplog.records)
    (problem,) = problems(keyed.verify(key=CHAIN_KEY))
    assert problem.startswith(
        f"evidence #{keyed.evidence[1][1]} of incident #1 (2nd in its chain): it is sealed with plain"
    )


# -- the settings and the command line -----------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"BATON_CHAIN_KEY": "short"},
            "the chain key in BATON_CHAIN_KEY is 5 characters; it must be at least 32",
        ),
        (
            {"BATON_CHAIN_KEY": CHAIN_KEY, "BATON_CHAIN_KEY_FILE": "/etc/baton/key"},
            "both BATON_CHAIN_KEY and BATON_CHAIN_KEY_FILE are set: set one of them, not both.",
        ),
        (
            {"BATON_CHAIN_KEY_FILE": "/nonexistent/key"},
            "BATON_CHAIN_KEY_FILE=/nonexistent/key cannot be read",
        ),
    ],
)
def test_a_key_that_cannot_be_used_is_refused_by_name(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env, require_slack=False)
    assert str(refused.value).startswith(expected)
    result = subprocess.run(
        [BATON, "verify"],
        env={**clean_env(), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stderr.startswith(f"baton: {expected}"), result.stderr


def test_a_key_file_is_read_and_the_key_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "chain.key"
    path.write_text(CHAIN_KEY + "\n")
    settings = Settings.from_env({"BATON_CHAIN_KEY_FILE": str(path)}, require_slack=False)
    assert settings.chain_key is not None and settings.chain_key.fingerprint == FINGERPRINT
    assert CHAIN_KEY not in repr(settings) and CHAIN_KEY not in repr(settings.chain_key)
    assert (
        repr(settings.chain_key)
        == f"ChainKey(fingerprint='{FINGERPRINT}', source='BATON_CHAIN_KEY_FILE ({path})')"
    )


def test_serve_says_at_start_when_the_chains_are_unkeyed(tmp_path: Path) -> None:
    with FakeSlack() as fake:
        add_people(fake, SHIPPED_OWNERSHIP)
        fake.add_channel("ai-backlog", channel_id="C07BACKLOG")
        add_workspace(fake)
        env = serve_env(fake, tmp_path)
        out = Lines(serve(env, tmp_path))
        try:
            fake.wait_for(lambda: out.having("listening for Slack"), timeout=30)
        finally:
            lines = out.stop()
        keyed = Lines(serve({**env, "BATON_CHAIN_KEY": CHAIN_KEY}, tmp_path))
        try:
            fake.wait_for(lambda: keyed.having("listening for Slack"), timeout=30)
        finally:
            keyed_lines = keyed.stop()
    (line,) = [line for line in lines if "not keyed" in line]
    assert line.endswith(
        "WARNING bot.records.rekey: the handoff and evidence chains are not keyed: their hashes are plain "
        "SHA-256, which whoever can write the database can recompute. To key them, set BATON_CHAIN_KEY to a "
        "random secret of at least 32 characters (e.g. the output of `openssl rand -hex 32`), or "
        "BATON_CHAIN_KEY_FILE to the path of a file holding one, run `baton seal` once, and restart."
    )
    assert not [line for line in keyed_lines if "not keyed" in line]
    assert any(f"sealed with HMAC-SHA256, key {FINGERPRINT}" in line for line in keyed_lines)
    assert not any(CHAIN_KEY in line for line in lines + keyed_lines)


def test_export_heads_writes_every_head_and_a_bad_anchor_is_one_line(made: Records) -> None:
    path = made.anchor("anchor.json")
    data = json.loads(path.read_text())
    keyed = made.baton.settings.chain_key is not None
    assert data["baton_chain_heads"] == 1 and data["sealed_with"] == (
        f"hmac-sha256:{FINGERPRINT}" if keyed else "sha256"
    )
    with session(made.engine) as s:
        heads = {h.name: (h.seq, h.hash) for h in s.exec(select(ChainHead)).all()}
    assert [(h["name"], h["seq"]) for h in data["heads"]] == [
        ("evidence:1", 2),
        ("evidence:2", 2),
        ("receipts:model-quality", 3),
    ]
    assert {h["name"]: (h["seq"], h["hash"]) for h in data["heads"]} == heads
    printed = baton(made.url, made.cwd, "export", "--heads")
    assert printed.returncode == 0 and json.loads(printed.stdout)["heads"] == data["heads"]

    bad = made.cwd / "bad.json"
    bad.write_text('{"heads": []}')
    key = CHAIN_KEY if keyed else None
    for file, expected in (
        (bad, f"baton: {bad} is not an anchor written by `baton export --heads`"),
        (made.cwd / "none.json", f"baton: cannot read the anchor {made.cwd / 'none.json'} (No such file"),
    ):
        result = made.verify("--anchor", str(file), key=key)
        assert result.returncode == 2 and result.stderr.startswith(expected), result.stderr
        assert len(result.stderr.splitlines()) == 1
    note = made.cwd / "note.md"
    wrote = baton(made.url, made.cwd, "export", "1", "-o", str(note))
    assert (wrote.returncode, wrote.stdout) == (0, "")
    assert note.read_text() == baton(made.url, made.cwd, "export", "1").stdout
    both = baton(made.url, made.cwd, "export", "3", "--heads")
    assert both.returncode == 2 and "--heads writes every chain's head" in both.stderr


# -- placeholders ---------------------------------------------------------

# What the README shows where a key goes, and keys that are examples or plainly not random (all
# but the unexpanded command as long as a key must be, which was all the check asked before).
PLACEHOLDER_KEYS = [
    ("your-chain-key-here-0123456789abcdef", "is still an example value (it has the word 'your'"),
    ("changeme-4f9a1c07d2e85b36-a1b2c3d4e5", "is still an example value (it has the word 'changeme'"),
    ("changeme" * 5, "is not a random secret (a run of 8 characters repeated)"),
    ("x" * 40, "is still an example value (it has 'x's where the real value goes)"),
    ("k" * 40, "is not a random secret (one character repeated)"),
    ("0123456789abcdef" * 2, "is not a random secret (a run of 16 characters repeated)"),
    ("ab" * 10 + "ba" * 10, "is not a random secret (made of only 2 different characters)"),
    ("${BATON_CHAIN_KEY_FROM_THE_VAULT_GOES_HERE}", "is a variable or template that was never filled in"),
    ("$(openssl rand -hex 32)", "is a variable or template that was never filled in"),
    ("openssl rand -base64 48, as the README says", "is the command that makes a key, not its"),
]


@pytest.mark.parametrize(("value", "said"), PLACEHOLDER_KEYS)
def test_a_placeholder_chain_key_is_one_line_and_exit_2_before_anything_else(
    tmp_path: Path, value: str, said: str
) -> None:
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, BATON_CHAIN_KEY=value)
        out = subprocess.run(
            [BATON, "serve"],
            env={**clean_env(), **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert fake.calls == []  # refused before Slack was asked anything
    assert not (tmp_path / "baton.db").exists()  # nor the database touched
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert lines[0].startswith(f"baton: the chain key in BATON_CHAIN_KEY {said}"), lines[0]
    assert lines[0].endswith(
        "set BATON_CHAIN_KEY to a random secret of at least 32 characters (e.g. the output of `openssl "
        "rand -hex 32`), or BATON_CHAIN_KEY_FILE to the path of a file holding one."
    )
    assert value not in out.stderr + out.stdout
    key_file = tmp_path / "chain.key"
    key_file.write_text(value + "\n")
    verify = subprocess.run(
        [BATON, "verify"],
        env={**clean_env(), "BATON_CHAIN_KEY_FILE": str(key_file), "DATABASE_URL": env["DATABASE_URL"]},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 2, verify.stderr
    assert verify.stderr.startswith(f"baton: the chain key in the file BATON_CHAIN_KEY_FILE names {said}")


def test_every_chain_key_the_readme_shows_is_refused() -> None:
    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    shown = [v for page in pages for v in re.findall(r"BATON_CHAIN_KEY=([^\s`]+)", page.read_text())]
    assert shown, "the README or docs/ show where the key goes"
    for value in shown:
        with pytest.raises(SettingsError, match="BATON_CHAIN_KEY"):
            Settings.from_env({"BATON_CHAIN_KEY": value}, require_slack=False)


# -- every link is sealed as the database records, whichever replica writes it ------------------


def test_a_replica_without_the_key_writes_no_plain_link_once_the_database_is_sealed(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    # Two replicas on one new database: one started without the key, then one with it (which
    # records the key: there is nothing to re-seal). The sealing is decided per link, not at start.
    plain = start(fake_slack, db_url, None)
    keyed = start(fake_slack, db_url, CHAIN_KEY)
    try:
        number = declare(keyed, "Refusals up")
        evidence.add(baton=keyed, number=number, author=MAYA, text="first look")
        with pytest.raises(IncidentError) as refused:
            evidence.add(baton=plain, number=number, author=LEO, text="written without the key")
        said = str(refused.value)
        assert said.startswith(f"Nothing was added to #{number}'s evidence: the chains in the database are ")
        assert f"sealed with a key (fingerprint {FINGERPRINT}) and no key is set: set BATON_CHAIN_KEY" in said
        with pytest.raises(SealError, match=f"fingerprint {FINGERPRINT}"):
            add_receipts(plain.engine, "model-quality", 1)
        chain.use_key(plain.engine, ChainKey(OTHER_KEY.encode(), "BATON_CHAIN_KEY"))  # another key
        with pytest.raises(IncidentError, match=f"sealed with the key of fingerprint {FINGERPRINT}"):
            evidence.add(baton=plain, number=number, author=LEO, text="written with another key")
        evidence.add(baton=keyed, number=number, author=LEO, text="graph attached")
        add_receipts(keyed.engine, "model-quality", 2)
        with session(keyed.engine) as s:
            texts = [e.text for e in s.exec(select(Evidence).order_by(col(Evidence.seq))).all()]
        assert texts == ["first look", "graph attached"]
    finally:
        plain.engine.dispose()
        keyed.engine.dispose()
    result = baton(keyed.settings.database_url, tmp_path, "verify", key=CHAIN_KEY)
    assert result.returncode == 0, result.stderr
    assert "2 receipts in 1 chain and 2 evidence items in 1 chain" in result.stdout
