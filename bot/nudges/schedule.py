"""Scheduled nudges (PRODUCT.md §4): the cron expressions under `nudges:` in ownership.yaml, in
its time zone.

APScheduler's CronTrigger says when a nudge is due; the scheduler only ticks (every few seconds)
and durable state is a row: a NudgeRun (name, due time) is the claim, so each due time runs
once across replicas and restarts. Only the latest due time is ever considered, so a nudge
missed while Baton was down runs once at start, not once per missed time. The first time Baton
sees a nudge it only notes the current due time: a new install does not send a week's nudges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.monitoring import slo
from bot.nudges import readiness, review
from bot.records import handoffs
from bot.store.db import session
from bot.store.models import NudgeRun
from bot.store.runtime import Baton

log = logging.getLogger(__name__)


# ownership.yaml's names -> what runs (each queues its posts as durable jobs for the ticker).
NUDGES: dict[str, Callable[[Baton], object]] = {
    "handoffs": handoffs.enqueue_reminders,
    "slo_digest": slo.run_digest,
    "readiness": readiness.run,
    "failure_review": review.run,
}
# Long enough for a weekly nudge missed over a long weekend.
LOOKBACK = timedelta(days=8)


def last_due(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest time at or before `now` the trigger fires (within LOOKBACK), or None."""
    due, at = None, trigger.get_next_fire_time(None, now - LOOKBACK)
    while at is not None and at <= now:
        due = at
        at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return due


def _claim(baton: Baton, name: str, due: datetime, worker: str) -> bool:
    """Insert the claim row; False if this due time was claimed already (here or elsewhere)."""
    with session(baton.engine) as s:
        s.add(NudgeRun(name=name, due_at=due, claimed_by=worker, claimed_at=baton.clock.now()))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return False
    return True


def tick(baton: Baton, *, worker: str) -> list[str]:
    """Run every configured nudge whose latest due time nobody has claimed; returns their names."""
    nudges = baton.config.ownership.nudges
    if nudges is None:
        return []
    now = baton.clock.now()
    ran = []
    for name, trigger in nudges.triggers().items():
        run = NUDGES.get(name)
        due = last_due(trigger, now) if run is not None else None
        if run is None or due is None:
            continue
        with session(baton.engine) as s:
            seen = s.exec(select(NudgeRun.due_at).where(col(NudgeRun.name) == name).limit(1)).first()
        if not _claim(baton, name, due, worker):
            continue
        if seen is None:
            # `due` has passed: a first start skips it, and the next one is what people wait for.
            upcoming = trigger.get_next_fire_time(due, due + timedelta(seconds=1))
            log.info(
                "nudge %s scheduled (%s): its first run is at %s (a first start skips the one due at %s)",
                name,
                getattr(nudges, name),
                upcoming.isoformat() if upcoming is not None else "no time the schedule names",
                due.isoformat(),
            )
            continue
        log.info("running the %s nudge due at %s", name, due.isoformat())
        run(baton)
        ran.append(name)
    return ran
