"""trust the core: the current response window, channel set-up progress, evidence drafts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident") as batch:
        # When the running response window began: the declaration, or the last raise/reopen.
        batch.add_column(sa.Column("window_started_at", sa.DateTime(timezone=True)))
        # Channel set-up steps done so far (create, invite, topic, post, pin): a retry resumes.
        batch.add_column(sa.Column("setup_done", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        # Why channel set-up gave up for good; channel messages then go to the reporter by DM.
        batch.add_column(sa.Column("channel_error", sa.Text()))
    op.execute("UPDATE incident SET window_started_at = declared_at")
    op.create_table(
        "evidence_draft",
        # A message picked with the shortcut outside an incident channel, kept while its
        # author chooses the incident (the text is too long for a modal's private_metadata).
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("message_author", sa.String(32)),
        sa.Column("text", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evidence_draft")
    with op.batch_alter_table("incident") as batch:
        batch.drop_column("channel_error")
        batch.drop_column("setup_done")
        batch.drop_column("window_started_at")
