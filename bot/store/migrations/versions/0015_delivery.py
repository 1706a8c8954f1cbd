"""exactly-once pages and nudges: what each job has sent; nudge runs claimed with a lease

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        # Per step of the job (a DM, a post, a pager event): sent, with Slack's answer; a retry
        # looks here first and never sends twice (bot/store/delivery.py).
        batch.add_column(sa.Column("delivery", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("nudge_run") as batch:
        # A run is claimed with a lease, marked done after it ran, retried with backoff when it
        # failed and given up (and told) after a few tries. Runs before this revision ran once.
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="done"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("last_error", sa.Text()))
        batch.add_column(sa.Column("done_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("nudge_run") as batch:
        for column in ("done_at", "last_error", "retry_at", "lease_until", "attempts", "state"):
            batch.drop_column(column)
    with op.batch_alter_table("job") as batch:
        batch.drop_column("delivery")
