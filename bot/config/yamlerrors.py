"""What went wrong in a YAML file, said as a person would: the file and the line.

PyYAML words its errors for its own grammar (`expected <block end>, but found '<block mapping
start>'`) and often points at the line after the mistake (a key with no colon is noticed on the
next line; a quote left open is noticed wherever the next quote is). Each common mistake is
recognised here and turned into one sentence that says what is wrong and what would be right,
at the line of the mistake, followed by that line and a caret under the place:

    ownership.yaml:52: tabs are not allowed for indentation, use spaces
        52 | ⇥oncall: sam
           | ^

The line shown is masked like everything Baton prints (a key pasted into the file stays out of
the log). Anything not recognised keeps PyYAML's words, at its line, with the line shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

# A leaf module (the standard library only), a text helper that imports nothing of Baton's:
# the line shown is masked as everything Baton prints is.
from bot.text.masking import mask

__all__ = ["Found", "empty", "not_a_mapping", "not_utf8", "syntax"]

_TAB = "⇥"  # shown for a tab: one character wide, so the caret stays under its column


@dataclass(frozen=True)
class Found:
    """One mistake: its line (1-based) and the message, the line shown and a caret under it."""

    line: int | None
    message: str


def excerpt(lines: list[str], line: int, column: int) -> str:
    """``line`` (1-based) of the file, masked, with a caret under ``column`` (0-based)."""
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1].replace("\t", _TAB)
    column = max(0, min(column, len(text)))
    shown, before = mask(text).text, mask(text[:column]).text
    # Masking may shorten what comes before the caret: it stays under the same place.
    caret = len(before) if shown.startswith(before) else min(column, len(shown))
    number = str(line)
    gutter = " " * len(number)
    return f"\n    {number} | {shown}\n    {gutter} | {' ' * caret}^"


def _found(lines: list[str], line: int, column: int, sentence: str) -> Found:
    return Found(line, sentence + excerpt(lines, line, column))


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _content_line_before(lines: list[str], line: int) -> int | None:
    """The nearest line above ``line`` (1-based) with something other than a comment on it."""
    for i in range(line - 1, 0, -1):
        stripped = lines[i - 1].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


# -- the mistakes --------------------------------------------------------------------------------

_CANNOT_START = re.compile(r"found character '(.+)' that cannot start any token")
_VALUE = re.compile(r"^\s*(?:-\s+)?[^\s#'\"][^:#]*?:\s+(?P<value>.*)$|^\s*-\s+(?P<item>.*)$")


def _open_quote(text: str) -> int | None:
    """The column of a quote that a line's value opens and does not close, if it does."""
    m = _VALUE.match(text)
    if m is None:
        return None
    value = m.group("value") if m.group("value") is not None else m.group("item")
    start = m.start("value") if m.group("value") is not None else m.start("item")
    if not value or value[0] not in "\"'":
        return None
    quote, i = value[0], 1
    while i < len(value):
        c = value[i]
        if quote == '"' and c == "\\":
            i += 2
            continue
        if c == quote:
            if quote == "'" and value[i + 1 : i + 2] == "'":  # '' is a quote inside single quotes
                i += 2
                continue
            return None  # closed on this line
        i += 1
    return start


def _unclosed_quote(lines: list[str], first: int, last: int) -> Found | None:
    """A value between lines ``first`` and ``last`` (1-based) that opens a quote and leaves it
    open: YAML then reads on across lines until the next quote, and fails somewhere below."""
    for line in range(max(first, 1), min(last, len(lines)) + 1):
        column = _open_quote(lines[line - 1])
        if column is not None:
            quote = lines[line - 1][column]
            return _found(
                lines,
                line,
                column,
                f"this value opens a quote ({quote}) that is not closed on its line: close it at the "
                "end of the value, or leave the quotes out",
            )
    return None


