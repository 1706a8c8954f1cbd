"""YAML mistakes said as a person would: each common
kind of PyYAML error, in ownership.yaml and in severity.yaml, is one sentence at the line of the
mistake, with that line shown and a caret under the place. Through load_config on real files
(what start-up, reload and `baton check` all read with), and through the real `baton check`,
a `baton serve` that starts, and a running one asked to reload."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from bot.config.issues import ConfigError
from bot.config.loader import load_config
from bot.slack.standin import FakeSlack
from tests.conftest import (
    BATON,
    SHIPPED_OWNERSHIP,
    SHIPPED_SEVERITY,
    SIGNING_SECRET,
    clean_env,
    serve,
    serve_env,
)
from tests.slack.test_slack_check import Lines
from tests.slack_signing import post_signed, slash_command_body

OWNERSHIP = SHIPPED_OWNERSHIP.read_text()
SEVERITY = SHIPPED_SEVERITY.read_text()
TAB = "⇥"  # how a tab is shown: one column wide, so the caret stays under it


def edited(text: str, old: str, new: str) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def refused(tmp_path: Path, *, ownership: str | bytes = OWNERSHIP, severity: str | bytes = SEVERITY) -> str:
    """What loading the two files says (they are written under tmp_path; names relative to it)."""
    for name, content in (("ownership.yaml", ownership), ("severity.yaml", severity)):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as caught:
        load_config(
            ownership_path=tmp_path / "ownership.yaml", severity_path=tmp_path / "severity.yaml", env={}
        )
    (issue,) = caught.value.issues
    return str(issue).replace(f"{tmp_path}/", "")


def shown(file: str, text: str, marker: str, caret: str, sentence: str) -> str:
    """The expected message: `file:line: sentence`, the line with `marker` shown, and a caret
    under the first `caret` in it."""
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines, 1) if marker in line)
    line = lines[number - 1].replace("\t", TAB)
    column = line.index(caret.replace("\t", TAB))
    pad = " " * len(str(number))
    return f"{file}:{number}: {sentence}\n    {number} | {line}\n    {pad} | {' ' * column}^"


# (id, file, old, new, the line reported (a part of it), where the caret is, the sentence)
CASES = [
    (
        "tab",
        "ownership",
        "    oncall: sam\n",
        "\toncall: sam\n",
        "\toncall: sam",
        "\t",
        "tabs are not allowed for indentation, use spaces",
    ),
    (
        "tab-after-spaces",
        "severity",
        "  P2: {name: Partial",
        "  \t P2: {name: Partial",
        "P2: {name: Partial",
        "\t",
        "tabs are not allowed for indentation, use spaces",
    ),
    (
        "tab-before-a-value",
        "ownership",
        "    oncall: sam\n",
        "    oncall:\tsam\n",
        "oncall:\tsam",
        "\t",
        "a tab cannot start a value here: use spaces",
    ),
    (
        "indented-less",
        "ownership",
        "    oncall: sam\n",
        "   oncall: sam\n",
        "   oncall: sam",
        "oncall",
        "this key is indented less than the one above it (4 spaces on line 51): line it up with the keys "
        "it belongs with",
    ),
    (
        "indented-more",
        "ownership",
        "    oncall: sam\n",
        "      oncall: sam\n",
        "      oncall: sam",
        "oncall",
        "this key is indented more than the one above it (4 spaces on line 51): line it up with the key "
        "above (only a mapping or a list under a key that ends in ':' goes further in)",
    ),
    (
        "indented-more-after-a-value",
        "severity",
        "backlog_channel: C07BACKLOG",
        "backlog_channel: C07BACKLOG\n  levels_note: x",
        "levels_note: x",
        "levels_note",
        "this key is indented more than the one above it (0 spaces on line 27), so YAML reads it as part "
        "of that line's value: line it up with the key above",
    ),
    (
        "quote-not-closed-on-its-line",
        "ownership",
        "    name: Platform Team\n",
        '    name: "Platform Team\n',
        'name: "Platform Team',
        '"',
        'this value opens a quote (") that is not closed on its line: close it at the end of the value, '
        "or leave the quotes out",
    ),
    (
        "single-quote-not-closed",
        "ownership",
        "    name: Platform Team\n",
        "    name: 'Platform Team\n",
        "name: 'Platform Team",
        "'",
        "this value opens a quote (') that is not closed on its line: close it at the end of the value, "
        "or leave the quotes out",
    ),
    (
        "quote-never-closed",
        "severity",
        "backlog_channel: C07BACKLOG",
        'backlog_channel: "C07BACKLOG',
        'backlog_channel: "C07BACKLOG',
        '"',
        "this quote is never closed: close it at the end of the value, or leave the quotes out",
    ),
    (
        "bracket-not-closed",
        "ownership",
        "    members: [sam, priya, jonas]\n",
        "    members: [sam, priya, jonas\n",
        "members: [sam, priya, jonas",
        "[",
        "this list opened with '[' is not closed on its line: end it with ']'",
    ),
    (
        "brace-not-closed",
        "severity",
        "notify: owning-team}\n  P2",
        "notify: owning-team\n  P2",
        "P1: {name: Core",
        "{",
        "this mapping opened with '{' is not closed on its line: end it with '}'",
    ),
    (
        "no-colon",
        "ownership",
        "    oncall: sam\n",
        "    oncall sam\n",
        "    oncall sam",
        " sam",
        "this line is not `key: value`: a key needs a colon and a space after it (or, for an item of a "
        "list, a '- ' before it)",
    ),
    (
        "no-space-after-the-colon",
        "ownership",
        "    oncall: sam\n",
        "    oncall:sam\n",
        "oncall:sam",
        "sam",
        "a key needs a space after its colon: write `key: value`",
    ),
    (
        "a-list-item-among-keys",
        "ownership",
        "    oncall: sam\n",
        "    - oncall: sam\n",
        "- oncall: sam",
        "-",
        "a list item ('- ') among keys: write it as a key like the line above (`oncall: sam`), or put the "
        "list under a key of its own",
    ),
    (
        "at-sign",
        "ownership",
        "    accountable: maya             #",
        "    accountable: @maya            #",
        "accountable: @maya",
        "@",
        "a value cannot start with '@' in YAML: put it in quotes, e.g. \"@maya\" (or leave the @ out)",
    ),
    (
        "backtick",
        "ownership",
        "    name: Platform Team\n",
        "    name: `Platform` Team\n",
        "name: `Platform` Team",
        "`",
        "a value cannot start with '`' in YAML: put it in quotes",
    ),
    (
        "cron-star",
        "ownership",
        '  handoffs: "0 9 * * *"',
        "  handoffs: */5 * * * *",
        "handoffs: */5",
        "*",
        "a value starting with '*' is read as a YAML alias: put the value in quotes, e.g. \"*/5 * * * *\"",
    ),
    (
        "undefined-alias",
        "ownership",
        "    oncall: sam\n",
        "    oncall: *sam\n",
        "oncall: *sam",
        "*",
        "*sam refers to an anchor &sam that is not defined above it: define it first, or quote the value "
        "if it is not meant as an alias",
    ),
    (
        "backslash-in-double-quotes",
        "severity",
        "{name: Core feature failure,",
        '{name: "Core\\d feature failure",',
        "Core\\d feature",
        "d feature",
        "inside double quotes a backslash starts an escape (\\n, \\t, \\\\): use single quotes for text "
        "with backslashes, or write each backslash twice",
    ),
    (
        "colon-in-a-value",
        "ownership",
        "    name: Platform Team\n",
        "    name: Platform: Team\n",
        "name: Platform: Team",
        ": Team",
        "a value with ': ' in it must be in quotes, e.g. title: \"Refusals: up 12%\"",
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "marker", "caret", "sentence"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_yaml_mistake_is_one_sentence_at_its_line_with_a_caret(
    tmp_path: Path, file: str, old: str, new: str, marker: str, caret: str, sentence: str
) -> None:
    text = edited(OWNERSHIP if file == "ownership" else SEVERITY, old, new)
    said = refused(tmp_path, **{file: text})
    assert said == shown(f"{file}.yaml", text, marker, caret, sentence)


@pytest.mark.parametrize(("file", "required"), [("ownership", "`areas:`"), ("severity", "`levels:`")])
@pytest.mark.parametrize("content", ["", "\n\n", "# nothing here yet\n"], ids=["empty", "blank", "comments"])
def test_an_empty_file_says_so(tmp_path: Path, file: str, required: str, content: str) -> None:
    assert refused(tmp_path, **{file: content}) == (
        f"{file}.yaml: this file is empty (or only comments): it needs {required} at least, as in the "
        "shipped file"
    )


@pytest.mark.parametrize(
    ("content", "what", "caret"),
    [
        ("- maya\n- li\n", "a list", "-"),
        ("just some text\n", "a single value", "j"),
        ("# x\n42\n", "a single value", "4"),
    ],
)
def test_a_file_that_is_not_keys_says_what_it_is(tmp_path: Path, content: str, what: str, caret: str) -> None:
    assert refused(tmp_path, severity=content) == shown(
        "severity.yaml",
        content,
        content.splitlines()[-1][:2] if what != "a list" else "- maya",
        caret,
        f"this file is {what}, not keys with their values: it needs `levels:` at least (`key: value`, "
        "each at the start of its line), as in the shipped file",
    )


def test_bytes_that_are_not_utf8_are_found_at_their_line(tmp_path: Path) -> None:
    text = edited(OWNERSHIP, "    name: Legal / Compliance\n", "    name: Légal\n")
    latin1 = text.encode("utf-8").replace("Légal".encode(), b"L\xe9gal")
    assert refused(tmp_path, ownership=latin1) == shown(
        "ownership.yaml",
        text.replace("é", "\ufffd"),
        "name: L\ufffdgal",
        "\ufffd",
        "byte 0xe9 is not UTF-8 (the file was saved in another encoding, e.g. Latin-1): save it as UTF-8",
    )
    assert refused(tmp_path, severity=SEVERITY.encode("utf-16")) == (
        "severity.yaml: the file is UTF-16 (Windows calls it 'Unicode'): save it as UTF-8"
    )


def test_a_duplicate_key_still_names_both_lines(tmp_path: Path) -> None:
    text = edited(OWNERSHIP, "    oncall: sam\n", "    oncall: sam\n    oncall: priya\n")
    assert refused(tmp_path, ownership=text) == (
        "ownership.yaml:53 teams.platform.oncall: duplicate key (first defined on line 52)"
    )


def test_the_line_shown_is_masked(tmp_path: Path) -> None:
    text = edited(OWNERSHIP, "    oncall: sam\n", "\toncall: sam  # pager key xoxb-1234567890-abcdefghijkl\n")
    said = refused(tmp_path, ownership=text)
    assert "xoxb-1234567890" not in said
    assert said.splitlines()[1:] == [f"    52 | {TAB}oncall: sam  # pager key [slack-token]", "       | ^"]


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    for name, text in (("ownership.yaml", OWNERSHIP), ("severity.yaml", SEVERITY)):
        (tmp_path / name).write_bytes(b"\xef\xbb\xbf" + text.encode())
    config = load_config(ownership_path=tmp_path / "ownership.yaml", severity_path=tmp_path / "severity.yaml")
    assert "model-quality" in config.ownership.areas


# -- through the real commands ------------------------------------------------------------------


def baton(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, *args], capture_output=True, text=True, env={**clean_env(), **env}, cwd=cwd, timeout=60
    )


def test_baton_check_says_it_with_the_line_and_a_caret(tmp_path: Path) -> None:
    (tmp_path / "ownership.yaml").write_text(edited(OWNERSHIP, "    oncall: sam\n", "\toncall: sam\n"))
    (tmp_path / "severity.yaml").write_text("")
    out = baton("check", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stdout == ""
    assert out.stderr == (
        "ownership.yaml:52: tabs are not allowed for indentation, use spaces\n"
        f"    52 | {TAB}oncall: sam\n"
        "       | ^\n"
        "severity.yaml: this file is empty (or only comments): it needs `levels:` at least, as in the "
        "shipped file\n"
        "baton: 2 errors in the config; nothing was changed\n"
    )


def test_serve_refuses_to_start_with_the_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "ownership.yaml"
    bad.write_text(edited(OWNERSHIP, "    oncall: sam\n", "   oncall: sam\n"))
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, BATON_OWNERSHIP_FILE=str(bad))
        out = baton("serve", cwd=tmp_path, **env)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"{bad}:52: this key is indented less than the one above it (4 spaces on line 51): line it up "
        "with the keys it belongs with",
        "    52 |    oncall: sam",
        "       |    ^",
        "baton: 1 error in the config; nothing was changed",
    ]


def test_a_reload_of_a_bad_file_says_it_and_keeps_the_running_config(tmp_path: Path) -> None:
    live = tmp_path / "ownership.yaml"
    live.write_text(OWNERSHIP)
    with FakeSlack() as fake:
        env = serve_env(fake, tmp_path, BATON_OWNERSHIP_FILE=str(live))
        out = Lines(serve(env, tmp_path))
        try:
            live.write_text(edited(OWNERSHIP, '  handoffs: "0 9 * * *"', "  handoffs: */5 * * * *"))
            n = OWNERSHIP[: OWNERSHIP.index('  handoffs: "0 9 * * *"')].count("\n") + 1  # its line
            asked = baton("reload", cwd=tmp_path, **env)
            assert asked.returncode == 1
            assert asked.stderr.splitlines()[0] == (
                f"{live}:{n}: a value starting with '*' is read as a YAML alias: put the value in quotes, "
                'e.g. "*/5 * * * *"'
            )
            # A SIGHUP reads it too (the way `baton reload` asks, after its own check).
            out.proc.send_signal(signal.SIGHUP)
            fake.wait_for(lambda: out.having("config reload refused"), timeout=15)
            fake.wait_for(lambda: out.having(f"{n:>7} |   handoffs: */5"), timeout=5)
            # The running config is still the one it started with.
            url = f"http://127.0.0.1:{env['PORT']}/slack/events"
            answer = post_signed(url, slash_command_body("/owner", "infra"), SIGNING_SECRET)
            assert answer.status_code == 200 and "Platform Team" in answer.text
        finally:
            lines = out.stop()
    at = next(i for i, line in enumerate(lines) if "config reload refused" in line)
    assert lines[at + 1] == asked.stderr.splitlines()[0]
    assert lines[at + 2].startswith(f"{n:>7} |   handoffs: */5 * * * *   ")
    assert lines[at + 3] == "        |             ^"
