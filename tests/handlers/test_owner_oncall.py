"""`/owner oncall` and the on-call on the RACI card and the App Home, through the real path:
Slack-signed requests to /slack/events of a running Baton whose ML Team rotates weekly, on an
injected clock; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.app.runner import Runner, boot
from bot.config.loader import load_config
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import Incident, Job, OncallOverride, Receipt, ShiftChange
from handlers.app import create_app
from tests.conftest import RunningBaton, settings_for
from tests.handlers.test_app_home import AREAS, open_home, section
from tests.handlers.test_incident_command import LEO, page_dms, reply
from tests.oncall.test_oncall_overrides import (
    ANA,
    JONAS,
    LI,
    LI_WEEK,
    MAYA,
    OMAR,
    OMAR_FROM,
    SAM,
    rotating_ownership,
)


@pytest.fixture
def rotating(fake_slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[tuple[RunningBaton, FakeClock]]:
    """A running Baton on the rotating file, its clock at 10:00 on Monday of li's week."""
    settings = settings_for(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(rotating_ownership(tmp_path)))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    clock = FakeClock(LI_WEEK)
    baton = boot(settings, config, clock=clock)
    runner = Runner(baton, create_app(baton), host="127.0.0.1", port=0)
    runner.start()
    rb = RunningBaton(baton=baton, runner=runner, fake=fake_slack)
    yield rb, clock
    rb.stop()


def owner(rb: RunningBaton, text: str, user: str) -> dict[str, Any]:
    return reply(rb.command("/owner", text, user_id=user))


def oncall_field(card: dict[str, Any]) -> str:
    fields = next(b for b in card["blocks"] if b.get("fields"))["fields"]
    return next(f["text"] for f in fields if f["text"].startswith("*On call*\n"))


def date(ts: datetime) -> str:
    """How Slack is asked to show a moment in each reader's time zone."""
    return f"<!date^{int(ts.timestamp())}^{{date_short_pretty}} {{time}}|{ts:%Y-%m-%d %H:%M} UTC>"


def overrides(rb: RunningBaton) -> list[OncallOverride]:
    with session(rb.baton.engine) as s:
        return list(s.exec(select(OncallOverride).order_by(col(OncallOverride.id))).all())


def test_a_member_puts_someone_on_call_and_the_card_and_pages_follow(
    rotating: tuple[RunningBaton, FakeClock],
) -> None:
    rb, _ = rotating
    ends = LI_WEEK + timedelta(hours=4)
    answer = owner(rb, f"oncall ml <@{OMAR}|omar> 4h Li is at the <!channel> dentist", MAYA)
    assert answer["text"] == (
        f":pager: <@{OMAR}> is on call for *ML Team* from now until {date(ends)} (4h), then <@{LI}>: "
        "override #1. Pages for ML Team go to them first.\nNote: Li is at the &lt;!channel&gt; dentist"
    )
    (row,) = overrides(rb)
    assert (row.team, row.who, row.user, row.created_by) == ("ml", "omar", OMAR, MAYA)

    card = owner(rb, "model-quality", LEO)
    assert (
        oncall_field(card) == f"*On call*\n<@{OMAR}> until {date(ends)} → <@{LI}>\noverride #1 by <@{MAYA}>"
    )

    # A P1 declared now pages the override first: in the snapshot, the job rows and the DMs.
    assert "Declared" in rb.command("/incident", "P1 model-quality Refusals up", user_id=LEO).text
    with session(rb.baton.engine) as s:
        inc = s.exec(select(Incident)).one()
        first = inc.policy.steps[0].notify[0]
        pages = s.exec(
            select(Job).where(col(Job.kind) == "page", col(Job.step) == 0).order_by(col(Job.id))
        ).all()
    assert (first.ref, first.user) == ("omar", OMAR)
    assert pages[0].payload["user"] == OMAR
    rb.fake.wait_for(
        lambda: [c for c in page_dms(rb.fake) if c.params["channel"] == OMAR], message="omar paged"
    )


def test_an_override_opens_its_handover_receipt_at_once(rotating: tuple[RunningBaton, FakeClock]) -> None:
    rb, clock = rotating

    def watching() -> bool:
        with session(rb.baton.engine) as s:
            return s.exec(select(ShiftChange).where(col(ShiftChange.team) == "ml")).first() is not None

    # A minute after Baton's first handover sync started watching the team's on-call.
    rb.fake.wait_for(watching, message="the ml team armed")
    clock.advance(timedelta(minutes=1))
    assert "override #1" in owner(rb, f"oncall ml <@{OMAR}|omar> 4h", MAYA)["text"]
    with session(rb.baton.engine) as s:
        found = s.exec(select(Receipt).where(col(Receipt.role) == "oncall", col(Receipt.team) == "ml")).all()
    assert [(r.from_ref, r.to_ref, r.state) for r in found] == [("li", "omar", "pending")]


