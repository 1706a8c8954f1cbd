"""bot/text/typed.py: one reading of what people type, one "did you mean", one Unknown."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.text.errors import Refused
from bot.text.typed import Malformed, Unknown, closest, duration, moment, quote, severity, typed

AREAS = ["model-quality", "infra-deploy", "data"]


def test_typed_collapses_space_and_masks_and_quote_escapes_and_clips() -> None:
    assert typed("  a\n b\t c ") == "a b c"
    assert "maya@example.com" not in typed("mail maya@example.com now")
    assert quote("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; <@U1>"  # a mention stays one
    assert len(quote("x" * 500)) == 80


def test_closest_ignores_case_and_gives_up_when_nothing_is_near() -> None:
    assert closest("Modle-Quality", AREAS) == "model-quality"
    assert closest("zzzz", AREAS) is None


def test_an_unknown_name_is_said_one_way_in_slack_and_another_for_plain_surfaces() -> None:
    near = Unknown("area", "modle-quality", AREAS, then="e.g. `/incident P1 model-quality x`")
    assert isinstance(near, Refused) and near.guess == "model-quality"
    assert str(near) == (
        "There is no area `modle-quality`. Did you mean `model-quality`? e.g. `/incident P1 model-quality x`"
    )
    far = Unknown("area", "<!channel>", AREAS)
    assert str(far) == "There is no area `&lt;!channel&gt;`. Areas: `model-quality`, `infra-deploy`, `data`."
    assert far.plain() == "area '<!channel>' is not an area: use one of model-quality, infra-deploy, data"
    assert near.plain().startswith("area 'modle-quality' is not an area (did you mean 'model-quality'?)")


def test_a_caller_may_give_the_guess_the_names_shown_and_where_they_belong() -> None:
    team = Unknown("team", "mll", ["ml", "data"], shown={"ml": "`ml` (ML Team)", "data": "`data` (Data)"})
    assert "Did you mean `ml` (ML Team)?" in str(team)
    none = Unknown("area", "modle-quality", AREAS, guess=None)
    assert "Did you mean" not in str(none) and "Areas:" in str(none)
    listed = "`rollback` (Roll back)"
    action = Unknown("action", "rolback", ["rollback"], where=" in `mq`", plural="its actions", listed=listed)
    assert (
        str(action)
        == f"There is no action `rolback` in `mq`. Did you mean `rollback`? Its actions: {listed}."
    )
    severity = Unknown("severity", "P7", ["P0", "P1"], guess=None, plural="severities")
    assert str(severity) == "There is no severity `P7`. Severities: `P0`, `P1`."


def test_a_severity_is_read_in_any_case_and_an_unknown_one_lists_the_levels_without_a_guess() -> None:
    assert severity(" p1 ", ["P0", "P1"]) == "P1"
    try:
        severity("P9", ["P0", "P1"], then="e.g. `/incident P1 data x`")
    except Unknown as e:
        assert str(e) == "There is no severity `P9`. Severities: `P0`, `P1`. e.g. `/incident P1 data x`"
        assert e.plain() == "severity 'P9' is not a severity: use one of P0, P1"
    else:
        raise AssertionError("P9 was taken")


def test_a_duration_reads_weeks_and_says_one_way_what_is_wrong() -> None:
    assert duration("1w3d", accepted="use 4h") == timedelta(days=10)
    assert duration(" 90m ", accepted="use 4h") == timedelta(minutes=90)
    for text, problem in (
        ("banana", "is not a duration"),
        ("none", "is not a duration"),
        ("0m", "is no time at all"),
    ):
        with pytest.raises(Malformed) as bad:
            duration(text, accepted="use 4h")
        assert str(bad.value) == f"`{text}` {problem}; use 4h." and isinstance(bad.value, Refused)
        assert bad.value.plain() == f"{text!r} {problem}; use 4h"
    with pytest.raises(Malformed) as long:
        duration("5w", accepted="use 4h", longest=timedelta(days=30), beyond="split it")
    assert str(long.value) == "`5w` is longer than 4w2d; split it."
    with pytest.raises(Malformed, match=r"^`&lt;!channel&gt;` is not a duration"):
        duration("<!channel>", accepted="use 4h")


def test_a_moment_reads_iso_times_and_refuses_a_date_alone() -> None:
    assert moment("2026-12-07T09:30", accepted="x") == datetime(2026, 12, 7, 9, 30)
    assert moment("2026-12-07 09:30+01:00", accepted="x").utcoffset() == timedelta(hours=1)
    for text in ("2026-12-07", "tomorrow", "2026-13-01T09:00"):
        with pytest.raises(Malformed) as bad:
            moment(text, accepted="use 2026-12-07T09:30")
        assert bad.value.plain() == f"{text!r} is not a date and time; use 2026-12-07T09:30"
