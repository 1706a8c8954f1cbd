"""On-call overrides added in Slack, and the on-call now.

`/owner oncall <team> @someone <duration> [note]` puts someone on call for a team from now, over
its rotation (or its one on-call person): :func:`add` holds the rules (who may, how long) so the
slash command only parses and renders. The row is what paging reads (through
``Baton.refresh_overrides``), and the handover receipt of the change opens at once
(bot/oncall/handovers.py). :func:`oncall_now` is what the RACI card shows: who is on call, until
when, who comes next, and which override put them there. :func:`read_windows` reads the rows
without changing anything, for `baton plan --at`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.access import groups as people
from bot.access.rule import Group, NotAllowed, check
from bot.access.who import outsider_refusal
from bot.config.ownership import role_key
from bot.config.rotation import Window
from bot.records import handoffs
from bot.store.clock import slack_time
from bot.store.db import DatabaseUnavailable, database_problem, open_existing, session
from bot.store.models import OncallOverride
from bot.store.runtime import Baton
from bot.text import typed
from bot.text.errors import Refused
from bot.text.masking import mask
from bot.text.mrkdwn import clip, escape
from bot.text.typed import Unknown, closest

USAGE = "`/owner oncall <team> @someone <duration> [note]`"
EXAMPLE = "/owner oncall ml @li 4h Maya is at the dentist"
#: The longest override Slack may add: longer absences belong in ownership.yaml, on the record.
LONGEST = timedelta(days=30)
NOTE_LIMIT = 500
_DURATIONS = "use a number with a unit: 30m, 4h, 2d, 1w (or combined, 1d12h), at most 30 days"


class OverrideError(Refused):
    """Bad input: the message says what would be right. Nothing was changed."""


#: Who may put someone on call for a team, in the order a refusal names them.
WHO = ("members", "admins")


def team_key(baton: Baton, text: str) -> str:
    """The team a key or name (any case) means; OverrideError with "did you mean" or the list."""
    teams = baton.config.ownership.teams
    cleaned = " ".join(text.split()).lower()
    for key, team in teams.items():
        if cleaned in (key.lower(), team.name.lower()):
            return key
    names = {key: key for key in teams} | {team.name: key for key, team in teams.items()}
    near = closest(cleaned, names)
    shown = {key: f"`{key}` ({escape(team.name)})" for key, team in teams.items()}
    guess = names[near] if near is not None else None
    raise Unknown("team", text, list(teams), guess=guess, shown=shown, then=f"e.g. `{EXAMPLE}`")


def span_of(text: str) -> timedelta:
    """How long an override runs: a duration above 0 and at most :data:`LONGEST`."""
    return typed.duration(
        text,
        accepted=_DURATIONS,
        longest=LONGEST,
        longest_said="30 days, the longest an override from Slack may run",
        beyond="plan a longer absence in ownership.yaml (the team's `oncall.overrides`), or split it",
    )


def who_may(baton: Baton, team: str) -> list[Group]:
    """Those who may add an override for `team`: its members and admins. Being on call does not
    make someone a member: an admin may have put a person from outside the team on call, and
    that person may not hand the role on."""
    groups = {"members": people.members(baton, team), "admins": people.admins(baton)}
    return [groups[key] for key in WHO if groups[key].users]


def add(*, baton: Baton, team: str, who: str, duration: str, note: str, user: str) -> OncallOverride:
    """Put `who` on call for `team` from now for `duration`, as `user` (a Slack user ID) asked.

    OverrideError (NotAllowed for a refusal, naming who may) changes nothing. The handover receipt
    of the change opens at once and paging uses the override from the moment this returns."""
    key = team_key(baton, team)
    own = baton.ownership
    cfg = baton.config.ownership.teams[key]
    check(user, who_may(baton, key), f"put someone on call for {escape(cfg.name)}")
    if not who.strip():
        raise OverrideError(f"Name who goes on call as @someone: {USAGE}, e.g. `{EXAMPLE}`")
    person = own.person_named(who, then=f"{USAGE}, e.g. `{EXAMPLE}`")
    refused = outsider_refusal(baton, key, person, user)
    if refused is not None:
        raise NotAllowed(refused)
    target = own.user_id(person)
    if target is None:
        raise OverrideError(
            f"{escape(person)} has no Slack account Baton knows, so they could not be paged: "
            "name them by their Slack mention."
        )
    span = span_of(duration)
    now = baton.clock.now()
    current = own.oncall(key, at=now)
    if own.same_person(current, person):
        here = oncall_now(baton=baton, team=key)
        until = f" until {slack_time(here.until)}" if here.until else ""
        raise OverrideError(f"{own.label(person)} is already on call for {escape(cfg.name)}{until}.")
    row = OncallOverride(
        team=key,
        who=person,
        user=target,
        starts_at=now,
        ends_at=now + span,
        note=clip(mask(" ".join(note.split())).text, NOTE_LIMIT),
        created_by=user,
        created_at=now,
    )
    with session(baton.engine) as s:
        # Under the role's lock: a countersignature of this on-call reads it or comes after it.
        handoffs.lock_role(s, role_key("oncall", team=key))
        s.add(row)
        s.commit()
        s.refresh(row)
    baton.refresh_overrides()
    # The change starts now: its handover receipt opens now, not at the next poll.
    from bot.oncall import handovers

    handovers.sync(baton=baton)
    baton.wake()
    return row


@dataclass(frozen=True)
class OnCallNow:
    """A team's on-call now and the next change, for the RACI card."""

    team: str
    who: str  # a ref
    until: datetime | None  # the next change; None when none is planned
    next_who: str | None
    cause: str  # "rotation", "ownership.yaml" (a planned override), "override #<id>", "fixed"
    override: OncallOverride | None = None  # the Slack override that put `who` on call


