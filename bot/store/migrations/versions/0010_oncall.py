"""on-call rotations: overrides added in Slack, and each shift change's claim

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_override",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("who", sa.String(320), nullable=False),
        sa.Column("user", sa.String(32)),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_oncall_override_team_ends", "oncall_override", ["team", "ends_at"])
    op.create_table(
        "shift_change",
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outgoing", sa.String(320), nullable=False),
        sa.Column("incoming", sa.String(320), nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("receipt_ids", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True)),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("team", "at", name="pk_shift_change"),
    )


def downgrade() -> None:
    op.drop_table("shift_change")
    op.drop_index("ix_oncall_override_team_ends", table_name="oncall_override")
    op.drop_table("oncall_override")
