"""SLO thresholds: `>= 0.8`, `< 2s`, `<= 5%`: how a measured value is compared."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    model_validator,
)

from bot.config.fields import Model, Severity
from bot.config.issues import Issues

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


class SloThreshold(Model):
    """An SLI's objective, the threshold that declares an incident, and that incident's severity."""

    objective: ComparisonText
    alert: ComparisonText
    severity: Severity

    @model_validator(mode="after")
    def _same_kind(self) -> Self:
        objective, alert = parse_comparison(self.objective), parse_comparison(self.alert)
        if objective.kind != alert.kind:
            raise Issues([(("alert",), f"is a {alert.kind} but the objective is a {objective.kind}")])
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
