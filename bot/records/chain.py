"""Hash chains over the records people must be able to trust later (PRODUCT.md §3).

Handoff receipts are chained per area and evidence per incident: each link's hash is SHA-256
over the canonical encoding of its content and the previous link's hash, so changing any stored
field, deleting a link or reordering two shows in `baton verify` (bot/records/verify.py).
Each chain has a head row (`chain_head`: "receipts:<area>", "evidence:<incident id>") holding
its last seq and hash: appending locks it, so two replicas never fork a chain, and a deleted
last link shows.

The canonical encoding (`canonical`) is JSON, UTF-8, with:
- object keys sorted by Unicode code point, no whitespace (`{"a":1,"b":[true,null]}`);
  keys must be strings (a JSON column would turn other keys into strings, breaking the hash);
- strings as UTF-8 (not `\\u` escapes), control characters, `"` and `\\` escaped as JSON does;
- integers in decimal, any size; a float with an integral value as that integer (`2.0` -> `2`:
  a database or JSON round trip may turn one into the other); any other finite float in
  Python's shortest round-trip form (`0.1`, `1e-07`); NaN and infinities are refused;
- times (`datetime`) as ISO-8601 UTC with microseconds and `Z`: `2026-11-29T09:00:00.000000Z`;
  a naive time is taken as UTC (SQLite returns stored times without their zone);
- tuples as arrays; any other type is refused (TypeError), rather than hashed by some repr.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from bot.store.models import ChainHead, Evidence, Receipt

log = logging.getLogger(__name__)

# The fields each link's hash covers: every stored column but id, prev_hash and hash. Listed,
# not read from the table, so a new column is a decision (tests/test_chain.py fails until it is
# listed here or deliberately left out) rather than a silent change to every old hash.
RECEIPT_FIELDS = (
    "area",
    "seq",
    "role",
    "team",
    "from_ref",
    "from_user",
    "to_ref",
    "to_user",
    "peer_user",
    "note",
    "origin",
    "started_by",
    "started_at",
    "snapshot",
    "outgoing_signed_by",
    "outgoing_signed_at",
    "incoming_signed_at",
    "peer_signed_at",
    "state",
)
EVIDENCE_FIELDS = (
    "incident_id",
    "seq",
    "at",
    "author",
    "kind",
    "text",
    "link",
    "source_channel",
    "source_ts",
    "message_author",
    "masked",
)


def canonical(value: Any) -> bytes:
    """The bytes a hash is taken over: see the module docstring for the exact encoding."""
    return json.dumps(
        _plain(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def _plain(value: Any) -> Any:
    """`value` as JSON-native types, encoded the one way `canonical` documents."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot hash a non-finite number ({value!r})")
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"cannot hash a mapping with a {type(key).__name__} key ({key!r})")
            out[key] = _plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    raise TypeError(f"cannot hash a {type(value).__name__} ({value!r})")


def utc(ts: datetime) -> datetime:
    """An aware UTC time; a naive one is taken as UTC already."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def digest(content: Mapping[str, Any], prev_hash: str) -> str:
    """A link's hash: SHA-256 (hex) over canonical({"content": content, "prev": prev_hash})."""
    return hashlib.sha256(canonical({"content": content, "prev": prev_hash})).hexdigest()


def receipt_content(r: Receipt) -> dict[str, Any]:
    """What a receipt's hash covers: every stored field but id, prev_hash and hash (area and seq
    too, so moving a receipt to another place in a chain shows)."""
    return {name: getattr(r, name) for name in RECEIPT_FIELDS}


def evidence_content(e: Evidence) -> dict[str, Any]:
    """What an evidence item's hash covers: every stored field but id, prev_hash and hash."""
    return {name: getattr(e, name) for name in EVIDENCE_FIELDS}


def receipts_head(area: str) -> str:
    return f"receipts:{area}"


def evidence_head(incident_id: int) -> str:
    return f"evidence:{incident_id}"


