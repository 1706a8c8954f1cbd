"""The table of who may do what (docs/incidents.md) against the code's tables, row by row.

Each domain keeps its table as the keys of the groups it allows (bot/access/rule.py's GROUPS);
this walks every row of the documented table, reads its groups back from their words, and
compares them with the table of the code the row names. A row without a rule in the code, a rule
the docs do not list, and a group the docs word differently all fail here. What each rule does
on the real path (allowed and refused, through Slack) is tests/handlers/test_who_may.py's,
tests/handlers/test_handoffs.py's, tests/handlers/test_owner_oncall.py's and others'.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.access.rule import GROUPS
from bot.actions.requests import WHO_DECIDES
from bot.drills.start import WHO_STARTS as WHO_STARTS_DRILL
from bot.followups.services import WHO_ADDS, WHO_DONE
from bot.incidents.rules import WHO, Action
from bot.oncall import overrides
from bot.oncall.handovers import WHO_WRITES_NOTE
from bot.readiness import rules as readiness
from bot.records.handoffs import WHO_SIGNS, WHO_STARTS

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs/incidents.md"

# Each documented row -> the code's tables it states (one row may state several).
CODE: dict[str, list[tuple[str, ...]]] = {
    "declare, `status`, `evidence`, `note`, `timeline`, `list`": [("anyone",)],
    "acknowledge, `run` an action (ask for it)": [WHO[Action.ACKNOWLEDGE], WHO[Action.RUN]],
    "raise severity, Escalate now": [WHO[Action.RAISE], WHO[Action.ESCALATE]],
    "lower severity, `resolve`, `reopen`, `commander`": [
        WHO[Action.LOWER],
        WHO[Action.RESOLVE],
        WHO[Action.REOPEN],
        WHO[Action.COMMANDER],
    ],
    "`review` (record the incident's review)": [WHO[Action.REVIEW]],
    "`/owner handoff` of a role": [WHO_STARTS],
    "countersign a handoff": [WHO_SIGNS],
    "write an on-call handover's note": [WHO_WRITES_NOTE],
    "`/incident drill` (start a drill)": [WHO_STARTS_DRILL],
    "tick or untick a readiness item": [readiness.WHO],
    "`/owner oncall` (put someone on call)": [overrides.WHO],
    "approve or deny an action": [WHO_DECIDES],
    "`follow-up` (add one), `follow-ups` (list them)": [WHO_ADDS],
    "mark a follow-up Done": [WHO_DONE],
}
# Verbs open to anyone: none of them may become an incident Action (a rule with a table) without
# the row above changing.
OPEN = ("declare", "status", "evidence", "note", "timeline", "list")


def rows(text: str) -> dict[str, str]:
    """The "Who may do what" table: action cell -> allowed-to cell."""
    section = text.split("## Who may do what", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"^\| (.+?) \| (.+?) \|$", section, re.M)
    return {action: allowed for action, allowed in found if action not in ("action", "---")}


def groups_in(cell: str) -> tuple[str, ...]:
    """The group keys a cell names, in its order; an unknown wording fails, naming it."""
    by_words = {words: key for key, words in GROUPS.items()}
    keys = []
    for words in re.split(r", (?![^(]*\))", cell):  # a comma inside parentheses is a word's
        assert words in by_words, (
            f"{words!r} is not a group's wording; bot/access/rule.py GROUPS has {sorted(by_words)}"
        )
        keys.append(by_words[words])
    return tuple(keys)


def test_every_row_of_the_table_is_the_codes_rule() -> None:
    found = rows(PAGE.read_text())
    assert set(found) == set(CODE), "docs/incidents.md's rows and the rules the code keeps differ"
    for action, cell in found.items():
        for rule in CODE[action]:
            assert groups_in(cell) == rule, f"{action}: the docs say {groups_in(cell)}, the code {rule}"


def test_every_incident_action_is_in_the_table_and_the_open_verbs_are_not_rules() -> None:
    stated = {rule for rules in CODE.values() for rule in rules}
    assert all(WHO[action] in stated for action in Action)
    assert not {a.name.lower() for a in Action} & set(OPEN)


def test_a_row_the_code_does_not_keep_or_a_wording_it_does_not_know_fails() -> None:
    text = PAGE.read_text()
    changed = rows(text.replace("| the commander, the area's R and A, admins |", "| the commander, admins |"))
    assert groups_in(changed["lower severity, `resolve`, `reopen`, `commander`"]) != WHO[Action.RESOLVE]
    try:
        groups_in("the commander, the area's boss")
    except AssertionError as e:
        assert "the area's boss" in str(e)
    else:
        raise AssertionError("an unknown wording was taken")
    assert "a new row" not in rows(text + "\n| a new row | admins |\n")  # outside the section
