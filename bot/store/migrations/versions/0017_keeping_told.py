"""keeping people told: the announcement, the update cadence, reviews and follow-ups

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: SQLite would rebuild the table, and dropping the old
    # incident table fails while evidence, jobs and timeline rows point at it.
    for column in (
        sa.Column("announce_channel", sa.String(32)),
        sa.Column("announce_ts", sa.String(32)),
        sa.Column("last_status_at", sa.DateTime(timezone=True)),
        sa.Column("review_due_at", sa.DateTime(timezone=True)),
        sa.Column("review_link", sa.Text()),
        sa.Column("reviewed_by", sa.String(32)),
        sa.Column("reviewed_at", sa.DateTime(timezone=True)),
    ):
        op.add_column("incident", column)
    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(32)),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done_by", sa.String(32)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("tracker", sa.String(16)),
        sa.Column("tracker_state", sa.String(16)),
        sa.Column("tracker_key", sa.String(64)),
        sa.Column("tracker_url", sa.Text()),
        sa.Column("tracker_error", sa.Text()),
        sa.Column("marker", sa.String(64), nullable=False),
    )
    op.create_index("ix_follow_up_incident_id", "follow_up", ["incident_id"])
    op.create_index("ix_follow_up_state", "follow_up", ["state"])


def downgrade() -> None:
    op.drop_index("ix_follow_up_state", "follow_up")
    op.drop_index("ix_follow_up_incident_id", "follow_up")
    op.drop_table("follow_up")
    with op.batch_alter_table("incident") as batch:
        for column in (
            "reviewed_at",
            "reviewed_by",
            "review_link",
            "review_due_at",
            "last_status_at",
            "announce_ts",
            "announce_channel",
        ):
            batch.drop_column(column)
