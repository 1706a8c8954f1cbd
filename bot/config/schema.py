"""Config as code: load ownership.yaml and severity.yaml, substitute ``${VAR}``, validate strictly.

Every problem is reported as ``file:line key.path: message`` and all problems of both files are
collected before :class:`ConfigError` is raised, so one ``baton check`` run shows everything.

How: the YAML is composed into a node tree (not loaded), so each key keeps its line and duplicate
keys can be caught (PyYAML's loader silently keeps the last one). The plain data built from it goes
through two checks side by side: the pydantic models check shapes, types and formats, and
:func:`ownership_issues` / :func:`severity_issues` check references across the file (unknown
people, clashing aliases, ...). The cross-file checks run on the raw data rather than after the
models, so a typo in one area does not hide an unknown person in another; the models also run
them when built directly, so an invalid config cannot be constructed either way.
"""

from __future__ import annotations

import difflib
import operator
import os
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config import yamlerrors
from bot.config.durations import ACCEPTED, format_duration, parse_duration

#: A key path inside a file: mapping keys (str) and list indices (int).
Loc = tuple[str | int, ...]

Severity = Literal["P0", "P1", "P2", "P3"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
Scope = Literal["owner", "owning-team", "everyone", "backlog"]
SCOPES: tuple[str, ...] = get_args(Scope)
PagingScope = Literal["owner", "owning-team", "everyone"]

USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
EMAIL_RE = re.compile(r"^[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+$")
USERGROUP_RE = re.compile(r"^S[A-Z0-9]+$")
CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]+$")
AREA_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Action names are typed in `/incident run <action>`, as area keys are in `/owner <area>`.
ACTION_KEY_RE = AREA_KEY_RE
# Parameters are typed as k=v, so no '=' or spaces; lowercase so `Version=` is not a second name.
PARAM_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
# Handles are typed in Slack as @maya, so no spaces or mention syntax.
HANDLE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_user_id(text: str) -> bool:
    """A Slack user ID such as U07MAYA001 (or W… on Enterprise Grid)."""
    return bool(USER_ID_RE.fullmatch(text))


def is_email(text: str) -> bool:
    """An e-mail address, resolved to a user ID with users.lookupByEmail at start-up."""
    return bool(EMAIL_RE.fullmatch(text))


# --------------------------------------------------------------------------- issues


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config was refused; ``issues`` lists every problem found, str() one per line."""

    def __init__(self, issues: Sequence[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class _Issues(ValueError):
    """Several problems from one validator, each at a loc relative to the value validated.

    Pydantic keeps the exception in the error's ctx, so the loader can report each one at its own
    key path instead of one message at the parent.
    """

    def __init__(self, found: Sequence[tuple[Loc, str]]) -> None:
        self.found = list(found)
        super().__init__("; ".join(f"{render_path(loc)}: {msg}" if loc else msg for loc, msg in self.found))


def render_path(loc: Loc) -> str:
    """``("areas", "data", "aliases", 0)`` -> ``areas.data.aliases[0]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in names)


# --------------------------------------------------------------------------- field types


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


def _person_id(value: str) -> str:
    if not (is_user_id(value) or is_email(value)):
        raise ValueError(f"{value!r} is not a Slack user ID (U… or W…) or an e-mail address")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _duration(value: Any) -> Any:
    if value is None or isinstance(value, timedelta):
        return value
    return parse_duration(value)


def _positive_duration(value: Any) -> Any:
    parsed = _duration(value)
    if parsed is None:
        raise ValueError(f"an escalation step needs a time, not {value!r}; use e.g. 5m, 30m, 1h")
    if parsed <= timedelta(0):
        raise ValueError("must be longer than 0s; use e.g. 5m, 30m, 1h")
    return parsed


def _one_person(value: Any) -> Any:
    if isinstance(value, list | tuple):
        example = f" (e.g. accountable: {value[0]})" if value else ""
        raise ValueError(
            f"must be exactly one person, not a list{example}; move the others to consulted or informed"
        )
    return value


def _one_responsible(value: Any) -> Any:
    if isinstance(value, list | tuple):
        raise ValueError("must be one team or one person, not a list; add the others under consulted")
    return value


def _step_scope(value: Any) -> Any:
    if value == "backlog":
        raise ValueError(
            "an escalation step must page someone: use owner, owning-team or everyone, not backlog"
        )
    return value


