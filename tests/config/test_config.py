"""Config as code: the shipped files load, and each kind of mistake gives an exact file:line message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config.issues import ConfigError, ConfigIssue
from bot.config.loader import load_config
from bot.config.models import OwnershipConfig, SeverityConfig
from bot.config.thresholds import parse_comparison
from bot.text.spans import ACCEPTED, format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[2]

SEVERITY = """\
levels:
  P0: {name: Total service outage, response_time: 15m, notify: everyone}
  P1: {name: Core feature failure, response_time: 1h, notify: owning-team}
  P2: {name: Partial feature issue, response_time: 4h, notify: owner}
  P3: {name: Minor issue, response_time: next-sprint, notify: backlog}
backlog_channel: C07BACKLOG
"""

# Line numbers below are counted in this text.
OWNERSHIP = """\
people:
  maya: U07MAYA001
  li: li.chen@example.com
  sam: U07SAM0001
teams:
  ml:
    name: ML Team
    members: [maya, li]
    oncall: maya
  platform:
    name: Platform Team
    members: [sam]
areas:
  model-quality:
    name: Model / Prompt
    responsible: ml
    accountable: maya
    consulted: [platform]
    aliases: [model, prompt]
"""

DATA_AREA = """\
  data:
    name: Data
    responsible: platform
    accountable: sam
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths, so messages read "ownership.yaml:14 …" as `baton check` prints them.
    monkeypatch.chdir(tmp_path)


def _load(ownership: str = OWNERSHIP, severity: str = SEVERITY, env: dict[str, str] | None = None):
    Path("ownership.yaml").write_text(ownership)
    Path("severity.yaml").write_text(severity)
    return load_config(ownership_path="ownership.yaml", severity_path="severity.yaml", env=env or {})


