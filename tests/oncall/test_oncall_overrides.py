"""`/owner oncall`'s rules (bot/oncall/overrides.py): who may put someone on call for a team, for
how long, what is stored, and the on-call now and next as the RACI card shows it; on an injected
clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.access.rule import NotAllowed
from bot.app.runner import boot
from bot.config.loader import load_config
from bot.config.rotation import Window
from bot.oncall import overrides
from bot.oncall.overrides import OverrideError
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import DatabaseUnavailable, session
from bot.store.models import OncallOverride
from bot.store.runtime import Baton
from bot.text.typed import Malformed, Unknown
from tests.conftest import SHIPPED_OWNERSHIP, settings_for

MAYA, LI, OMAR = "U07MAYA001", "ULIE", "U07OMAR001"  # ML Team (li is an e-mail in the file)
SAM, ANA, JONAS = "U07SAM0001", "U07ANA0001", "U07JONAS01"  # Platform, Product; jonas is an admin

# Weekly shifts from Monday 30 Nov 2026 09:00 London time (GMT, so UTC, in winter).
ROTATION = """    oncall:
      rotation: [maya, li, omar]
      every: 1w
      from: "2026-11-30T09:00"
      handover: 1h
"""
# Li's week: she is on call from Mon 7 Dec 09:00 until Mon 14 Dec 09:00, then omar.
LI_WEEK = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
OMAR_FROM = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)


def rotating_ownership(directory: Path) -> Path:
    """The shipped ownership.yaml with the ML Team on a weekly rotation (maya, li, omar)."""
    text, n = re.subn(r"(?m)^    oncall: maya .*\n", ROTATION, SHIPPED_OWNERSHIP.read_text(), count=1)
    assert n == 1, "the shipped ml team's `oncall: maya` line moved"
    path = directory / "ownership.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def ml(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[tuple[Baton, FakeClock]]:
    """A Baton (no listeners) on the rotating file, its clock at 10:00 on Monday of li's week."""
    settings = settings_for(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(rotating_ownership(tmp_path)))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock(LI_WEEK)
    baton = boot(settings, config, clock=clock)
    yield baton, clock
    baton.engine.dispose()


def rows(baton: Baton) -> list[OncallOverride]:
    with session(baton.engine) as s:
        return list(s.exec(select(OncallOverride).order_by(col(OncallOverride.id))).all())


def add(
    baton: Baton,
    *,
    user: str,
    who: str = f"<@{OMAR}|omar>",
    duration: str = "4h",
    team: str = "ml",
    note: str = "",
) -> OncallOverride:
    return overrides.add(baton=baton, team=team, who=who, duration=duration, note=note, user=user)


def test_a_member_puts_someone_on_call_until_the_override_ends(ml: tuple[Baton, FakeClock]) -> None:
    baton, clock = ml
    assert baton.ownership.oncall("ml") == "li"
    row = add(baton, user=MAYA, note="Li is at the dentist, ask jane.doe@corp.example")
    assert (row.team, row.who, row.user, row.created_by) == ("ml", "omar", OMAR, MAYA)
    assert (row.starts_at, row.ends_at) == (LI_WEEK, LI_WEEK + timedelta(hours=4))
    assert "jane.doe@corp.example" not in row.note and row.note.startswith("Li is at the dentist, ask ")
    assert [(r.id, r.who) for r in rows(baton)] == [(row.id, "omar")]

    # Paging reads it at once: the owner scope, and the owning team with the on-call first.
    own = baton.ownership
    assert own.scope("model-quality", "owner") == ["omar"]
    assert own.scope("model-quality", "owning-team")[0] == "omar"
    now = overrides.oncall_now(baton=baton, team="ml")
    assert (now.who, now.until, now.next_who, now.cause) == ("omar", row.ends_at, "li", f"override #{row.id}")
    assert now.override is not None and now.override.created_by == MAYA

    # When it ends, the rotation holds again.
    clock.advance(timedelta(hours=4))
    baton.refresh_overrides()
    assert baton.ownership.oncall("ml") == "li"
    later = overrides.oncall_now(baton=baton, team="ml")
    assert (later.who, later.until, later.next_who, later.cause) == ("li", OMAR_FROM, "omar", "rotation")


