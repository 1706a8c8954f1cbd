"""At start-up: which key seals the chains, and keying them the first time Baton runs with one.

Every Baton start (bot.app.runner.boot) calls :func:`start`. Without a key the chains stay plain
SHA-256 and one warning line says so and how to set a key. With a key on a database whose
chains are not keyed yet, each chain is checked as it is (plain SHA-256) and re-sealed under the
key, link by link, with its head; a chain that does not verify is left as it is, reported here,
and named by `baton verify` (re-sealing it would bless what was changed). The key's fingerprint
is recorded in the same transaction, so this happens once: replicas starting together take
turns on a lock (PostgreSQL: an advisory lock; SQLite: the write lock) and the later ones find
the record. If any link is already sealed with the key, the chains were keyed before and the
record of it was removed: nothing is re-sealed, the record is written back, and every plain link
stays a verify problem.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.records import chain, seal
from bot.records.seal import Sealing
from bot.records.verify import EVIDENCE, RECEIPTS, Kind, Link, Problem, check_chain
from bot.store.chainkey import HOW, ChainKey
from bot.store.db import reading, session
from bot.store.models import ChainHead, ChainSeal, Evidence, Receipt

log = logging.getLogger(__name__)

_LOCK_ID = 0x6261746F6E6B  # "batonk": any constant, the same in every replica

UNKEYED = (
    "the handoff and evidence chains are not keyed: their hashes are plain SHA-256, which whoever can "
    f"write the database can recompute. To key them, {HOW}, and restart (the chains are re-sealed once)."
)


@dataclass(frozen=True)
class Resealed:
    links: int
    chains: int
    left: list[Problem]  # chains that did not verify, left as they were
    keyed_before: bool = False  # links sealed with the key were found: nothing was re-sealed


def start(engine: Engine, key: ChainKey | None, *, where: str, now: datetime, say: bool = True) -> Sealing:
    """Seal what `engine` writes with `key`, keying the chains first if they are not yet;
    SealError (nothing changed) when the database's chains are sealed with another key, or with
    one and `key` is None. `say`: warn when there is no key (a server's start-up line; a one-off
    command such as `baton nudge` leaves it to the server)."""
    with reading(engine) as s:
        sealing = seal.sealing(seal.recorded(s), key, where)
    if key is None:
        chain.use_key(engine, None)
        if say:
            log.warning(UNKEYED)
        return sealing
    if not sealing.keyed:
        done = _key_chains(engine, key, where, now)
        if done is not None:
            _report(done, key)
    chain.use_key(engine, key)
    log.info("the handoff and evidence chains are sealed with HMAC-SHA256, key %s", key.fingerprint)
    return Sealing(key=key)


def _key_chains(engine: Engine, key: ChainKey, where: str, now: datetime) -> Resealed | None:
    """Re-seal every chain under `key` and record it, once across replicas; None when another
    replica did it first (SealError if with another key)."""
    with session(engine) as s:
        if engine.dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        row = seal.recorded(s)  # on SQLite this first statement takes the write lock
        if row is not None:
            seal.sealing(row, key, where)
            return None
        done = _reseal(s, key)
        s.add(ChainSeal(id=seal.SEAL_ID, key_fingerprint=key.fingerprint, sealed_at=now, resealed=done.links))
        s.commit()
    return done


def _report(done: Resealed, key: ChainKey) -> None:
    if done.keyed_before:
        log.error(
            "links sealed with this key (%s) were found, but the database had no record of the key: it was "
            "removed. Recorded it again; nothing was re-sealed, and baton verify names every link sealed "
            "without the key",
            key.fingerprint,
        )
        return
    if done.links == 0 and not done.left:
        log.info("the chains are empty: every link from now on is sealed with key %s", key.fingerprint)
        return
    log.warning(
        "keyed the handoff and evidence chains: re-sealed %d links in %d chains with HMAC-SHA256, key %s; "
        "anchors written before (baton export --heads) no longer match: write new ones",
        done.links,
        done.chains,
        key.fingerprint,
    )
    for problem in done.left:
        log.error("not keyed, left as it was because it does not verify: %s (baton verify names it)", problem)


def _reseal(s: Session, key: ChainKey) -> Resealed:
    links = chains = 0
    left: list[Problem] = []
    with s.no_autoflush:  # nothing is written until every chain was looked at
        for kind, name, rows, head in _chains(s):
            if any(chain.matches(row, key) for row in rows):
                s.expunge_all()  # the re-seals so far are never written
                return Resealed(0, 0, [], keyed_before=True)
            problem = check_chain(kind, name, [_link(row) for row in rows], head, Sealing(key=None))
            if problem is not None:
                left.append(problem)
                continue
            prev = ""
            for row in rows:
                row.prev_hash = prev
                row.hash = prev = chain.digest(chain.link_content(row), prev, key)
                s.add(row)
            if head is not None and rows:
                head.hash = prev
                s.add(head)
            links += len(rows)
            chains += 1 if rows else 0
    return Resealed(links, chains, left)


def _chains(s: Session) -> Iterator[tuple[Kind, str, list[Receipt] | list[Evidence], ChainHead | None]]:
    """Every chain: its links in order and its head, locked (an append elsewhere waits)."""
    areas = set(s.exec(select(Receipt.area).distinct()).all())
    incidents = set(s.exec(select(Evidence.incident_id).distinct()).all())
    names = {h for h in s.exec(select(ChainHead.name)).all()}
    names |= {chain.receipts_head(a) for a in areas} | {chain.evidence_head(i) for i in incidents}
    for name in sorted(names):
        head = s.exec(select(ChainHead).where(col(ChainHead.name) == name).with_for_update()).first()
        prefix, _, key = name.partition(":")
        if prefix == "receipts":
            receipts = s.exec(
                select(Receipt).where(col(Receipt.area) == key).order_by(col(Receipt.seq), col(Receipt.id))
            )
            yield RECEIPTS, name, list(receipts.all()), head
        elif prefix == "evidence" and key.isdigit():
            query = select(Evidence).where(col(Evidence.incident_id) == int(key))
            yield (
                EVIDENCE,
                name,
                list(s.exec(query.order_by(col(Evidence.seq), col(Evidence.id))).all()),
                head,
            )


def _link(row: Receipt | Evidence) -> Link:
    assert row.id is not None
    return Link(row.id, row.seq, row.prev_hash, row.hash, chain.link_content(row))