def _errors(
    ownership: str = OWNERSHIP, severity: str = SEVERITY, env: dict[str, str] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(ownership, severity, env)
    lines = str(caught.value).splitlines()
    assert lines == [str(issue) for issue in caught.value.issues]
    return lines


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_shipped_files_load() -> None:
    config = load_config(ownership_path=ROOT / "ownership.yaml", severity_path=ROOT / "severity.yaml", env={})
    own, sev = config.ownership, config.severity
    assert list(own.areas) == [
        "model-quality",
        "infra-deploy",
        "data",
        "user-experience",
        "policy-guardrails",
    ]
    expected = {
        "model-quality": "ml",
        "infra-deploy": "platform",
        "data": "data",
        "user-experience": "product",
        "policy-guardrails": "legal",
    }
    assert {key: area.responsible for key, area in own.areas.items()} == expected
    assert own.teams["ml"].name == "ML Team" and own.teams["legal"].name == "Legal / Compliance"
    assert own.people["li"] == "li.chen@example.com"
    assert {"model", "prompt"} <= set(own.areas["model-quality"].aliases)
    assert set(own.areas["model-quality"].slo_queries) == {"success_rate", "latency_p95"}
    assert own.nudges is not None and own.nudges.timezone == "Europe/London"
    assert set(own.nudges.triggers()) == {"slo_digest", "readiness", "failure_review", "handoffs"}
    assert own.slo["success_rate"].objective_comparison().value == pytest.approx(0.995)
    assert {key: (lvl.response_time, lvl.notify) for key, lvl in sev.levels.items()} == {
        "P0": (timedelta(minutes=15), "everyone"),
        "P1": (timedelta(hours=1), "owning-team"),
        "P2": (timedelta(hours=4), "owner"),
        "P3": (None, "backlog"),
    }
    assert sev.backlog_channel == "C07BACKLOG"
    assert config.ownership_path == ROOT / "ownership.yaml"


def test_small_valid_files_load_with_defaults() -> None:
    config = _load()
    area = config.ownership.areas["model-quality"]
    assert area.informed == [] and area.runbook is None
    # No slo: block -> the default thresholds (docs/monitoring.md).
    assert set(config.ownership.slo) == {
        "success_rate",
        "latency_p95",
        "error_rate",
        "daily_cost",
        "monthly_cost",
    }
    assert config.ownership.slo["latency_p95"].alert_comparison().holds(5.5)
    with pytest.raises(ValidationError):
        config.ownership.areas["model-quality"].accountable = "li"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "    accountable: maya\n",
            "    accountable: maya\n    runbok: https://wiki.example.com/x\n",
            "ownership.yaml:18 areas.model-quality.runbok: unknown key (did you mean 'runbook'?)",
            id="unknown-key-in-area",
        ),
        pytest.param(
            "    aliases: [model, prompt]\n",
            "    aliases: [model, prompt]\nnudge: {timezone: UTC}\n",
            "ownership.yaml:20 nudge: unknown key (did you mean 'nudges'?)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "    oncall: maya\n",
            "    oncall: maya\n    colour: blue\n",
            "ownership.yaml:10 teams.ml.colour: unknown key "
            "(expected one of: name, members, oncall, usergroup, channel, pager)",
            id="unknown-key-no-near-miss",
        ),
        pytest.param(
            "  sam: U07SAM0001\n",
            "  sam: U07SAM0001\n  maya: U07MAYA002\n",
            "ownership.yaml:5 people.maya: duplicate key (first defined on line 2)",
            id="duplicate-key",
        ),
        pytest.param(
            "    accountable: maya\n",
            "    accountable: mya\n",
            "ownership.yaml:17 areas.model-quality.accountable: 'mya' is not a person (did you mean 'maya'?)",
            id="unknown-accountable",
        ),
        pytest.param(
            "    members: [maya, li]\n",
            "    members: [maya, lii]\n",
            "ownership.yaml:8 teams.ml.members[1]: 'lii' is not a person (did you mean 'li'?)",
            id="unknown-member",
        ),
        pytest.param(
            "    consulted: [platform]\n",
            "    consulted: [platfrom]\n",
            "ownership.yaml:18 areas.model-quality.consulted[0]: 'platfrom' is not a person or team "
            "(did you mean 'platform'?)",
            id="unknown-consulted-team",
        ),
        pytest.param(
            "    responsible: ml\n",
            "    responsible: nobody\n",
            "ownership.yaml:16 areas.model-quality.responsible: 'nobody' is not a person or team "
            "(use a team key, a handle from people, a Slack user ID or an e-mail)",
            id="unknown-responsible",
        ),
        pytest.param(
            "    accountable: maya\n",
            "    accountable: [maya, li]\n",
            "ownership.yaml:17 areas.model-quality.accountable: must be exactly one person, not a list "
            "(e.g. accountable: maya); move the others to consulted or informed",
            id="accountable-list",
        ),
        pytest.param(
            "    accountable: maya\n",
            "    accountable: ml\n",
            "ownership.yaml:17 areas.model-quality.accountable: 'ml' is a team; accountable must be exactly "
            "one person (e.g. its on-call 'maya')",
            id="accountable-team",
        ),
        pytest.param(
            "  maya: U07MAYA001\n",
            "  maya: maya\n",
            "ownership.yaml:2 people.maya: 'maya' is not a Slack user ID (U… or W…) or an e-mail address",
            id="bad-person-id",
        ),
        pytest.param(
            "    oncall: maya\n",
            "    oncall: sam\n",
            "ownership.yaml:9 teams.ml.oncall: 'sam' is not a member of this team (members: 'maya', 'li')",
            id="oncall-not-member",
        ),
        pytest.param(
            "    oncall: maya\n",
            "    oncall: maya\n    channel: '#ml'\n",
            "ownership.yaml:10 teams.ml.channel: '#ml' is not a Slack channel ID (C… or G…)",
            id="bad-channel",
        ),
        pytest.param(
            "    members: [sam]\n",
            "    members: []\n",
            "ownership.yaml:12 teams.platform.members: must not be empty",
            id="empty-team",
        ),
        pytest.param(
            "    name: Model / Prompt\n",
            "",
            "ownership.yaml:14 areas.model-quality.name: is required",
            id="missing-name",
        ),
        pytest.param(
            "    aliases: [model, prompt]\n",
            "    aliases: [model, Prompt]\n",
            "ownership.yaml:19 areas.model-quality.aliases[1]: 'Prompt' is not lowercase letters, digits and "
            "dashes (e.g. 'model-quality')",
            id="alias-not-lowercase",
        ),
        pytest.param(
            "    aliases: [model, prompt]\n",
            "    aliases: [model, prompt]\n    slo_queries: {succes_rate: up}\n",
            "ownership.yaml:20 areas.model-quality.slo_queries.succes_rate: "
            "'succes_rate' is not an SLI under slo (did you mean 'success_rate'?)",
            id="unknown-sli",
        ),
        pytest.param(
            "  sam: U07SAM0001\n",
            "  sam: U07SAM0001\nalerts: {default_area: modle-quality}\n",
            "ownership.yaml:5 alerts.default_area: 'modle-quality' is not an area "
            "(did you mean 'model-quality'?)",
            id="unknown-alert-area",
        ),
        pytest.param(
            "  sam: U07SAM0001\n",
            "  sam: U07SAM0001\nalerts: {default_area: model-quality, default_severity: P5}\n",
            "ownership.yaml:5 alerts.default_severity: 'P5' is not one of 'P0', 'P1', 'P2' or 'P3'",
            id="bad-alert-severity",
        ),
        pytest.param(
            "  sam: U07SAM0001\n",
            "  sam: U07SAM0001\nadmins: [maya, sma]\n",
            "ownership.yaml:5 admins[1]: 'sma' is not a person (did you mean 'sam'?)",
            id="unknown-admin",
        ),
        pytest.param(
            "  sam: U07SAM0001\n",
            "  sam: U07SAM0001\nadmins: [ml]\n",
            "ownership.yaml:5 admins[0]: 'ml' is a team, not a person; list its members instead",
            id="team-as-admin",
        ),
        pytest.param(
            "  sam: U07SAM0001\n",
            "  sam: U07SAM0001\nadmins: maya\n",
            "ownership.yaml:5 admins: expected a list, got text ('maya')",
            id="admins-not-a-list",
        ),
        pytest.param(
            "    aliases: [model, prompt]\n",
            "    aliases: [model, prompt]\n    runbook: wiki/model\n",
            "ownership.yaml:20 areas.model-quality.runbook: 'wiki/model' is not an http(s) URL",
            id="runbook-not-url",
        ),
    ],
)
def test_ownership_mistake_is_reported_with_file_line_and_path(old: str, new: str, expected: str) -> None:
    assert _errors(_edit(OWNERSHIP, old, new)) == [expected]


