"""The escalation ladder as plain data: who is paged when, for a severity level and an area.

Used by ``baton plan`` to show the policy, and by the paging engine, which snapshots the steps
when an incident is declared so later edits to the YAML do not change a running escalation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config.fields import SEVERITIES, is_email, is_user_id
from bot.config.models import Level, SeverityConfig
from bot.config.ownership import Ownership, wider
from bot.config.rotation import zone_of
from bot.text.spans import format_duration

BREACH_DESCRIPTION = "window breached: page everyone in the RACI"


@dataclass(frozen=True)
class PlannedStep:
    """One rung: ``after`` the declaration, unless someone acknowledged, page ``notify``.

    ``notify`` is everyone paged at this step (refs, in paging order), not only the newcomers:
    each step pages again everyone paged before it, so it grows step by step.
    """

    index: int
    after: timedelta
    notify: tuple[str, ...]
    scope: str
    breach: bool
    description: str


class UnknownLevelError(KeyError):
    """No severity level by that name; the message lists the levels."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown severity"


def _level(severity: SeverityConfig, level: str) -> tuple[str, Level]:
    key = level.strip().upper()
    if key not in severity.levels:
        known = ", ".join(s for s in SEVERITIES if s in severity.levels)
        raise UnknownLevelError(f"unknown severity {level!r}; use one of {known}")
    return key, severity.levels[key]


def plan_ladder(
    *, ownership: Ownership, severity: SeverityConfig, level: str, area: str
) -> list[PlannedStep]:
    """The steps of a level's escalation for an area; [] when the level pages nobody.

    Default ladder, with T the response time: at 0 the level's scope; at T/2 the
    same people again plus the accountable person and the next wider scope; at T the window is
    breached and everyone in the area's RACI is paged.

    A level's ``escalation:`` replaces the T/2 step: at 0 the level's scope, then each custom step
    at its ``after``, paging its scope plus everyone paged so far. The breach step at T is kept in
    any case, because the breach is a fact about the window rather than a choice of whom to page,
    and it pages everyone in the RACI as in the default ladder. A custom step due exactly at T is
    folded into the breach step; custom steps after T follow it and page everyone paged so far
    again (reminders to people who still have not answered).

    A backlog level, or one without a response time, gives []. Raises UnknownLevelError or
    ownership.UnknownAreaError for names that do not exist.
    """
    _, cfg = _level(severity, level)
    area_key = ownership.raci(area).area  # resolved first, so a typo fails even for backlog levels
    window = cfg.response_time
    if cfg.notify == "backlog" or window is None:
        return []
    steps: list[PlannedStep] = []
    paged: list[str] = []

    def add(after: timedelta, scope: str, refs: list[str], description: str, *, breach: bool = False) -> None:
        paged[:] = ownership.union(paged, refs)
        steps.append(PlannedStep(len(steps), after, tuple(paged), scope, breach, description))

    first = cfg.notify
    add(timedelta(0), first, ownership.scope(area_key, first), f"page {first}")
    everyone = ownership.scope(area_key, "everyone")

    if cfg.escalation is None:
        nxt = wider(first)
        accountable = ownership.raci(area_key).accountable
        # Only name what widens the page: owning-team and everyone already include the accountable.
        parts = [first, *(["accountable"] if first == "owner" else []), *([nxt] if nxt != first else [])]
        description = "page " + " + ".join(parts) + (" again" if len(parts) == 1 else "")
        add(window / 2, nxt, [accountable, *ownership.scope(area_key, nxt)], description)
        add(window, "everyone", everyone, BREACH_DESCRIPTION, breach=True)
        return steps

    at_breach: list[str] = []
    breached = False
    for step in cfg.escalation:
        refs = ownership.scope(area_key, step.notify)
        if step.after == window:
            at_breach = refs
            continue
        if step.after > window and not breached:
            add(window, "everyone", ownership.union(at_breach, everyone), BREACH_DESCRIPTION, breach=True)
            breached = True
        add(step.after, step.notify, refs, f"page {step.notify} + everyone paged so far")
    if not breached:
        add(window, "everyone", ownership.union(at_breach, everyone), BREACH_DESCRIPTION, breach=True)
    return steps


def _who(ownership: Ownership, ref: str) -> str:
    """``maya <@U07MAYA001>``, ``li (li.chen@example.com)`` when unresolved, ``<@U123>`` for a bare ID."""
    uid = ownership.user_id(ref)
    target = ownership.config.people.get(ref, ref)
    if is_user_id(ref):
        return f"<@{ref}>"
    if uid is not None:
        return f"{ref} <@{uid}>"
    if ref != target and is_email(target):
        return f"{ref} ({target})"
    return ref


def _wall(ownership: Ownership, at: datetime) -> str:
    """``Mon 2026-12-07 09:30 GMT``: the time where ownership.yaml's times are written."""
    return f"{at.astimezone(zone_of(ownership.config)):%a %Y-%m-%d %H:%M %Z}"


def render_plan(
    *, ownership: Ownership, severity: SeverityConfig, level: str, area: str, at: datetime | None = None
) -> str:
    """A text table of :func:`plan_ladder` for ``baton plan P1 model-quality``. With `at` (the
    moment `ownership` answers for), the table names it, and why the on-call then is on call
    and until when."""
    key, cfg = _level(severity, level)
    raci = ownership.raci(area)
    window = f"window {format_duration(cfg.response_time)}" if cfg.response_time else "no response window"
    team = ownership.config.teams.get(raci.responsible_team or "")
    responsible = f"{raci.responsible_team} ({team.name})" if team else raci.oncall
    oncall = raci.oncall
    if at is not None and raci.responsible_team is not None:
        plan = ownership.plan(raci.responsible_team)
        window_then = plan.window_at(at)
        why = [window_then.source] if window_then is not None else []
        if window_then is None and plan.rotation is not None:
            why.append("rotation")
        change = plan.next_change(at)
        if change is not None:
            why.append(f"until {_wall(ownership, change.at)}, then {change.incoming}")
        oncall += f" ({'; '.join(why)})" if why else ""
    told = [f"a status update every {format_duration(cfg.update_every)}"] if cfg.update_every else []
    told += [f"the review due {format_duration(cfg.review)} after resolve"] if cfg.review else []
    lines = [
        *([f"At {_wall(ownership, at)} ({zone_of(ownership.config)}):"] if at is not None else []),
        f"{key} {cfg.name}: {window}, area {raci.area} ({raci.name})",
        f"R {responsible}, on-call {oncall}, A {raci.accountable}",
        *([f"Keeping people told: {'; '.join(told)}"] if told else []),
    ]
    steps = plan_ladder(ownership=ownership, severity=severity, level=key, area=raci.area)
    if not steps:
        channel = severity.backlog_channel or "(no backlog_channel set)"
        lines.append(f"  nobody is paged; the item is posted to the backlog channel {channel}")
        return "\n".join(lines)
    offsets = [f"+{format_duration(step.after)}" for step in steps]
    offset_width = max(len(o) for o in offsets)
    description_width = max(len(step.description) for step in steps)
    for offset, step in zip(offsets, steps, strict=True):
        who = ", ".join(_who(ownership, ref) for ref in step.notify)
        lines.append(f"  {offset:<{offset_width}}  {step.description:<{description_width}}  {who}")
    lines.append("An acknowledgement by anyone paged stops the remaining steps.")
    return "\n".join(lines)
