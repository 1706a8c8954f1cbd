"""Sends that happen once: every Slack message (and pager event) a job owes goes through `once`.

A job is retried whenever a try fails, and a try can fail after Slack has done the work: the
database refuses the record of a DM that went out, the process dies between the two, an answer
is lost on the way back. Slack's chat.postMessage takes no idempotency key, so the send and its
record are made idempotent here, per job and step ("dm", "post", "pager", "opening"):

1. Look first: a step the job's row says is sent is not sent again (the retry only finishes).
2. A step this process sent but could not record yet is held in memory: a retry here records
   it and never sends again, however long the database refused.
3. A step that may be looked for (every post: to a channel, or a DM to a person) is marked
   `sending` on the job's row, with the time, before it goes, and carries its key in the
   message's metadata; a retry after an unknown outcome (a crash, a lost answer, a 5xx, a
   connection dropped after the request went) looks for it in the conversation's history (a
   DM's through conversations.open) before sending again. slack_sdk never sends a post again
   itself, except after a 429 (bot/slack/chat.py). The mark is written only while the job is
   still this try's: a try held up past its lease, whose job another try has claimed, sends
   nothing (`Superseded`).
4. Right after the send, one transaction marks the step sent (with Slack's ts) together with
   its record (the timeline line of a page, of a pager event), tried again for a few seconds
   while the database refuses.

What remains: a pager event whose send succeeded and whose record never reached the database
because the process died in the milliseconds between the two is sent again (an external pager
has no history to look in; its dedup key folds the two into one alert where it has one). A
post is sent again where Slack will not let Baton look (an app installed without im:history or
im:write, a private channel without groups:history): said in the log, at start-up and by `baton
check --slack`, since a page sent twice is better than none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.slack.chat import ChatError
from bot.store import jobs
from bot.store.db import reading, session
from bot.store.models import Incident, Job
from bot.store.runtime import Baton
from bot.text import drill

log = logging.getLogger(__name__)

SENT, SENDING = "sent", "sending"
# The record is tried again after these pauses while the database refuses it.
RECORD_PAUSES = (0.1, 0.4, 1.5)
# A look starts at the time the step was marked sending (kept with the mark: a retry may come
# hours later, after an outage, a lease and backoff), less this margin, since the clocks of Slack
# and Baton differ a little. It has no end: the message may have gone out any time after.
_LOOK_SLACK = timedelta(seconds=30)

Record = Callable[[Session, str | None], None]


@dataclass(frozen=True)
class Sent:
    ts: str | None  # Slack's ts of the message (None for a pager event)
    fresh: bool  # sent by this process and recorded by this call; False: recorded before, or found


# (database, step key) -> Slack's answer, for steps this process sent but has not recorded yet.
_unrecorded: dict[tuple[str, str], str | None] = {}
_lock = threading.Lock()


def key(job: Job, step: str) -> str:
    """The step's key as it travels in a message's metadata. The job's creation time keeps two
    Batons (a demo and production) posting to one channel from taking each other's messages."""
    assert job.id is not None
    return f"{job.id}.{int(job.created_at.timestamp() * 1000)}.{step}"


def once(
    baton: Baton,
    job: Job,
    step: str,
    send: Callable[[], str | None],
    *,
    look: Callable[[datetime], str | None] | None = None,
    record: Record | None = None,
) -> Sent:
    """Send the job's `step` unless it went out already, and record it in the same transaction
    as the mark that it went. `send` returns Slack's ts; `look(since)` finds an earlier try's
    message (None when there is none, or it cannot look); `record(session, ts)` adds what the
    send leaves on the record (a timeline line)."""
    assert job.id is not None
    held = (str(baton.engine.url), key(job, step))
    # A step that may be looked for takes the marks as the claim read them (every earlier try
    # had ended or lost its lease by then); reading the row again here cost a page a round trip
    # to the database. Its `sending` mark checks, under the row's lock, that no later try has
    # claimed the job since (`_sending`). A step that cannot be looked for reads the row.
    mark = dict((job.delivery or {}).get(step) or {}) if look is not None else _read_mark(baton, job.id, step)
    if mark.get("state") == SENT:
        return Sent(mark.get("ts"), False)
    with _lock:
        unrecorded = held in _unrecorded
        ts = _unrecorded.get(held)
    fresh = unrecorded  # sent by an earlier try of this process, recorded now
    if not unrecorded:
        found = None
        if mark.get("state") == SENDING and look is not None:
            since = datetime.fromisoformat(mark["at"]) - _LOOK_SLACK
            found = look(since)
            if found is None:
                log.warning(
                    "job %s (%s): %s was not found after a lost answer; sending it", job.id, job.kind, step
                )
        if found is not None:
            ts = found
            log.info(
                "job %s (%s): %s had gone out before its answer was lost; not sent again",
                job.id,
                job.kind,
                step,
            )
        else:
            if look is not None:
                _sending(baton, job, step)
            try:
                ts = send()
            except ChatError as e:
                if look is not None and not e.maybe_done:
                    _mark(baton, job.id, step, None)  # Slack said no: nothing to look for next time
                raise
            fresh = True
            with _lock:
                _unrecorded[held] = ts
    _record(baton, job.id, step, ts, record)
    with _lock:
        _unrecorded.pop(held, None)
    return Sent(ts, fresh)