def test_alias_clashing_with_another_areas_alias_names_both_areas() -> None:
    text = OWNERSHIP + DATA_AREA + "    aliases: [search, model]\n"
    assert _errors(text) == [
        "ownership.yaml:24 areas.data.aliases[1]: alias 'model' of area 'data' clashes with an alias of area "
        "'model-quality'"
    ]


def test_alias_clashing_with_another_area_key_names_both_areas() -> None:
    text = OWNERSHIP + DATA_AREA + "    aliases: [model-quality]\n"
    assert _errors(text) == [
        "ownership.yaml:24 areas.data.aliases[0]: alias 'model-quality' of area 'data' clashes with area "
        "'model-quality'"
    ]


PAGER = '    oncall: maya\n    pager:\n      pagerduty: {routing_key: "${PD_ROUTING_KEY_ML}"}\n'


def test_missing_environment_variable_is_named() -> None:
    assert _errors(_edit(OWNERSHIP, "    oncall: maya\n", PAGER)) == [
        "ownership.yaml:11 teams.ml.pager.pagerduty.routing_key: "
        "environment variable PD_ROUTING_KEY_ML is not set"
    ]
    # Only the cause: not also "'${ML_PAGER_WEBHOOK}' is not an http(s) URL".
    webhook = '    oncall: maya\n    pager:\n      webhook: {url: "${ML_PAGER_WEBHOOK}"}\n'
    assert _errors(_edit(OWNERSHIP, "    oncall: maya\n", webhook)) == [
        "ownership.yaml:11 teams.ml.pager.webhook.url: environment variable ML_PAGER_WEBHOOK is not set"
    ]


def test_environment_variables_are_substituted() -> None:
    text = _edit(
        OWNERSHIP, "    oncall: maya\n", PAGER + '      webhook: {url: "https://${HOOK_HOST}/p?x=$${X}"}\n'
    )
    config = _load(text, env={"PD_ROUTING_KEY_ML": "r0utingkey", "HOOK_HOST": "pager.example.com"})
    pager = config.ownership.teams["ml"].pager
    assert pager is not None and pager.pagerduty is not None and pager.webhook is not None
    assert pager.pagerduty.routing_key == "r0utingkey"
    # $${X} is the escape for a literal ${X}.
    assert pager.webhook.url == "https://pager.example.com/p?x=${X}"


