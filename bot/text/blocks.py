"""Block Kit, built one way: every section, context, button and header Baton sends, through
slack_sdk's Block Kit models (which check each block's shape), with Slack's length limits applied
inside, so no caller cuts a message (or forgets to). They return plain dicts: what the domain
stores in a job's payload and what chat.postMessage takes.

Text passed as `markup` is escaped inside (bot/text/mrkdwn.py `safe`): a caller that forgot to
escape what a person typed still sends no `<!channel>` and no disguised link; escaping first
(`escape`, or `quote` in bot/text/typed.py) changes nothing. Only a `Markup` — a group mention or a
labelled link Baton wrote — goes in as it is. Labels (buttons, headers) are plain_text, which Slack
shows as written and never reads as a mention.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.text.mrkdwn import safe

_OPEN_ENTITY = re.compile(r"&[#\w]{0,8}$")

Block = dict[str, Any]
Blocks = list[Block]

# Slack's limits (api.slack.com/reference/block-kit): a section's or a context element's text,
# a button's label, a header.
MARKUP_LIMIT = 3000
LABEL_LIMIT = 75
HEADER_LIMIT = 150


def clip_markup(markup: str, limit: int = MARKUP_LIMIT) -> str:
    """At most `limit` characters of mrkdwn, ending in "…" when cut, never inside an entity
    (`&amp;`) or a mention, link or date (`<@U1>`, `<https://…|x>`): half of one would show as
    garbage, or as text that is not what Baton meant."""
    if len(markup) <= limit:
        return markup
    cut = markup[: max(0, limit - 1)]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):  # inside a mention, link or date: cut before it
        cut = cut[:opened]
    entity = _OPEN_ENTITY.search(cut)
    if entity is not None:  # half of `&amp;` at the end
        cut = cut[: entity.start()]
    return cut + "…"


def clip_label(label: str, limit: int = LABEL_LIMIT) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def mrkdwn(markup: str) -> Block:
    return _text(markup).to_dict()


def _text(markup: str) -> MarkdownTextObject:
    # Blocks are built from models, not from dicts: slack_sdk parses a dict element back into a
    # model by walking every element class, which cost more than the rest of a message.
    return MarkdownTextObject(text=clip_markup(safe(markup)))


def section(markup: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    return SectionBlock(text=_text(markup), block_id=block_id, accessory=_element(accessory)).to_dict()


def fields(*markups: str) -> Block:
    """A section of up to ten short columns ("*Severity*\nP1")."""
    return SectionBlock(fields=[_text(m) for m in markups]).to_dict()


def context(markup: str) -> Block:
    return ContextBlock(elements=[_text(markup)]).to_dict()


def button(
    label: str, action_id: str, value: str | None = None, *, style: str | None = None, url: str | None = None
) -> Block:
    """A button; with `url`, one that opens the link (Slack still sends the click)."""
    made = ButtonElement(text=clip_label(label), action_id=action_id, value=value, style=style, url=url)
    return made.to_dict()


def actions(*elements: Block, block_id: str | None = None) -> Block:
    return ActionsBlock(elements=[_element(e) for e in elements], block_id=block_id).to_dict()


def _element(element: Block | None) -> Any:
    """A button's dict as its model again (see _text); any other element as it is, for slack_sdk."""
    if element is None or element.get("type") != "button":
        return element
    fields = {k: v for k, v in element.items() if k != "type"}
    return ButtonElement(**fields)


def divider() -> Block:
    return DividerBlock().to_dict()


def header(label: str) -> Block:
    return HeaderBlock(text=clip_label(label, HEADER_LIMIT)).to_dict()
