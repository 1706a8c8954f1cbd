"""Scheduled nudges: the cron expressions under `nudges:` in ownership.yaml, in
its time zone.

APScheduler's CronTrigger says when a nudge is due; the scheduler only ticks (every few seconds)
and durable state is a row: a NudgeRun (name, due time) is claimed with a lease, so each due
time runs once across replicas, and a run whose replica died is taken over once its lease is
out. A run is marked done in the transaction that queues its posts (durable "post" jobs, sent
once each by the ticker): a run either queued all its posts and is done, or queued none and is
run again. The drill nudge (bot/nudges/drill.py) declares its drill in that transaction too
(`IN_RUN`): one drill per due time, never two, never none. A run that fails (the database
refusing, a bug) is tried again after a backoff (1, 2, 4, 8 minutes); after MAX_TRIES it is
given up and Baton's admins (ownership.yaml `admins`) are told by DM, with the `baton nudge`
command that runs it by hand.

Only the latest due time is ever considered, so a nudge missed while Baton was down runs once
at start, not once per missed time. The first time Baton sees a nudge it only notes the current
due time: a new install does not send a week's nudges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.monitoring import slo
from bot.nudges import drill, readiness, review
from bot.records import handoff_views
from bot.store import outbox
from bot.store.clock import clock_span, slack_time
from bot.store.db import session
from bot.store.models import NudgeRun
from bot.store.outbox import PostPayload
from bot.store.runtime import Baton
from bot.text.blocks import context

log = logging.getLogger(__name__)

Payloads = list[PostPayload]


# Handoffs one reminder DM shows (two blocks each; Slack allows 50 in a message).
MAX_REMINDERS = 20
Reminder = tuple[str, str, list[dict[str, Any]]]


def one_dm_each(found: Sequence[Reminder]) -> list[Reminder]:
    """The day's reminders as one DM per person, however many handoffs wait for them: the first
    MAX_REMINDERS with their buttons, then how many more (App Home lists them all)."""
    per: dict[str, list[Reminder]] = {}
    for reminder in found:
        per.setdefault(reminder[0], []).append(reminder)
    out: list[Reminder] = []
    for user, mine in per.items():
        if len(mine) == 1:
            out.append(mine[0])
            continue
        text = f":hourglass: {len(mine)} handoffs still need your signature."
        blocks = [block for _, _, shown in mine[:MAX_REMINDERS] for block in shown]
        if len(mine) > MAX_REMINDERS:
            more = f"… and {len(mine) - MAX_REMINDERS} more: your App Home in Baton lists every one."
            blocks.append(context(more))
        out.append((user, text, blocks))
    return out


def _reminders(baton: Baton) -> Payloads:
    about = "a reminder to sign a handoff"
    return [
        PostPayload(channel=user, text=text, blocks=blocks, about=about)
        for user, text, blocks in one_dm_each(handoff_views.reminders(baton))
    ]


# ownership.yaml's names -> what the nudge says (the payloads of its "post" jobs, queued by the
# schedule in the transaction that marks the run done), and the `baton nudge` that runs it.
NUDGES: dict[str, tuple[Callable[[Baton], Payloads], str]] = {
    "handoffs": (_reminders, "handoffs"),
    "slo_digest": (lambda b: outbox.payloads(b, slo.digest(b).posts, what="the SLO digest"), "slo"),
    "readiness": (lambda b: outbox.payloads(b, readiness.digest(b), what=readiness.WHAT), "readiness"),
    "failure_review": (lambda b: outbox.payloads(b, review.digest(b), what="the failure review"), "review"),
    "drill": (lambda b: [], "drill"),  # all its work is IN_RUN
}
# Nudges that write in the transaction that marks their run done, after it is won.
IN_RUN: dict[str, Callable[[Session, Baton, datetime], object]] = {"drill": drill.start}
# Long enough for a weekly nudge missed over a long weekend.
LOOKBACK = timedelta(days=8)
# A run measures Prometheus for every area: minutes at worst. A replica that dies running one
# leaves it to the others after this.
LEASE = timedelta(minutes=10)
# Tries of one due time before it is given up and the admins are told.
MAX_TRIES = 5


def backoff(tries: int) -> timedelta:
    """1, 2, 4, 8 minutes… (a nudge is not urgent; what broke it may take minutes to mend)."""
    return timedelta(minutes=min(60, 2 ** max(0, tries - 1)))


def last_due(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The latest time at or before `now` the trigger fires (within LOOKBACK), or None."""
    due, at = None, trigger.get_next_fire_time(None, now - LOOKBACK)
    while at is not None and at <= now:
        due = at
        at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return due


def _key(name: str, due: datetime) -> tuple[Any, Any]:
    return (col(NudgeRun.name) == name, col(NudgeRun.due_at) == due)


