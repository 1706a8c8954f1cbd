"""drills: an incident may be a rehearsal, scored once

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: SQLite would rebuild the table, and dropping the old
    # incident table fails while evidence, jobs and timeline rows point at it.
    # Every incident before this revision was a real one.
    op.add_column("incident", sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("incident", sa.Column("scored_at", sa.DateTime(timezone=True)))
    op.create_index("ix_incident_drill", "incident", ["drill"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_index("ix_incident_drill")
        batch.drop_column("scored_at")
        batch.drop_column("drill")