def _read_mark(baton: Baton, job_id: int, step: str) -> dict[str, Any]:
    with reading(baton.engine) as s:
        row = s.get(Job, job_id)
        return dict((row.delivery if row is not None else {}).get(step) or {})


def _sending(baton: Baton, job: Job, step: str) -> None:
    """Mark `step` as going out, unless another try has claimed the job since this one did (this
    one's lease ran out while it was held up): then that try sends it, and this one stops. The
    check and the mark are one transaction on the locked row, so a claim comes before or after
    both: the later try either finds the mark (and looks) or this one finds the claim."""
    assert job.id is not None
    with session(baton.engine) as s:
        row = s.exec(select(Job).where(col(Job.id) == job.id).with_for_update()).first()
        # The claim's own lease end tells it from any later claim, the same worker's included
        # (a deferral gives back the try it counted, so worker and tries alone can repeat).
        held = (row.state, row.claimed_by, row.attempts, row.lease_until) if row is not None else None
        if held != ("running", job.claimed_by, job.attempts, job.lease_until):
            raise Superseded(f"job {job.id} ({job.kind}) was claimed again while this try was held up")
        _set(s, job.id, step, {"state": SENDING, "at": baton.clock.now().isoformat()})
        s.commit()


class Superseded(jobs.Retry):
    """This try lost the job to a later one before it sent anything: it stops, and the later
    try (which holds the job now) decides; the ticker cannot settle a job it no longer holds."""


def _mark(baton: Baton, job_id: int, step: str, mark: dict[str, str | None] | None) -> None:
    with session(baton.engine) as s:
        _set(s, job_id, step, mark)
        s.commit()


def _set(s: Session, job_id: int, step: str, mark: dict[str, str | None] | None) -> None:
    row = s.get(Job, job_id)
    if row is None:
        return
    delivery = {k: v for k, v in row.delivery.items() if k != step}
    if mark is not None:
        delivery[step] = mark
    row.delivery = delivery
    s.add(row)


def _record(baton: Baton, job_id: int, step: str, ts: str | None, record: Record | None) -> None:
    """Mark the step sent and add its record, in one transaction; tried again while the database
    refuses. If it never gets through, the step stays held here and a retry records it."""
    for pause in (*RECORD_PAUSES, None):
        try:
            with session(baton.engine) as s:
                _set(s, job_id, step, {"state": SENT, "ts": ts, "at": baton.clock.now().isoformat()})
                if record is not None:
                    record(s, ts)
                s.commit()
            return
        except DBAPIError as e:
            if pause is None:
                raise
            log.warning(
                "job %s: could not record that %s was sent (%s); again in %ss",
                job_id,
                step,
                type(e).__name__,
                pause,
            )
            time.sleep(pause)


def in_conversation(
    baton: Baton, job: Job, step: str, channel: str, thread_ts: str | None = None
) -> Callable[[datetime], str | None]:
    """A `look` for a message the job posted to `channel` (a channel, or a user's DM; in the
    thread of `thread_ts` when given)."""

    def look(since: datetime) -> str | None:
        return baton.chat.find_posted(channel, key(job, step), oldest=since.timestamp(), thread_ts=thread_ts)

    return look


def post(
    baton: Baton,
    job: Job,
    channel: str,
    *,
    text: str,
    blocks: Sequence[dict[str, Any]] | None = None,
    step: str = "post",
    record: Record | None = None,
    thread_ts: str | None = None,
) -> Sent:
    """Post a message the job owes, once (see `once`), in the thread of `thread_ts` when given.
    A drill's message starts with DRILL, whichever job says it: the rule lives here so no
    message of a rehearsal can forget it."""
    if job.incident_id is not None and is_drill(baton, job.incident_id):
        text, blocks = drill.said(text), drill.blocks(blocks)
    return once(
        baton,
        job,
        step,
        lambda: baton.chat.post_message(
            channel, text=text, blocks=blocks, key=key(job, step), thread_ts=thread_ts
        ),
        look=in_conversation(baton, job, step, channel, thread_ts),
        record=record,
    )


def is_drill(baton: Baton, incident_id: int) -> bool:
    """Whether the incident is a rehearsal; asked of the database once per incident and process,
    as it never changes (`known_drill` tells it without asking, from an incident read anyway)."""
    known = baton.drills.get(incident_id)
    if known is None:
        with reading(baton.engine) as s:
            known = bool(s.exec(select(Incident.drill).where(col(Incident.id) == incident_id)).first())
        baton.drills[incident_id] = known
    return known


def known_drill(baton: Baton, inc: Incident) -> None:
    """Remember whether `inc` is a rehearsal (see `is_drill`): a job that has just read its
    incident saves its first message a read of the database."""
    if inc.id is not None:
        baton.drills[inc.id] = inc.drill
