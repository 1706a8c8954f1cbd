"""Values that are examples, not secrets: the README's (`xoxb-your-bot-token`, `changeme`,
`<paste-here>`, `${VAR}`), which a person pasted without filling in. Used for Slack's tokens and
bearer tokens (bot/store/settings.py) and the chain key (bot/store/chainkey.py)."""

from __future__ import annotations

import re

# Words of an example value, never a whole word of a real credential, whose parts are digits and
# random letters.
_EXAMPLE_WORDS = (
    "your my our changeme change replaceme replace placeholder example sample dummy todo tbd "
    "fixme insert paste here redacted none null undefined"
)
_PLACEHOLDER_WORDS = frozenset(_EXAMPLE_WORDS.split())
_WORD = re.compile(r"[^-_.:\s]+")


def placeholder(value: str) -> str | None:
    """How `value` reads as an example or an unfilled template rather than a secret, if it does
    ("still an example value (it has the word 'your', ...)"); never quotes more than one word."""
    if any(c in value for c in "$<>{}"):
        return "a variable or template that was never filled in"
    if "..." in value or "\u2026" in value:
        return "still an example value (it has '...' where the real value goes)"
    for word in _WORD.findall(value.lower()):
        if word in _PLACEHOLDER_WORDS:
            return f"still an example value (it has the word {word!r}, as the README's examples do)"
        if len(word) >= 3 and len(set(word)) == 1 and word[0] in "x*0":
            # Only the character: the run may be the whole value.
            return f"still an example value (it has {word[0]!r}s where the real value goes)"
    return None


# A random key of 32 characters or more has far more different characters than this (hex: 16,
# even 32 decimal digits show 6 or more but once in tens of millions).
FEWEST_DIFFERENT = 6


def not_random(value: str) -> str | None:
    """How a secret that must be random plainly is not: one character repeated, a short run
    repeated (`abcabc…`, `0123456789abcdef0123456789abcdef`), or a handful of characters."""
    for size in range(1, len(value) // 2 + 1):
        unit = value[:size]
        if (unit * (len(value) // size + 1))[: len(value)] == value:
            if size == 1:
                return "one character repeated"
            return f"a run of {size} characters repeated"
    if len(set(value)) < FEWEST_DIFFERENT:
        return f"made of only {len(set(value))} different characters"
    return None