def lock_head(s: Session, name: str) -> ChainHead:
    """The chain's head, created if missing and locked for the rest of the caller's transaction.

    Two replicas creating the same head at once both succeed (insert-if-missing), then take
    turns on the row lock. On SQLite the transaction holds the database's write lock already
    (bot.store.db begins with BEGIN IMMEDIATE).
    """
    dialect = s.get_bind().dialect.name
    table = ChainHead.__table__  # type: ignore[attr-defined]
    if dialect == "postgresql":
        s.execute(postgresql.insert(table).values(name=name, seq=0, hash="").on_conflict_do_nothing())
    elif dialect == "sqlite":
        s.execute(sqlite.insert(table).values(name=name, seq=0, hash="").on_conflict_do_nothing())
    elif s.get(ChainHead, name) is None:  # pragma: no cover - Baton runs on SQLite or PostgreSQL
        s.add(ChainHead(name=name, seq=0, hash=""))
        s.flush()
    # populate_existing: a head this session loaded before must show what the lock waited for.
    query = select(ChainHead).where(col(ChainHead.name) == name).with_for_update()
    return s.exec(query.execution_options(populate_existing=True)).one()


def lock_receipt_chain(s: Session, area: str) -> ChainHead:
    """Lock an area's receipt chain. Lock order is the head, then receipts: a caller that is
    about to lock a receipt row (to sign it, then reseal) takes this first, or two signatures
    in one area at once could deadlock on PostgreSQL."""
    return lock_head(s, receipts_head(area))


def _utc_fields(row: Receipt | Evidence, names: tuple[str, ...]) -> None:
    # SQLite stores a time's wall-clock digits without its zone: store UTC, as the hash reads it.
    for name in names:
        value = getattr(row, name)
        if isinstance(value, datetime):
            setattr(row, name, utc(value))


def _append(s: Session, row: Receipt | Evidence, head_name: str, fields: tuple[str, ...]) -> None:
    """Make `row` the next link of the chain `head_name` (seq, prev_hash, hash) and move the head,
    in the caller's transaction; the caller adds the row to the session and commits."""
    with s.no_autoflush:  # the row, if already added, is written once its seq is set
        head = lock_head(s, head_name)
        _utc_fields(row, fields)
        row.seq = head.seq + 1
        row.prev_hash = head.hash
        content = receipt_content(row) if isinstance(row, Receipt) else evidence_content(row)
        row.hash = digest(content, row.prev_hash)
        head.seq, head.hash = row.seq, row.hash
        s.add(head)


def append_receipt(s: Session, receipt: Receipt) -> None:
    """The next link of its area's receipt chain."""
    _append(s, receipt, receipts_head(receipt.area), RECEIPT_FIELDS)


def append_evidence(s: Session, evidence: Evidence) -> None:
    """The next link of its incident's evidence chain."""
    _append(s, evidence, evidence_head(evidence.incident_id), EVIDENCE_FIELDS)


def reseal_receipts(s: Session, area: str, from_seq: int) -> None:
    """Rehash the receipt at `from_seq` (its signatures changed) and every later one of the area,
    each chained to the one before, and the head; in the caller's transaction.

    A later receipt whose stored hash no longer matches its own content was altered outside
    Baton: resealing stops before it, so the chain keeps showing it to `baton verify` instead
    of blessing it.
    """
    head = lock_head(s, receipts_head(area))
    s.flush()  # the caller's change to the receipt, so the reload below keeps it
    # populate_existing: receipts this session loaded before the lock are read again, as they are now.
    query = select(Receipt).where(col(Receipt.area) == area, col(Receipt.seq) >= from_seq)
    later = s.exec(query.order_by(col(Receipt.seq)).execution_options(populate_existing=True)).all()
    # Its link to the receipt before stays: only a reseal from earlier would change that hash.
    prev = later[0].prev_hash if later else ""
    for receipt in later:
        if receipt.seq != from_seq and digest(receipt_content(receipt), receipt.prev_hash) != receipt.hash:
            log.error(
                "receipt #%s (%s, seq %s) does not match its hash; not resealing it or later ones "
                "(baton verify names it)",
                receipt.id,
                area,
                receipt.seq,
            )
            return
        _utc_fields(receipt, RECEIPT_FIELDS)
        receipt.prev_hash = prev
        receipt.hash = prev = digest(receipt_content(receipt), prev)
        s.add(receipt)
        if receipt.seq == head.seq:
            head.hash = receipt.hash
            s.add(head)
