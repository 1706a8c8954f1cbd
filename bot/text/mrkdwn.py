"""Text from people, shown as text in Slack.

Slack reads `<…>` in a message as a command: `<!channel>` notifies everyone, `<https://x|label>`
is a link whose target the reader cannot see. Everything a person typed therefore goes through
:func:`escape` in the message builders, the one place text becomes Slack markup. Two kinds of
`<…>` survive because Slack itself wrote them when it escaped the command text: user mentions
(`<@U123|maya>`) and channel links (`<#C123|general>`); they point at a person or a channel and
can neither broadcast nor disguise a URL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# What Slack puts in command text for "@maya" and "#general" (should_escape: true).
LIVE = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>|&]*)?>|<#[CG][A-Z0-9]+(?:\|[^<>|&]*)?>")
# An `&` that does not already start one of the three entities Slack uses. Slack sends `<`, `>`
# and `&` in command text as entities; keeping them as they are makes escape() idempotent.
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")


# What Baton writes into its own messages that shows what it says, besides LIVE: a date in the
# reader's time zone (bot/store/clock.py slack_time; no link: `^https://…` is refused) and a link
# whose target is the text shown (`<https://runbook>`, no label that could disguise it), and a
# `>` opening a line: a block quote (a lone `>` starts no command; only `<` does).
OWN = re.compile(LIVE.pattern + r"|<!date\^\d+\^[^<>|^]*\|[^<>|]*>|<https?://[^<>|\s]+>|(?m:^)>")


class Markup(str):
    """mrkdwn Baton composed on purpose with markup `safe` would take out: a group mention
    (`<!subteam^S1>`), a labelled link (`<https://…|source>`). The Block Kit constructors
    (bot/text/blocks.py) pass it as it is; every other str they escape. Wrap only text whose every
    typed part went through escape() first."""

    __slots__ = ()


def _plain(text: str) -> str:
    return _BARE_AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def _escape(text: str, keep: re.Pattern[str]) -> str:
    out: list[str] = []
    pos = 0
    for match in keep.finditer(text):
        out.append(_plain(text[pos : match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_plain(text[pos:]))
    return "".join(out)


def escape(text: str) -> str:
    """`text` as Slack mrkdwn that shows exactly what was typed: `&`, `<`, `>` escaped, user
    mentions and channel links kept live."""
    return _escape(text, LIVE)


def safe(text: str) -> str:
    """What a Block Kit constructor puts in a block: `Markup` as it is; any other text escaped
    (so a caller that forgot to escape what a person typed sends no `<!channel>`) with Baton's
    own mentions, dates and plain links kept. Escaped text stays as it is (escape is idempotent),
    so escaping before is never wrong."""
    return text if isinstance(text, Markup) else _escape(text, OWN)


def mentions_as_text(text: str) -> str:
    """`<@U…>` and `<#C…>` turned into text (`@U…`, `#C…`): escape() keeps those live for
    people's own commands, but text from outside Baton (an alert, the product's feedback, a
    pager's answer) must not be able to mention someone through Baton's posts."""
    return LIVE.sub(lambda m: m.group(0)[1:-1], text)


_ENTITY = re.compile(r"&(amp|lt|gt);")
_CHARS = {"amp": "&", "lt": "<", "gt": ">"}


def unescape(text: str) -> str:
    """What was typed, from text Slack escaped: its `&amp;`, `&lt;` and `&gt;` read back once
    (so `&amp;lt;`, typed `&lt;`, stays `&lt;`). Mentions and links Slack wrote (`<@U123|maya>`,
    `<https://…>`) are left as they are. Text kept or sent anywhere but Slack (a webhook, a pager,
    an export) must not carry Slack's escaping; escape() puts it back when Baton posts it."""
    return _ENTITY.sub(lambda m: _CHARS[m.group(1)], text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut (before escaping: an entity cut in
    half would show as garbage)."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def either(parts: list[str]) -> str:
    """ "a", "a or b", "a, b or c": for naming who may do something."""
    if len(parts) <= 1:
        return "".join(parts) or "nobody"
    return ", ".join(parts[:-1]) + f" or {parts[-1]}"


def chunks(text: str, size: int) -> list[str]:
    """Split at line ends into pieces of at most `size` characters (Slack's block limits)."""
    out, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:  # a single very long line (a 3,000-character title)
            if current:
                out.append(current)
                current = ""
            cut = _cut(line, size)
            out.append(line[:cut])
            line = line[cut:]
        if len(current) + len(line) > size:
            out.append(current)
            current = ""
        current += line
    if current:
        out.append(current)
    return out


def _cut(line: str, size: int) -> int:
    """Where to cut a line longer than `size`: not inside an entity such as `&lt;`."""
    amp = line.rfind("&", max(0, size - 5), size)
    return amp if amp > 0 and line.find(";", amp, size) == -1 else size


def within(lines: Sequence[str], limit: int) -> str:
    """Lines joined up to `limit` characters, then how many did not fit ("… and 12 more"): a
    list that may grow without bound, shown in one block."""
    out: list[str] = []
    size = 0
    for n, line in enumerate(lines):
        if size + len(line) + 40 > limit:
            out.append(f"… and {len(lines) - n} more")
            break
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)
