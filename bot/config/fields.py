"""The value types of the YAML files: IDs, URLs, durations, severities, scopes, checked by pydantic."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
)

from bot.text.spans import parse_duration

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


def to_duration(value: Any) -> Any:
    if value is None or isinstance(value, timedelta):
        return value
    return parse_duration(value)


def to_positive_duration(value: Any) -> Any:
    parsed = to_duration(value)
    if parsed is None:
        raise ValueError(f"an escalation step needs a time, not {value!r}; use e.g. 5m, 30m, 1h")
    if parsed <= timedelta(0):
        raise ValueError("must be longer than 0s; use e.g. 5m, 30m, 1h")
    return parsed


def one_person(value: Any) -> Any:
    if isinstance(value, list | tuple):
        example = f" (e.g. accountable: {value[0]})" if value else ""
        raise ValueError(
            f"must be exactly one person, not a list{example}; move the others to consulted or informed"
        )
    return value


def one_responsible(value: Any) -> Any:
    if isinstance(value, list | tuple):
        raise ValueError("must be one team or one person, not a list; add the others under consulted")
    return value


def step_scope(value: Any) -> Any:
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
Duration = Annotated[timedelta | None, BeforeValidator(to_duration)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