PersonId = Annotated[str, AfterValidator(_person_id)]
UsergroupId = Annotated[str, AfterValidator(_pattern(USERGROUP_RE, "a Slack user group ID (S…)"))]
ChannelId = Annotated[str, AfterValidator(_pattern(CHANNEL_RE, "a Slack channel ID (C… or G…)"))]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
AreaKey = Annotated[
    str, AfterValidator(_pattern(AREA_KEY_RE, "lowercase letters, digits and dashes (e.g. 'model-quality')"))
]
Duration = Annotated[timedelta | None, BeforeValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- on-call rotations

_WEEKS_RE = re.compile(r"^\s*(\d+)w(.*)$", re.IGNORECASE)
_SPANS = "use a number with a unit: 12h, 1d, 1w (or combined, 1w3d, 1d12h)"
# ISO 8601 with a time of day (the seconds optional), and an optional offset or Z.
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_WRITE_DATETIME = (
    "write it as 2026-11-30T09:00 (in nudges.timezone) or with an offset, 2026-11-30T09:00+01:00"
)


def parse_span(value: Any) -> timedelta:
    """A shift or handover length: a duration as in severity.yaml, plus weeks (``1w``, ``1w3d``)."""
    if isinstance(value, timedelta):
        return value
    shown = repr(value) if isinstance(value, str) else str(value)
    if not isinstance(value, str):
        raise ValueError(f"{shown} is not a duration; {_SPANS}")
    # durations.parse_duration has no weeks: a leading `Nw` is taken off here.
    weeks, rest = timedelta(0), value
    match = _WEEKS_RE.fullmatch(value)
    if match is not None:
        weeks, rest = timedelta(weeks=int(match.group(1))), match.group(2)
        if not rest.strip():
            return weeks
    try:
        parsed = parse_duration(rest)
    except ValueError:
        raise ValueError(f"{shown} is not a duration; {_SPANS}") from None
    if parsed is None:  # next-sprint / none
        raise ValueError(f"{shown} is not a length of time; {_SPANS}")
    return weeks + parsed


def format_span(td: timedelta) -> str:
    """A span the way parse_span reads it, weeks first: ``1w``, ``1w3d``, ``12h``."""
    weeks, rest = divmod(td, timedelta(weeks=1)) if td > timedelta(0) else (0, td)
    if not weeks:
        return format_duration(td)
    return f"{weeks}w" + (format_duration(rest) if rest else "")


def _shift(value: Any) -> timedelta:
    parsed = parse_span(value)
    if parsed <= timedelta(0):
        raise ValueError(f"must be longer than 0s; {_SPANS}")
    return parsed


def _handover(value: Any) -> timedelta:
    parsed = parse_span(value)
    if parsed <= timedelta(0):
        raise ValueError(
            "must be longer than 0s: the handover receipt opens this long before each shift change; "
            "use e.g. 30m, 1h"
        )
    return parsed


def parse_datetime(value: Any) -> datetime:
    """``2026-11-30T09:00``, ``2026-11-30 09:00``, with or without an offset, or a datetime PyYAML
    made of an unquoted timestamp. Naive means wall time in nudges.timezone."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):  # an unquoted 2026-11-30
        day = value.isoformat()
        raise ValueError(
            f"{day} is a date without a time of day; write it as {day}T00:00 (in nudges.timezone) "
            f"or with an offset, {day}T00:00+01:00"
        )
    shown = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, str):
        text = value.strip()
        if _DATETIME_RE.fullmatch(text):
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                pass  # 2026-13-01T09:00 and the like
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(
                f"{shown} is a date without a time of day; write it as {text}T00:00 (in nudges.timezone) "
                f"or with an offset, {text}T00:00+01:00"
            )
    raise ValueError(f"{shown} is not a date and time; {_WRITE_DATETIME}")


def format_datetime(moment: datetime) -> str:
    """``2026-12-24T00:00`` (with its offset if it has one), as it would be written in the file."""
    whole = moment.second == 0 and moment.microsecond == 0
    return moment.isoformat(timespec="minutes" if whole else "seconds")


Span = Annotated[timedelta, BeforeValidator(_shift)]
Moment = Annotated[datetime, BeforeValidator(parse_datetime)]


class OncallOverride(_Model):
    """A planned swap: ``who`` (any person) is on call from ``from`` until ``to``.

    Naive times are wall time in nudges.timezone, aware ones exact instants. ``to`` after
    ``from`` and no overlap with the team's other overrides are checked by ownership_issues,
    which knows the time zone a naive time is in.
    """

    # model_dump() writes `from`, as in the file, so a dump validates again.
    model_config = ConfigDict(serialize_by_alias=True)

    who: str
    from_: Moment = Field(alias="from")
    to: Moment


class Rotation(_Model):
    """A team's on-call rotation: ``rotation`` take shifts of ``every`` in turn from ``from``.

    The people must be members of the team (Team checks it) and people (ownership_issues);
    a ``from`` without an offset is wall time in nudges.timezone.
    """

    # model_dump() writes `from`, as in the file, so a dump validates again.
    model_config = ConfigDict(serialize_by_alias=True)

    rotation: list[str] = Field(min_length=1)
    every: Span
    from_: Moment = Field(alias="from")
    handover: Annotated[timedelta, BeforeValidator(_handover)] = timedelta(hours=1)
    overrides: list[OncallOverride] = Field(default_factory=list)

    @model_validator(mode="after")
    def _handover_inside_shift(self) -> Self:
        if self.handover >= self.every:
            raise _Issues(
                [
                    (
                        ("handover",),
                        f"{format_span(self.handover)} is not shorter than the shift "
                        f"(every: {format_span(self.every)}); the handover receipt opens this long "
                        "before each change",
                    )
                ]
            )
        return self


# --------------------------------------------------------------------------- SLO thresholds

_COMPARE_RE = re.compile(r"^\s*(>=|<=|==|>|<)\s*(\d+(?:\.\d+)?)\s*(%|ms|s|m|h)?\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
}
# Percentages compare against ratios (99% is 0.99) and times against seconds.
_UNIT_SCALE = {None: 1.0, "%": 0.01, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_UNIT_KIND = {None: "number", "%": "percentage", "ms": "time", "s": "time", "m": "time", "h": "time"}


@dataclass(frozen=True)
class Comparison:
    """A parsed threshold such as ``>= 99.5%``: ``value`` is normalised (ratio, seconds)."""

    op: str
    value: float
    unit: str | None
    text: str

    @property
    def kind(self) -> str:
        """``percentage``, ``time`` or ``number``."""
        return _UNIT_KIND[self.unit]

    def holds(self, measured: float) -> bool:
        """Whether a measured value (ratio, seconds or plain number) satisfies the comparison."""
        return _OPERATORS[self.op](measured, self.value)


def parse_comparison(text: str) -> Comparison:
    """Parse ``>= 99.5%``, ``<= 3s``, ``> 300``; raise ValueError saying what is accepted."""
    match = _COMPARE_RE.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a threshold; write an operator (>=, <=, >, <, ==) and a number, "
            "optionally with % or a time unit: '>= 99.5%', '<= 3s', '> 300'"
        )
    op, number, unit = match.groups()
    return Comparison(op=op, value=float(number) * _UNIT_SCALE[unit], unit=unit, text=text.strip())


def _comparison_text(value: str) -> str:
    parse_comparison(value)
    return value


ComparisonText = Annotated[str, AfterValidator(_comparison_text)]


class SloThreshold(_Model):
    """An SLI's objective, the threshold that declares an incident, and that incident's severity."""

    objective: ComparisonText
    alert: ComparisonText
    severity: Severity

    @model_validator(mode="after")
    def _same_kind(self) -> Self:
        objective, alert = parse_comparison(self.objective), parse_comparison(self.alert)
        if objective.kind != alert.kind:
            raise _Issues([(("alert",), f"is a {alert.kind} but the objective is a {objective.kind}")])
        return self

    def objective_comparison(self) -> Comparison:
        return parse_comparison(self.objective)

    def alert_comparison(self) -> Comparison:
        return parse_comparison(self.alert)


def default_slo() -> dict[str, SloThreshold]:
    """The thresholds used when ownership.yaml has no ``slo:`` block."""
    rows = {
        "success_rate": (">= 99.5%", "< 99%", "P1"),
        "latency_p95": ("<= 3s", "> 5s", "P2"),
        "error_rate": ("<= 1%", "> 2%", "P2"),
        "daily_cost": ("<= 200", "> 300", "P2"),
        "monthly_cost": ("<= 5000", "> 6000", "P1"),
    }
    return {
        name: SloThreshold.model_validate({"objective": obj, "alert": alert, "severity": sev})
        for name, (obj, alert, sev) in rows.items()
    }


# --------------------------------------------------------------------------- ownership.yaml


class PagerDuty(_Model):
    """PagerDuty Events API v2; ``url`` overrides the endpoint (EU accounts, proxies)."""

    routing_key: str
    url: HttpUrl | None = None


class Webhook(_Model):
    """Any HTTP endpoint that takes a JSON POST."""

    url: HttpUrl


class Pager(_Model):
    """A team's external pager(s)."""

    pagerduty: PagerDuty | None = None
    webhook: Webhook | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.pagerduty is None and self.webhook is None:
            raise ValueError("configure pagerduty or webhook (or remove pager)")
        return self


class Team(_Model):
    """A team: its people, who is paged first, and where it talks."""

    name: str
    members: list[str] = Field(min_length=1)
    oncall: str | Rotation | None = None  # one person, or a rotation
    usergroup: UsergroupId | None = None
    channel: ChannelId | None = None
    pager: Pager | None = None

    @field_validator("oncall", mode="before")
    @classmethod
    def _person_or_rotation(cls, value: Any, info: ValidationInfo) -> Any:
        # Validated here rather than as a plain union, whose errors would name both members of
        # the union ("oncall.str", "oncall.Rotation.every") for one mistake.
        if value is None or isinstance(value, str | Rotation):
            return value
        if isinstance(value, dict):
            try:
                return Rotation.model_validate(value, context=info.context)
            except ValidationError as exc:
                raise _Issues(_validation_issues(exc, Rotation)) from None
        raise ValueError(
            f"expected one person or a rotation (a mapping with rotation, every and from), got {_kind(value)}"
        )

    @model_validator(mode="after")
    def _oncall_is_member(self, info: ValidationInfo) -> Self:
        # Checking membership is enough: the members themselves are checked as people.
        found: list[tuple[Loc, str]] = []
        members = f"(members: {_quoted(self.members)})"
        if isinstance(self.oncall, str) and self.oncall not in self.members:
            found.append((("oncall",), f"{self.oncall!r} is not a member of this team {members}"))
        # Loaded from a file, ownership_issues checks the rotation's people (it can say that
        # 'mya' is not a person at all, which this model cannot know).
        if isinstance(self.oncall, Rotation) and not (info.context or {}).get(_PRECHECKED):
            for i, person in enumerate(self.oncall.rotation):
                if person not in self.members:
                    found.append(
                        (("oncall", "rotation", i), f"{person!r} is not a member of this team {members}")
                    )
        if found:
            raise _Issues(found)
        return self


#: Who must approve an action before Baton calls its webhook.
Approval = Literal["none", "accountable", "two-person"]
APPROVALS: tuple[str, ...] = get_args(Approval)


class ActionParam(_Model):
    """One parameter of an action. Written as its name (``version``), or as a mapping when the
    webhook must get the value masked: ``{name: customer_email, mask: true}``."""

    name: str = Field(description="the name people type as name=value, e.g. 'version'")
    # Masked as everywhere Baton shows or keeps it (PII and secrets hidden); without it the
    # webhook gets exactly what was typed.
    mask: bool = False

    @field_validator("mask", mode="before")
    @classmethod
    def _true_or_false(cls, value: Any) -> Any:
        # Before pydantic's bool, which would read 'yes' or 1 as true without a word.
        if isinstance(value, bool):
            return value
        raise ValueError(f"expected true or false, got {_kind(value)}")


def _param_item(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict):
        return value
    raise ValueError(
        f"expected a parameter name (e.g. version) or a mapping such as "
        f"{{name: customer_email, mask: true}}, got {_kind(value)}"
    )


class ActionSpec(_Model):
    """An action people may run for an incident in its area: once ``approval`` is met, Baton POSTs
    JSON to ``url``. ``params`` are the names people pass as ``k=v`` (each a name, or
    ``{name: …, mask: true}``).

    The descriptions are what a missing key's error says is expected.
    """

    title: str = Field(description="a short line saying what it does, e.g. 'Roll back the prompt'")
    # Not in repr(): the URL often carries a token from ${VAR}, and models end up in logs.
    url: HttpUrl = Field(
        repr=False, description='the http(s) URL Baton POSTs to, e.g. "${PROMPT_ROLLBACK_URL}"'
    )
    approval: Approval = Field(description="the approval rule, one of none, accountable or two-person")
    params: list[Annotated[ActionParam, BeforeValidator(_param_item)]] = Field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """The parameters' names, in the order listed."""
        return [p.name for p in self.params]

    @property
    def masked(self) -> list[str]:
        """The parameters whose value the webhook gets masked, in the order listed."""
        return [p.name for p in self.params if p.mask]

    @field_validator("title")
    @classmethod
    def _has_title(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty; say what the action does, e.g. 'Roll back the prompt'")
        return value

    @field_validator("approval", mode="before")
    @classmethod
    def _known_rule(cls, value: Any) -> Any:
        # Before the Literal, whose message would not say what the choices mean.
        if value in APPROVALS:
            return value
        rules = "use none, accountable or two-person"
        if isinstance(value, str):
            guess = _did_you_mean(value.lower(), APPROVALS)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise ValueError(f"{value!r} is not an approval rule; {rules}{hint}")
        raise ValueError(f"expected an approval rule, got {_kind(value)}; {rules}")

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: list[ActionParam]) -> list[ActionParam]:
        found: list[tuple[Loc, str]] = []
        first: dict[str, int] = {}
        for i, param in enumerate(value):
            name = param.name
            if not PARAM_RE.fullmatch(name):
                found.append(
                    (
                        (i,),
                        f"{name!r} is not a parameter name; use lowercase letters, digits, '_' or '-', "
                        "starting with a letter (e.g. 'version')",
                    )
                )
            elif name in first:
                found.append(((i,), f"{name!r} is listed twice (first as params[{first[name]}])"))
            else:
                first[name] = i
        if found:
            raise _Issues(found)
        return value


class Area(_Model):
    """One row of the RACI matrix."""

    name: str
    covers: str | None = None
    responsible: Annotated[str, BeforeValidator(_one_responsible)]
    accountable: Annotated[str, BeforeValidator(_one_person)]
    consulted: list[str] = Field(default_factory=list)
    informed: list[str] = Field(default_factory=list)
    runbook: HttpUrl | None = None
    aliases: list[AreaKey] = Field(default_factory=list)
    slo_queries: dict[str, str] = Field(default_factory=dict)
    # Action names: lowercase letters, digits and dashes (checked by ownership_issues, like area keys).
    actions: dict[str, ActionSpec] = Field(default_factory=dict)


def _check_cron(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        CronTrigger.from_crontab(value, timezone="UTC")
    except ValueError as exc:
        example = "minute hour day month weekday, e.g. '0 9 * * MON-FRI'"
        raise ValueError(f"{value!r} is not a cron expression ({example}): {exc}") from None
    # APScheduler 3 counts weekday 0 as Monday where cron counts it as Sunday: names are unambiguous.
    if re.search(r"\d", value.split()[4]):
        raise ValueError(f"{value!r}: write weekdays as names (MON-FRI, SUN), not numbers")
    return value


CronText = Annotated[str | None, AfterValidator(_check_cron)]

#: Nudge names in ownership.yaml, in the order they are listed.
NUDGES = ("slo_digest", "readiness", "failure_review", "handoffs")


class Nudges(_Model):
    """When the scheduled nudges run; a missing one is not scheduled."""

    timezone: str = "UTC"
    slo_digest: CronText = None
    readiness: CronText = None
    failure_review: CronText = None
    handoffs: CronText = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/London, UTC)") from None
        return value

    def triggers(self) -> dict[str, CronTrigger]:
        """A CronTrigger for each configured nudge, in the configured time zone."""
        crons = {name: getattr(self, name) for name in NUDGES}
        return {
            name: CronTrigger.from_crontab(cron, timezone=self.timezone)
            for name, cron in crons.items()
            if cron is not None
        }


_PRECHECKED = "baton.config.prechecked"
_M = TypeVar("_M", bound=BaseModel)


class Alerts(_Model):
    """Where an Alertmanager alert without `area` / `severity` labels goes."""

    default_area: str | None = None
    default_severity: Severity = "P2"


def _window(value: Any) -> Any:
    parsed = _duration(value)
    if parsed is None or parsed <= timedelta(0):
        raise ValueError(f"the feedback window needs a time, not {value!r}; use e.g. 15m, 1h, 1d")
    return parsed


class Feedback(_Model):
    """When failure cases from POST /feedback declare an incident: the
    ``alert``-th case for one area within ``window`` declares one at ``severity`` (one while it
    is open). These are the defaults."""

    window: Annotated[timedelta, BeforeValidator(_window)] = timedelta(hours=1)
    alert: int = Field(default=20, ge=1)
    severity: Severity = "P2"


class OwnershipConfig(_Model):
    """ownership.yaml: people, teams, the RACI areas, nudges, SLO thresholds and alert defaults."""

    people: dict[str, PersonId] = Field(default_factory=dict)
    # People who may do everything, e.g. the incident managers.
    admins: list[str] = Field(default_factory=list)
    teams: dict[str, Team] = Field(default_factory=dict)
    areas: dict[str, Area] = Field(min_length=1)
    nudges: Nudges | None = None
    slo: dict[str, SloThreshold] = Field(default_factory=default_slo)
    alerts: Alerts = Field(default_factory=Alerts)
    feedback: Feedback = Field(default_factory=Feedback)

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Self:
        # load_config runs the same checks on the raw data (so they are reported even when the
        # shapes are wrong); direct construction gets them here.
        if not (info.context or {}).get(_PRECHECKED):
            # By alias ("from", as in the file), and without defaults nobody wrote (an unset
            # nudges.timezone is not UTC to the rotation checks).
            found = ownership_issues(self.model_dump(by_alias=True, exclude_unset=True))
            if found:
                raise _Issues(found)
        return self


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
        guess = _did_you_mean(name, [*people, *teams] if teams_ok else people)
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
        guess = _did_you_mean(default_area, [*areas, *aliases])
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
                guess = _did_you_mean(sli, sli_names)
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
    listed = f"(members: {_quoted(m for m in members if isinstance(m, str))})"
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


# --------------------------------------------------------------------------- severity.yaml


class EscalationStep(_Model):
    """A custom escalation step: ``after`` the declaration, page ``notify`` (plus everyone paged so far)."""

    after: Annotated[timedelta, BeforeValidator(_positive_duration)]
    notify: Annotated[PagingScope, BeforeValidator(_step_scope)]


class Level(_Model):
    """A severity level: its response window and whom it pages."""

    name: str
    response_time: Duration = None
    notify: Scope
    escalation: list[EscalationStep] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        found: list[tuple[Loc, str]] = []
        if self.notify == "backlog":
            if self.escalation:
                found.append(
                    (("escalation",), "a backlog level pages nobody, so it cannot escalate; remove it")
                )
        elif self.response_time is None:
            found.append(
                (
                    ("response_time",),
                    f"required when notify is {self.notify!r}: use e.g. 15m, 1h, 4h "
                    "(next-sprint / none only go with notify: backlog)",
                )
            )
        elif self.response_time <= timedelta(0):
            found.append((("response_time",), "must be longer than 0s; use e.g. 15m, 1h, 4h"))
        steps = self.escalation or []
        for i in range(1, len(steps)):
            if steps[i].after <= steps[i - 1].after:
                found.append(
                    (
                        ("escalation", i, "after"),
                        f"{format_duration(steps[i].after)} must be later than the step before it "
                        f"({format_duration(steps[i - 1].after)})",
                    )
                )
        if found:
            raise _Issues(found)
        return self


class SeverityConfig(_Model):
    """severity.yaml: the four levels and where backlog items go."""

    levels: dict[str, Level]
    backlog_channel: ChannelId | None = None

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> Self:
        if not (info.context or {}).get(_PRECHECKED):
            found = severity_issues(self.model_dump())
            if found:
                raise _Issues(found)
        return self


def severity_issues(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Whole-file checks of severity data (plain, possibly malformed): all four levels, backlog channel."""
    found: list[tuple[Loc, str]] = []
    levels = data.get("levels")
    if not isinstance(levels, dict):
        return found
    for key in levels:
        if key not in SEVERITIES:
            guess = _did_you_mean(key.upper(), SEVERITIES)
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


# --------------------------------------------------------------------------- YAML with line numbers

_MERGE_TAG = "tag:yaml.org,2002:merge"
# ${VAR} is substituted; $${VAR} is an escape for a literal ${VAR}.
_ENV_RE = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Builder:
    """Turns a composed YAML node tree into plain data, remembering each key path's line."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.lines: dict[Loc, int] = {}
        # (loc, message, line): a duplicate key is reported at its own line, not the first one's.
        self.found: list[tuple[Loc, str, int | None]] = []
        self._scalars = yaml.constructor.SafeConstructor()
        self._open: set[int] = set()  # collections being built, to stop at recursive anchors
        # Where ${VAR}s were filled in: (loc, text as written, text after, [(VAR, value)]).
        self.substituted: list[tuple[Loc, str, str, list[tuple[str, str]]]] = []

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                self.found.append((loc, "an anchor cannot contain an alias to itself", None))
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, loc)
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        try:
            value = self._scalars.construct_object(node)
        except yaml.YAMLError as exc:
            self.found.append((loc, f"cannot read this value: {getattr(exc, 'problem', exc)}", None))
            return None
        return self._substitute(value, loc) if isinstance(value, str) else value

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.found.append((loc, "keys must be plain text", line))
                continue
            # The key as written: PyYAML would turn `on:` into True and `1:` into 1.
            key = str(key_node.value)
            if key in out:
                self.found.append(
                    ((*loc, key), f"duplicate key (first defined on line {first_line[key]})", line)
                )
                continue
            first_line[key] = line
            self.lines[(*loc, key)] = line
            out[key] = self.build(value_node, (*loc, key))
        # `<<: *defaults` merges: keys written out in this mapping win, as in YAML 1.1.
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.found.append((loc, "'<<' must merge a mapping or a list of mappings", None))
                    continue
                for key, value in self._mapping(source, loc).items():
                    out.setdefault(key, value)
        return out

    def _substitute(self, text: str, loc: Loc) -> str:
        used: list[tuple[str, str]] = []

        def replace(match: re.Match[str]) -> str:
            escaped, name = match.groups()
            if escaped:
                return match.group(0)[1:]
            if name in self.env:
                used.append((name, self.env[name]))
                return self.env[name]
            self.found.append((loc, f"environment variable {name} is not set", None))
            return match.group(0)

        result = _ENV_RE.sub(replace, text)
        if used:
            self.substituted.append((loc, text, result, used))
        return result

    def redact(self, loc: Loc, message: str) -> str:
        """The message with every value taken from the environment shown as its ${VAR}.

        Environment values are where secrets live (routing keys, webhook URLs with tokens), and
        a config error is printed and logged. Values substituted at or under ``loc`` are replaced
        whatever their length; others (a cross-reference message may quote another key's value)
        only when long enough not to be mistaken for ordinary words.
        """
        swaps: list[tuple[str, str]] = []
        for at, written, value, used in self.substituted:
            related = at[: len(loc)] == loc
            if len(used) == 1 and written == f"${{{used[0][0]}}}":
                shown, described = written, f"the value of {written}"
            else:  # text around the variables: show it as written
                shown, described = written, repr(written)
            swaps.append((repr(value), described))
            swaps += [(v, f"${{{name}}}") for name, v in used if v and (related or len(v) >= 4)]
            if value and (related or len(value) >= 4):
                swaps.append((value, shown))
        # Longest first: a whole value before the variables inside it.
        for secret, replacement in sorted(swaps, key=lambda swap: -len(swap[0])):
            message = message.replace(secret, replacement)
        return message


def _line_for(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of a key path, or of its nearest ancestor that is in the file (missing keys)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to X."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            # `str | Rotation | None`: the model is what has keys to suggest.
            args = [arg for arg in get_args(tp) if arg is not type(None)]
            tp = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), args[0])
        else:
            return tp


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key written in the file (its alias: `from`, not `from_`)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class validating the value at ``loc``, for "did you mean" on unknown keys."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _fields_by_key(tp).get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _message(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    """A pydantic error in the words of someone editing the YAML."""
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = list(_fields_by_key(model)) if model else []
        guess = _did_you_mean(str(loc[-1]), allowed)
        if guess:
            return f"unknown key (did you mean {guess!r}?)"
        return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "missing":
        # A field's description, where it has one, says what is expected there.
        model = _model_at(root, loc[:-1])
        described = _fields_by_key(model).get(str(loc[-1])) if model else None
        return (
            f"is required: {described.description}" if described and described.description else "is required"
        )
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "string_type":
        return f"expected text, got {_kind(value)}"
    if kind == "list_type":
        return f"expected a list, got {_kind(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {_kind(value)}"
    if kind == "literal_error":
        return f"{value!r} is not one of {ctx.get('expected')}"
    if kind == "too_short":
        return "must not be empty"
    return str(error["msg"])


def _validation_issues(exc: ValidationError, root: type[BaseModel]) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        inner = (error.get("ctx") or {}).get("error")
        if isinstance(inner, _Issues):
            found.extend(((*loc, *sub), msg) for sub, msg in inner.found)
        else:
            found.append((loc, _message(error, root)))
    return found


def _load_file(
    path: str | Path,
    model: type[_M],
    cross_checks: Callable[[Mapping[str, Any]], list[tuple[Loc, str]]],
    env: Mapping[str, str],
) -> tuple[_M | None, list[ConfigIssue], dict[Loc, int]]:
    """The model (None if refused), every problem, and the line of each key path."""
    name = os.fspath(path)

    def refused(found: yamlerrors.Found) -> tuple[None, list[ConfigIssue], dict[Loc, int]]:
        return None, [ConfigIssue(name, found.line, "", found.message)], {}

    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None, [ConfigIssue(name, None, "", "file not found")], {}
    except OSError as exc:
        return None, [ConfigIssue(name, None, "", f"cannot read: {exc.strerror or exc}")], {}
    try:
        # As read_text would: universal newlines, so lines count as an editor counts them.
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        return refused(yamlerrors.not_utf8(raw, exc))
    required = [key for key, spec in model.model_fields.items() if spec.is_required()]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        return refused(yamlerrors.syntax(exc, text))
    except yaml.YAMLError as exc:
        return None, [ConfigIssue(name, None, "", f"YAML cannot read this file: {exc}")], {}
    if node is None:
        return refused(yamlerrors.empty(required))
    shape = yamlerrors.not_a_mapping(node, text, required)
    if shape is not None:
        return refused(shape)

    builder = _Builder(env)
    data = builder.build(node, ())
    found: list[tuple[Loc, str]] = cross_checks(data) if isinstance(data, dict) else []
    config: _M | None = None
    try:
        config = model.model_validate(data, context={_PRECHECKED: True})
    except ValidationError as exc:
        found += _validation_issues(exc, model)

    # A value the reader already complained about (unset ${VAR}, recursive anchor) would only
    # fail validation as a consequence: report the cause alone.
    read_errors = {loc for loc, _, _ in builder.found}
    found = [(loc, msg) for loc, msg in found if not any(loc[: len(bad)] == bad for bad in read_errors)]
    issues: list[ConfigIssue] = []
    located = [*builder.found, *((loc, message, None) for loc, message in found)]
    for loc, message, line in located:
        message = builder.redact(loc, message)
        issue = ConfigIssue(name, line or _line_for(builder.lines, loc), render_path(loc), message)
        if issue not in issues:
            issues.append(issue)
    issues.sort(key=lambda issue: (issue.line or 0, issue.path))
    return (None if issues else config), issues, builder.lines


# --------------------------------------------------------------------------- public entry point


@dataclass(frozen=True)
class Config:
    """Both files, validated, and where they came from (for reloads)."""

    ownership: OwnershipConfig
    severity: SeverityConfig
    ownership_path: Path
    severity_path: Path
    ownership_lines: Mapping[Loc, int] = field(default_factory=dict)
    severity_lines: Mapping[Loc, int] = field(default_factory=dict)

    def line(self, path: str | Path, loc: Loc) -> int | None:
        """The line of a key path (or its nearest ancestor) in ownership.yaml or severity.yaml."""
        lines = self.severity_lines if Path(path) == self.severity_path else self.ownership_lines
        return _line_for(lines, loc)

    def where(self, loc: Loc) -> str:
        """`ownership.yaml:17 areas.model-quality.accountable`, for notes about the file."""
        line = _line_for(self.ownership_lines, loc)
        at = f"{self.ownership_path}:{line}" if line is not None else str(self.ownership_path)
        return f"{at} {render_path(loc)}"


def load_config(
    *,
    ownership_path: str | Path,
    severity_path: str | Path,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Load, substitute and validate both files; raise ConfigError listing every problem in both."""
    environment = os.environ if env is None else env
    ownership, ownership_problems, lines = _load_file(
        ownership_path, OwnershipConfig, ownership_issues, environment
    )
    severity, severity_problems, severity_lines = _load_file(
        severity_path, SeverityConfig, severity_issues, environment
    )
    if ownership is None or severity is None:
        raise ConfigError([*ownership_problems, *severity_problems])
    return Config(
        ownership=ownership,
        severity=severity,
        ownership_path=Path(ownership_path),
        severity_path=Path(severity_path),
        ownership_lines=lines,
        severity_lines=severity_lines,
    )


__all__ = [
    "ACCEPTED",
    "APPROVALS",
    "SCOPES",
    "SEVERITIES",
    "ActionParam",
    "ActionSpec",
    "Alerts",
    "Area",
    "Comparison",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "EscalationStep",
    "Level",
    "Nudges",
    "OncallOverride",
    "OwnershipConfig",
    "Pager",
    "PagerDuty",
    "Approval",
    "PagingScope",
    "Rotation",
    "Scope",
    "Severity",
    "SeverityConfig",
    "SloThreshold",
    "Team",
    "Webhook",
    "default_slo",
    "format_datetime",
    "format_span",
    "is_email",
    "is_user_id",
    "load_config",
    "parse_comparison",
    "parse_datetime",
    "parse_span",
    "render_path",
]