def oncall_now(*, baton: Baton, team: str) -> OnCallNow:
    """Who is on call for `team` at Baton's now, until when, who next, and why."""
    own = baton.ownership
    now = baton.clock.now()
    plan = own.plan(team)
    window = plan.window_at(now)
    cause = window.source if window is not None else ("rotation" if plan.rotation is not None else "fixed")
    change = plan.next_change(now)
    override = None
    if cause.startswith("override #"):
        with session(baton.engine) as s:
            override = s.get(OncallOverride, int(cause.removeprefix("override #")))
            if override is not None:
                s.expunge(override)
    return OnCallNow(
        team=team,
        who=plan.at(now),
        until=change.at if change is not None else None,
        next_who=change.incoming if change is not None else None,
        cause=cause,
        override=override,
    )


def windows(rows: Iterable[OncallOverride]) -> dict[str, list[Window]]:
    """Override rows as the windows Ownership takes, per team, in the order given (oldest first)."""
    out: dict[str, list[Window]] = {}
    for row in rows:
        out.setdefault(row.team, []).append(
            Window(row.who, row.starts_at, row.ends_at, f"override #{row.id}")
        )
    return out


def read_windows(url: str, *, after: datetime) -> dict[str, list[Window]]:
    """The Slack overrides not ended by `after` in the database at `url`, read without changing
    it; DatabaseUnavailable when there is no readable Baton database there."""
    engine = open_existing(url)
    try:
        with Session(engine) as s:
            query = select(OncallOverride).where(col(OncallOverride.ends_at) > after.astimezone(UTC))
            return windows(s.exec(query.order_by(col(OncallOverride.id))).all())
    except DBAPIError as e:
        raise DatabaseUnavailable(database_problem(url, e)) from None
    finally:
        engine.dispose()


def oncall_for_area(*, baton: Baton, area: str) -> OnCallNow | None:
    """:func:`oncall_now` of the area's responsible team; None when its R is one person."""
    team = baton.ownership.raci(area).responsible_team
    return oncall_now(baton=baton, team=team) if team is not None else None
