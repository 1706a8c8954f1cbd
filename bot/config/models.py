"""The models of ownership.yaml and severity.yaml (pydantic, frozen): shapes, types and formats.

Built directly, they also run the whole-file checks of bot/config/checks.py; load_config
(bot/config/loader.py) runs those on the raw data first, so a typo in one area hides nothing in
another.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, Self, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config.checks import ownership_issues, severity_issues
from bot.config.fields import (
    PARAM_RE,
    AreaKey,
    ChannelId,
    Duration,
    HttpUrl,
    Model,
    PagingScope,
    PersonId,
    Scope,
    Severity,
    UsergroupId,
    one_person,
    one_responsible,
    step_scope,
    to_duration,
    to_positive_duration,
)
from bot.config.issues import Issues, Loc, did_you_mean, kind_of, quoted, validation_issues
from bot.config.thresholds import SloThreshold, default_slo
from bot.config.times import Moment, Span, to_handover
from bot.text.spans import format_duration, format_span


class OncallOverride(Model):
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


class Rotation(Model):
    """A team's on-call rotation: ``rotation`` take shifts of ``every`` in turn from ``from``.

    The people must be members of the team (Team checks it) and people (ownership_issues);
    a ``from`` without an offset is wall time in nudges.timezone.
    """

    # model_dump() writes `from`, as in the file, so a dump validates again.
    model_config = ConfigDict(serialize_by_alias=True)

    rotation: list[str] = Field(min_length=1)
    every: Span
    from_: Moment = Field(alias="from")
    handover: Annotated[timedelta, BeforeValidator(to_handover)] = timedelta(hours=1)
    overrides: list[OncallOverride] = Field(default_factory=list)

    @model_validator(mode="after")
    def _handover_inside_shift(self) -> Self:
        if self.handover >= self.every:
            raise Issues(
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


# --------------------------------------------------------------------------- ownership.yaml


class PagerDuty(Model):
    """PagerDuty Events API v2; ``url`` overrides the endpoint (EU accounts, proxies)."""

    routing_key: str
    url: HttpUrl | None = None


class Webhook(Model):
    """Any HTTP endpoint that takes a JSON POST."""

    url: HttpUrl


class Pager(Model):
    """A team's external pager(s)."""

    pagerduty: PagerDuty | None = None
    webhook: Webhook | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.pagerduty is None and self.webhook is None:
            raise ValueError("configure pagerduty or webhook (or remove pager)")
        return self


class Team(Model):
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
                raise Issues(validation_issues(exc, Rotation)) from None
        raise ValueError(
            "expected one person or a rotation (a mapping with rotation, every and from), "
            f"got {kind_of(value)}"
        )

    @model_validator(mode="after")
    def _oncall_is_member(self, info: ValidationInfo) -> Self:
        # Checking membership is enough: the members themselves are checked as people.
        found: list[tuple[Loc, str]] = []
        members = f"(members: {quoted(self.members)})"
        if isinstance(self.oncall, str) and self.oncall not in self.members:
            found.append((("oncall",), f"{self.oncall!r} is not a member of this team {members}"))
        # Loaded from a file, ownership_issues checks the rotation's people (it can say that
        # 'mya' is not a person at all, which this model cannot know).
        if isinstance(self.oncall, Rotation) and not (info.context or {}).get(PRECHECKED):
            for i, person in enumerate(self.oncall.rotation):
                if person not in self.members:
                    found.append(
                        (("oncall", "rotation", i), f"{person!r} is not a member of this team {members}")
                    )
        if found:
            raise Issues(found)
        return self


#: Who must approve an action before Baton calls its webhook.
Approval = Literal["none", "accountable", "two-person"]
APPROVALS: tuple[str, ...] = get_args(Approval)


class ActionParam(Model):
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
        raise ValueError(f"expected true or false, got {kind_of(value)}")


def _param_item(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, dict):
        return value
    raise ValueError(
        f"expected a parameter name (e.g. version) or a mapping such as "
        f"{{name: customer_email, mask: true}}, got {kind_of(value)}"
    )


class ActionSpec(Model):
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
            guess = did_you_mean(value.lower(), APPROVALS)
            hint = f" (did you mean {guess!r}?)" if guess else ""
            raise ValueError(f"{value!r} is not an approval rule; {rules}{hint}")
        raise ValueError(f"expected an approval rule, got {kind_of(value)}; {rules}")

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
            raise Issues(found)
        return value


class GitHubTracker(Model):
    """Follow-ups become GitHub issues (`POST /repos/{owner}/{repo}/issues`); `api_url` for
    GitHub Enterprise (e.g. https://github.example.com/api/v3)."""

    repo: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")] = Field(
        description="owner/name, e.g. acme/ml-platform"
    )
    # Not in repr(): models end up in logs, and a token must never.
    token: str = Field(repr=False, description='a token that may create issues, e.g. "${GITHUB_TOKEN}"')
    api_url: HttpUrl = HttpUrl("https://api.github.com")


