"""alert group keys as digests; Slack request signatures seen

- monitor_link.key holds the SHA-256 of the signal's key (an Alertmanager groupKey has no length
  limit; PostgreSQL refused one over 512 characters, SQLite took it), and the new column `name`
  the key as it came, masked, for people. Existing rows are rewritten the same way.
- slack_signature: the signatures of the Slack requests taken in the last 5 minutes, so a
  replayed request is refused by every replica (bot/store/replay.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_link = sa.table(
    "monitor_link", sa.column("source", sa.Text()), sa.column("key", sa.Text()), sa.column("name", sa.Text())
)
NAME_LIMIT = 1000  # bot/monitoring/links.py's, as of this revision


def _digest(key: str) -> str:
    """bot/monitoring/links.py's digest, frozen here: rows written now must be found later."""
    return hashlib.sha256(key.encode()).hexdigest()


def upgrade() -> None:
    # Masked and mentioning nobody, as links.py keeps it (the treatment only ever hides more).
    from bot.text.outside import kept

    with op.batch_alter_table("monitor_link") as batch:
        batch.add_column(sa.Column("name", sa.Text()))
    conn = op.get_bind()
    for source, key in conn.execute(sa.select(_link.c.source, _link.c.key)).all():
        name = kept(key)
        conn.execute(
            _link.update()
            .where(_link.c.source == source, _link.c.key == key)
            .values(key=_digest(key), name=name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + "…")
        )
    with op.batch_alter_table("monitor_link") as batch:
        batch.alter_column("name", existing_type=sa.Text(), nullable=False)
    op.create_table(
        "slack_signature",
        sa.Column("signature", sa.String(80), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_signature_expires_at", "slack_signature", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_signature_expires_at", table_name="slack_signature")
    op.drop_table("slack_signature")
    # The digests cannot be turned back into keys: the raw keys come back from `name` (masked).
    conn = op.get_bind()
    for source, key, name in conn.execute(sa.select(_link.c.source, _link.c.key, _link.c.name)).all():
        conn.execute(
            _link.update().where(_link.c.source == source, _link.c.key == key).values(key=name[:512])
        )
    with op.batch_alter_table("monitor_link") as batch:
        batch.drop_column("name")
