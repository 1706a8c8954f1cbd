"""Drills for tests: started through the real drill service (bot/drills/start.py), without
the check of who may (as `baton drill` starts one); every test of drills kept apart goes
through here."""

from __future__ import annotations

from bot.drills import start as drills
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
    inc = drills.start(baton=baton, severity=severity, area=area, title=title, starter=by, checked=False)
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None and row.drill
        return row
