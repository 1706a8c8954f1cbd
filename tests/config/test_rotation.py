"""Who is on call at a moment: rotations, overrides (ownership.yaml and Slack), daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config.models import OwnershipConfig
from bot.config.ownership import Ownership
from bot.config.rotation import Window


def config(oncall: Any, *, timezone: str | None = "Europe/London") -> OwnershipConfig:
    data: dict[str, Any] = {
        "people": {"maya": "U07MAYA001", "li": "U07LICHEN1", "omar": "U07OMAR001", "rosa": "U07ROSA001"},
        "teams": {"ml": {"name": "ML Team", "members": ["maya", "li", "omar"], "oncall": oncall}},
        "areas": {"model-quality": {"name": "Model / Prompt", "responsible": "ml", "accountable": "rosa"}},
    }
    if timezone is not None:
        data["nudges"] = {"timezone": timezone}
    return OwnershipConfig.model_validate(data)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


WEEKLY = {"rotation": ["maya", "li", "omar"], "every": "1w", "from": "2026-11-30T09:00", "handover": "1h"}


def test_weekly_rotation_follows_shift_order_and_wraps() -> None:
    plan = Ownership(config(WEEKLY)).plan("ml")
    # London is on GMT (UTC+0) in winter.
    assert plan.at(utc(2026, 11, 30, 8, 59)) == "maya"  # before the first shift: the first person
    assert plan.at(utc(2026, 11, 30, 9, 0)) == "maya"
    assert plan.at(utc(2026, 12, 7, 8, 59)) == "maya"
    assert plan.at(utc(2026, 12, 7, 9, 0)) == "li"
    assert plan.at(utc(2026, 12, 14, 9, 0)) == "omar"
    assert plan.at(utc(2026, 12, 21, 9, 0)) == "maya"
    changes = plan.changes(utc(2026, 11, 30, 0, 0), utc(2026, 12, 21, 9, 0))
    assert [(c.at, c.outgoing, c.incoming) for c in changes] == [
        (utc(2026, 12, 7, 9, 0), "maya", "li"),
        (utc(2026, 12, 14, 9, 0), "li", "omar"),
        (utc(2026, 12, 21, 9, 0), "omar", "maya"),
    ]
    assert changes[0].opens_at == utc(2026, 12, 7, 8, 0)  # handover: 1h before
    nxt = plan.next_change(utc(2026, 12, 8, 0, 0))
    assert nxt is not None and (nxt.at, nxt.incoming) == (utc(2026, 12, 14, 9, 0), "omar")


def test_daily_change_stays_at_nine_across_the_spring_clock_change() -> None:
    """Clocks go forward at 01:00 GMT on 2027-03-28: the 09:00 change that day is 08:00 UTC."""
    daily = {"rotation": ["maya", "li"], "every": "1d", "from": "2027-03-26T09:00", "handover": "1h"}
    plan = Ownership(config(daily)).plan("ml")
    changes = plan.changes(utc(2027, 3, 26, 12, 0), utc(2027, 3, 29, 12, 0))
    assert [c.at for c in changes] == [utc(2027, 3, 27, 9, 0), utc(2027, 3, 28, 8, 0), utc(2027, 3, 29, 8, 0)]
    assert [c.incoming for c in changes] == ["li", "maya", "li"]
    # The shift over the change is 23 hours long, and the one who holds it is on call throughout.
    assert plan.at(utc(2027, 3, 28, 7, 59)) == "li"
    assert plan.at(utc(2027, 3, 28, 8, 0)) == "maya"


def test_changes_inside_the_skipped_and_the_repeated_hour() -> None:
    """A daily change written at 01:30: on 2027-03-28 01:30 does not exist in London (it happens
    at 02:30 BST = 01:30 UTC); on 2027-10-31 01:30 happens twice (the first, BST, counts, once)."""
    daily = {"rotation": ["maya", "li"], "every": "1d", "from": "2027-03-26T01:30", "handover": "1h"}
    plan = Ownership(config(daily)).plan("ml")
    spring = plan.changes(utc(2027, 3, 27, 0, 0), utc(2027, 3, 29, 12, 0))
    assert [c.at for c in spring] == [
        utc(2027, 3, 27, 1, 30),
        utc(2027, 3, 28, 1, 30),
        utc(2027, 3, 29, 0, 30),
    ]
    autumn = plan.changes(utc(2027, 10, 30, 0, 0), utc(2027, 11, 1, 12, 0))
    assert [c.at for c in autumn] == [
        utc(2027, 10, 30, 0, 30),
        utc(2027, 10, 31, 0, 30),
        utc(2027, 11, 1, 1, 30),
    ]


def test_a_twelve_hour_rotation_steps_in_absolute_time_across_both_clock_changes() -> None:
    """Sub-day shifts last exactly `every`: 12h from 01:30 GMT stays at 01:30 and 13:30 UTC."""
    half = {"rotation": ["maya", "li"], "every": "12h", "from": "2027-03-27T01:30", "handover": "1h"}
    plan = Ownership(config(half)).plan("ml")
    spring = plan.changes(utc(2027, 3, 27, 12, 0), utc(2027, 3, 28, 14, 0))
    assert [c.at for c in spring] == [
        utc(2027, 3, 27, 13, 30),
        utc(2027, 3, 28, 1, 30),
        utc(2027, 3, 28, 13, 30),
    ]
    autumn = plan.changes(utc(2027, 10, 30, 12, 0), utc(2027, 10, 31, 14, 0))
    assert [c.at for c in autumn] == [
        utc(2027, 10, 30, 13, 30),
        utc(2027, 10, 31, 1, 30),
        utc(2027, 10, 31, 13, 30),
    ]


LONDON = ZoneInfo("Europe/London")
NIGHTS = {"spring": (2027, 3, 28), "autumn": (2027, 10, 31)}  # the clocks go forward / back at 01:00 UTC


@pytest.mark.parametrize("night", sorted(NIGHTS))
@pytest.mark.parametrize(
    ("every", "start"), [("1h", "00:00"), ("4h", "22:00"), ("12h", "21:00"), ("1d", "09:00"), ("1d", "01:30")]
)
def test_no_shift_repeats_or_is_skipped_on_either_clock_change(night: str, every: str, start: str) -> None:
    """Three days around each night: the shifts start in rotation order, none twice and none
    skipped; a sub-day shift lasts exactly `every`, a daily one starts at its wall time (moved
    forward by the gap where the clocks skip it, the first of two where they repeat it)."""
    y, m, d = NIGHTS[night]
    day_before = datetime(y, m, d) - timedelta(days=2)
    people = ["maya", "li", "omar"]
    rot = {"rotation": people, "every": every, "from": f"{day_before:%Y-%m-%d}T{start}", "handover": "30m"}
    plan = Ownership(config(rot)).plan("ml")
    begin, end = (
        datetime(y, m, d, tzinfo=UTC) - timedelta(days=1),
        datetime(y, m, d, tzinfo=UTC) + timedelta(days=2),
    )
    changes = plan.changes(begin, end)
    starts = [c.at for c in changes]
    assert starts == sorted(set(starts))  # no start repeats
    for before, after in zip(changes, changes[1:], strict=False):
        assert after.outgoing == before.incoming
        assert people.index(after.incoming) == (people.index(before.incoming) + 1) % 3  # nobody skipped
    step = timedelta(hours=int(every[:-1])) if every.endswith("h") else None
    if step is not None:
        assert len(changes) == (end - begin) // step
        assert {b - a for a, b in zip(starts, starts[1:], strict=False)} == {step}
        # Each shift's holder is on call throughout it.
        for c, nxt in zip(changes, starts[1:], strict=False):
            assert plan.at(c.at) == plan.at(nxt - timedelta(seconds=1)) == c.incoming
        return
    hour, minute = (int(x) for x in start.split(":"))
    walls = [c.at.astimezone(LONDON) for c in changes]
    assert len(changes) == 3
    for wall in walls:
        if (wall.hour, wall.minute) != (hour, minute):
            # Only a wall time the clocks skipped moves, and only by the gap (01:30 -> 02:30 BST).
            assert (night, wall.date(), wall.hour, wall.minute) == (
                "spring",
                datetime(y, m, d).date(),
                hour + 1,
                minute,
            )


def test_from_with_an_offset_and_no_time_zone() -> None:
    rot = {"rotation": ["maya", "li"], "every": "1d", "from": "2026-11-30T09:00+01:00", "handover": "2h"}
    plan = Ownership(config(rot, timezone=None)).plan("ml")
    assert plan.at(utc(2026, 12, 1, 7, 59)) == "maya"
    assert plan.at(utc(2026, 12, 1, 8, 0)) == "li"
    (first,) = plan.changes(utc(2026, 11, 30, 9, 0), utc(2026, 12, 1, 9, 0))
    assert first.opens_at == utc(2026, 12, 1, 6, 0)


def test_planned_override_covers_its_window_and_both_ends_are_changes() -> None:
    rot = {**WEEKLY, "overrides": [{"who": "omar", "from": "2026-12-01T00:00", "to": "2026-12-03T00:00"}]}
    plan = Ownership(config(rot)).plan("ml")
    assert plan.at(utc(2026, 11, 30, 23, 59)) == "maya"
    assert plan.at(utc(2026, 12, 1, 0, 0)) == "omar"
    assert plan.at(utc(2026, 12, 3, 0, 0)) == "maya"
    changes = plan.changes(utc(2026, 11, 30, 9, 0), utc(2026, 12, 7, 9, 0))
    assert [(c.at, c.outgoing, c.incoming, c.cause) for c in changes] == [
        (utc(2026, 12, 1, 0, 0), "maya", "omar", "ownership.yaml"),
        (utc(2026, 12, 3, 0, 0), "omar", "maya", "ownership.yaml"),  # the override ends
        (utc(2026, 12, 7, 9, 0), "maya", "li", "rotation"),
    ]


def test_an_override_of_the_person_already_on_call_is_no_change() -> None:
    rot = {**WEEKLY, "overrides": [{"who": "maya", "from": "2026-12-01T00:00", "to": "2026-12-03T00:00"}]}
    plan = Ownership(config(rot)).plan("ml")
    assert [c.at for c in plan.changes(utc(2026, 11, 30, 9, 0), utc(2026, 12, 7, 8, 0))] == []


def test_slack_overrides_win_and_the_newest_wins_where_they_overlap() -> None:
    rot = {**WEEKLY, "overrides": [{"who": "omar", "from": "2026-12-01T00:00", "to": "2026-12-03T00:00"}]}
    windows = {
        "ml": [
            Window("li", utc(2026, 12, 2, 0, 0), utc(2026, 12, 2, 12, 0), "override #1"),
            Window("rosa", utc(2026, 12, 2, 6, 0), utc(2026, 12, 2, 8, 0), "override #2"),
        ]
    }
    plan = Ownership(config(rot), oncall_windows=windows).plan("ml")
    assert plan.at(utc(2026, 12, 1, 12, 0)) == "omar"
    assert plan.at(utc(2026, 12, 2, 1, 0)) == "li"
    assert plan.at(utc(2026, 12, 2, 7, 0)) == "rosa"
    assert plan.at(utc(2026, 12, 2, 9, 0)) == "li"
    assert plan.at(utc(2026, 12, 2, 12, 0)) == "omar"
    assert plan.planned_at(utc(2026, 12, 2, 7, 0)) == "omar"  # what the file alone says


def test_a_team_with_one_on_call_person_changes_only_by_slack_overrides() -> None:
    windows = {"ml": [Window("li", utc(2026, 12, 2, 0, 0), utc(2026, 12, 2, 12, 0), "override #1")]}
    plan = Ownership(config("maya"), oncall_windows=windows).plan("ml")
    changes = plan.changes(utc(2026, 12, 1, 0, 0), utc(2026, 12, 3, 0, 0))
    assert [(c.at, c.outgoing, c.incoming) for c in changes] == [
        (utc(2026, 12, 2, 0, 0), "maya", "li"),
        (utc(2026, 12, 2, 12, 0), "li", "maya"),
    ]
    assert changes[1].opens_at == utc(2026, 12, 2, 11, 0)  # the default handover, 1h
    assert Ownership(config("maya")).plan("ml").next_change(utc(2026, 12, 1, 0, 0)) is None


def test_ownership_answers_for_its_clock() -> None:
    now = [utc(2026, 12, 7, 8, 0)]
    own = Ownership(config(WEEKLY), now=lambda: now[0])
    assert own.oncall("ml") == "maya"
    assert own.scope("model-quality", "owner") == ["maya"]
    assert own.raci("model-quality").responsible[0] == "maya"  # pages go to the on-call first
    now[0] = utc(2026, 12, 7, 9, 0)
    assert own.oncall("ml") == "li"
    assert own.scope("model-quality", "owner") == ["li"]
    assert own.oncall("ml", at=utc(2026, 12, 14, 9, 0)) == "omar"
    assert own.configured_oncall("ml") == "li"
    # A rotating on-call is not a holder an edit of the file hands over: its changes are planned.
    assert "team:ml:oncall" not in own.configured_holders()
    assert "team:ml:oncall" in Ownership(config("maya")).configured_holders()


def test_countersigned_handover_still_holds_for_a_fixed_on_call() -> None:
    own = Ownership(config("maya"), overrides={"team:ml:oncall": "omar"})
    assert own.oncall("ml") == "omar"
    assert own.configured_oncall("ml") == "maya"


def test_next_change_looks_past_a_long_quiet_override() -> None:
    rot = {
        **WEEKLY,
        "every": "1d",
        "overrides": [{"who": "omar", "from": "2026-12-01T00:00", "to": "2026-12-20T00:00"}],
    }
    plan = Ownership(config(rot)).plan("ml")
    nxt = plan.next_change(utc(2026, 12, 1, 1, 0))
    assert nxt is not None and nxt.at == utc(2026, 12, 20, 0, 0) and nxt.outgoing == "omar"
    assert nxt.at - utc(2026, 12, 1, 1, 0) > timedelta(days=18)
