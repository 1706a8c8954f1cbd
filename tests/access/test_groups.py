"""bot/access/groups.py: the groups a refusal names, shown safely whatever ownership.yaml says."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.access import groups as people
from bot.access.rule import refusal
from bot.config.loader import load_config
from bot.config.ownership import Ownership

ROOT = Path(__file__).resolve().parents[2]


def _baton(team_name: str) -> Any:
    config = load_config(ownership_path=ROOT / "ownership.yaml", severity_path=ROOT / "severity.yaml")
    own = config.ownership
    team = own.areas["model-quality"].responsible
    teams = {**own.teams, team: own.teams[team].model_copy(update={"name": team_name})}
    edited = own.model_copy(update={"teams": teams})
    return SimpleNamespace(ownership=Ownership(edited), config=SimpleNamespace(ownership=edited))


def test_a_team_name_with_markup_is_shown_escaped_in_every_group_that_names_it() -> None:
    baton = _baton("R&D <!channel>")
    team = baton.config.ownership.areas["model-quality"].responsible
    said = refusal([people.owners(baton, "model-quality"), people.members(baton, team)], "resolve #1")
    assert "R&amp;D &lt;!channel&gt;" in said and "<!channel>" not in said, said
    assert said.startswith("Only the area's owners (") and said.endswith("can resolve #1. Ask one of them.")
