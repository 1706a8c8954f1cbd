"""Slack's limits on what a message or a view may carry, refused as Slack refuses them: message
text over 40,000 characters (``msg_too_long``); more than 50 blocks in a message or 100 in a view;
a section's text over 3,000 characters. Slack names the place in ``response_metadata.messages``
with a JSON pointer; a message's blocks are refused as ``invalid_blocks``, a view's as
``invalid_arguments`` (views.* have no invalid_blocks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.standin.records import ApiError, json_arg, present

MAX_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3_000


def _block_problems(blocks: Any, pointer: str, most: int) -> list[str]:
    """Slack's "[ERROR] ... [json-pointer:...]" lines for ``blocks`` (empty when they are fine)."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems = []
    if len(blocks) > most:
        problems.append(f"[ERROR] no more than {most} items allowed [json-pointer:{pointer}]")
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or block.get("type") != "section":
            continue
        text = block.get("text")
        if isinstance(text, dict) and len(str(text.get("text", ""))) > MAX_SECTION_TEXT:
            where = f"{pointer}/{i}/text/text"
            problems.append(
                f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{where}]"
            )
    return problems


def check_message(params: Mapping[str, Any]) -> None:
    """chat.postMessage / postEphemeral / update: text length, block count, section text."""
    if len(str(params.get("text") or "")) > MAX_TEXT:
        raise ApiError("msg_too_long")
    if present(params.get("blocks")):
        problems = _block_problems(json_arg(params["blocks"], "blocks"), "/blocks", MAX_MESSAGE_BLOCKS)
        if problems:
            raise ApiError("invalid_blocks", response_metadata={"messages": problems})


def check_view(view: Mapping[str, Any]) -> None:
    """views.open / push / update / publish: block count, section text."""
    problems = _block_problems(view.get("blocks", []), "/view/blocks", MAX_VIEW_BLOCKS)
    if problems:
        raise ApiError("invalid_arguments", response_metadata={"messages": problems})
