"""On-call rotations in ownership.yaml: a team's `oncall` is
one person or a rotation; a valid rotation loads, and each mistake gives an exact file:line message.
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.config.issues import ConfigError
from bot.config.loader import load_config
from bot.config.models import OncallOverride, OwnershipConfig, Rotation, Team
from bot.slack.chat import Chat, make_client
from bot.slack.check import check
from bot.slack.standin import FakeSlack
from bot.text.spans import format_span, parse_span
from tests.conftest import BATON, SHIPPED_OWNERSHIP, SHIPPED_SEVERITY, clean_env

SEVERITY = SHIPPED_SEVERITY.read_text()

# Line numbers below are counted in this text.
OWNERSHIP = """\
people:
  maya: U07MAYA001
  li: li.chen@example.com
  omar: U07OMAR001
  sam: U07SAM0001
teams:
  ml:
    name: ML Team
    members: [maya, li, omar]
    oncall:
      rotation: [maya, li, omar]
      every: 1w
      from: "2026-11-30T09:00"
      handover: 1h
      overrides:
        - {who: li, from: "2026-12-24T00:00", to: "2026-12-27T00:00"}
  platform:
    name: Platform Team
    members: [sam]
nudges:
  timezone: Europe/London
areas:
  model-quality:
    name: Model / Prompt
    responsible: ml
    accountable: maya
