"""The shipped hour-long windows, run on an injected clock: the ticker sends what is due at
the clock's time, nothing earlier."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app.ticker import Ticker
from bot.incidents import services as incidents
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.runtime import Baton
from bot.text.errors import Refused
from tests.conftest import page_dms
from tests.incidents.test_paging_ladder import EVERYONE, LI, OWNING_TEAM


def _paged(fake: FakeSlack) -> list[str]:
    return [str(c.params["channel"]) for c in page_dms(fake)]


def test_one_hour_window_steps_fire_at_their_clock_times(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    inc = incidents.declare(
        baton=baton, severity="P1", area="model", title="Refusals up", reporter="U07SAM0001"
    )
    assert inc.deadline == inc.declared_at + timedelta(hours=1)
    ticker.run_until_idle()
    assert set(_paged(fake_slack)) == OWNING_TEAM and len(_paged(fake_slack)) == 3
    clock.advance(timedelta(minutes=29, seconds=59))
    ticker.run_until_idle()
    assert len(_paged(fake_slack)) == 3  # T/2 not yet
    clock.advance(timedelta(seconds=1))
    ticker.run_until_idle()
    assert set(_paged(fake_slack)[3:]) == EVERYONE
    clock.advance(timedelta(minutes=30))
    ticker.run_until_idle()
    assert set(_paged(fake_slack)[11:]) == EVERYONE
    got = incidents.get(baton=baton, number=inc.id or 0)
    assert got.breached is True
    # Acknowledged after the window: recorded as outside it.
    clock.advance(timedelta(minutes=5))
    ack = incidents.acknowledge(baton=baton, number=inc.id or 0, user=LI)
    assert ack.within_window is False and ack.time_to_ack == timedelta(minutes=65)


def test_downgrade_keeps_the_later_steps_timed_from_now(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    inc = incidents.declare(
        baton=baton, severity="P0", area="data", title="Index empty", reporter="U07SAM0001"
    )
    ticker.run_until_idle()
    first = len(_paged(fake_slack))
    clock.advance(timedelta(minutes=5))
    changed = incidents.change_severity(baton=baton, number=inc.id or 0, severity="P2", user="U07DANA001")
    assert changed.deadline == clock.now() + timedelta(hours=4)
    ticker.run_until_idle()
    assert len(_paged(fake_slack)) == first  # a downgrade pages nobody at once
    clock.advance(timedelta(hours=2))
    ticker.run_until_idle()
    assert len(_paged(fake_slack)) > first  # P2's T/2 step, timed from the change


def test_bad_input_writes_nothing(clocked: tuple[Baton, Ticker, FakeClock]) -> None:
    baton, _, _ = clocked
    for severity, area, title, expected in (
        ("P7", "data", "x", "There is no severity `P7`"),
        ("P1", "modle-quality", "x", "Did you mean `model-quality`?"),
        ("P1", "data", "   ", "Give the incident a title"),
    ):
        with pytest.raises(Refused, match=expected) as e:
            incidents.declare(baton=baton, severity=severity, area=area, title=title, reporter="U1")
        assert "/incident P1 model-quality" in str(e.value)  # a correct example
    assert incidents.list_open(baton=baton) == []


def _counted(baton: Baton, name: str) -> float:
    return float(baton.metrics.registry.get_sample_value(name) or 0.0)


def test_a_page_sent_more_than_a_second_after_its_due_time_is_not_counted_on_time(
    clocked: tuple[Baton, Ticker, FakeClock], fake_slack: FakeSlack
) -> None:
    baton, ticker, clock = clocked
    incidents.declare(baton=baton, severity="P1", area="model", title="Refusals up", reporter="U07SAM0001")
    ticker.run_until_idle()  # at the clock's time of declaration: on time
    assert len(_paged(fake_slack)) == 3
    assert _counted(baton, "baton_pages_sent_total") == 3.0
    assert _counted(baton, "baton_pages_sent_on_time_total") == 3.0
    incidents.declare(baton=baton, severity="P1", area="model", title="Refusals again", reporter="U07SAM0001")
    clock.advance(timedelta(seconds=1, milliseconds=1))  # the ticker comes to them late
    ticker.run_until_idle()
    assert len(_paged(fake_slack)) == 6
    assert _counted(baton, "baton_pages_sent_total") == 6.0
    assert _counted(baton, "baton_pages_due_total") == 6.0
    assert _counted(baton, "baton_pages_sent_on_time_total") == 3.0
