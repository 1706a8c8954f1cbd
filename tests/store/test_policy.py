"""The incident's policy snapshot (bot/store/policy.py): typed when read, the same JSON when
stored, and rows written by earlier versions still load."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from bot.store.db import make_engine, session, upgrade
from bot.store.models import Incident
from bot.store.policy import Group, Paged, Policy, Step

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
# The raw column, as an earlier version (or another tool) sees it: plain JSON.
RAW = sa.table("incident", sa.column("id", sa.Integer), sa.column("policy", sa.JSON))

# A snapshot as paging.snapshot wrote it before 2026-11-29: its steps have no "groups".
OLD: dict[str, Any] = {
    "level": "P1",
    "level_name": "Core feature failure",
    "notify": "owning-team",
    "response_time": "1h",
    "window_seconds": 3600.0,
    "area_name": "Model / Prompt",
    "team": "ml",
    "runbook": None,
    "steps": [
        {
            "index": 0,
            "after": 0.0,
            "breach": False,
            "scope": "owning-team",
            "description": "page owning-team",
            "notify": [{"ref": "maya", "user": "U07MAYA001"}, {"ref": "nobody@example.com", "user": None}],
        }
    ],
}


def _incident(policy: Policy) -> Incident:
    return Incident(
        title="Refusals up",
        area="model-quality",
        severity="P1",
        declared_by="U07LEO0002",
        declared_at=T0,
        policy=policy,
    )


def test_an_old_snapshot_loads_with_the_defaults_of_its_time(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with session(engine) as s:
        s.add(_incident(Policy()))
        s.commit()
    with engine.begin() as conn:
        conn.execute(sa.update(RAW).values(policy=OLD))
    with session(engine) as s:
        inc = s.exec(select(Incident)).one()
    policy = inc.policy
    assert isinstance(policy, Policy)
    assert (policy.window_seconds, policy.response_time, policy.area_name) == (3600.0, "1h", "Model / Prompt")
    (step,) = policy.steps
    assert step.groups == ()
    assert step.notify == (Paged(ref="maya", user="U07MAYA001"), Paged(ref="nobody@example.com", user=None))
    assert policy.step(0) is step and policy.step(1) is None
    engine.dispose()


def test_a_snapshot_is_stored_as_the_json_it_always_was(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    step = Step(
        index=0,
        after=0.0,
        breach=False,
        scope="owning-team",
        description="page owning-team",
        notify=(Paged(ref="maya", user="U07MAYA001"),),
        groups=(Group(id="S0ML", name="ML Team"),),
    )
    policy = Policy.model_validate({**OLD, "steps": [step.model_dump()]})
    with session(engine) as s:
        s.add(_incident(policy))
        s.commit()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(RAW.c.policy)).scalar_one()
    assert stored == {
        **OLD,
        "steps": [
            {
                **OLD["steps"][0],
                "notify": [OLD["steps"][0]["notify"][0]],
                "groups": [{"id": "S0ML", "name": "ML Team"}],
            }
        ],
    }
    with session(engine) as s:
        assert s.exec(select(Incident)).one().policy == policy
    engine.dispose()


def test_an_empty_snapshot_reads_as_the_defaults_every_reader_took(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with session(engine) as s:
        s.add(_incident(Policy()))
        s.commit()
    with engine.begin() as conn:
        conn.execute(sa.update(RAW).values(policy={}))
    with session(engine) as s:
        policy = s.exec(select(Incident)).one().policy
    assert policy == Policy() and policy.steps == () and policy.window_seconds is None
    engine.dispose()