"""

OVERRIDES = '      overrides:\n        - {who: li, from: "2026-12-24T00:00", to: "2026-12-27T00:00"}\n'
SECOND = '        - {who: sam, from: "2026-12-26T00:00", to: "2026-12-28T00:00"}\n'
NUDGES = "nudges:\n  timezone: Europe/London\n"
FROM = '      from: "2026-11-30T09:00"\n'


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths, so messages read "ownership.yaml:14 …" as `baton check` prints them.
    monkeypatch.chdir(tmp_path)


def _load(ownership: str = OWNERSHIP):
    Path("ownership.yaml").write_text(ownership)
    Path("severity.yaml").write_text(SEVERITY)
    return load_config(ownership_path="ownership.yaml", severity_path="severity.yaml", env={})


def _errors(ownership: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(ownership)
    return str(caught.value).splitlines()


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _rotation(ownership: str = OWNERSHIP) -> Rotation:
    oncall = _load(ownership).ownership.teams["ml"].oncall
    assert isinstance(oncall, Rotation)
    return oncall


# --------------------------------------------------------------------------- valid rotations


def test_a_rotation_loads() -> None:
    rotation = _rotation()
    assert rotation.rotation == ["maya", "li", "omar"]
    assert rotation.every == timedelta(weeks=1)
    assert rotation.from_ == datetime(2026, 11, 30, 9, 0)  # naive: wall time in nudges.timezone
    assert rotation.handover == timedelta(hours=1)
    assert rotation.overrides == [
        OncallOverride.model_validate(
            {"who": "li", "from": datetime(2026, 12, 24), "to": datetime(2026, 12, 27)}
        )
    ]
    assert rotation.overrides[0].from_ == datetime(2026, 12, 24) and rotation.overrides[0].to.day == 27
    with pytest.raises(ValidationError):
        rotation.every = timedelta(days=1)  # type: ignore[misc]


def test_one_person_oncall_is_unchanged() -> None:
    block = OWNERSHIP[OWNERSHIP.index("    oncall:\n") : OWNERSHIP.index(OVERRIDES) + len(OVERRIDES)]
    assert _load(_edit(OWNERSHIP, block, "    oncall: li\n")).ownership.teams["ml"].oncall == "li"


@pytest.mark.parametrize(
    ("old", "new", "field", "expected"),
    [
        pytest.param(OVERRIDES, "", "overrides", [], id="without-overrides"),
        pytest.param(
            "      handover: 1h\n", "", "handover", timedelta(hours=1), id="handover-defaults-to-1h"
        ),
        pytest.param("every: 1w", "every: 12h", "every", timedelta(hours=12), id="every-12h"),
        pytest.param("every: 1w", "every: 1d", "every", timedelta(days=1), id="every-1d"),
        pytest.param("every: 1w", "every: 1w3d", "every", timedelta(days=10), id="every-weeks-and-days"),
        pytest.param("handover: 1h", "handover: 90m", "handover", timedelta(minutes=90), id="handover-90m"),
        pytest.param(
            FROM,
            '      from: "2026-11-30T09:00+01:00"\n',
            "from_",
            datetime(2026, 11, 30, 9, 0, tzinfo=timezone(timedelta(hours=1))),
            id="from-with-offset",
        ),
        pytest.param(
            FROM,
            '      from: "2026-11-30 09:00"\n',
            "from_",
            datetime(2026, 11, 30, 9, 0),
            id="from-with-a-space",
        ),
        pytest.param(
            FROM,
            "      from: 2026-11-30 09:00:00\n",
            "from_",
            datetime(2026, 11, 30, 9, 0),
            id="from-unquoted-timestamp",
        ),
        pytest.param(
            FROM,
            "      from: 2026-11-30T09:00:00Z\n",
            "from_",
            datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
            id="from-unquoted-utc",
        ),
        pytest.param(
            "rotation: [maya, li, omar]", "rotation: [omar]", "rotation", ["omar"], id="one-person-rotation"
        ),
    ],
)
def test_rotation_variants_load(old: str, new: str, field: str, expected: object) -> None:
    assert getattr(_rotation(_edit(OWNERSHIP, old, new)), field) == expected


def test_times_with_an_offset_need_no_timezone() -> None:
    text = _edit(OWNERSHIP, NUDGES, "")
    text = _edit(text, FROM, '      from: "2026-11-30T09:00Z"\n')
    text = _edit(
        text,
        '{who: li, from: "2026-12-24T00:00", to: "2026-12-27T00:00"}',
        '{who: li, from: "2026-12-24T00:00+01:00", to: 2026-12-27 00:00:00+01:00}',
    )
    rotation = _rotation(text)
    assert rotation.from_ == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert rotation.overrides[0].to.utcoffset() == timedelta(hours=1)


def test_an_override_may_name_anyone_and_touching_overrides_do_not_overlap() -> None:
    # sam is not in ml: an override is a swap, and may bring someone in from another team.
    text = _edit(OWNERSHIP, OVERRIDES, OVERRIDES + SECOND.replace('"2026-12-26T00:00"', '"2026-12-27T00:00"'))
    rotation = _rotation(text)
    assert [o.who for o in rotation.overrides] == ["li", "sam"]
    # Wall time in Europe/London (UTC+0 in December) against an exact instant: 00:00+01:00 is
    # 23:00 the day before, inside overrides[0].
    clash = SECOND.replace('"2026-12-26T00:00"', '"2026-12-27T00:00+01:00"')
    assert _errors(_edit(OWNERSHIP, OVERRIDES, OVERRIDES + clash)) == [
        "ownership.yaml:17 teams.ml.oncall.overrides[1]: 2026-12-27T00:00+01:00–2026-12-28T00:00 overlaps "
        "overrides[0] (2026-12-24T00:00–2026-12-27T00:00); overrides may not overlap"
    ]


def test_a_rotation_round_trips_through_model_dump() -> None:
    config = _load().ownership
    dumped = config.model_dump()
    assert set(dumped["teams"]["ml"]["oncall"]) == {"rotation", "every", "from", "handover", "overrides"}
    assert set(dumped["teams"]["ml"]["oncall"]["overrides"][0]) == {"who", "from", "to"}
    assert OwnershipConfig.model_validate(dumped) == config


def test_where_points_at_the_rotation_keys() -> None:
    config = _load()
    assert config.where(("teams", "ml", "oncall", "from")) == "ownership.yaml:13 teams.ml.oncall.from"
    assert (
        config.where(("teams", "ml", "oncall", "overrides", 0))
        == "ownership.yaml:16 teams.ml.oncall.overrides[0]"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1w", timedelta(weeks=1)), ("2W", timedelta(weeks=2)), ("1w12h", timedelta(days=7, hours=12))],
)
def test_parse_span_reads_weeks(text: str, expected: timedelta) -> None:
    assert parse_span(text) == expected
    assert parse_span(format_span(expected)) == expected


# --------------------------------------------------------------------------- mistakes

_ACCEPTED = "use a number with a unit: 12h, 1d, 1w (or combined, 1w3d, 1d12h)"
_WRITE = "write it as 2026-11-30T09:00 (in nudges.timezone) or with an offset, 2026-11-30T09:00+01:00"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "rotation: [maya, li, omar]",
            "rotation: [maya, lii, omar]",
            "ownership.yaml:11 teams.ml.oncall.rotation[1]: 'lii' is not a person (did you mean 'li'?)",
            id="rotation-unknown-person",
        ),
        pytest.param(
            "rotation: [maya, li, omar]",
            "rotation: [maya, li, sam]",
            "ownership.yaml:11 teams.ml.oncall.rotation[2]: 'sam' is not a member of this team "
            "(members: 'maya', 'li', 'omar')",
            id="rotation-not-a-member",
        ),
        pytest.param(
            "rotation: [maya, li, omar]",
            "rotation: [maya, U07ZED0001]",
            "ownership.yaml:11 teams.ml.oncall.rotation[1]: 'U07ZED0001' is not a member of this team "
            "(members: 'maya', 'li', 'omar')",
            id="rotation-user-id-not-a-member",
        ),
        pytest.param(
            "rotation: [maya, li, omar]",
            "rotation: [maya, platform]",
            "ownership.yaml:11 teams.ml.oncall.rotation[1]: 'platform' is a team, not a person; "
            "list its members instead",
            id="rotation-team",
        ),
        pytest.param(
            "rotation: [maya, li, omar]",
            "rotation: []",
            "ownership.yaml:11 teams.ml.oncall.rotation: must not be empty",
            id="rotation-empty",
        ),
        pytest.param(
            "rotation: [maya, li, omar]",
            "rotation: maya",
            "ownership.yaml:11 teams.ml.oncall.rotation: expected a list, got text ('maya')",
            id="rotation-not-a-list",
        ),
        pytest.param(
            "{who: li,",
            "{who: mya,",
            "ownership.yaml:16 teams.ml.oncall.overrides[0].who: 'mya' is not a person "
            "(did you mean 'maya'?)",
            id="override-unknown-person",
        ),
        pytest.param(
            "{who: li,",
            "{who: platform,",
            "ownership.yaml:16 teams.ml.oncall.overrides[0].who: 'platform' is a team, not a person; "
            "name one of its members",
            id="override-team",
        ),
        pytest.param(
            OVERRIDES,
            OVERRIDES + SECOND,
            "ownership.yaml:17 teams.ml.oncall.overrides[1]: 2026-12-26T00:00–2026-12-28T00:00 overlaps "
            "overrides[0] (2026-12-24T00:00–2026-12-27T00:00); overrides may not overlap",
            id="overrides-overlap",
        ),
        pytest.param(
            OVERRIDES,
            OVERRIDES + SECOND.replace('"2026-12-26T00:00"', '"2026-12-20T00:00"'),
            "ownership.yaml:17 teams.ml.oncall.overrides[1]: 2026-12-20T00:00–2026-12-28T00:00 overlaps "
            "overrides[0] (2026-12-24T00:00–2026-12-27T00:00); overrides may not overlap",
            id="override-covers-another",
        ),
        pytest.param(
            'to: "2026-12-27T00:00"}',
            'to: "2026-12-23T00:00"}',
            "ownership.yaml:16 teams.ml.oncall.overrides[0].to: 2026-12-23T00:00 is not after from "
            "(2026-12-24T00:00); an override must end after it starts",
            id="override-ends-before-it-starts",
        ),
        pytest.param(
            'to: "2026-12-27T00:00"}',
            'to: "2026-12-24T00:00"}',
            "ownership.yaml:16 teams.ml.oncall.overrides[0].to: 2026-12-24T00:00 is not after from "
            "(2026-12-24T00:00); an override must end after it starts",
            id="override-of-no-length",
        ),
        pytest.param(
            'to: "2026-12-27T00:00"}',
            'to: "2026-12-24T00:30+01:00"}',
            "ownership.yaml:16 teams.ml.oncall.overrides[0].to: 2026-12-24T00:30+01:00 is not after from "
            "(2026-12-24T00:00); an override must end after it starts",
            id="override-ends-before-it-starts-in-the-zone",
        ),
        pytest.param(
            FROM,
            '      from: "30/11/2026"\n',
            f"ownership.yaml:13 teams.ml.oncall.from: '30/11/2026' is not a date and time; {_WRITE}",
            id="from-not-a-date",
        ),
        pytest.param(
            FROM,
            '      from: "2026-11-31T09:00"\n',
            f"ownership.yaml:13 teams.ml.oncall.from: '2026-11-31T09:00' is not a date and time; {_WRITE}",
            id="from-no-such-day",
        ),
        pytest.param(
            FROM,
            "      from: 2026-11-30\n",
            "ownership.yaml:13 teams.ml.oncall.from: 2026-11-30 is a date without a time of day; write it "
            "as 2026-11-30T00:00 (in nudges.timezone) or with an offset, 2026-11-30T00:00+01:00",
            id="from-a-date-only",
        ),
        pytest.param(
            'to: "2026-12-27T00:00"}',
            "to: tomorrow}",
            f"ownership.yaml:16 teams.ml.oncall.overrides[0].to: 'tomorrow' is not a date and time; {_WRITE}",
            id="override-to-not-a-date",
        ),
        pytest.param(
            "every: 1w",
            "every: 0s",
            f"ownership.yaml:12 teams.ml.oncall.every: must be longer than 0s; {_ACCEPTED}",
            id="every-zero",
        ),
        pytest.param(
            "every: 1w",
            "every: 1 fortnight",
            f"ownership.yaml:12 teams.ml.oncall.every: '1 fortnight' is not a duration; {_ACCEPTED}",
            id="every-not-a-duration",
        ),
        pytest.param(
            "every: 1w",
            "every: 7",
            f"ownership.yaml:12 teams.ml.oncall.every: 7 is not a duration; {_ACCEPTED}",
            id="every-a-bare-number",
        ),
        pytest.param(
            "every: 1w",
            "every: next-sprint",
            f"ownership.yaml:12 teams.ml.oncall.every: 'next-sprint' is not a length of time; {_ACCEPTED}",
            id="every-next-sprint",
        ),
        pytest.param(
            "      every: 1w\n",
            "",
            "ownership.yaml:10 teams.ml.oncall.every: is required",
            id="every-missing",
        ),
        pytest.param(
            "handover: 1h",
            "handover: 0s",
            "ownership.yaml:14 teams.ml.oncall.handover: must be longer than 0s: the handover receipt opens "
            "this long before each shift change; use e.g. 30m, 1h",
            id="handover-zero",
        ),
        pytest.param(
            '      every: 1w\n      from: "2026-11-30T09:00"\n      handover: 1h\n',
            '      every: 1h\n      from: "2026-11-30T09:00"\n      handover: 2h\n',
            "ownership.yaml:14 teams.ml.oncall.handover: 2h is not shorter than the shift (every: 1h); "
            "the handover receipt opens this long before each change",
            id="handover-longer-than-shift",
        ),
        pytest.param(
            '      every: 1w\n      from: "2026-11-30T09:00"\n      handover: 1h\n',
            '      every: 1w\n      from: "2026-11-30T09:00"\n      handover: 7d\n',
            "ownership.yaml:14 teams.ml.oncall.handover: 1w is not shorter than the shift (every: 1w); "
            "the handover receipt opens this long before each change",
            id="handover-as-long-as-shift",
        ),
        pytest.param(
            "      handover: 1h\n",
            "      handvoer: 1h\n",
            "ownership.yaml:14 teams.ml.oncall.handvoer: unknown key (did you mean 'handover'?)",
            id="unknown-key-near-miss",
        ),
        pytest.param(
            "      handover: 1h\n",
            "      handover: 1h\n      timezone: UTC\n",
            "ownership.yaml:15 teams.ml.oncall.timezone: unknown key "
            "(expected one of: rotation, every, from, handover, overrides)",
            id="unknown-key-in-rotation",
        ),
        pytest.param(
            FROM,
            '      from_: "2026-11-30T09:00"\n',
            [
                "ownership.yaml:10 teams.ml.oncall.from: is required",
                "ownership.yaml:13 teams.ml.oncall.from_: unknown key (did you mean 'from'?)",
            ],
            id="python-name-from_",
        ),
        pytest.param(
            "{who: li,",
            "{who: li, note: xmas,",
            "ownership.yaml:16 teams.ml.oncall.overrides[0].note: unknown key "
            "(expected one of: who, from, to)",
            id="unknown-key-in-override",
        ),
        pytest.param(
            "    oncall:\n      rotation: [maya, li, omar]\n",
            "    oncall:\n      - maya\n      - li\n    x:\n      rotation: [maya, li, omar]\n",
            [
                "ownership.yaml:10 teams.ml.oncall: expected one person or a rotation "
                "(a mapping with rotation, every and from), got a list",
                "ownership.yaml:13 teams.ml.x: unknown key "
                "(expected one of: name, members, oncall, usergroup, channel, pager)",
            ],
            id="oncall-a-list",
        ),
    ],
)
def test_rotation_mistake_is_reported_with_file_line_and_path(
    old: str, new: str, expected: str | list[str]
) -> None:
    assert _errors(_edit(OWNERSHIP, old, new)) == ([expected] if isinstance(expected, str) else expected)


# --------------------------------------------------------------------------- the time zone

_NO_ZONE = "has no time zone and nudges.timezone is not set: add an offset"


@pytest.mark.parametrize(
    "nudges",
    [
        pytest.param("", id="no-nudges-block"),
        pytest.param('nudges:\n  readiness: "0 9 * * MON"\n', id="nudges-without-timezone"),
    ],
)
def test_naive_times_need_nudges_timezone(nudges: str) -> None:
    assert _errors(_edit(OWNERSHIP, NUDGES, nudges)) == [
        f"ownership.yaml:13 teams.ml.oncall.from: 2026-11-30T09:00 {_NO_ZONE} (2026-11-30T09:00+01:00) "
        "or set nudges.timezone (e.g. Europe/London)",
        f"ownership.yaml:16 teams.ml.oncall.overrides[0].from: 2026-12-24T00:00 {_NO_ZONE} "
        "(2026-12-24T00:00+01:00) or set nudges.timezone (e.g. Europe/London)",
        f"ownership.yaml:16 teams.ml.oncall.overrides[0].to: 2026-12-27T00:00 {_NO_ZONE} "
        "(2026-12-27T00:00+01:00) or set nudges.timezone (e.g. Europe/London)",
    ]


def test_nudges_timezone_utc_written_out_is_enough() -> None:
    assert _rotation(_edit(OWNERSHIP, "timezone: Europe/London", "timezone: UTC")).from_.tzinfo is None


def test_every_mistake_in_one_rotation_is_listed() -> None:
    text = _edit(OWNERSHIP, "rotation: [maya, li, omar]", "rotation: [mya, sam]")
    text = _edit(text, OVERRIDES, OVERRIDES + SECOND.replace("who: sam", "who: sma"))
    assert _errors(text) == [
        "ownership.yaml:11 teams.ml.oncall.rotation[0]: 'mya' is not a person (did you mean 'maya'?)",
        "ownership.yaml:11 teams.ml.oncall.rotation[1]: 'sam' is not a member of this team "
        "(members: 'maya', 'li', 'omar')",
        "ownership.yaml:17 teams.ml.oncall.overrides[1]: 2026-12-26T00:00–2026-12-28T00:00 overlaps "
        "overrides[0] (2026-12-24T00:00–2026-12-27T00:00); overrides may not overlap",
        "ownership.yaml:17 teams.ml.oncall.overrides[1].who: 'sma' is not a person (did you mean 'sam'?)",
    ]


# --------------------------------------------------------------------------- built in Python

_RAW: dict[str, Any] = {
    "rotation": ["maya", "li"],
    "every": "1d",
    "from": "2026-11-30T09:00+00:00",
    "overrides": [{"who": "li", "from": "2026-12-24T00:00Z", "to": "2026-12-27T00:00Z"}],
}


def _config(oncall: dict[str, Any]) -> dict[str, Any]:
    return {
        "people": {"maya": "U07MAYA001", "li": "U07LI00001", "sam": "U07SAM0001"},
        "teams": {"ml": {"name": "ML", "members": ["maya", "li"], "oncall": oncall}},
        "areas": {"x": {"name": "X", "responsible": "ml", "accountable": "maya"}},
    }


def test_models_check_rotations_when_built_directly() -> None:
    config = OwnershipConfig.model_validate(_config(_RAW))
    assert isinstance(config.teams["ml"].oncall, Rotation)
    with pytest.raises(ValidationError, match=r"'sam' is not a member of this team"):
        OwnershipConfig.model_validate(_config({**_RAW, "rotation": ["maya", "sam"]}))
    with pytest.raises(ValidationError, match=r"'sam' is not a member of this team"):
        Team.model_validate({"name": "ML", "members": ["maya"], "oncall": {**_RAW, "rotation": ["sam"]}})
    overlapping = [*_RAW["overrides"], {"who": "sam", "from": "2026-12-25T00:00Z", "to": "2026-12-26T00:00Z"}]
    with pytest.raises(ValidationError, match=r"overrides\[1\]: .* overlaps overrides\[0\]"):
        OwnershipConfig.model_validate(_config({**_RAW, "overrides": overlapping}))
    with pytest.raises(ValidationError, match=r"has no time zone and nudges.timezone is not set"):
        OwnershipConfig.model_validate(_config({**_RAW, "from": "2026-11-30T09:00"}))


# --------------------------------------------------------------------------- baton check --slack


def _shipped_with_rotation() -> str:
    """The shipped ownership.yaml, its ML team on a rotation with a newcomer known only by user ID."""
    text = SHIPPED_OWNERSHIP.read_text()
    text, members = re.subn(r"members: \[maya, li, omar\]", "members: [maya, li, omar, U07NEW0001]", text)
    text, oncall = re.subn(
        r"\n    oncall: maya[^\n]*\n",
        "\n    oncall:\n"
        "      rotation: [maya, U07NEW0001, li]\n"
        "      every: 1w\n"
        '      from: "2026-11-30T09:00"\n'
        "      overrides:\n"
        '        - {who: ghost@example.com, from: "2026-12-24T00:00", to: "2026-12-27T00:00"}\n',
        text,
    )
    assert members == 1 and oncall == 1
    return text


def test_the_shipped_file_with_a_rotation_loads() -> None:
    config = _load(_shipped_with_rotation())
    oncall = config.ownership.teams["ml"].oncall
    assert isinstance(oncall, Rotation) and oncall.rotation == ["maya", "U07NEW0001", "li"]
    # The shipped file itself, unchanged, still has one person on call.
    shipped = load_config(ownership_path=SHIPPED_OWNERSHIP, severity_path=SHIPPED_SEVERITY, env={})
    assert shipped.ownership.teams["ml"].oncall == "maya"


def test_slack_check_asks_about_rotation_and_override_people(fake_slack: FakeSlack) -> None:
    config = _load(_shipped_with_rotation())
    chat = Chat(make_client(token=fake_slack.bot_token, base_url=fake_slack.url))
    # (The fixture's workspace has no team channels or user groups: only people are looked at.)
    ours = ("teams.ml.members", "teams.ml.oncall")
    problems = [p for p in check(config, chat) if p.path.startswith(ours)]
    assert [(p.path, p.value) for p in problems] == [
        ("teams.ml.members[3]", "U07NEW0001"),
        ("teams.ml.oncall.rotation[1]", "U07NEW0001"),
        ("teams.ml.oncall.overrides[0].who", "ghost@example.com"),
    ]
    assert problems[1].message.startswith("no user with this ID in the workspace")
    assert problems[2].message.startswith("no Slack user has this e-mail")
    # Once the newcomer exists, the rotation is clean.
    fake_slack.add_user("U07NEW0001", "newcomer")
    fake_slack.add_user("U07GHOST01", "ghost", email="ghost@example.com")
    assert [p for p in check(config, chat) if p.path.startswith(ours)] == []


def test_baton_check_cli_reports_a_rotation_mistake(tmp_path: Path) -> None:
    bad = _edit(
        _shipped_with_rotation(), "rotation: [maya, U07NEW0001, li]", "rotation: [maya, U07NEW0001, lii]"
    )
    (tmp_path / "ownership.yaml").write_text(bad)
    env = {
        **clean_env(),
        "BATON_OWNERSHIP_FILE": "ownership.yaml",
        "BATON_SEVERITY_FILE": str(SHIPPED_SEVERITY),
    }
    out = subprocess.run([BATON, "check"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "rotation: [maya" in text)
    assert (out.returncode, out.stderr.splitlines()) == (
        1,
        [
            f"ownership.yaml:{line} teams.ml.oncall.rotation[2]: 'lii' is not a person (did you mean 'li'?)",
            "baton: 1 error in the config; nothing was changed",
        ],
    )
