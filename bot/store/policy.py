"""The policy snapshot an incident keeps (`Incident.policy`): what was decided at declaration,
typed, stored as the JSON it has always been.

`paging.snapshot` (bot/incidents/paging.py) builds it; `PolicyJSON` is the column type that
stores it as that JSON and reads it back validated, so every reader gets attributes
(`inc.policy.window_seconds`, `step.description`) instead of dictionary keys. A row written by
an earlier version still loads: a key it lacks takes the value those versions meant (steps
before 2026-11-29 have no "groups": no user group was mentioned), and a key this version does
not know is kept as it was."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class Paged(_Frozen):
    """One person a step pages: as the config names them, and their Slack user ID (None when
    the name did not resolve)."""

    ref: str
    user: str | None = None


class Group(_Frozen):
    """A Slack user group whose every member the step pages: mentioned instead of each person."""

    id: str
    name: str


class Step(_Frozen):
    """One rung of the ladder (bot/incidents/ladder.py), frozen."""

    index: int
    after: float  # seconds from the start of the window
    breach: bool = False
    scope: str = ""
    description: str = ""
    notify: tuple[Paged, ...] = ()
    groups: tuple[Group, ...] = ()  # not in snapshots before 2026-11-29


class Policy(_Frozen):
    """Level, window and ladder as decided at declaration (or at the last severity change).

    Every key has a default, as every reader took one: `Policy()` is what an incident without a
    snapshot (`{}`) reads as."""

    level: str = ""
    level_name: str = ""
    notify: str = ""  # the level's scope, or "backlog"
    response_time: str | None = None  # "1h", as people read it; None for a backlog level
    window_seconds: float | None = None
    area_name: str | None = None
    team: str | None = None  # the responsible team's key
    runbook: str | None = None
    steps: tuple[Step, ...] = ()

    def step(self, index: int) -> Step | None:
        return next((st for st in self.steps if st.index == index), None)

    def as_json(self) -> dict[str, Any]:
        """What is stored: the keys `paging.snapshot` has always written."""
        return self.model_dump(mode="json")


class PolicyJSON(TypeDecorator[Policy]):
    """`Incident.policy`'s column: JSON, read back as a `Policy`."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Policy | dict[str, Any] | None, dialect: Dialect) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, dict):  # validated, so nothing the reader would refuse is stored
            value = Policy.model_validate(value)
        return value.as_json()

    def process_result_value(self, value: Any, dialect: Dialect) -> Policy:
        return Policy.model_validate(value or {})