def _claim(baton: Baton, name: str, due: datetime, worker: str, *, first: bool) -> int | None:
    """Claim the run of `name` due at `due` for `worker`: insert it, or take over one waiting
    for its retry or whose lease ran out. Its try number, or None when another holds it (or it
    is done). On first sight the row is written done: nothing runs."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        s.add(
            NudgeRun(
                name=name,
                due_at=due,
                claimed_by=worker,
                claimed_at=now,
                state="done" if first else "running",
                attempts=0 if first else 1,
                lease_until=None if first else now + clock_span(baton.clock, LEASE),
                done_at=now if first else None,
            )
        )
        try:
            s.commit()
            return 1
        except IntegrityError:
            s.rollback()
        claimable = or_(
            and_(col(NudgeRun.state) == "pending", col(NudgeRun.retry_at) <= now),
            and_(col(NudgeRun.state) == "running", col(NudgeRun.lease_until) < now),
        )
        won = s.execute(
            update(NudgeRun)
            .where(*_key(name, due), claimable)
            .values(
                state="running",
                claimed_by=worker,
                claimed_at=now,
                lease_until=now + clock_span(baton.clock, LEASE),
                attempts=NudgeRun.attempts + 1,
            )
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            return None
        tries = s.exec(select(NudgeRun.attempts).where(*_key(name, due))).one()
        s.commit()
        return int(tries)


def _held(name: str, due: datetime, worker: str) -> tuple[Any, ...]:
    return (*_key(name, due), col(NudgeRun.claimed_by) == worker, col(NudgeRun.state) == "running")


def _done(baton: Baton, name: str, due: datetime, worker: str, found: Payloads) -> bool:
    """Mark the run done and queue its posts, in one transaction; False (nothing queued) when
    this worker lost the run to another after its lease."""
    now = baton.clock.now()
    with session(baton.engine) as s:
        won = s.execute(
            update(NudgeRun)
            .where(*_held(name, due, worker))
            .values(state="done", done_at=now, lease_until=None, last_error=None)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            log.warning("the %s nudge due at %s was taken over by another replica", name, due.isoformat())
            return False
        outbox.enqueue(s, found, now=now)
        if name in IN_RUN:
            IN_RUN[name](s, baton, now)
        s.commit()
    baton.wake()
    return True


def _failed(baton: Baton, name: str, due: datetime, worker: str, tries: int, error: str) -> None:
    """Again after its backoff, or, after MAX_TRIES, given up and the admins told."""
    now = baton.clock.now()
    final = tries >= MAX_TRIES
    values: dict[str, Any] = {"lease_until": None, "last_error": error}
    if final:
        values.update(state="failed", done_at=now)
    else:
        values.update(state="pending", retry_at=now + clock_span(baton.clock, backoff(tries)))
    with session(baton.engine) as s:
        won = s.execute(update(NudgeRun).where(*_held(name, due, worker)).values(**values))
        if won.rowcount != 1:  # type: ignore[attr-defined]
            s.rollback()
            return
        if final:
            _tell_admins(baton, s, name, due, tries, error, now)
        s.commit()
    if final:
        log.error(
            "the %s nudge due at %s failed %d times and is given up: %s", name, due.isoformat(), tries, error
        )
        baton.wake()
    else:
        log.warning(
            "the %s nudge due at %s failed (try %d); again in %s",
            name,
            due.isoformat(),
            tries,
            backoff(tries),
        )


def _tell_admins(
    baton: Baton, s: Session, name: str, due: datetime, tries: int, error: str, now: datetime
) -> None:
    own = baton.ownership
    admins = [u for u in dict.fromkeys(own.user_id(a) for a in baton.config.ownership.admins) if u]
    if not admins:
        log.error("nobody to tell that the %s nudge was given up: ownership.yaml lists no admins", name)
        return
    command = NUDGES[name][1]
    text = (
        f":warning: The {name} nudge due {slack_time(due)} failed {tries} times and was given up: {error}. "
        f"Once that is mended, `baton nudge {command}` runs it by hand."
    )
    outbox.send_to_first(s, admins, text=text, now=now)


def tick(baton: Baton, *, worker: str) -> list[str]:
    """Run every configured nudge whose latest due time is not done and not held by another
    replica; returns the names of those that ran (and queued their posts)."""
    nudges = baton.config.ownership.nudges
    if nudges is None:
        return []
    now = baton.clock.now()
    ran = []
    for name, trigger in nudges.triggers().items():
        nudge = NUDGES.get(name)
        due = last_due(trigger, now) if nudge is not None else None
        if nudge is None or due is None:
            continue
        with session(baton.engine) as s:
            seen = s.exec(select(NudgeRun.due_at).where(col(NudgeRun.name) == name).limit(1)).first()
        tries = _claim(baton, name, due, worker, first=seen is None)
        if tries is None:
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
        if tries > MAX_TRIES:  # its earlier tries never finished: the replicas running them died
            _failed(baton, name, due, worker, tries, f"{tries - 1} tries never finished")
            continue
        log.info("running the %s nudge due at %s (try %d)", name, due.isoformat(), tries)
        try:
            found = nudge[0](baton)
            done = _done(baton, name, due, worker, found)
        except Exception as e:
            log.exception("the %s nudge due at %s failed", name, due.isoformat())
            # People hear the kind of error only: its text may quote SQL and what was typed.
            _failed(
                baton,
                name,
                due,
                worker,
                tries,
                f"unexpected {type(e).__name__} (Baton's log has the details)",
            )
            continue
        if done:
            ran.append(name)
    return ran
