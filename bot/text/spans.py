"""Spans and moments as people write them, in severity.yaml and ownership.yaml as in commands:
``90s``, ``15m``, ``1h30m``, ``2d``; with weeks for shifts and overrides, ``1w3d``; times as
``2026-03-02 09:00``. The config's pydantic types (bot/config/times.py) and the commands
(bot/text/typed.py `duration`, `moment`) read them here."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

#: Words meaning "no response window": nobody is paged.
NO_WINDOW = frozenset({"next-sprint", "none"})

#: Shown in every error so the reader knows what would be right.
ACCEPTED = (
    "use a number with a unit: 90s, 15m, 1h, 4h, 2d (or combined, 1h30m); next-sprint or none for no page"
)

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Units in descending order, each at most once: "1h30m" yes, "30m1h" or "1h1h" no.
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> timedelta | None:
    """Parse a duration; ``next-sprint`` / ``none`` give None; anything else raises ValueError."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; {ACCEPTED}")
    cleaned = text.strip().lower()
    if cleaned in NO_WINDOW:
        return None
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or match is None:
        raise ValueError(f"{text!r} is not a duration; {ACCEPTED}")
    seconds = sum(
        int(value) * _UNITS[unit] for value, unit in zip(match.groups(), "dhms", strict=True) if value
    )
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """Render a timedelta the way parse_duration reads it: ``6s``, ``15m``, ``1h30m``, ``2d``."""
    if td < timedelta(0):
        return "-" + format_duration(-td)
    whole, micro = divmod(td // timedelta(microseconds=1), 1_000_000)
    parts: list[str] = []
    for unit, size in _UNITS.items():
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    # Halving an odd window (T/2 of 1s) leaves milliseconds; show them rather than lie.
    if micro >= 1000:
        parts.append(f"{micro // 1000}ms")
    return "".join(parts) or "0s"


_WEEKS_RE = re.compile(r"^\s*(\d+)w(.*)$", re.IGNORECASE)
SPANS = "use a number with a unit: 12h, 1d, 1w (or combined, 1w3d, 1d12h)"
# ISO 8601 with a time of day (the seconds optional), and an optional offset or Z.
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_WRITE_DATETIME = (
    "write it as 2026-11-30T09:00 (in nudges.timezone) or with an offset, 2026-11-30T09:00+01:00"
)


def parse_span(value: Any) -> timedelta:
    """A shift or handover length: a duration as in severity.yaml, plus weeks (``1w``, ``1w3d``)."""
    if isinstance(value, timedelta):
        return value
    shown = repr(value) if isinstance(value, str) else str(value)
    if not isinstance(value, str):
        raise ValueError(f"{shown} is not a duration; {SPANS}")
    # parse_duration has no weeks: a leading `Nw` is taken off here.
    weeks, rest = timedelta(0), value
    match = _WEEKS_RE.fullmatch(value)
    if match is not None:
        weeks, rest = timedelta(weeks=int(match.group(1))), match.group(2)
        if not rest.strip():
            return weeks
    try:
        parsed = parse_duration(rest)
    except ValueError:
        raise ValueError(f"{shown} is not a duration; {SPANS}") from None
    if parsed is None:  # next-sprint / none
        raise ValueError(f"{shown} is not a length of time; {SPANS}")
    return weeks + parsed


def format_span(td: timedelta) -> str:
    """A span the way parse_span reads it, weeks first: ``1w``, ``1w3d``, ``12h``."""
    weeks, rest = divmod(td, timedelta(weeks=1)) if td > timedelta(0) else (0, td)
    if not weeks:
        return format_duration(td)
    return f"{weeks}w" + (format_duration(rest) if rest else "")


def parse_datetime(value: Any) -> datetime:
    """``2026-11-30T09:00``, ``2026-11-30 09:00``, with or without an offset, or a datetime PyYAML
    made of an unquoted timestamp. Naive means wall time in nudges.timezone."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):  # an unquoted 2026-11-30
        day = value.isoformat()
        raise ValueError(
            f"{day} is a date without a time of day; write it as {day}T00:00 (in nudges.timezone) "
            f"or with an offset, {day}T00:00+01:00"
        )
    shown = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, str):
        text = value.strip()
        if _DATETIME_RE.fullmatch(text):
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass  # 2026-13-01T09:00 and the like
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(
                f"{shown} is a date without a time of day; write it as {text}T00:00 (in nudges.timezone) "
                f"or with an offset, {text}T00:00+01:00"
            )
    raise ValueError(f"{shown} is not a date and time; {_WRITE_DATETIME}")


def format_datetime(moment: datetime) -> str:
    """``2026-12-24T00:00`` (with its offset if it has one), as it would be written in the file."""
    whole = moment.second == 0 and moment.microsecond == 0
    return moment.isoformat(timespec="minutes" if whole else "seconds")
