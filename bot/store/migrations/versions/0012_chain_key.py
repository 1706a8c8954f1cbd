"""handoff and evidence chains keyed with HMAC: the record of the key that seals them

Only the table: the chains are re-sealed under the key by the first `baton serve` (any Baton
command that starts one) that has a key (bot/records/seal.py), not here. The key may be set long
after this upgrade, and a data migration hashing with bot/records/chain.py's field lists would
break once a later revision adds a field.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_seal",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resealed", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chain_seal")
