"""readiness ticks and failure cases from the product

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "readiness_tick",
        sa.Column("area", sa.String(100), nullable=False),
        sa.Column("item", sa.String(40), nullable=False),
        sa.Column("ticked_by", sa.String(32), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link", sa.Text()),
        sa.PrimaryKeyConstraint("area", "item", name="pk_readiness_tick"),
    )
    op.create_table(
        "failure_case",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("area", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float()),
        sa.Column("ref", sa.String(512)),
        sa.Column("masked", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_failure_case_area_received", "failure_case", ["area", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_failure_case_area_received", table_name="failure_case")
    op.drop_table("failure_case")
    op.drop_table("readiness_tick")
