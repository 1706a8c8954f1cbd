"""Text people type, read one way: a name (area, team, action, item, severity) Baton does not
know is one `Unknown` error carrying the facts, with one "did you mean"; a duration or a time
that does not read is one `Malformed` (`duration()`, `moment()`); what they typed is kept with
`typed()` and echoed back with `quote()`.

Each surface renders an `Unknown` its way: Slack from str(e) ("There is no area `modle`. Did you
mean `model-quality`?"), the command line and HTTP answers from `plain()` ("area 'modle' is not
an area (did you mean 'model-quality'?): use one of …"). Config file errors keep the compiler's
form (bot/config/issues.py), with the same `closest`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.text.errors import Refused
from bot.text.masking import mask
from bot.text.mrkdwn import clip, escape
from bot.text.spans import format_span, parse_datetime, parse_span

QUOTE_LIMIT = 80  # characters of a person's words echoed back in an error
_NEAREST = object()  # Unknown's default guess: the nearest of the names it knows


def typed(text: str) -> str:
    """What a person typed, as Baton keeps it: whitespace collapsed, PII and secrets masked."""
    return mask(" ".join(text.split())).text


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A person's words echoed back in Slack: masked, short and escaped (so `<!channel>` pings
    nobody)."""
    return escape(clip(typed(text), limit))


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to `word` (case aside), for "did you mean"; None if none is near."""
    by_lower = {c.lower(): c for c in candidates}
    found = difflib.get_close_matches(word.strip().lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def severity(text: str, levels: Iterable[str], *, then: str = "") -> str:
    """The severity `text` names, any case ("p1" is P1); Unknown listing `levels` otherwise (no
    guess: P7 is not "nearly" P1)."""
    known = list(levels)
    key = text.strip().upper()
    if key not in known:
        raise Unknown("severity", text, known, guess=None, plural="severities", then=then)
    return key


def duration(
    text: str, *, accepted: str, longest: timedelta | None = None, longest_said: str = "", beyond: str = ""
) -> timedelta:
    """The span `text` says (`30m`, `4h`, `1w3d`), above 0 and at most `longest` (said as
    `longest_said`); Malformed otherwise, ending in `accepted` (or, when too long, `beyond`: what
    to do instead)."""
    try:
        span = parse_span(text)
    except ValueError:
        raise Malformed(text, "is not a duration", accepted) from None
    if span <= timedelta(0):
        raise Malformed(text, "is no time at all", accepted)
    if longest is not None and span > longest:
        said = longest_said or format_span(longest)
        raise Malformed(text, f"is longer than {said}", beyond or accepted)
    return span


def moment(text: str, *, accepted: str) -> datetime:
    """The date and time `text` says (`2026-12-07T09:30`, with or without an offset: a naive one
    is the caller's to place); Malformed otherwise."""
    try:
        return parse_datetime(text)
    except ValueError:
        raise Malformed(text, "is not a date and time", accepted) from None


class Malformed(Refused):
    """Text that should say a duration or a time and does not: what was typed, what is wrong with
    it, what would be right. Nothing was changed."""

    def __init__(self, text: str, problem: str, accepted: str) -> None:
        self.text = text  # as typed
        self.problem = problem  # "is not a duration"
        self.accepted = accepted  # "use a number with a unit: 30m, 4h, …"
        super().__init__(self.slack())

    def slack(self) -> str:
        """`` `banana` is not a duration; use a number with a unit: 30m, 4h, 2d, 1w.``"""
        return f"`{quote(self.text) or '…'}` {self.problem}; {self.accepted}."

    def plain(self) -> str:
        """`'banana' is not a duration; use a number with a unit: …`"""
        return f"{clip(typed(self.text), QUOTE_LIMIT)!r} {self.problem}; {self.accepted}"


class Unknown(Refused):
    """A name Baton does not know, with what would be right. Nothing was changed."""

    def __init__(
        self,
        what: str,
        text: str,
        known: Sequence[str],
        *,
        guess: str | None | object = _NEAREST,
        plural: str | None = None,
        shown: dict[str, str] | None = None,
        listed: str | None = None,
        where: str = "",
        then: str = "",
    ) -> None:
        self.what = what  # "area", "team", "readiness item"
        self.where = where  # " in `model-quality`": whose names `known` are
        self.text = text  # as typed
        self.known = list(known)
        # A caller with a better guess (an area's aliases count) gives it, or None for none.
        self.guess: str | None = closest(text, self.known) if guess is _NEAREST else guess  # type: ignore[assignment]
        self.plural = plural or f"{what.split()[-1]}s"  # "Areas: …", "Severities: …"
        self.shown = shown or {}  # how a known name is shown in Slack: {"ml": "`ml` (ML Team)"}
        self.listed = listed  # what exists, said another way than a list of names
        self.then = then  # a last sentence for Slack: an example, a usage line
        super().__init__(self.slack())

    def _name(self, key: str) -> str:
        return self.shown.get(key, f"`{escape(key)}`")

    def slack(self) -> str:
        """`There is no area `modle`. Did you mean `model-quality`?` (or the list of what exists)."""
        head = f"There is no {self.what} `{quote(self.text) or '…'}`{self.where}."
        hint = f" Did you mean {self._name(self.guess)}?" if self.guess is not None else ""
        if self.guess is None or self.listed:  # a caller's `listed` is said whatever the guess
            names = self.listed or ", ".join(self._name(k) for k in self.known)
            hint += f" {self.plural.capitalize()}: {names}."
        return head + hint + (f" {self.then}" if self.then else "")

    def plain(self) -> str:
        """`area 'modle' is not an area (did you mean 'model-quality'?): use one of …`."""
        noun = self.what.split()[-1]
        said = clip(typed(self.text), QUOTE_LIMIT)
        hint = f" (did you mean {self.guess!r}?)" if self.guess is not None else ""
        return f"{noun} {said!r} is not {_a(noun)} {noun}{hint}: use one of {', '.join(self.known)}"


def _a(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"