def test_a_bad_value_from_the_environment_is_named_by_its_variable_not_shown() -> None:
    webhook = '    oncall: maya\n    pager:\n      webhook: {url: "${ML_PAGER_WEBHOOK}"}\n'
    secret = "hunter2-s3cr3t-routing-key"
    errors = _errors(_edit(OWNERSHIP, "    oncall: maya\n", webhook), env={"ML_PAGER_WEBHOOK": secret})
    assert errors == [
        "ownership.yaml:11 teams.ml.pager.webhook.url: the value of ${ML_PAGER_WEBHOOK} is not an http(s) URL"
    ]


def test_a_variable_inside_text_is_shown_as_written() -> None:
    webhook = (
        '    oncall: maya\n    pager:\n      webhook: {url: "hooks://${HOOK_TOKEN}@pager.example.com"}\n'
    )
    errors = _errors(_edit(OWNERSHIP, "    oncall: maya\n", webhook), env={"HOOK_TOKEN": "tok-9f8e7d6c"})
    assert errors == [
        "ownership.yaml:11 teams.ml.pager.webhook.url: "
        "'hooks://${HOOK_TOKEN}@pager.example.com' is not an http(s) URL"
    ]


def test_a_short_value_from_the_environment_is_hidden_too() -> None:
    # Where it was substituted a value is hidden whatever its length.
    text = _edit(OWNERSHIP, "    accountable: maya\n", '    accountable: "${OWNER}"\n')
    errors = _errors(text, env={"OWNER": "mya"})
    assert errors == [
        "ownership.yaml:17 areas.model-quality.accountable: "
        "the value of ${OWNER} is not a person (did you mean 'maya'?)"
    ]


def test_a_value_from_the_environment_quoted_elsewhere_is_hidden() -> None:
    # The message at teams.ml.oncall quotes the member list, where a substituted e-mail from
    # another key would otherwise show up.
    text = _edit(OWNERSHIP, "    members: [maya, li]\n", '    members: [maya, "${LI_EMAIL}"]\n')
    text = _edit(text, "    oncall: maya\n", "    oncall: omar\n")
    errors = _errors(text, env={"LI_EMAIL": "li.private@example.com"})
    assert len(errors) == 1 and "li.private@example.com" not in errors[0]
    assert "${LI_EMAIL}" in errors[0] and "'omar' is not a member of this team" in errors[0]


NUDGES = 'nudges:\n  timezone: Europe/London\n  slo_digest: "0 9 * * MON-FRI"\n'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            '"0 9 * * MON-FRI"',
            '"0 9 * *"',
            "ownership.yaml:22 nudges.slo_digest: '0 9 * *' is not a cron expression (minute hour day month "
            "weekday, e.g. '0 9 * * MON-FRI'): Wrong number of fields; got 4, expected 5",
            id="cron-fields",
        ),
        pytest.param(
            '"0 9 * * MON-FRI"',
            '"0 9 * * 1-5"',
            "ownership.yaml:22 nudges.slo_digest: '0 9 * * 1-5': write weekdays as names (MON-FRI, SUN), "
            "not numbers",
            id="cron-numeric-weekday",
        ),
        pytest.param(
            "Europe/London",
            "Europe/Lundon",
            "ownership.yaml:21 nudges.timezone: "
            "'Europe/Lundon' is not a known time zone (e.g. Europe/London, UTC)",
            id="timezone",
        ),
    ],
)
def test_nudge_mistakes(old: str, new: str, expected: str) -> None:
    assert _errors(OWNERSHIP + _edit(NUDGES, old, new)) == [expected]


def test_nudges_load() -> None:
    nudges = _load(OWNERSHIP + NUDGES).ownership.nudges
    assert nudges is not None
    assert list(nudges.triggers()) == ["slo_digest"]
    assert str(nudges.triggers()["slo_digest"].timezone) == "Europe/London"


