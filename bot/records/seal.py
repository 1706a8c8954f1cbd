"""Which key the hash chains (bot/records/chain.py) are sealed with.

The database records the fingerprint of the key (table chain_seal), never the key; no record
means plain SHA-256. What a Baton or `baton verify` may do follows from that record and the key
it was given:

| recorded   | key given      | links are                                  |
|------------|----------------|--------------------------------------------|
| none       | none           | plain SHA-256 (said at start and by verify) |
| none       | a key          | none written until `baton seal` (no links: sealed at start) |
| key K      | K              | HMAC-SHA256 under K                        |
| key K      | none, or not K | refused: naming both fingerprints          |

The record is read again under the chain's lock before every link is written (:func:`for_writing`),
not once at start: a replica started before the record was written, or without the key, never
writes a plain link into a sealed database. Plain links are keyed only by the explicit
`baton seal` (bot/records/rekey.py), never by a start: otherwise whoever can write the database
would delete the record, rewrite links with plain hashes and wait for a restart to bless them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.store.chainkey import HOW, ChainKey
from bot.store.models import ChainSeal

SEAL_ID = 1  # the one row of chain_seal
# PostgreSQL advisory lock: exclusive while the record is written (`baton seal`, a first start),
# shared by every transaction that writes a link (chain.lock_head), so the two take turns.
# Any constant, the same in every replica ("batonk").
LOCK_ID = 0x6261746F6E6B


class SealError(Exception):
    """The key given does not fit the chains in the database: the message names both
    fingerprints (never a key) and what to set."""


@dataclass(frozen=True)
class Sealing:
    """How the links in one database are to be checked and written."""

    key: ChainKey | None  # what every link must be sealed with; None: plain SHA-256
    # A configured key the database does not record yet (`baton seal` keys the chains with it):
    # links are still plain, and one sealed with this key is named as such.
    pending: ChainKey | None = None

    @property
    def keyed(self) -> bool:
        return self.key is not None

    def describe(self) -> str:
        return scheme_words(scheme_of(self))


def recorded(s: Session) -> ChainSeal | None:
    return s.get(ChainSeal, SEAL_ID)


def sealing(row: ChainSeal | None, key: ChainKey | None, where: str) -> Sealing:
    """How the chains of the database `where` (as people recognise it) are sealed, given `key`;
    SealError when the key is missing or another one."""
    if row is None:
        return Sealing(key=None, pending=key)
    if key is None:
        raise SealError(
            f"the chains in {where} are sealed with a key (fingerprint {row.key_fingerprint}) and no key "
            f"is set: {HOW}, with the key they were sealed with."
        )
    if key.fingerprint != row.key_fingerprint:
        raise SealError(
            f"{key.source} is a key with fingerprint {key.fingerprint}, but the chains in {where} are sealed "
            f"with the key of fingerprint {row.key_fingerprint}: set the key they were sealed with (under "
            "another key every link would fail `baton verify`)."
        )
    return Sealing(key=key)


def for_writing(row: ChainSeal | None, key: ChainKey | None) -> ChainKey | None:
    """What a link written now is sealed with, from the record as it is now and the key this
    Baton was given; SealError, writing nothing, when they do not fit: the database expects a key
    this Baton lacks, or this Baton has a key the chains are not sealed with yet."""
    if row is None:
        if key is None:
            return None
        raise SealError(
            f"the records' hash chains are not sealed with the chain key ({key.source}, fingerprint "
            f"{key.fingerprint}): the database records no key, so no link is written until an admin runs "
            "`baton seal` once with this key"
        )
    return sealing(row, key, "the database").key


def scheme_text(fingerprint: str | None) -> str:
    """How an anchor or the database names a sealing: "hmac-sha256:<fingerprint>" or "sha256"."""
    return f"hmac-sha256:{fingerprint}" if fingerprint else "sha256"


def scheme_of(s: Sealing) -> str:
    return scheme_text(s.key.fingerprint if s.key is not None else None)


def scheme_words(scheme: str) -> str:
    """scheme_text() as people read it: "HMAC-SHA256, key <fingerprint>" or "plain SHA-256"."""
    _, _, fingerprint = scheme.partition(":")
    return f"HMAC-SHA256, key {fingerprint}" if fingerprint else "plain SHA-256"
