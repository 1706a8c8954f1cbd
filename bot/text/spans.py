"""Durations as written in severity.yaml: ``90s``, ``15m``, ``1h``, ``4h``, ``2d``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

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
