"""RACI queries over ownership.yaml: who is R, A, C, I and on call, notify scopes, area lookup.

A *ref* is a person as written in the config: a handle from ``people``, a Slack user ID or an
e-mail. Refs are what the rest of Baton stores and shows; :meth:`Ownership.user_id` turns one into
a Slack user ID when it is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.config.fields import SCOPES, is_email, is_user_id
from bot.config.models import Area, OwnershipConfig, Rotation
from bot.config.rotation import Plan, Window, zone_of
from bot.text.typed import Unknown, closest

# Each scope's next step when nobody acknowledges.
_WIDER = {"owner": "owning-team", "owning-team": "everyone", "everyone": "everyone"}
_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def wider(scope: str) -> str:
    """The next wider notify scope: owner -> owning-team -> everyone -> everyone.

    ``backlog`` widens to ``owner``: escalating a backlog item by hand means paging its owner.
    """
    if scope == "backlog":
        return "owner"
    try:
        return _WIDER[scope]
    except KeyError:
        raise ValueError(f"unknown notify scope {scope!r}; use one of {', '.join(SCOPES)}") from None


class UnknownAreaError(Unknown, KeyError):
    """No area has that key, alias or name: the one `Unknown` for areas, also a KeyError for the
    lookups that treat it as one."""

    def __str__(self) -> str:
        # KeyError would repr() its message, quotes and all.
        return self.slack()


# How many handles an unknown person's message lists before it says "…".
_PEOPLE_LISTED = 12


@dataclass(frozen=True)
class Raci:
    """One area's RACI card, with teams expanded to refs (on-call first)."""

    area: str
    name: str
    covers: str | None
    responsible_team: str | None
    responsible: list[str]
    oncall: str
    accountable: str
    consulted: list[str]
    informed: list[str]
    consulted_raw: list[str]
    informed_raw: list[str]
    runbook: str | None
    aliases: list[str]


ROLES = ("accountable", "responsible", "oncall")


class Signer(StrEnum):
    """Who signs a handoff receipt: the person taking the role over, the one handing it over, or
    a witness. The value is what is stored and sent (a sign button's "<receipt id>:<signer>")."""

    INCOMING = "incoming"
    OUTGOING = "outgoing"
    PEER = "peer"


class RoleKind(StrEnum):
    """What a role that can be handed over belongs to: an area (A, R) or a team (its on-call)."""

    AREA = "area"
    TEAM = "team"


@dataclass(frozen=True)
class RoleKey:
    """A role that can be handed over, as `Holder` and `OwnerOverride` rows file it:
    ``area:<key>:accountable``, ``area:<key>:responsible`` (R is a person) or
    ``team:<key>:oncall``. `str()` gives the stored key, `parse` reads one back."""

    kind: RoleKind
    name: str  # the area's or the team's key
    role: str  # one of ROLES

    @classmethod
    def of(cls, role: str, *, area: str | None = None, team: str | None = None) -> RoleKey:
        if role == "oncall":
            return cls(RoleKind.TEAM, f"{team}", role)
        return cls(RoleKind.AREA, f"{area}", role)

    @classmethod
    def parse(cls, key: str) -> RoleKey:
        """The key `str()` wrote; ValueError for anything else."""
        kind, name, role = key.split(":")
        return cls(RoleKind(kind), name, role)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}:{self.role}"


def role_key(role: str, *, area: str | None = None, team: str | None = None) -> str:
    """The stored key of a role that can be handed over (:class:`RoleKey`)."""
    return str(RoleKey.of(role, area=area, team=team))


