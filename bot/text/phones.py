"""Phone numbers for bot/text/masking.py: international (+44 …, 0044 …), US (NANP) and national
numbers dialled with the trunk 0 (UK, FR, DE), without taking times, dates, versions, counts or
incident numbers for one. Patterns anchor at the start of a word and use possessive quantifiers,
as masking's others do, so they run in linear time.
"""

from __future__ import annotations

import re

__all__ = ["INTL", "NANP", "NATIONAL", "PLACEHOLDER", "intl_ok", "mask_national"]

PLACEHOLDER = "[phone]"  # masking.placeholder("phone")

# +44 20 7946 0958, +1 (415) 555-0100, +14155550100, 0044 20 7946 0958 (00: the international
# prefix dialled from Europe)
INTL = re.compile(r"(?<![\w+])(?:\+|(?<![./=-])00(?=[1-9]))[0-9]++(?:[ .-]?+(?:\([0-9]++\)|[0-9]++))*+")
# 415-555-0100, (415) 555 0100, 415.555.0100, 1-415-555-0100 — not 10 bare digits (epoch seconds);
# area code and exchange start with 2-9, so counts such as 100 100 1000 are not a number.
NANP = re.compile(
    r"(?<![\w.+-])(?:1[ .-]?+)?(?:\([2-9][0-9]{2}\)[ .-]?+|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
    r"(?![\w]|[.-][0-9])"
)
# National numbers dialled with the trunk prefix 0: 020 7946 0958, 0161 496 0000, 07700 900123
# (UK), 06 12 34 56 78, 06.12.34.56.78 (FR), 0151 23456789, 030/1234567, (030) 12345678 (DE),
# 0612345678. mask_national decides which leading groups of the run are a number.
NATIONAL = re.compile(
    r"(?<![\w.+/#-])(?<![0-9][,:])(?:\(0[1-9][0-9]{0,4}\)|0[1-9][0-9]*+)(?:[ ./-]?+[0-9]++)*+"
)
_NATIONAL_DIGITS = range(10, 13)  # with the 0: FR 10, UK 10-11, DE 10-12
_GROUP = re.compile(r"\(?[0-9]+\)?")
_NATIONAL_START = re.compile(r"\(?0[1-9]")


def intl_ok(value: str) -> bool:
    """Whether an INTL match has the digits of a number dialled abroad."""
    separated = any(not c.isdigit() for c in value[1:])
    if value.startswith("00"):
        # A country code and a whole national number, set apart: 0012345678901 is more likely an
        # id, 0099-01-01 10 a date, than a number dialled abroad.
        return separated and 10 <= sum(c.isdigit() for c in value) - 2 <= 15
    digits = sum(c.isdigit() for c in value)
    return (8 if separated else 10) <= digits <= 15


def _national_last(run: str, groups: list[tuple[int, int]], i: int, usable: int) -> int | None:
    """The last group of the national number that starts at group ``i``, if one does: the groups
    after its first have two digits or more and are set apart by one kind of separator
    (``06.12.2026 10`` is a date and an hour), it has 10 to 12 digits, and a group left over is
    set apart by a space (``… 0958 10 times``)."""

    def sep(k: int) -> str:  # between group k and group k + 1
        return run[groups[k][1] : groups[k + 1][0]]

    best = None
    digits = 0
    for j in range(i, usable):
        size = sum(c.isdigit() for c in run[slice(*groups[j])])
        digits += size
        if digits > _NATIONAL_DIGITS[-1] or (j > i and size < 2) or (j >= i + 2 and sep(j - 1) != sep(i + 1)):
            break
        if digits in _NATIONAL_DIGITS and (j + 1 == len(groups) or sep(j) == " "):
            best = j
    return best


def mask_national(m: re.Match[str]) -> tuple[str, int]:
    """A NATIONAL run with each national number in it masked, and how many there were."""
    run, text, end = m.group(0), m.string, m.end()
    groups = [g.span() for g in _GROUP.finditer(run)]
    nxt = text[end : end + 2]
    # A last group glued to what follows (78:90, 0958x, 5678.5) is part of something else.
    glued = bool(nxt) and (nxt[0].isalnum() or nxt[0] == "_" or (nxt[0] in ".,:/+-" and nxt[1:].isdigit()))
    usable = len(groups) - 1 if glued else len(groups)
    out: list[str] = []
    pos = i = n = 0
    while i < usable:
        a = groups[i][0]
        # A number starts at the run's start, or after a space (two numbers in a row).
        starts = _NATIONAL_START.match(run, a) is not None and (i == 0 or run[a - 1] == " ")
        j = _national_last(run, groups, i, usable) if starts else None
        if j is None:
            i += 1
            continue
        out += [run[pos:a], PLACEHOLDER]
        pos = groups[j][1]
        n += 1
        i = j + 1
    out.append(run[pos:])
    return "".join(out), n
