"""The demo's workspace: the stand-in seeded with the people, channels and user groups of the YAML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # the stand-in is loaded when the demo runs, not for --help
    from bot.slack.standin import FakeSlack


_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")


@dataclass(frozen=True)
class Person:
    """Someone of ownership.yaml, as the page lists them."""

    id: str
    handle: str
    name: str
    email: str | None


def user_id_for(handle: str, ref: str) -> str:
    """The Slack ID a person gets: their ID when the YAML names one, else one made from the
    handle (as the test suite seeds e-mail people, so `users.lookupByEmail` finds them)."""
    if _USER_ID.match(ref):
        return ref
    return "U" + re.sub(r"[^A-Z0-9]", "", handle.upper())[:8] + "E"


def read_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return loaded if isinstance(loaded, dict) else {}


def people_of(ownership: dict[str, Any]) -> list[Person]:
    people = ownership.get("people") or {}
    out = []
    for handle, raw in people.items():
        ref = str(raw)
        email = ref if "@" in ref else None
        out.append(Person(user_id_for(str(handle), ref), str(handle), str(handle).title(), email))
    return out


def _channels(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every channel ID in the YAML with where it was found (teams.ml.channel …)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _channels(value, (*path, str(key)))
    elif isinstance(node, list):
        for value in node:
            yield from _channels(value, path)
    elif isinstance(node, str) and _CHANNEL_ID.match(node) and path and "channel" in path[-1]:
        yield node, path


def channel_name(path: tuple[str, ...], channel_id: str) -> str:
    """A readable name for a channel the YAML names only by ID."""
    if len(path) >= 3 and path[0] == "teams":
        return f"team-{path[1]}"
    if path[-1] == "backlog_channel":
        return "backlog"
    if path[0] == "announce":
        return "incidents"
    return "-".join(p for p in path if p != "channel").lower() or channel_id.lower()


# The demo's announcement channel, when the given ownership.yaml names none.
ANNOUNCE_CHANNEL = "C0DEMOINCIDENTS"


def with_announce(ownership_path: Path, tmp: Path) -> Path:
    """The ownership.yaml the demo runs: the given one, with an `announce:` channel added when it
    has none, so the page shows the announcement of each incident. The given file is not touched."""
    if "announce" in read_yaml(ownership_path):
        return ownership_path
    text = ownership_path.read_text(encoding="utf-8").rstrip("\n")
    derived = tmp / "ownership.yaml"
    derived.write_text(f"{text}\n\n# Added by baton demo.\nannounce: {{channel: {ANNOUNCE_CHANNEL}}}\n")
    return derived


def seed(fake: FakeSlack, ownership_path: Path, severity_path: Path) -> tuple[list[Person], dict[str, str]]:
    """Give every person an account, create each channel and user group the YAML names; the
    people, and each user group's handle by ID (the page names a group mention with it)."""
    groups: dict[str, str] = {}
    ownership, severity = read_yaml(ownership_path), read_yaml(severity_path)
    people = people_of(ownership)
    by_ref: dict[str, str] = {}
    for person in people:
        fake.add_user(person.id, person.handle, email=person.email, real_name=person.name)
        by_ref[person.handle] = by_ref[person.id] = person.id
        if person.email:
            by_ref[person.email] = person.id
    everyone = [p.id for p in people]
    seen: set[str] = set()
    for source in (ownership, severity):
        for channel_id, path in _channels(source):
            if channel_id not in seen:
                seen.add(channel_id)
                fake.add_channel(channel_name(path, channel_id), members=everyone, channel_id=channel_id)
    for key, team in (ownership.get("teams") or {}).items():
        if isinstance(team, dict) and team.get("usergroup"):
            members = [by_ref[str(m)] for m in team.get("members") or [] if str(m) in by_ref]
            fake.add_usergroup(str(team["usergroup"]), members)
            groups[str(team["usergroup"])] = f"{key}-team"
    return people, groups
