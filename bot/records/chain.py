"""Hash chains over the records people must be able to trust later.

Handoff receipts are chained per area and evidence per incident: each link's hash is taken over
the canonical encoding of its content and the previous link's hash, so changing any stored
field, deleting a link or reordering two shows in `baton verify` (bot/records/verify.py). With a
chain key (bot/store/chainkey.py) the hash is HMAC-SHA256 under the key, which whoever can write
the database cannot recompute; without one it is plain SHA-256, which they can.
Each chain has a head row (`chain_head`: "receipts:<area>", "evidence:<incident id>") holding
its last seq and hash: appending locks it, so two replicas never fork a chain, and a deleted
last link shows.

A stored link is changed only through :func:`amend_receipt`, which first checks it (and every
later link it re-seals) against its stored hash and refuses, changing nothing, when one does not
match: re-sealing an altered row would bless the alteration.

The canonical encoding (`canonical`) is JSON, UTF-8, with:
- object keys sorted by Unicode code point, no whitespace (`{"a":1,"b":[true,null]}`);
  keys must be strings (a JSON column would turn other keys into strings, breaking the hash);
- strings as UTF-8 (not `\\u` escapes), control characters, `"` and `\\` escaped as JSON does;
- integers in decimal, any size; a float with an integral value as that integer (`2.0` -> `2`:
  a database or JSON round trip may turn one into the other); any other finite float in
  Python's shortest round-trip form (`0.1`, `1e-07`); NaN and infinities are refused;
- times (`datetime`) as ISO-8601 UTC with microseconds and `Z`: `2026-11-29T09:00:00.000000Z`;
  a naive time is taken as UTC (no stored time is naive: bot/store/columns.py reads them aware);
- tuples as arrays; any other type is refused (TypeError), rather than hashed by some repr.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlmodel import Session, col, select

from bot.records import seal
from bot.store.chainkey import ChainKey
from bot.store.models import ChainHead, ChainSeal, Evidence, Receipt

log = logging.getLogger(__name__)

# The fields each link's hash covers: every stored column but id, prev_hash and hash. Listed,
# not read from the table, so a new column is a decision (tests/records/test_chain.py fails until it is
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
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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


def digest(content: Mapping[str, Any], prev_hash: str, key: ChainKey | None = None) -> str:
    """A link's hash, hex, over canonical({"content": content, "prev": prev_hash}): HMAC-SHA256
    under `key`, or plain SHA-256 without one."""
    data = canonical({"content": content, "prev": prev_hash})
    return key.mac(data) if key is not None else hashlib.sha256(data).hexdigest()


# The key each engine was configured with, set once at start (bot/records/rekey.py). Filed
# under the engine's dialect: an engine with other execution options (`reading()`) shares it,
# and a dispose() keeps it, where the pool would be replaced.
_keys: weakref.WeakKeyDictionary[Dialect, ChainKey] = weakref.WeakKeyDictionary()


def use_key(engine: Engine, key: ChainKey | None) -> None:
    """The key this Baton holds for `engine` (None: none); what a link is sealed with is read
    from the database's record each time one is written (:func:`sealed_with`)."""
    if key is None:
        _keys.pop(engine.dialect, None)
    else:
        _keys[engine.dialect] = key


def key_for(s: Session) -> ChainKey | None:
    """The key this Baton holds for the session's database."""
    return _keys.get(s.get_bind().dialect)


def sealed_with(s: Session) -> ChainKey | None:
    """What a link written in this transaction is sealed with: the record of the key as it is now
    (read after :func:`lock_head`, so `baton seal` cannot record a key in between), against the
    key this Baton holds. SealError, writing nothing, when they do not fit: a replica started
    without the key, or before the key was recorded, never writes a plain link into sealed chains."""
    row = s.get(ChainSeal, seal.SEAL_ID, populate_existing=True)
    return seal.for_writing(row, key_for(s))


def link_content(row: Receipt | Evidence) -> dict[str, Any]:
    return receipt_content(row) if isinstance(row, Receipt) else evidence_content(row)


def matches(row: Receipt | Evidence, key: ChainKey | None) -> bool:
    """Whether a stored link's content and previous-hash still give its stored hash."""
    try:
        return row.hash == digest(link_content(row), row.prev_hash or "", key)
    except (TypeError, ValueError):  # a stored field was changed into something unhashable
        return False


def describe(row: Receipt | Evidence) -> str:
    """ "receipt #12 (model-quality, seq 3)", "evidence #4 of incident #2 (seq 1)"."""
    if isinstance(row, Receipt):
        return f"receipt #{row.id} ({row.area}, seq {row.seq})"
    return f"evidence #{row.id} of incident #{row.incident_id} (seq {row.seq})"