def _indentation(lines: list[str], line: int, column: int, found_what: str) -> Found | None:
    """A key (or list item) at the wrong indentation, told against the line above it."""
    above = _content_line_before(lines, line)
    if above is None:
        return None
    mine, theirs = _indent(lines[line - 1]), _indent(lines[above - 1])
    if found_what == "-" and mine == theirs:
        return _found(
            lines,
            line,
            column,
            f"a list item ('- ') among keys: write it as a key like the line above "
            f"(`{_item(lines[line - 1])}`), or put the list under a key of its own",
        )
    if mine < theirs:
        return _found(
            lines,
            line,
            mine,
            f"this key is indented less than the one above it ({theirs} spaces on line {above}): line it "
            "up with the keys it belongs with",
        )
    if mine > theirs:
        return _found(
            lines,
            line,
            mine,
            f"this key is indented more than the one above it ({theirs} spaces on line {above}): line it "
            "up with the key above (only a mapping or a list under a key that ends in ':' goes further in)",
        )
    return None


def _has_value(text: str) -> bool:
    """Whether a line ends in a value (`name: ML Team`, `- maya`), not in a key that opens a
    mapping or a list below it (`teams:`) or a block of text (`note: |`)."""
    written = re.sub(r"\s#.*$", "", text).rstrip()
    return bool(written) and not written.endswith((":", "|", ">", "|-", ">-"))


def _item(text: str) -> str:
    return text.strip().removeprefix("-").strip() or "…"


def syntax(exc: yaml.MarkedYAMLError, text: str) -> Found:
    """The sentence for a YAML syntax error, at the line of the mistake."""
    lines = text.splitlines()
    problem = exc.problem or ""
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column if mark is not None else 0
    start = exc.context_mark.line + 1 if exc.context_mark is not None else line

    if line is not None and 1 <= line <= len(lines):
        leading = lines[line - 1][: _indent(lines[line - 1])]
        if "\t" in leading or problem.startswith("found character '\\t'"):
            tab = lines[line - 1].find("\t")
            if "\t" in leading:
                return _found(lines, line, tab, "tabs are not allowed for indentation, use spaces")
            return _found(lines, line, max(tab, 0), "a tab cannot start a value here: use spaces")

    if "quoted scalar" in context and exc.context_mark is not None:
        at = exc.context_mark
        if "unknown escape character" in problem:
            return _found(
                lines,
                line or at.line + 1,
                column,
                "inside double quotes a backslash starts an escape (\\n, \\t, \\\\): use single quotes "
                "for text with backslashes, or write each backslash twice",
            )
        return _found(
            lines,
            at.line + 1,
            at.column,
            "this quote is never closed: close it at the end of the value, or leave the quotes out",
        )

    # A quote left open earlier makes YAML fail far below it: name the quote, not the symptom.
    if line is not None and start is not None:
        opened = _unclosed_quote(lines, start, line)
        if opened is not None:
            return opened

    if ("while scanning an alias" in context or "while scanning an anchor" in context) and exc.context_mark:
        at = exc.context_mark
        sign = lines[at.line][at.column] if at.line < len(lines) and at.column < len(lines[at.line]) else "*"
        return _found(
            lines,
            at.line + 1,
            at.column,
            f"a value starting with '{sign}' is read as a YAML {'alias' if sign == '*' else 'anchor'}: "
            'put the value in quotes, e.g. "*/5 * * * *"',
        )

    if "found undefined alias" in problem and line is not None:
        name = problem.split("'")[1] if "'" in problem else ""
        return _found(
            lines,
            line,
            column,
            f"*{name} refers to an anchor &{name} that is not defined above it: define it first, or "
            "quote the value if it is not meant as an alias",
        )

    cannot_start = _CANNOT_START.search(problem)
    if cannot_start and line is not None:
        char = cannot_start.group(1)
        example = ' e.g. "@maya" (or leave the @ out)' if char == "@" else ""
        return _found(
            lines,
            line,
            column,
            f"a value cannot start with '{char}' in YAML: put it in quotes,{example}".rstrip(","),
        )

    if ("while parsing a flow sequence" in context or "while parsing a flow mapping" in context) and (
        exc.context_mark is not None
    ):
        at = exc.context_mark
        opener, closer = ("[", "]") if "sequence" in context else ("{", "}")
        what = "list" if opener == "[" else "mapping"
        opened_line = lines[at.line] if at.line < len(lines) else ""
        if closer not in opened_line[at.column :]:
            return _found(
                lines,
                at.line + 1,
                at.column,
                f"this {what} opened with '{opener}' is not closed on its line: end it with '{closer}'",
            )
        if line is not None:
            return _found(
                lines,
                line,
                column,
                f"items of a {what} in '{opener}…{closer}' are set apart by commas: add a ',' here, or "
                "quote an item that has ': ' or ',' in it",
            )

    if "could not find expected ':'" in problem and exc.context_mark is not None:
        at = exc.context_mark
        written = lines[at.line] if at.line < len(lines) else ""
        glued = re.search(r":(?=\S)", written[at.column :])
        if glued is not None:
            return _found(
                lines,
                at.line + 1,
                at.column + glued.start() + 1,
                "a key needs a space after its colon: write `key: value`",
            )
        first_word = re.match(r"\s*\S*", written)
        return _found(
            lines,
            at.line + 1,
            first_word.end() if first_word else 0,
            "this line is not `key: value`: a key needs a colon and a space after it "
            "(or, for an item of a list, a '- ' before it)",
        )

    if "mapping values are not allowed here" in problem and line is not None:
        above = _content_line_before(lines, line)
        if (
            above is not None
            and _indent(lines[line - 1]) > _indent(lines[above - 1])
            and _has_value(lines[above - 1])
        ):
            return _found(
                lines,
                line,
                _indent(lines[line - 1]),
                f"this key is indented more than the one above it ({_indent(lines[above - 1])} spaces on "
                f"line {above}), so YAML reads it as part of that line's value: line it up with the key "
                "above",
            )
        return _found(
            lines,
            line,
            column,
            "a value with ': ' in it must be in quotes, e.g. title: \"Refusals: up 12%\"",
        )

    if "block sequence entries are not allowed here" in problem and line is not None:
        return _found(
            lines,
            line,
            column,
            "a list item ('- ') cannot follow a value on the same line: put each item on its own "
            "line, indented under its key",
        )

    expected_end = re.match(
        r"expected <block end>, but found '?(<block mapping start>|<scalar>|-|[^']*)'?", problem
    )
    if expected_end and line is not None:
        indentation = _indentation(lines, line, column, expected_end.group(1))
        if indentation is not None:
            return indentation

    words = problem or str(exc)
    if context:
        where = f" on line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        words += f" ({context}{where})"
    sentence = f"YAML cannot read this: {words}"
    return _found(lines, line, column, sentence) if line is not None else Found(None, sentence)


