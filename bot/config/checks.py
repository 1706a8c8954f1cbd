"""Whole-file checks over the plain data of ownership.yaml and severity.yaml (possibly malformed):
who and what names exist, rotations that make sense, all four levels. Values of the wrong shape
are skipped: the models report those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.fields import ACTION_KEY_RE, AREA_KEY_RE, HANDLE_RE, SEVERITIES, is_email, is_user_id
from bot.config.issues import Loc, did_you_mean, quoted
from bot.config.thresholds import default_slo
from bot.text.spans import format_datetime, parse_datetime


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def ownership_issues(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Cross-reference checks of ownership data (plain, possibly malformed): who and what names exist.

    Values of the wrong shape are skipped: pydantic reports those.
    """
    found: list[tuple[Loc, str]] = []
    people = _as_dict(data.get("people"))
    teams = _as_dict(data.get("teams"))
    areas = _as_dict(data.get("areas"))
    slo = data.get("slo")
    sli_names = list(slo) if isinstance(slo, dict) else list(default_slo())

    for handle in people:
        if not HANDLE_RE.fullmatch(handle):
            found.append(
                (
                    ("people", handle),
                    f"{handle!r} is not a usable handle; use letters, digits, '.', '_' or '-'",
                )
            )
    for key in teams:
        if key in people:
            found.append((("teams", key), f"{key!r} is both a team and a person; rename one of them"))

    def is_person(name: str) -> bool:
        return name in people or is_user_id(name) or is_email(name)

    def check(loc: Loc, name: Any, *, teams_ok: bool, team_hint: str = "") -> None:
        if not isinstance(name, str) or is_person(name) or (teams_ok and name in teams):
            return
        if name in teams:
            found.append((loc, f"{name!r} is a team, not a person{team_hint}"))
            return
        what = "a person or team" if teams_ok else "a person"
        guess = did_you_mean(name, [*people, *teams] if teams_ok else people)
        hint = (
            f"did you mean {guess!r}?"
            if guess
            else f"use {'a team key, ' if teams_ok else ''}a handle from people, a Slack user ID or an e-mail"
        )
        found.append((loc, f"{name!r} is not {what} ({hint})"))

    default_area = _as_dict(data.get("alerts")).get("default_area")
    if isinstance(default_area, str) and default_area not in areas:
        aliases = {
            a: k for k, v in areas.items() for a in _as_list(_as_dict(v).get("aliases")) if isinstance(a, str)
        }
        guess = did_you_mean(default_area, [*areas, *aliases])
        hint = f"did you mean {aliases.get(guess, guess)!r}?" if guess else f"areas: {', '.join(areas)}"
        found.append((("alerts", "default_area"), f"{default_area!r} is not an area ({hint})"))
    for i, admin in enumerate(_as_list(data.get("admins"))):
        check(("admins", i), admin, teams_ok=False, team_hint="; list its members instead")

    for key, team in teams.items():
        for i, member in enumerate(_as_list(_as_dict(team).get("members"))):
            check(
                ("teams", key, "members", i), member, teams_ok=False, team_hint="; list its members instead"
            )
    zone, zone_set = _rotation_zone(data.get("nudges"))
    for key, team in teams.items():
        oncall = _as_dict(team).get("oncall")
        if isinstance(oncall, dict):
            found += _rotation_issues(
                ("teams", key, "oncall"),
                oncall,
                _as_list(_as_dict(team).get("members")),
                check,
                is_person,
                zone,
                zone_set,
            )

    owner_of: dict[str, tuple[str, str]] = {}  # key or alias -> (area, "area"/"alias")
    for key in areas:
        owner_of[key] = (key, "area")
    for key, raw in areas.items():
        area = _as_dict(raw)
        if not AREA_KEY_RE.fullmatch(key):
            found.append(
                (
                    ("areas", key),
                    f"area key {key!r} must be lowercase letters, digits and dashes (e.g. 'model-quality')",
                )
            )
        check(("areas", key, "responsible"), area.get("responsible"), teams_ok=True)
        accountable = area.get("accountable")
        if isinstance(accountable, str) and accountable in teams:
            oncall = _as_dict(teams[accountable]).get("oncall") or next(
                iter(_as_list(_as_dict(teams[accountable]).get("members"))), None
            )
            example = f" (e.g. its on-call {oncall!r})" if isinstance(oncall, str) else ""
            found.append(
                (
                    ("areas", key, "accountable"),
                    f"{accountable!r} is a team; accountable must be exactly one person{example}",
                )
            )
        else:
            check(("areas", key, "accountable"), accountable, teams_ok=False)
        for role in ("consulted", "informed"):
            for i, name in enumerate(_as_list(area.get(role))):
                check(("areas", key, role, i), name, teams_ok=True)
        for i, alias in enumerate(_as_list(area.get("aliases"))):
            if not isinstance(alias, str) or alias == key:
                continue
            other, kind = owner_of.setdefault(alias, (key, "alias"))
            if other == key:
                continue
            clash = f"area {other!r}" if kind == "area" else f"an alias of area {other!r}"
            found.append(
                (("areas", key, "aliases", i), f"alias {alias!r} of area {key!r} clashes with {clash}")
            )
        for sli in _as_dict(area.get("slo_queries")):
            if sli not in sli_names:
                guess = did_you_mean(sli, sli_names)
                hint = f"did you mean {guess!r}?" if guess else f"known: {', '.join(sli_names)}"
                found.append(
                    (("areas", key, "slo_queries", sli), f"{sli!r} is not an SLI under slo ({hint})")
                )
        for name in _as_dict(area.get("actions")):
            if not ACTION_KEY_RE.fullmatch(name):
                found.append(
                    (
                        ("areas", key, "actions", name),
                        f"action name {name!r} must be lowercase letters, digits and dashes "
                        "(e.g. 'rollback-prompt'); it is typed in `/incident run <action>`",
                    )
                )
    return found