class Ownership:
    """Queries over a validated ownership config; ``emails`` maps e-mail -> resolved Slack user ID.

    ``overrides`` maps role keys (see :func:`role_key`) to refs: roles handed over in Slack and
    countersigned, which hold until ownership.yaml is edited to match. ``oncall_windows`` are
    the on-call overrides added in Slack, per team, oldest first; ``now`` is the moment on-call
    questions are asked about (a rotation's shift changes with it).
    """

    def __init__(
        self,
        config: OwnershipConfig,
        emails: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        *,
        oncall_windows: Mapping[str, Sequence[Window]] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.overrides = dict(overrides or {})
        self.oncall_windows = {team: list(ws) for team, ws in (oncall_windows or {}).items()}
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self._plans: dict[str, Plan] = {}
        # E-mail addresses are case-insensitive in practice; Slack's lookup returns them lowercased.
        self._emails = {email.lower(): uid for email, uid in (emails or {}).items()}
        self._handles = {handle.lower(): handle for handle in config.people}
        self._names: dict[str, str] = {}  # key or alias -> area key
        for key, area in config.areas.items():
            self._names[key] = key
            for alias in area.aliases:
                self._names.setdefault(alias, key)
        self._display = {area.name.lower(): key for key, area in config.areas.items()}
        # User ID -> the ref the config uses for that person, so mentions map back to handles.
        self._ref_of_id: dict[str, str] = {}
        for ref in [*config.people, *sorted(self.emails())]:
            uid = self.user_id(ref)
            if uid is not None:
                self._ref_of_id.setdefault(uid, ref)

    # ------------------------------------------------------------------ areas

    def area(self, text: str) -> str | None:
        """The area key for a key, alias or display name (case-insensitive, leading '#' allowed)."""
        cleaned = text.strip().lstrip("#").strip().lower()
        return self._names.get(cleaned) or self._display.get(cleaned)

    def suggest_area(self, text: str) -> str | None:
        """The area whose key or alias is closest to ``text``, for "did you mean"."""
        exact = self.area(text)
        if exact is not None:
            return exact
        cleaned = text.strip().lstrip("#").strip().lower()
        near = closest(cleaned, self._names)
        return self._names[near] if near is not None else None

    def area_named(self, text: str, *, then: str = "") -> str:
        """The area `text` names (as :meth:`area` reads it); UnknownAreaError with the nearest
        area otherwise, `then` its last sentence in Slack (an example, a usage line)."""
        key = self.area(text) if text.strip() else None
        if key is None:
            raise self.unknown_area(text, then=then)
        return key

    def unknown_area(self, text: str, *, then: str = "") -> UnknownAreaError:
        """The error for an area nobody has: what was typed, the nearest area, the areas."""
        guess = self.suggest_area(text) if text.strip() else None
        return UnknownAreaError("area", text, list(self.config.areas), guess=guess, then=then)

    def _area(self, text: str) -> tuple[str, Area]:
        key = self.area_named(text)
        return key, self.config.areas[key]

    # ------------------------------------------------------------------ people

    def user_id(self, ref: str) -> str | None:
        """The Slack user ID of a handle, ID or e-mail; None for an e-mail not (yet) resolved."""
        target = self.config.people.get(ref, ref)
        if is_user_id(target):
            return target
        if is_email(target):
            return self._emails.get(target.lower())
        return None

    def label(self, ref: str) -> str:
        """A Slack mention ``<@U…>`` when the ID is known, else the handle or e-mail as written."""
        uid = self.user_id(ref)
        return f"<@{uid}>" if uid else ref

    def person_from_text(self, text: str) -> str | None:
        """A ref from command text: ``<@U123|maya>``, ``<@U123>``, ``@maya``, ``maya``, an ID or e-mail.

        Known people come back as their config ref (usually the handle); unknown user IDs as the
        ID itself (Slack vouches for them); unknown plain names as None.
        """
        cleaned = text.strip()
        mention = _MENTION_RE.fullmatch(cleaned)
        if mention:
            uid = mention.group(1)
            return self._ref_of_id.get(uid, uid)
        cleaned = cleaned.removeprefix("@")
        if not cleaned:
            return None
        handle = self._handles.get(cleaned.lower())
        if handle is not None:
            return handle
        if is_user_id(cleaned):
            return self._ref_of_id.get(cleaned, cleaned)
        if is_email(cleaned):
            for handle, target in self.config.people.items():
                if target.lower() == cleaned.lower():
                    return handle
            return cleaned
        return None

    def person_named(self, text: str, *, then: str = "") -> str:
        """The ref of the person `text` names (as :meth:`person_from_text` reads it); Unknown
        with the nearest handle otherwise, `then` its last sentence in Slack."""
        ref = self.person_from_text(text) if text.strip() else None
        if ref is not None:
            return ref
        handles = list(self.config.people)
        shown = ", ".join(f"`{h}`" for h in handles[:_PEOPLE_LISTED])
        more = ", …" if len(handles) > _PEOPLE_LISTED else ""
        guess = closest(text.strip().removeprefix("@"), handles) if text.strip() else None
        # With a guess the list is noise; without, it says who exists (and that a mention works).
        listed = f"{shown}{more} in ownership.yaml, or anyone by their Slack mention (@someone)"
        raise Unknown(
            "person", text, handles, guess=guess, plural="people", listed=None if guess else listed, then=then
        )

    def _identity(self, ref: str) -> str:
        """One key per human, so a handle and that person's ID or e-mail count once."""
        uid = self.user_id(ref)
        if uid is not None:
            return uid
        target = self.config.people.get(ref, ref)
        return target.lower() if is_email(target) else target

    def union(self, *groups: Iterable[str]) -> list[str]:
        """Refs of all groups in order, each person once (a handle and their ID count once)."""
        seen: set[str] = set()
        out: list[str] = []
        for group in groups:
            for ref in group:
                identity = self._identity(ref)
                if identity not in seen:
                    seen.add(identity)
                    out.append(ref)
        return out

    # ------------------------------------------------------------------ teams

    def rotates(self, team: str) -> bool:
        """Whether the team's on-call is a rotation (rather than one person)."""
        return isinstance(self.config.teams[team].oncall, Rotation)

    def plan(self, team: str) -> Plan:
        """The team's on-call over time: rotation, overrides from the file and from Slack."""
        found = self._plans.get(team)
        if found is None:
            cfg = self.config.teams[team]
            fixed = None if self.rotates(team) else self.overrides.get(role_key("oncall", team=team))
            found = Plan(
                team, cfg, zone=zone_of(self.config), slack=self.oncall_windows.get(team, ()), fixed=fixed
            )
            self._plans[team] = found
        return found

    def oncall(self, team: str, at: datetime | None = None) -> str:
        """The team's on-call now (or `at`): a Slack override, a planned override, the
        rotation's shift, a countersigned handover, the configured person or the first member."""
        return self.plan(team).at(at or self.now())

    def configured_oncall(self, team: str) -> str:
        """The on-call ownership.yaml names now (or the first member), ignoring handovers and
        Slack overrides."""
        cfg = self.config.teams[team]
        if isinstance(cfg.oncall, Rotation):
            return self.plan(team).planned_at(self.now())  # planned_at leaves Slack overrides out
        return cfg.oncall or cfg.members[0]

    def configured_holders(self) -> dict[str, str]:
        """Every role that can be handed over, with the ref ownership.yaml names for it. A
        rotating on-call is not among them: its changes are planned, each with its own receipt
        (bot/oncall/handovers.py), rather than edits of one name."""
        cfg = self.config
        holders: dict[str, str] = {}
        for key, area in cfg.areas.items():
            holders[role_key("accountable", area=key)] = area.accountable
            if area.responsible not in cfg.teams:
                holders[role_key("responsible", area=key)] = area.responsible
        for team in cfg.teams:
            if not self.rotates(team):
                holders[role_key("oncall", team=team)] = self.configured_oncall(team)
        return holders

    def same_person(self, a: str, b: str) -> bool:
        """Whether two refs (handle, user ID, e-mail) name the same human."""
        return self._identity(a) == self._identity(b)

    def _members(self, team: str) -> list[str]:
        """A team's members, on-call first (the order pages go out in)."""
        oncall = self.oncall(team)
        return [oncall, *(m for m in self.config.teams[team].members if m != oncall)]

    def _expand(self, names: Iterable[str]) -> list[str]:
        refs: list[str] = []
        for name in names:
            refs.extend(self._members(name) if name in self.config.teams else [name])
        return self.union(refs)

    # ------------------------------------------------------------------ RACI

    def raci(self, area: str) -> Raci:
        """The RACI card of an area (key, alias or name); UnknownAreaError if there is none."""
        key, cfg = self._area(area)
        team = cfg.responsible if cfg.responsible in self.config.teams else None
        person = self.overrides.get(role_key("responsible", area=key)) or cfg.responsible
        return Raci(
            area=key,
            name=cfg.name,
            covers=cfg.covers,
            responsible_team=team,
            responsible=self._members(team) if team else [person],
            oncall=self.oncall(team) if team else person,
            accountable=self.overrides.get(role_key("accountable", area=key)) or cfg.accountable,
            consulted=self._expand(cfg.consulted),
            informed=self._expand(cfg.informed),
            consulted_raw=list(cfg.consulted),
            informed_raw=list(cfg.informed),
            runbook=cfg.runbook,
            aliases=list(cfg.aliases),
        )

    def scope(self, area: str, scope: str) -> list[str]:
        """Refs to page for a notify scope in an area, ordered (on-call first) and de-duplicated.

        owner: the responsible team's on-call (or the responsible person); owning-team: the
        responsible team (or person) plus the accountable person; everyone: R, A, C and I with teams
        expanded; backlog: nobody.
        """
        raci = self.raci(area)
        if scope == "owner":
            refs = [raci.oncall]
        elif scope == "owning-team":
            refs = [*raci.responsible, raci.accountable]
        elif scope == "everyone":
            refs = [*raci.responsible, raci.accountable, *raci.consulted, *raci.informed]
        elif scope == "backlog":
            refs = []
        else:
            raise ValueError(f"unknown notify scope {scope!r}; use one of {', '.join(SCOPES)}")
        return self.union(refs)

    def owned_by(self, user_id_or_ref: str) -> list[tuple[str, list[str]]]:
        """Areas where a person has a role, with the roles among R, A, C, I and on-call.

        Accepts a Slack user ID (matched through people and resolved e-mails), a handle or an
        e-mail. Areas come in config order; areas without a role are left out.
        """
        person = self._identity(user_id_or_ref)
        owned: list[tuple[str, list[str]]] = []
        for key in self.config.areas:
            raci = self.raci(key)
            roles = [
                role
                for role, refs in (
                    ("R", raci.responsible),
                    ("A", [raci.accountable]),
                    ("C", raci.consulted),
                    ("I", raci.informed),
                    ("on-call", [raci.oncall]),
                )
                if any(self._identity(ref) == person for ref in refs)
            ]
            if roles:
                owned.append((key, roles))
        return owned

    def emails(self) -> set[str]:
        """Every e-mail used as a person (in people or written directly), for start-up resolution."""
        cfg = self.config
        written: list[str] = [*cfg.people.values()]
        for team in cfg.teams.values():
            written.extend(team.members)
            if isinstance(team.oncall, Rotation):
                written.extend([*team.oncall.rotation, *(o.who for o in team.oncall.overrides)])
        for area in cfg.areas.values():
            written.extend([area.responsible, area.accountable, *area.consulted, *area.informed])
        written.extend(cfg.admins)
        return {ref for ref in written if ref not in cfg.people and is_email(ref)}
