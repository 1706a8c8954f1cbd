"""A handoff's snapshot of "open incidents" leaves drills out: the area's open
drill is a rehearsal, not something the incoming owner inherits. SQLite and PostgreSQL."""

from __future__ import annotations

from bot.app.ticker import Ticker
from bot.incidents import services as incidents
from bot.records import handoffs
from bot.store.clock import FakeClock
from bot.store.runtime import Baton
from tests.drilling import MAYA, declare_drill


def test_the_handoff_snapshot_lists_open_incidents_not_drills(
    clocked: tuple[Baton, Ticker, FakeClock],
) -> None:
    baton, _, _ = clocked
    real = incidents.declare(
        baton=baton, severity="P2", area="model-quality", title="Refusals up", reporter=MAYA
    )
    rehearsal = declare_drill(baton, area="model-quality")
    receipt = handoffs.start(
        baton=baton, area="model-quality", role="accountable", to="li", peer=None, note="", user=MAYA
    )
    listed = [i["number"] for i in receipt.snapshot["open_incidents"]]
    assert listed == [real.id] and rehearsal.id not in listed
