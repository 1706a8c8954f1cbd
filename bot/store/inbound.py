"""JSON from outside Baton (Slack, Alertmanager, the AI product), read with a nesting limit.

Python's json module recurses once per level of nesting: a body of 100,000 `[` raises
RecursionError, which the HTTP endpoints would answer as a 500 (and a 500 of the alert webhook
counts against Baton's own SLI). No payload Baton takes nests deeper than a dozen levels (a Slack
view's state, rich text in an event), so every endpoint refuses anything deeper than MAX_DEPTH as
bad input, before any code walks it.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    """Lists and objects nested deeper than MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"the JSON nests lists and objects deeper than {MAX_DEPTH} levels")


_DECODER = json.JSONDecoder()


def loads(raw: str | bytes) -> Any:
    """json.loads with the nesting limit: TooDeep past MAX_DEPTH, ValueError for what is not JSON."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise TooDeep from None
    return within_depth(data)


def raw_decode(text: str, pos: int, *, limit: int = MAX_DEPTH) -> tuple[Any, int]:
    """One JSON value starting at `pos` of `text` and where it ends (json's raw_decode), nested
    at most `limit` deep: a reader that decodes a document part by part passes what is left of
    MAX_DEPTH below where the part sits."""
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except RecursionError:
        raise TooDeep from None
    return within_depth(value, limit), end


def within_depth(data: Any, limit: int = MAX_DEPTH) -> Any:
    """`data` itself, or TooDeep when its lists and objects nest deeper than `limit` (walked
    without recursion, so the check cannot itself run out of stack)."""
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise TooDeep
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return data
