"""incidents, timeline, durable jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("area", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(4), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("backlog", sa.Boolean(), nullable=False),
        sa.Column("commander", sa.String(32)),
        sa.Column("declared_by", sa.String(32), nullable=False),
        _ts("declared_at", nullable=False),
        _ts("deadline"),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(32)),
        _ts("acknowledged_at"),
        sa.Column("ack_within_window", sa.Boolean()),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text()),
        sa.Column("resolved_by", sa.String(32)),
        _ts("resolved_at"),
        sa.Column("summary", sa.Text()),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("channel_name", sa.String(80)),
        sa.Column("opening_ts", sa.String(32)),
    )
    op.create_index("ix_incident_area", "incident", ["area"])
    op.create_index("ix_incident_state", "incident", ["state"])
    op.create_index("ix_incident_channel_id", "incident", ["channel_id"])
    op.create_table(
        "timeline_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id"), nullable=False),
        _ts("at", nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_timeline_event_incident_id", "timeline_event", ["incident_id"])
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incident.id")),
        sa.Column("payload", sa.JSON(), nullable=False),
        _ts("due_at", nullable=False),
        _ts("retry_at"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ladder", sa.Boolean(), nullable=False),
        sa.Column("step", sa.Integer()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        _ts("lease_until"),
        sa.Column("last_error", sa.Text()),
        _ts("created_at", nullable=False),
        _ts("done_at"),
    )
    op.create_index("ix_job_incident_id", "job", ["incident_id"])
    op.create_index("ix_job_state_due", "job", ["state", "due_at"])


def downgrade() -> None:
    op.drop_table("job")
    op.drop_table("timeline_event")
    op.drop_table("incident")
