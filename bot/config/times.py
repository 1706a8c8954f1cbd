"""Spans and moments as fields of ownership.yaml: `12h`, `1w3d`, `2026-03-02 09:00` (read by
bot/text/spans.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
)

from bot.text.spans import SPANS, parse_datetime, parse_span

# --------------------------------------------------------------------------- on-call rotations


def _shift(value: Any) -> timedelta:
    parsed = parse_span(value)
    if parsed <= timedelta(0):
        raise ValueError(f"must be longer than 0s; {SPANS}")
    return parsed


def to_handover(value: Any) -> timedelta:
    parsed = parse_span(value)
    if parsed <= timedelta(0):
        raise ValueError(
            "must be longer than 0s: the handover receipt opens this long before each shift change; "
            "use e.g. 30m, 1h"
        )
    return parsed


Span = Annotated[timedelta, BeforeValidator(_shift)]
Moment = Annotated[datetime, BeforeValidator(parse_datetime)]
