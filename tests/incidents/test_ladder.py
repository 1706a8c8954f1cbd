"""The escalation ladder: default steps at 0, T/2 and T, custom escalation, backlog, the plan text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config.models import OwnershipConfig, SeverityConfig
from bot.config.ownership import Ownership, UnknownAreaError
from bot.incidents.ladder import BREACH_DESCRIPTION, UnknownLevelError, plan_ladder, render_plan

OWNERSHIP = OwnershipConfig.model_validate(
    {
        "people": {
            "maya": "U07MAYA001",
            "li": "li.chen@example.com",
            "omar": "U07OMAR001",
            "dana": "U07DANA001",
        },
        "teams": {
            # The on-call (li) is not the accountable person (maya), so "+ accountable" is visible.
            "ml": {"name": "ML Team", "members": ["maya", "li", "omar"], "oncall": "li"},
            "data": {"name": "Data Team", "members": ["dana"]},
        },
        "areas": {
            "model-quality": {
                "name": "Model / Prompt",
                "responsible": "ml",
                "accountable": "maya",
                "consulted": ["data"],
                "informed": ["U07ROSA001"],
                "aliases": ["model"],
            }
        },
    }
)

S6 = timedelta(seconds=6)


def _severity(p1: dict[str, object] | None = None) -> SeverityConfig:
    return SeverityConfig.model_validate(
        {
            "levels": {
                "P0": {"name": "Outage", "response_time": "6s", "notify": "everyone"},
                "P1": p1 or {"name": "Core", "response_time": "6s", "notify": "owning-team"},
                "P2": {"name": "Partial", "response_time": "6s", "notify": "owner"},
                "P3": {"name": "Minor", "response_time": "next-sprint", "notify": "backlog"},
            },
            "backlog_channel": "C07BACKLOG",
        }
    )


@pytest.fixture
def own() -> Ownership:
    return Ownership(OWNERSHIP)


EVERYONE = ("li", "maya", "omar", "dana", "U07ROSA001")


def _plan(own: Ownership, level: str, severity: SeverityConfig | None = None) -> list[tuple[object, ...]]:
    steps = plan_ladder(ownership=own, severity=severity or _severity(), level=level, area="model")
    assert [step.index for step in steps] == list(range(len(steps)))
    return [(step.after, step.notify, step.scope, step.breach, step.description) for step in steps]


def test_default_ladder_from_owner(own: Ownership) -> None:
    assert _plan(own, "P2") == [
        (timedelta(0), ("li",), "owner", False, "page owner"),
        (
            timedelta(seconds=3),
            ("li", "maya", "omar"),
            "owning-team",
            False,
            "page owner + accountable + owning-team",
        ),
        (S6, EVERYONE, "everyone", True, BREACH_DESCRIPTION),
    ]


def test_default_ladder_from_owning_team(own: Ownership) -> None:
    assert _plan(own, "p1") == [
        (timedelta(0), ("li", "maya", "omar"), "owning-team", False, "page owning-team"),
        (timedelta(seconds=3), EVERYONE, "everyone", False, "page owning-team + everyone"),
        (S6, EVERYONE, "everyone", True, BREACH_DESCRIPTION),
    ]


def test_default_ladder_from_everyone(own: Ownership) -> None:
    assert [(after, scope, description) for after, _, scope, _, description in _plan(own, "P0")] == [
        (timedelta(0), "everyone", "page everyone"),
        (timedelta(seconds=3), "everyone", "page everyone again"),
        (S6, "everyone", BREACH_DESCRIPTION),
    ]


def test_custom_escalation_replaces_the_middle_step(own: Ownership) -> None:
    severity = _severity(
        {
            "name": "Core",
            "response_time": "6s",
            "notify": "owner",
            "escalation": [{"after": "2s", "notify": "owning-team"}, {"after": "4s", "notify": "everyone"}],
        }
    )
    assert _plan(own, "P1", severity) == [
        (timedelta(0), ("li",), "owner", False, "page owner"),
        (
            timedelta(seconds=2),
            ("li", "maya", "omar"),
            "owning-team",
            False,
            "page owning-team + everyone paged so far",
        ),
        (timedelta(seconds=4), EVERYONE, "everyone", False, "page everyone + everyone paged so far"),
        (S6, EVERYONE, "everyone", True, BREACH_DESCRIPTION),
    ]


def test_custom_steps_at_and_after_the_window(own: Ownership) -> None:
    severity = _severity(
        {
            "name": "Core",
            "response_time": "6s",
            "notify": "owner",
            "escalation": [
                {"after": "2s", "notify": "owning-team"},
                {"after": "6s", "notify": "owning-team"},  # folded into the breach step
                {"after": "10s", "notify": "owner"},  # a reminder after the breach
            ],
        }
    )
    steps = plan_ladder(ownership=own, severity=severity, level="P1", area="model-quality")
    assert [(s.after.total_seconds(), s.breach, s.scope) for s in steps] == [
        (0, False, "owner"),
        (2, False, "owning-team"),
        (6, True, "everyone"),
        (10, False, "owner"),
    ]
    assert steps[-1].notify == EVERYONE


def test_each_step_pages_everyone_paged_before(own: Ownership) -> None:
    for level in ("P0", "P1", "P2"):
        steps = plan_ladder(ownership=own, severity=_severity(), level=level, area="model")
        for before, after in zip(steps, steps[1:], strict=False):
            assert set(before.notify) <= set(after.notify)
            assert before.after < after.after


def test_backlog_level_pages_nobody(own: Ownership) -> None:
    assert plan_ladder(ownership=own, severity=_severity(), level="P3", area="model") == []
    assert render_plan(ownership=own, severity=_severity(), level="P3", area="model") == (
        "P3 Minor: no response window, area model-quality (Model / Prompt)\n"
        "R ml (ML Team), on-call li, A maya\n"
        "  nobody is paged; the item is posted to the backlog channel C07BACKLOG"
    )


def test_render_plan(own: Ownership) -> None:
    text = render_plan(
        ownership=Ownership(OWNERSHIP, emails={"li.chen@example.com": "U07LICHEN1"}),
        severity=_severity(),
        level="P2",
        area="model-quality",
    )
    team = "li <@U07LICHEN1>, maya <@U07MAYA001>, omar <@U07OMAR001>"
    assert text.splitlines() == [
        "P2 Partial: window 6s, area model-quality (Model / Prompt)",
        "R ml (ML Team), on-call li, A maya",
        "  +0s  page owner                                  li <@U07LICHEN1>",
        f"  +3s  page owner + accountable + owning-team      {team}",
        f"  +6s  window breached: page everyone in the RACI  {team}, dana <@U07DANA001>, <@U07ROSA001>",
        "An acknowledgement by anyone paged stops the remaining steps.",
    ]
    # An e-mail not resolved yet is shown as the e-mail, so `baton plan` works without Slack.
    unresolved = render_plan(ownership=own, severity=_severity(), level="P2", area="model")
    assert "  +0s  page owner" in unresolved and unresolved.splitlines()[2].endswith(
        "li (li.chen@example.com)"
    )


def test_unknown_names(own: Ownership) -> None:
    with pytest.raises(UnknownLevelError) as caught:
        plan_ladder(ownership=own, severity=_severity(), level="P5", area="model")
    assert str(caught.value) == "unknown severity 'P5'; use one of P0, P1, P2, P3"
    for level in ("P1", "P3"):
        with pytest.raises(UnknownAreaError):
            plan_ladder(ownership=own, severity=_severity(), level=level, area="modle")