def not_utf8(data: bytes, exc: UnicodeDecodeError) -> Found:
    """Bytes that are not UTF-8: where the first one is, and how to save the file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Found(
            None,
            "the file is UTF-16 (Windows calls it 'Unicode'): save it as UTF-8",
        )
    line = data.count(b"\n", 0, exc.start) + 1
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    column = len(data[line_start : exc.start].decode("utf-8", "replace"))
    lines = data.decode("utf-8", "replace").splitlines()
    byte = data[exc.start]
    return _found(
        lines,
        line,
        column,
        f"byte 0x{byte:02x} is not UTF-8 (the file was saved in another encoding, e.g. Latin-1): "
        "save it as UTF-8",
    )


def _needs(required: list[str]) -> str:
    keys = ", ".join(f"`{key}:`" for key in required)
    return f"it needs {keys} at least" if required else "it needs its keys"


def empty(required: list[str]) -> Found:
    """A file with nothing in it, or only comments."""
    return Found(None, f"this file is empty (or only comments): {_needs(required)}, as in the shipped file")


def not_a_mapping(node: yaml.Node, text: str, required: list[str]) -> Found | None:
    """The top level must be keys with their values; None when it is."""
    if isinstance(node, yaml.MappingNode):
        return None
    what = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
    return _found(
        text.splitlines(),
        node.start_mark.line + 1,
        node.start_mark.column,
        f"this file is {what}, not keys with their values: {_needs(required)} (`key: value`, each "
        "at the start of its line), as in the shipped file",
    )