class Tampered(Exception):
    """A stored link no longer matches its hash: it was changed outside Baton. Raised before
    anything was changed."""

    def __init__(self, row: Receipt | Evidence) -> None:
        self.row_id = row.id
        self.what = describe(row)
        super().__init__(f"{self.what} does not match its stored hash: it was changed outside Baton")


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
        # Before the head: `baton seal` holds this exclusively and then locks every head.
        s.execute(text("SELECT pg_advisory_xact_lock_shared(:id)"), {"id": seal.LOCK_ID})
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


def _append(s: Session, row: Receipt | Evidence, head_name: str) -> None:
    """Make `row` the next link of the chain `head_name` (seq, prev_hash, hash) and move the head,
    in the caller's transaction; the caller adds the row to the session and commits.

    An append rewrites no stored link, so it cannot bless an altered one: a chain that does not
    end where its head says is reported here and still extended (what a person recorded is never
    lost), chained to the head as it is, so `baton verify` goes on naming the break. SealError,
    writing nothing, when this Baton's key does not fit the database's record (:func:`sealed_with`)."""
    with s.no_autoflush:  # the row, if already added, is written once its seq is set
        head = lock_head(s, head_name)
        key = sealed_with(s)
        problem = _tail_problem(s, row, head, key)
        if problem is not None:
            log.error(
                "the chain %s does not end as its head records (%s); appending after the head as it is, "
                "so baton verify still names it",
                head_name,
                problem,
            )
        row.seq = head.seq + 1
        row.prev_hash = head.hash
        row.hash = digest(link_content(row), row.prev_hash, key)
        head.seq, head.hash = row.seq, row.hash
        s.add(head)


def _tail_problem(s: Session, row: Receipt | Evidence, head: ChainHead, key: ChainKey | None) -> str | None:
    """What is wrong with the chain's last stored link against its head, if anything."""
    last: Receipt | Evidence | None
    if isinstance(row, Receipt):
        query = select(Receipt).where(col(Receipt.area) == row.area).order_by(col(Receipt.seq).desc())
        last = s.exec(query.limit(1)).first()
    else:
        ev = select(Evidence).where(
            col(Evidence.incident_id) == row.incident_id, col(Evidence.seq).is_not(None)
        )
        last = s.exec(ev.order_by(col(Evidence.seq).desc()).limit(1)).first()
    if last is None:
        return None if head.seq == 0 else f"the head records {head.seq} links and none is stored"
    if (last.seq, last.hash) != (head.seq, head.hash):
        return f"the last stored link is {describe(last)}, the head records seq {head.seq}"
    if not matches(last, key):
        return f"{describe(last)} does not match its stored hash"
    return None


def append_receipt(s: Session, receipt: Receipt) -> None:
    """The next link of its area's receipt chain."""
    _append(s, receipt, receipts_head(receipt.area))


def append_evidence(s: Session, evidence: Evidence) -> None:
    """The next link of its incident's evidence chain."""
    _append(s, evidence, evidence_head(evidence.incident_id))


def amend_receipt(s: Session, receipt: Receipt, **values: Any) -> None:
    """Set `values` on a stored receipt (a signature, a note, a withdrawal) and re-seal it and
    every later receipt of its area, each chained to the one before, and the head; in the
    caller's transaction, which holds the chain's lock (:func:`lock_receipt_chain`) and the
    receipt's row lock.

    SealError, changing nothing, when this Baton's key does not fit the database's record
    (:func:`sealed_with`). Every receipt the re-seal rewrites is first checked against its
    stored hash: Tampered, with nothing changed, when one was altered outside Baton (re-sealing
    it would bless the change; `baton verify` goes on naming it). Its link to the receipt before
    stays as it is: a re-seal from earlier would change that hash, and that receipt is not touched.
    """
    head = lock_head(s, receipts_head(receipt.area))
    key = sealed_with(s)
    # populate_existing: the receipts as stored now, whatever this session loaded before.
    query = select(Receipt).where(col(Receipt.area) == receipt.area, col(Receipt.seq) >= receipt.seq)
    rows = s.exec(query.order_by(col(Receipt.seq)).execution_options(populate_existing=True)).all()
    assert rows and rows[0] is receipt, "amend_receipt takes a receipt loaded in this session"
    for row in rows:
        if not matches(row, key):
            log.error(
                "%s does not match its stored hash: it was changed outside Baton; refusing to change "
                "or re-seal it (baton verify names it)",
                describe(row),
            )
            raise Tampered(row)
    for name, value in values.items():
        setattr(receipt, name, value)
    prev = receipt.prev_hash
    for row in rows:
        row.prev_hash = prev
        row.hash = prev = digest(receipt_content(row), prev, key)
        s.add(row)
        if row.seq == head.seq:
            head.hash = row.hash
            s.add(head)
