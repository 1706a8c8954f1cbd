"""SQLModel tables. Schema changes go through Alembic revisions in bot/migrations/versions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class PersonCache(SQLModel, table=True):
    """A person given as an e-mail in ownership.yaml, resolved through users.lookupByEmail."""

    __tablename__ = "person_cache"

    email: str = Field(primary_key=True, max_length=320)
    user_id: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=200)
    resolved_at: datetime
