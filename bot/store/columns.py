"""Column types of bot/store/models.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored as UTC and always read back as an aware UTC datetime.

    PostgreSQL keeps the zone (timestamptz) but hands a time back in the session's zone; SQLite
    stores the wall-clock digits it is given, without a zone, and hands them back naive. Binding
    converts to UTC first, so both store the same instant, and reading puts UTC back on. A naive
    time is refused when written: which zone it meant is unknown. Stored rows from before this
    type are UTC digits already (every writer converted), so they read back unchanged."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"a UtcDateTime column takes a datetime, not a {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError(
                f"a naive datetime ({value.isoformat()}) for a UtcDateTime column: give its zone"
            )
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime), value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
