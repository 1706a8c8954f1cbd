"""chain the evidence recorded before evidence was chained (data only)

Each unchained evidence row gets its seq (by id within its incident), prev_hash and hash, after
whatever its incident's chain already holds, and the chain heads are written, hashed as
bot/records/chain.py hashed a link at this revision (frozen below: plain SHA-256, no key; a key
came later and `baton seal` keys plain chains), so `baton verify` passes on an upgraded database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The tables as this revision knows them (Core, not the models: a later revision may add
# columns the models would then ask for).
_evidence = sa.table(
    "evidence",
    sa.column("id", sa.Integer()),
    *(sa.column(name, sa.Integer()) for name in ("incident_id", "seq")),
    sa.column("at", sa.DateTime(timezone=True)),
    *(sa.column(name, sa.Text()) for name in ("author", "kind", "text", "link", "source_channel")),
    *(sa.column(name, sa.Text()) for name in ("source_ts", "message_author", "prev_hash", "hash")),
    sa.column("masked", sa.JSON()),
)
_head = sa.table(
    "chain_head", sa.column("name", sa.Text()), sa.column("seq", sa.Integer()), sa.column("hash", sa.Text())
)


# bot/records/chain.py as of this revision, frozen: what a link's hash covers and how it is
# taken. Rows chained here must verify under every later Baton, whatever chain.py becomes.
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


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot hash a non-finite number ({value!r})")
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    raise TypeError(f"cannot hash a {type(value).__name__} ({value!r})")


def _digest(content: Mapping[str, Any], prev_hash: str) -> str:
    data = json.dumps(
        _plain({"content": content, "prev": prev_hash}),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    ).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _head_name(incident_id: int) -> str:
    return f"evidence:{incident_id}"


def _at(value: Any) -> Any:
    # SQLite hands a DateTime column back as text when read through Core without the model.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def upgrade() -> None:
    conn = op.get_bind()
    c = _evidence.c
    rows = (
        conn.execute(sa.select(_evidence).where(c.seq.is_(None)).order_by(c.incident_id, c.id))
        .mappings()
        .all()
    )
    if not rows:
        return
    names = {_head_name(row["incident_id"]) for row in rows}
    heads = {
        name: (seq, hash_)
        for name, seq, hash_ in conn.execute(sa.select(_head).where(_head.c.name.in_(names))).all()
    }
    known = set(heads)
    for row in rows:
        name = _head_name(row["incident_id"])
        seq, prev = heads.get(name, (0, ""))
        content: dict[str, Any] = {k: row[k] for k in EVIDENCE_FIELDS}
        content["seq"], content["at"] = seq + 1, _at(row["at"])
        new_hash = _digest(content, prev)
        conn.execute(
            sa.update(_evidence).where(c.id == row["id"]).values(seq=seq + 1, prev_hash=prev, hash=new_hash)
        )
        heads[name] = (seq + 1, new_hash)
    for name, (seq, hash_) in heads.items():
        if name in known:
            conn.execute(sa.update(_head).where(_head.c.name == name).values(seq=seq, hash=hash_))
        else:
            conn.execute(sa.insert(_head).values(name=name, seq=seq, hash=hash_))


def downgrade() -> None:
    # Nothing to undo: the columns stay (0005 owns them), and evidence added while downgraded is
    # left unchained, which upgrading again appends after the chain it finds.
    pass