def test_who_may_add_an_override(ml: tuple[Baton, FakeClock]) -> None:
    baton, _ = ml
    with pytest.raises(NotAllowed) as refused:
        add(baton, user=ANA)  # Product Team: neither a member nor an admin
    assert str(refused.value) == (
        f"Only ML Team's members (<@{MAYA}>, <@{LI}>, <@{OMAR}>) or an admin (<@{JONAS}>) "
        "can put someone on call for ML Team. Ask one of them."
    )
    assert rows(baton) == []
    # A member may not put someone from outside the team on call (sam is in the Platform Team).
    with pytest.raises(NotAllowed) as refused:
        add(baton, user=MAYA, who="@sam", duration="30d")
    assert str(refused.value) == (
        f"<@{SAM}> is not a member of ML Team (<@{MAYA}>, <@{LI}>, <@{OMAR}>): only an admin "
        f"(<@{JONAS}>) can put someone from outside the team on call for it. Name one of its "
        "members, or ask an admin."
    )
    assert rows(baton) == []
    # An admin may.
    add(baton, user=JONAS, who="@sam", duration="1d")
    assert baton.ownership.oncall("ml") == "sam"
    # Being on call does not make sam a member: he may not hand the role on.
    with pytest.raises(NotAllowed) as refused:
        add(baton, user=SAM, who="@maya")
    assert str(refused.value) == (
        f"Only ML Team's members (<@{MAYA}>, <@{LI}>, <@{OMAR}>) or an admin (<@{JONAS}>) "
        "can put someone on call for ML Team. Ask one of them."
    )
    add(baton, user=LI, who="@maya", duration="2h")
    assert baton.ownership.oncall("ml") == "maya" and [r.who for r in rows(baton)] == ["sam", "maya"]


def test_bad_team_person_and_duration_say_what_is_accepted(ml: tuple[Baton, FakeClock]) -> None:
    baton, _ = ml
    with pytest.raises(Unknown, match=r"There is no team `mll`\. Did you mean `ml` \(ML Team\)\?"):
        add(baton, user=MAYA, team="mll")
    with pytest.raises(Unknown) as unknown:
        add(baton, user=MAYA, team="finance")
    assert "Teams: `ml` (ML Team), `platform` (Platform Team), `data` (Data Team)" in str(unknown.value)
    with pytest.raises(Unknown, match=r"There is no person `bob`\. People: `maya`, .* `/owner oncall <team>"):
        add(baton, user=MAYA, who="bob")
    with pytest.raises(Unknown, match=r"^There is no person `@mya`\. Did you mean `maya`\? `/owner oncall"):
        add(baton, user=MAYA, who="@mya")
    with pytest.raises(OverrideError, match=r"^Name who goes on call as @someone"):
        add(baton, user=MAYA, who=" ")
    for duration, said in (
        ("banana", "`banana` is not a duration; use a number with a unit: 30m, 4h, 2d, 1w"),
        ("next-sprint", "`next-sprint` is not a duration"),
        ("0m", "`0m` is no time at all"),
        ("31d", "`31d` is longer than 30 days, the longest an override from Slack may run"),
        ("4w3d", "`4w3d` is longer than 30 days"),
    ):
        with pytest.raises(Malformed) as bad:
            add(baton, user=MAYA, duration=duration)
        assert said in str(bad.value), str(bad.value)
        assert "at most 30 days" in str(bad.value) or "ownership.yaml" in str(bad.value)
    with pytest.raises(OverrideError, match=r"<@ULIE> is already on call for ML Team until <!date\^"):
        add(baton, user=MAYA, who=f"<@{LI}|li>")
    assert rows(baton) == []
    # A team by its name, the longest span, and a note clipped to its limit.
    row = add(baton, user=OMAR, team="ml team", who="@maya", duration="30d", note="x" * 2000)
    assert row.ends_at - row.starts_at == timedelta(days=30) and len(row.note) == overrides.NOTE_LIMIT


def test_oncall_now_of_a_fixed_team_is_just_the_person(ml: tuple[Baton, FakeClock]) -> None:
    baton, _ = ml
    now = overrides.oncall_now(baton=baton, team="platform")
    assert (now.who, now.until, now.next_who, now.cause, now.override) == ("sam", None, None, "fixed", None)
    # A Slack override on a fixed team ends back with its person.
    row = add(baton, user=SAM, team="platform", who="@priya", duration="12h")
    now = overrides.oncall_now(baton=baton, team="platform")
    assert (now.who, now.until, now.next_who) == ("priya", row.ends_at, "sam")
    assert overrides.oncall_for_area(baton=baton, area="infra") == now


def test_read_windows_for_baton_plan(ml: tuple[Baton, FakeClock], tmp_path: Path) -> None:
    baton, _ = ml
    row = add(baton, user=MAYA)
    url = baton.settings.database_url
    found = overrides.read_windows(url, after=LI_WEEK)
    assert found == {"ml": [Window("omar", LI_WEEK, row.ends_at, f"override #{row.id}")]}
    assert overrides.read_windows(url, after=row.ends_at) == {}
    with pytest.raises(DatabaseUnavailable):
        overrides.read_windows(f"sqlite:///{tmp_path / 'nothing-here.db'}", after=LI_WEEK)
