"""action requests keep what they were asked under: their params for the webhook, masked params, url digest

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("action_request") as batch:
        # What the webhook gets (as typed, masked only where the config says), until the end.
        batch.add_column(sa.Column("call_params", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        # The config a request was asked under: which params go masked, a salted digest of the URL.
        batch.add_column(sa.Column("masked", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("url_digest", sa.String(64)))
    # Requests made before: their webhook got the masked values, and still does; their URL was
    # not recorded (url_digest stays NULL), so only their rule and params are compared.
    op.execute("UPDATE action_request SET call_params = params WHERE state IN ('pending', 'approved')")


def downgrade() -> None:
    with op.batch_alter_table("action_request") as batch:
        batch.drop_column("url_digest")
        batch.drop_column("masked")
        batch.drop_column("call_params")
