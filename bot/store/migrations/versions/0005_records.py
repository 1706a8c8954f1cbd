"""records: handoff receipts, their hash chains (and evidence's), holders seen in the config,
ownership overrides from countersigned handoffs, scheduled nudge runs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area", sa.String(100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("team", sa.String(100)),
        sa.Column("from_ref", sa.String(320), nullable=False),
        sa.Column("from_user", sa.String(32)),
        sa.Column("to_ref", sa.String(320), nullable=False),
        sa.Column("to_user", sa.String(32)),
        sa.Column("peer_user", sa.String(32)),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("started_by", sa.String(32), nullable=False),
        _ts("started_at", nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("outgoing_signed_by", sa.String(32)),
        _ts("outgoing_signed_at"),
        _ts("incoming_signed_at"),
        _ts("peer_signed_at"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("area", "seq", name="uq_receipt_area_seq"),
    )
    op.create_index("ix_receipt_area", "receipt", ["area"])
    op.create_index("ix_receipt_state", "receipt", ["state"])
    op.create_table(
        "chain_head",
        sa.Column("name", sa.String(160), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("seq", sa.Integer()))
        batch.add_column(sa.Column("prev_hash", sa.String(64)))
        batch.add_column(sa.Column("hash", sa.String(64)))
    op.create_table(
        "holder",
        sa.Column("key", sa.String(240), primary_key=True),
        sa.Column("ref", sa.String(320), nullable=False),
        _ts("seen_at", nullable=False),
    )
    op.create_table(
        "owner_override",
        sa.Column("key", sa.String(240), primary_key=True),
        sa.Column("ref", sa.String(320), nullable=False),
        sa.Column("user", sa.String(32)),
        sa.Column("receipt_id", sa.Integer(), sa.ForeignKey("receipt.id"), nullable=False),
        _ts("since", nullable=False),
    )
    op.create_table(
        "nudge_run",
        sa.Column("name", sa.String(40), nullable=False),
        _ts("due_at", nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        _ts("claimed_at", nullable=False),
        sa.PrimaryKeyConstraint("name", "due_at", name="pk_nudge_run"),
    )


def downgrade() -> None:
    op.drop_table("nudge_run")
    op.drop_table("owner_override")
    op.drop_table("holder")
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
    op.drop_table("chain_head")
    op.drop_table("receipt")
