"""Text that came from outside Baton (an alert's labels and annotations, a pager's or a
webhook's answer, Prometheus's error), as Baton keeps it and shows it.

The same treatment as the product's feedback: masked before it is stored (bot/text/masking.py,
before any cut, so no secret is cut in half and its first half shown), its `<@U…>` / `<#C…>`
turned into text so it mentions nobody, and escaped (bot/text/mrkdwn.escape) where it is posted.
An answer is also folded onto one line and clipped: it goes into a sentence of Baton's own.

masking.py imports nothing of Baton's, so reaching up to records/ from here makes no loop; it
is text handling, below slack/.
"""

from __future__ import annotations

from bot.text.masking import mask
from bot.text.mrkdwn import clip, mentions_as_text

MASKED_FROM = 2000  # characters of an answer masked; far more than any excerpt shows


def kept(text: str) -> str:
    """Outside text as Baton stores it: masked, mentions as text (lines kept)."""
    return mentions_as_text(mask(text).text)


def excerpt(text: str, limit: int, *, one_line: bool = True) -> str:
    """The start of an outside system's answer: masked, mentions as text, at most `limit`
    characters; folded onto one line for a sentence of Baton's (`one_line=False` keeps its lines,
    for a record that shows it as it came). Escape it where it is posted."""
    shown = kept(text[:MASKED_FROM])
    return clip(" ".join(shown.split()) if one_line else shown, min(limit, MASKED_FROM))
