"""How a drill is said (bot/text/drill.py)."""

from __future__ import annotations

from bot.text import drill


def test_every_text_starts_with_drill_once() -> None:
    assert drill.said("Paging <@U1>") == "DRILL · Paging <@U1>"
    assert drill.said(drill.said("x")) == "DRILL · x"  # said twice, marked once


def test_a_code_block_stays_a_code_block() -> None:
    # Slack opens a fence only at the start of a line: the resolve note must stay one.
    assert drill.said("```# Incident #1```") == "DRILL\n```# Incident #1```"


def test_the_banner_goes_first_and_the_message_stays_within_slacks_50_blocks() -> None:
    given = [{"type": "section", "text": {"type": "mrkdwn", "text": str(n)}} for n in range(50)]
    shown = drill.blocks(given)
    assert shown is not None and len(shown) == 50 and shown[0]["block_id"] == "drill"
    assert drill.blocks(shown) == shown  # once
    assert drill.blocks(None) is None  # a text-only message stays one
