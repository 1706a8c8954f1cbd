"""Drills for tests, until `services.declare_drill_in` lands on main: declared through the real
`declare`, then the row marked `drill`. Swap the body for the drill service
then; every test of drills kept apart goes through here."""

from __future__ import annotations

from bot.incidents import services as incidents
from bot.store.db import session
from bot.store.models import Incident
from bot.store.runtime import Baton

MAYA = "U07MAYA001"  # ML Team's on-call, accountable for model-quality


def declare_drill(
    baton: Baton,
    *,
    area: str = "model-quality",
    severity: str = "P2",
    title: str = "Rehearsal",
    by: str = MAYA,
) -> Incident:
    """A drill of `area`, declared now on Baton's clock; the stored row."""
    inc = incidents.declare(baton=baton, severity=severity, area=area, title=title, reporter=by)
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None
        row.drill = True
        s.add(row)
        s.commit()
        s.refresh(row)
        return row
