"""Which key seals the chains at start-up, and keying plain chains with `baton seal`.

Every Baton start (bot.app.runner.boot) calls :func:`start`. Without a key the chains stay plain
SHA-256 and one warning line says so and how to set a key. With a key and no record of one, a
start never re-seals anything: a database without links has the key recorded (a new database);
one whose links carry the key already had its record removed, which is written back (nothing
re-sealed, every plain link stays a verify problem); one with plain links is said to be unsealed
in one error line, and no link is written (chain.sealed_with refuses) until an admin runs
`baton seal`. A start that re-sealed plain links would bless them: whoever can write the
database would delete the record, rewrite links with plain hashes and wait for a restart.

`baton seal` (:func:`seal_command`) is the explicit, one-off keying: each chain is checked as it
is (plain SHA-256) and re-sealed under the key, link by link, with its head; a chain that does
not verify is left as it is, reported, and named by `baton verify`. The key's fingerprint is
recorded in the same transaction, so it happens once: runs and replicas take turns on a lock
(PostgreSQL: an exclusive advisory lock, which every link's writer shares; SQLite: the write
lock) and the later ones find the record.
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

UNKEYED = (
    "the handoff and evidence chains are not keyed: their hashes are plain SHA-256, which whoever can "
    f"write the database can recompute. To key them, {HOW}, run `baton seal` once, and restart."
)


@dataclass(frozen=True)
class Resealed:
    links: int
    chains: int
    left: list[Problem]  # chains that did not verify, left as they were
    keyed_before: bool = False  # links sealed with the key were found: nothing was re-sealed


def start(engine: Engine, key: ChainKey | None, *, where: str, now: datetime, say: bool = True) -> Sealing:
    """Check `key` against the database's record at start; SealError (nothing changed) when the
    chains are sealed with another key, or with one and `key` is None. `say`: warn when there is
    no key (a server's start-up line; a one-off command such as `baton nudge` leaves it to the
    server). Never re-seals a link (module docstring)."""
    with reading(engine) as s:
        sealing = seal.sealing(seal.recorded(s), key, where)
    chain.use_key(engine, key)
    if key is None:
        if say:
            log.warning(UNKEYED)
        return sealing
    if not sealing.keyed:
        found = _record_if_safe(engine, key, where, now)
        if found == "unsealed":
            log.error(unsealed_line(key, where))
            return sealing
        if found == "keyed before":
            log.error(
                "links sealed with this key (%s) were found, but the database had no record of the key: it "
                "was removed. Recorded it again; nothing was re-sealed, and baton verify names every link "
                "sealed without the key. Investigate who removed it",
                key.fingerprint,
            )
        elif found == "empty":
            log.info("the chains are empty: every link from now on is sealed with key %s", key.fingerprint)
    log.info("the handoff and evidence chains are sealed with HMAC-SHA256, key %s", key.fingerprint)
    return Sealing(key=key)


def unsealed_line(key: ChainKey, where: str) -> str:
    """The one line a start says when the key is set and the database's chains are not sealed."""
    return (
        f"the handoff and evidence chains in {where} are not sealed with the chain key (fingerprint "
        f"{key.fingerprint}): the database records no key. No receipt or evidence item is written until an "
        "admin runs `baton seal` once with this key (it checks each chain and seals those that verify). If "
        "they were sealed before, the record was removed: investigate first (baton verify --anchor FILE)"
    )


def _record_if_safe(engine: Engine, key: ChainKey, where: str, now: datetime) -> str:
    """Record `key` where that blesses no link: "empty" (no link at all), "keyed before" (links
    carry the key: the record is written back, nothing re-sealed); otherwise "unsealed", nothing
    written, or "recorded" when another replica or `baton seal` did it first."""
    with session(engine) as s:
        _lock(s)
        row = seal.recorded(s)  # on SQLite this first statement takes the write lock
        if row is not None:
            seal.sealing(row, key, where)
            return "recorded"
        chains = list(_chains(s))
        links = [link for _, _, rows, _ in chains for link in rows]
        if not links and all(head is None or head.seq == 0 for _, _, _, head in chains):
            found = "empty"
        elif any(chain.matches(link, key) for link in links):
            found = "keyed before"
        else:
            return "unsealed"
        s.add(ChainSeal(id=seal.SEAL_ID, key_fingerprint=key.fingerprint, sealed_at=now, resealed=0))
        s.commit()
        return found


def _lock(s: Session) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": seal.LOCK_ID})


def seal_chains(engine: Engine, key: ChainKey, where: str, now: datetime) -> Resealed | None:
    """`baton seal`: re-seal every chain that verifies under `key` and record it, once across
    runs and replicas; None when the key is recorded already (SealError if another one)."""
    with session(engine) as s:
        _lock(s)
        row = seal.recorded(s)  # on SQLite this first statement takes the write lock
        if row is not None:
            seal.sealing(row, key, where)
            return None
        done = _reseal(s, key)
        s.add(ChainSeal(id=seal.SEAL_ID, key_fingerprint=key.fingerprint, sealed_at=now, resealed=done.links))
        s.commit()
    return done


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
