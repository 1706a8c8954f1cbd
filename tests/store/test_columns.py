"""UtcDateTime (bot/store/columns.py): a time is stored as UTC and read back aware UTC, on both
databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError
from sqlmodel import col, select

from bot.store.db import make_engine, session, upgrade
from bot.store.models import Holder

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
BERLIN_WINTER = timezone(timedelta(hours=1))


def test_a_time_in_any_zone_is_stored_as_utc_and_read_back_aware(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with session(engine) as s:
        s.add(Holder(key="area:data:accountable", ref="maya", seen_at=T0.astimezone(BERLIN_WINTER)))
        s.commit()
    with session(engine) as s:
        (row,) = s.exec(select(Holder)).all()
        # Compared with the same instant, in a query too.
        assert s.exec(select(Holder.key).where(col(Holder.seen_at) == T0)).one() == row.key
    assert row.seen_at == T0 and row.seen_at.tzinfo is UTC
    with engine.connect() as conn:  # what is stored: the UTC digits (SQLite keeps no zone)
        raw = conn.execute(sa.text("SELECT seen_at FROM holder")).scalar_one()
    if isinstance(raw, datetime):  # PostgreSQL: timestamptz, the instant
        assert raw == T0
    else:
        assert raw == "2026-11-22 09:00:00.000000"
    engine.dispose()


def test_a_naive_time_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with session(engine) as s:
        s.add(Holder(key="area:data:accountable", ref="maya", seen_at=T0.replace(tzinfo=None)))
        with pytest.raises(StatementError, match="naive datetime"):
            s.commit()
    engine.dispose()