class JiraTracker(Model):
    """Follow-ups become Jira Cloud issues (`POST /rest/api/3/issue`, type Task), with basic auth
    of an e-mail address and an API token."""

    url: HttpUrl = Field(description='the site, e.g. "https://acme.atlassian.net"')
    project: str = Field(description="the project key, e.g. MLOPS")
    email: str = Field(description='the account\'s e-mail address, e.g. "${JIRA_EMAIL}"')
    token: str = Field(repr=False, description='an API token, e.g. "${JIRA_TOKEN}"')
    issue_type: str = "Task"


class Tracker(Model):
    """Where follow-ups become issues: GitHub or Jira (one of them)."""

    github: GitHubTracker | None = None
    jira: JiraTracker | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.github is None) == (self.jira is None):
            raise ValueError("configure github or jira (one of them)")
        return self


class Announce(Model):
    """One message per incident or drill in `channel`, edited in place as it changes."""

    channel: str = Field(description="the channel ID, e.g. C07INCIDENTS")
    min_severity: Severity = "P2"  # P3 backlog items are announced only when this says P3


class Area(Model):
    """One row of the RACI matrix."""

    name: str
    covers: str | None = None
    responsible: Annotated[str, BeforeValidator(one_responsible)]
    accountable: Annotated[str, BeforeValidator(one_person)]
    consulted: list[str] = Field(default_factory=list)
    informed: list[str] = Field(default_factory=list)
    runbook: HttpUrl | None = None
    aliases: list[AreaKey] = Field(default_factory=list)
    slo_queries: dict[str, str] = Field(default_factory=dict)
    # Action names: lowercase letters, digits and dashes (checked by ownership_issues, like area keys).
    actions: dict[str, ActionSpec] = Field(default_factory=dict)
    tracker: Tracker | None = None  # this area's follow-ups go here instead of the top-level tracker


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
NUDGES = ("slo_digest", "readiness", "failure_review", "handoffs", "drill")


class Nudges(Model):
    """When the scheduled nudges run; a missing one is not scheduled."""

    timezone: str = "UTC"
    slo_digest: CronText = None
    readiness: CronText = None
    failure_review: CronText = None
    handoffs: CronText = None
    drill: CronText = None  # a P2 drill, one area at a time in file order

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


PRECHECKED = "baton.config.prechecked"


class Alerts(Model):
    """Where an Alertmanager alert without `area` / `severity` labels goes."""

    default_area: str | None = None
    default_severity: Severity = "P2"


def _window(value: Any) -> Any:
    parsed = to_duration(value)
    if parsed is None or parsed <= timedelta(0):
        raise ValueError(f"the feedback window needs a time, not {value!r}; use e.g. 15m, 1h, 1d")
    return parsed


class Feedback(Model):
    """When failure cases from POST /feedback declare an incident: the
    ``alert``-th case for one area within ``window`` declares one at ``severity`` (one while it
    is open). These are the defaults."""

    window: Annotated[timedelta, BeforeValidator(_window)] = timedelta(hours=1)
    alert: int = Field(default=20, ge=1)
    severity: Severity = "P2"


class Drills(Model):
    """How drills behave: external pagers (PagerDuty, webhooks) stay silent unless asked."""

    external_pagers: bool = False


class OwnershipConfig(Model):
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
    drills: Drills = Field(default_factory=Drills)
    announce: Announce | None = None
    tracker: Tracker | None = None

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Self:
        # load_config runs the same checks on the raw data (so they are reported even when the
        # shapes are wrong); direct construction gets them here.
        if not (info.context or {}).get(PRECHECKED):
            # By alias ("from", as in the file), and without defaults nobody wrote (an unset
            # nudges.timezone is not UTC to the rotation checks).
            found = ownership_issues(self.model_dump(by_alias=True, exclude_unset=True))
            if found:
                raise Issues(found)
        return self


# --------------------------------------------------------------------------- severity.yaml


class EscalationStep(Model):
    """A custom escalation step: ``after`` the declaration, page ``notify`` (plus everyone paged so far)."""

    after: Annotated[timedelta, BeforeValidator(to_positive_duration)]
    notify: Annotated[PagingScope, BeforeValidator(step_scope)]


class Level(Model):
    """A severity level: its response window and whom it pages."""

    name: str
    response_time: Duration = None
    notify: Scope
    escalation: list[EscalationStep] | None = None
    # A "status update due" post when no status was posted for this long, until resolved.
    update_every: Duration = None
    # A review is due this long after resolve; the commander is told and nudged while overdue.
    review: Duration = None

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
            raise Issues(found)
        return self


class SeverityConfig(Model):
    """severity.yaml: the four levels and where backlog items go."""

    levels: dict[str, Level]
    backlog_channel: ChannelId | None = None

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> Self:
        if not (info.context or {}).get(PRECHECKED):
            found = severity_issues(self.model_dump())
            if found:
                raise Issues(found)
        return self