def test_slo_thresholds_are_checked() -> None:
    text = OWNERSHIP + 'slo:\n  success_rate: {objective: "about 99%", alert: "< 99s", severity: P1}\n'
    assert _errors(text) == [
        "ownership.yaml:21 slo.success_rate.objective: 'about 99%' is not a threshold; write an operator "
        "(>=, <=, >, <, ==) and a number, optionally with % or a time unit: '>= 99.5%', '<= 3s', '> 300'"
    ]
    mixed = OWNERSHIP + 'slo:\n  success_rate: {objective: ">= 99%", alert: "< 99s", severity: P1}\n'
    assert _errors(mixed) == [
        "ownership.yaml:21 slo.success_rate.alert: is a time but the objective is a percentage",
    ]
    bad_severity = OWNERSHIP + 'slo:\n  success_rate: {objective: ">= 99%", alert: "< 98%", severity: P5}\n'
    assert _errors(bad_severity) == [
        "ownership.yaml:21 slo.success_rate.severity: 'P5' is not one of 'P0', 'P1', 'P2' or 'P3'",
    ]


def test_parse_comparison_normalises_units() -> None:
    assert parse_comparison(">= 99.5%").value == pytest.approx(0.995)
    assert parse_comparison("<= 3s").holds(2.9)
    assert not parse_comparison("<= 3s").holds(3.1)
    assert parse_comparison("> 300").holds(301)
    assert parse_comparison("< 250ms").value == pytest.approx(0.25)


def test_yaml_syntax_error_has_file_and_line() -> None:
    # Each kind of YAML mistake in its own words: tests/config/test_yamlerrors.py.
    with pytest.raises(ConfigError) as caught:
        _load("people:\n  maya: U07MAYA001\n  - li\n")
    assert str(caught.value) == (
        "ownership.yaml:3: a list item ('- ') among keys: write it as a key like the line above (`li`), "
        "or put the list under a key of its own\n"
        "    3 |   - li\n"
        "      |   ^"
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "response_time: 1h,",
            "response_time: 1 hour,",
            f"severity.yaml:3 levels.P1.response_time: '1 hour' is not a duration; {ACCEPTED}",
            id="bad-duration",
        ),
        pytest.param(
            "response_time: 4h,",
            "respone_time: 4h,",
            "severity.yaml:4 levels.P2.respone_time: unknown key (did you mean 'response_time'?)",
            id="unknown-key",
        ),
        pytest.param(
            "response_time: 4h,",
            "response_time: none,",
            "severity.yaml:4 levels.P2.response_time: required when notify is 'owner': use e.g. 15m, 1h, 4h "
            "(next-sprint / none only go with notify: backlog)",
            id="paging-level-without-window",
        ),
        pytest.param(
            "notify: owner}",
            "notify: owners}",
            "severity.yaml:4 levels.P2.notify: 'owners' is not one of 'owner', 'owning-team', 'everyone' or "
            "'backlog'",
            id="bad-scope",
        ),
        pytest.param(
            "backlog_channel: C07BACKLOG\n",
            "",
            "severity.yaml:1 backlog_channel: is required because P3 notify backlog (e.g. C07BACKLOG)",
            id="backlog-channel-required",
        ),
        pytest.param(
            "notify: owning-team}",
            "notify: owning-team, escalation: [{after: 10m, notify: owner}, {after: 5m, notify: everyone}]}",
            "severity.yaml:3 levels.P1.escalation[1].after: 5m must be later than the step before it (10m)",
            id="escalation-not-increasing",
        ),
        pytest.param(
            "notify: owning-team}",
            "notify: owning-team, escalation: [{after: 10m, notify: backlog}]}",
            "severity.yaml:3 levels.P1.escalation[0].notify: "
            "an escalation step must page someone: use owner, owning-team or everyone, not backlog",
            id="escalation-to-backlog",
        ),
        pytest.param(
            "notify: owning-team}",
            "notify: owning-team, escalation: [{after: 0s, notify: everyone}]}",
            "severity.yaml:3 levels.P1.escalation[0].after: must be longer than 0s; use e.g. 5m, 30m, 1h",
            id="escalation-at-zero",
        ),
    ],
)
def test_severity_mistake_is_reported_with_file_line_and_path(old: str, new: str, expected: str) -> None:
    assert _errors(severity=_edit(SEVERITY, old, new)) == [expected]


def test_misspelt_level_is_named_and_suggested() -> None:
    assert _errors(severity=_edit(SEVERITY, "  P3:", "  p3:")) == [
        "severity.yaml:1 levels: missing P3: P0, P1, P2 and P3 must all be defined",
        "severity.yaml:5 levels.p3: 'p3' is not a severity; levels are P0, P1, P2 and P3 "
        "(did you mean 'P3'?)",
    ]


