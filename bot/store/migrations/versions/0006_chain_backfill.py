"""chain the evidence recorded before evidence was chained (data only)

Each unchained evidence row gets its seq (by id within its incident), prev_hash and hash, after
whatever its incident's chain already holds, and the chain heads are written, with
bot/records/chain.py's own functions, so `baton verify` passes on an upgraded database.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.records import chain
from bot.store.models import Evidence

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
    names = {chain.evidence_head(row["incident_id"]) for row in rows}
    heads = {
        name: (seq, hash_)
        for name, seq, hash_ in conn.execute(sa.select(_head).where(_head.c.name.in_(names))).all()
    }
    known = set(heads)
    for row in rows:
        name = chain.evidence_head(row["incident_id"])
        seq, prev = heads.get(name, (0, ""))
        fields: dict[str, Any] = {k: row[k] for k in chain.EVIDENCE_FIELDS if k != "seq"}
        item = Evidence(**fields, seq=seq + 1)  # never added to a session: only hashed
        new_hash = chain.digest(chain.evidence_content(item), prev)
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
