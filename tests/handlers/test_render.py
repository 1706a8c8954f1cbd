"""Block Kit replies that must stay inside Slack's limits (50 blocks, 3,000 characters a section)."""

from __future__ import annotations

from handlers.render.incident import MAX_SECTIONS, SECTION, long_reply


def _lines(n: int) -> str:
    return "\n".join(f"line {i:05d} " + "x" * 90 for i in range(n))


def test_a_reply_too_long_for_one_message_keeps_the_newest_and_says_what_it_left_out() -> None:
    body = _lines(2000)  # about 200,000 characters: far more than 45 sections
    reply = long_reply("*Timeline of #1*", body)
    blocks = reply["blocks"]
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert "characters of earlier entries are not shown" in blocks[1]["text"]["text"]
    shown = "".join(b["text"]["text"] for b in blocks[2:])
    assert "line 01999" in shown and "line 00000" not in shown  # the newest are kept
    assert len(blocks) == 2 + MAX_SECTIONS


def test_a_note_too_long_keeps_its_beginning() -> None:
    reply = long_reply("*Incident note of #1*", _lines(2000), code=True, newest=False)
    shown = "".join(b["text"]["text"] for b in reply["blocks"][2:])
    assert "line 00000" in shown and "line 01999" not in shown
    assert "characters of later entries are not shown" in reply["blocks"][1]["text"]["text"]
    assert all(b["text"]["text"].startswith("```") for b in reply["blocks"][2:])


def test_a_reply_that_fits_is_whole() -> None:
    body = _lines(20)
    reply = long_reply("*Timeline of #1*", body)
    assert "".join(b["text"]["text"] for b in reply["blocks"][1:]).count("line ") == 20
    assert all(len(b["text"]["text"]) <= SECTION for b in reply["blocks"][1:])
