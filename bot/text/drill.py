"""How a drill is said: every message, DM, page and topic of a rehearsal starts with DRILL, so
nobody paged on a quiet afternoon mistakes it for an outage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MARK = "DRILL"
# Slack's limit of blocks in one message.
MAX_BLOCKS = 50


def said(text: str) -> str:
    """`text` starting with DRILL (once, however often it is said). Text that opens with a code
    block gets DRILL on a line of its own: a fence is a fence only at the start of a line."""
    if text.startswith(MARK):
        return text
    return f"{MARK}\n{text}" if text.startswith("```") else f"{MARK} · {text}"


def banner() -> dict[str, Any]:
    """The first block of a drill's message: a context line no reader can miss."""
    return {
        "type": "context",
        "block_id": "drill",
        "elements": [{"type": "mrkdwn", "text": f"*{MARK}* · a rehearsal, not a real incident"}],
    }


def blocks(given: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """`given` with the DRILL banner first (None stays None: a text-only message)."""
    if given is None:
        return None
    listed = list(given)
    if listed and listed[0].get("block_id") == "drill":
        return listed
    return [banner(), *listed[: MAX_BLOCKS - 1]]