def test_who_may_and_bad_input_through_slack(rotating: tuple[RunningBaton, FakeClock]) -> None:
    rb, _ = rotating
    refused = owner(rb, f"oncall ml <@{OMAR}|omar> 4h", ANA)
    assert refused["text"] == (
        f":warning: Only ML Team's members (<@{MAYA}>, <@{LI}>, <@{OMAR}>) or an admin (<@{JONAS}>) "
        "can put someone on call for ML Team. Ask one of them."
    )
    assert overrides(rb) == []
    for text, said in (
        ("oncall", "Say which team, who and for how long: `/owner oncall <team> @someone <duration> [note]`"),
        ("oncall ml @omar", "Say which team, who and for how long"),
        ("oncall mll @omar 4h", "There is no team `mll`. Did you mean `ml` (ML Team)?"),
        ("oncall ML Team @bob 4h", "There is no person `@bob`. People: `maya`"),
        ("oncall ml @omar soon", "`soon` is not a duration; use a number with a unit: 30m, 4h, 2d, 1w"),
        ("oncall ml @omar 6w", "`6w` is longer than 30 days"),
        (f"oncall ml <@{LI}|li> 1h", f"<@{LI}> is already on call for ML Team until {date(OMAR_FROM)}."),
    ):
        body = owner(rb, text, MAYA)
        assert body["text"].startswith(":warning: ") and said in body["text"], (text, body["text"])
    assert overrides(rb) == []
    # The admin may, for a team named by its name.
    ok = owner(rb, f"oncall ML Team <@{SAM}|sam> 2h", JONAS)
    assert ok["text"].startswith(f":pager: <@{SAM}> is on call for *ML Team*"), ok["text"]
    assert [r.who for r in overrides(rb)] == ["sam"]


def test_only_an_admin_puts_someone_from_outside_the_team_on_call(
    rotating: tuple[RunningBaton, FakeClock],
) -> None:
    """A member of the team or an admin; someone outside it only by an admin, and
    whoever is on call is not a member by being so."""
    rb, _ = rotating
    refused = owner(rb, f"oncall ml <@{SAM}|sam> 30d covering", MAYA)
    assert refused["text"] == (
        f":warning: <@{SAM}> is not a member of ML Team (<@{MAYA}>, <@{LI}>, <@{OMAR}>): only an admin "
        f"(<@{JONAS}>) can put someone from outside the team on call for it. Name one of its members, "
        "or ask an admin."
    )
    assert overrides(rb) == []
    assert owner(rb, f"oncall ml <@{SAM}|sam> 1d", JONAS)["text"].startswith(f":pager: <@{SAM}> is on call")
    # sam is on call now, and still not a member: he may not hand the role to anyone.
    refused = owner(rb, f"oncall ml <@{MAYA}|maya> 2h", SAM)
    assert refused["text"] == (
        f":warning: Only ML Team's members (<@{MAYA}>, <@{LI}>, <@{OMAR}>) or an admin (<@{JONAS}>) "
        "can put someone on call for ML Team. Ask one of them."
    )
    assert [r.who for r in overrides(rb)] == ["sam"]
    assert rb.baton.ownership.oncall("ml") == "sam"
    # A member may put a member back on call.
    assert owner(rb, f"oncall ml <@{MAYA}|maya> 2h", LI)["text"].startswith(f":pager: <@{MAYA}> is on call")
    assert [r.who for r in overrides(rb)] == ["sam", "maya"]


def test_the_card_shows_the_next_shift_change_at_the_clock_time(
    rotating: tuple[RunningBaton, FakeClock],
) -> None:
    rb, clock = rotating
    card = owner(rb, "model", LEO)
    assert oncall_field(card) == f"*On call*\n<@{LI}> until {date(OMAR_FROM)} → <@{OMAR}>"
    assert "override" not in json.dumps(card["blocks"])
    # A team with one fixed on-call and no override: just the person.
    assert oncall_field(owner(rb, "infra", LEO)) == f"*On call*\n<@{SAM}>"

    clock.advance(OMAR_FROM - LI_WEEK + timedelta(hours=1))
    card = owner(rb, "model", LEO)
    assert (
        oncall_field(card) == f"*On call*\n<@{OMAR}> until {date(OMAR_FROM + timedelta(weeks=1))} → <@{MAYA}>"
    )


def test_home_shows_the_area_as_on_call_to_whoever_is_on_shift(
    rotating: tuple[RunningBaton, FakeClock],
) -> None:
    rb, clock = rotating
    row = "*Model / Prompt* (`model-quality`) · you are "
    # Both are R (members of the responsible team); only the one on shift is its on-call.
    assert row + "R, on-call\n" in section(open_home(rb, LI), AREAS)
    assert row + "R\n" in section(open_home(rb, OMAR), AREAS)
    clock.advance(OMAR_FROM - LI_WEEK)
    assert row + "R\n" in section(open_home(rb, LI), AREAS)
    assert row + "R, on-call\n" in section(open_home(rb, OMAR), AREAS)