def test_custom_escalation_loads() -> None:
    text = _edit(
        SEVERITY, "notify: owning-team}", "notify: owning-team, escalation: [{after: 5m, notify: everyone}]}"
    )
    step = _load(severity=text).severity.levels["P1"].escalation
    assert step is not None and step[0].after == timedelta(minutes=5) and step[0].notify == "everyone"


def test_all_issues_of_both_files_are_collected() -> None:
    ownership = _edit(_edit(OWNERSHIP, "accountable: maya", "accountable: mya"), "    name: ML Team\n", "")
    severity = _edit(SEVERITY, "response_time: 1h,", "response_time: soon,")
    assert _errors(ownership, severity) == [
        "ownership.yaml:6 teams.ml.name: is required",
        "ownership.yaml:16 areas.model-quality.accountable: 'mya' is not a person (did you mean 'maya'?)",
        f"severity.yaml:3 levels.P1.response_time: 'soon' is not a duration; {ACCEPTED}",
    ]


def test_yaml_anchors_and_merge_keys_are_supported() -> None:
    severity = """\
levels:
  P0: &page {name: Outage, response_time: 15m, notify: everyone}
  P1: {<<: *page, name: Core}
  P2: {<<: *page, name: Partial, response_time: 4h, notify: owner}
  P3: {name: Minor, notify: backlog}
backlog_channel: C07BACKLOG
"""
    levels = _load(severity=severity).severity.levels
    assert (levels["P1"].name, levels["P1"].response_time, levels["P1"].notify) == (
        "Core",
        timedelta(minutes=15),
        "everyone",
    )
    # Keys written out win over merged ones, without a duplicate-key error.
    assert (levels["P2"].response_time, levels["P2"].notify) == (timedelta(hours=4), "owner")


def test_missing_file_and_empty_file() -> None:
    Path("severity.yaml").write_text(SEVERITY)
    with pytest.raises(ConfigError) as caught:
        load_config(ownership_path="nope.yaml", severity_path="severity.yaml", env={})
    assert str(caught.value) == "nope.yaml: file not found"
    assert _errors("") == [
        "ownership.yaml: this file is empty (or only comments): it needs `areas:` at least, as in the "
        "shipped file"
    ]


def test_issue_formatting() -> None:
    assert str(ConfigIssue("o.yaml", 3, "a.b", "bad")) == "o.yaml:3 a.b: bad"
    assert str(ConfigIssue("o.yaml", 3, "", "bad")) == "o.yaml:3: bad"
    assert str(ConfigIssue("o.yaml", None, "a", "bad")) == "o.yaml a: bad"
    error = ConfigError([ConfigIssue("a", 1, "x", "one"), ConfigIssue("b", 2, "y", "two")])
    assert str(error) == "a:1 x: one\nb:2 y: two"


def test_models_check_references_when_built_directly() -> None:
    with pytest.raises(ValidationError, match="'mya' is not a person"):
        OwnershipConfig.model_validate(
            {
                "people": {"maya": "U07MAYA001"},
                "areas": {"x": {"name": "X", "responsible": "maya", "accountable": "mya"}},
            }
        )
    with pytest.raises(ValidationError, match="missing P1, P2, P3"):
        SeverityConfig.model_validate(
            {"levels": {"P0": {"name": "Out", "response_time": "15m", "notify": "everyone"}}}
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("6s", timedelta(seconds=6)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        (" 1H30m ", timedelta(hours=1, minutes=30)),
        ("next-sprint", None),
        ("None", None),
    ],
)
def test_parse_duration(text: str, expected: timedelta | None) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1 hour", "30m1h", "1h1h", "-5m", "5", "1w", 5])
def test_parse_duration_refuses_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == f"{text!r} is not a duration; {ACCEPTED}"


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(seconds=6), "6s"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(minutes=15) / 2, "7m30s"),
        (timedelta(seconds=1) / 2, "500ms"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration(td: timedelta, text: str) -> None:
    assert format_duration(td) == text
    if "ms" not in text:
        assert parse_duration(text) == td


def test_recursive_anchor_is_an_error_not_a_hang() -> None:
    assert _errors(OWNERSHIP + "nudges: &n {timezone: *n}\n") == [
        "ownership.yaml:20 nudges.timezone: an anchor cannot contain an alias to itself",
    ]
