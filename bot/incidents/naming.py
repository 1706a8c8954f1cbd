"""Incident channel names: `inc-<yyyymmdd>-<number>-<slug of title>`, `drill-…` for a drill."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

MAX_LEN = 80  # Slack's limit for channel names


def slug(title: str) -> str:
    """Lowercase a-z0-9 words joined by dashes; accents folded, other scripts dropped."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")


def channel_name(
    *, number: int, declared_at: datetime, title: str, attempt: int = 0, drill: bool = False
) -> str:
    """The channel name for an incident; attempt > 0 adds `-2`, `-3`… after a name collision."""
    prefix = f"{'drill' if drill else 'inc'}-{declared_at:%Y%m%d}-{number}"
    suffix = f"-{attempt + 1}" if attempt else ""
    room = MAX_LEN - len(prefix) - len(suffix) - 1
    words = slug(title)[: max(room, 0)].rstrip("-")
    name = f"{prefix}-{words}" if words else prefix
    return (name + suffix)[:MAX_LEN]
