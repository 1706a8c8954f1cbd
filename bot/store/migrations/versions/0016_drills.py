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
    with op.batch_alter_table("incident") as batch:
        # Every incident before this revision was a real one.
        batch.add_column(sa.Column("drill", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("scored_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_incident_drill", ["drill"])


def downgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        batch.drop_index("ix_incident_drill")
        batch.drop_column("scored_at")
        batch.drop_column("drill")