def _rotation_zone(nudges: Any) -> tuple[tzinfo | None, bool]:
    """The zone naive rotation times are in (None if unknown), and whether nudges.timezone is set.

    Read from the file, not the model: Nudges.timezone defaults to UTC, but a rotation's
    `from: 2026-11-30T09:00` with no zone written anywhere is a mistake, not UTC.
    """
    if not isinstance(nudges, dict) or "timezone" not in nudges:
        return None, False
    try:
        return ZoneInfo(str(nudges["timezone"])), True
    except (ZoneInfoNotFoundError, ValueError):
        return None, True  # Nudges reports the unknown zone


def _try_datetime(value: Any) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        return None  # the model reports the format


def _rotation_issues(
    loc: Loc,
    oncall: Mapping[str, Any],
    members: list[Any],
    check: Callable[..., None],
    is_person: Callable[[str], bool],
    zone: tzinfo | None,
    zone_set: bool,
) -> list[tuple[Loc, str]]:
    """A rotation's people, its times' zones, and its overrides' order and overlaps.

    ``check(loc, name, teams_ok=..., team_hint=...)`` reports a name that is not a person into
    the caller's list; the rest is returned.
    """
    found: list[tuple[Loc, str]] = []
    listed = f"(members: {quoted(m for m in members if isinstance(m, str))})"
    for i, person in enumerate(_as_list(oncall.get("rotation"))):
        if not isinstance(person, str):
            continue
        if not is_person(person):  # one message: not a person says more than not a member
            check((*loc, "rotation", i), person, teams_ok=False, team_hint="; list its members instead")
        elif members and person not in members:
            found.append(((*loc, "rotation", i), f"{person!r} is not a member of this team {listed}"))

    def naive(at: Loc, moment: datetime | None) -> None:
        if moment is not None and moment.tzinfo is None and not zone_set:
            written = format_datetime(moment)
            found.append(
                (
                    at,
                    f"{written} has no time zone and nudges.timezone is not set: add an offset "
                    f"({written}+01:00) or set nudges.timezone (e.g. Europe/London)",
                )
            )

    naive((*loc, "from"), _try_datetime(oncall.get("from")))

    def comparable(a: datetime, b: datetime) -> bool:
        # Without a zone, a naive time cannot be set against an exact instant.
        return zone is not None or (a.tzinfo is None) == (b.tzinfo is None)

    def instant(moment: datetime) -> datetime:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone or UTC)

    spans: list[tuple[int, datetime, datetime]] = []
    for i, raw in enumerate(_as_list(oncall.get("overrides"))):
        override = _as_dict(raw)
        at: Loc = (*loc, "overrides", i)
        check((*at, "who"), override.get("who"), teams_ok=False, team_hint="; name one of its members")
        start, end = _try_datetime(override.get("from")), _try_datetime(override.get("to"))
        naive((*at, "from"), start)
        naive((*at, "to"), end)
        if start is None or end is None or not comparable(start, end):
            continue
        if instant(end) <= instant(start):
            found.append(
                (
                    (*at, "to"),
                    f"{format_datetime(end)} is not after from ({format_datetime(start)}); "
                    "an override must end after it starts",
                )
            )
            continue
        for j, other_start, other_end in spans:
            if not all(comparable(a, b) for a in (start, end) for b in (other_start, other_end)):
                continue
            if instant(start) < instant(other_end) and instant(other_start) < instant(end):
                found.append(
                    (
                        at,
                        f"{format_datetime(start)}–{format_datetime(end)} overlaps overrides[{j}] "
                        f"({format_datetime(other_start)}–{format_datetime(other_end)}); "
                        "overrides may not overlap",
                    )
                )
                break
        spans.append((i, start, end))
    return found


def severity_issues(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Whole-file checks of severity data (plain, possibly malformed): all four levels, backlog channel."""
    found: list[tuple[Loc, str]] = []
    levels = data.get("levels")
    if not isinstance(levels, dict):
        return found
    for key in levels:
        if key not in SEVERITIES:
            guess = did_you_mean(key.upper(), SEVERITIES)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            found.append((("levels", key), f"{key!r} is not a severity; levels are P0, P1, P2 and P3{hint}"))
    missing = [sev for sev in SEVERITIES if sev not in levels]
    if missing:
        found.append((("levels",), f"missing {', '.join(missing)}: P0, P1, P2 and P3 must all be defined"))
    backlog = [key for key, level in levels.items() if _as_dict(level).get("notify") == "backlog"]
    if backlog and not data.get("backlog_channel"):
        found.append(
            (
                ("backlog_channel",),
                f"is required because {', '.join(backlog)} notify backlog (e.g. C07BACKLOG)",
            )
        )
    return found
