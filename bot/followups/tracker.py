"""Follow-ups into a tracker: each follow-up of an area with a `tracker:` (its own, else the
top-level one in ownership.yaml) becomes one issue in GitHub or Jira, exactly once.

`queue` is called in the transaction that records the follow-up: it marks the follow-up
pending, gives it a marker (`baton-followup-<id>-<random>`, written into the issue's body) and
queues a `tracker_issue` job. The job (on the ticker's pool, never in a Slack listener: a
tracker that is down or slow delays nothing) makes the issue through bot/store/delivery.py's
`once`: the step is marked "sending" on the job's row before the POST, so a try whose outcome
is unknown (a timeout, a 5xx, a broken connection, a process that died) is followed by one
that first looks the issue up by its marker (bot/followups/github.py, jira.py) and adopts it.
The job queue gives the job to one worker across replicas, and one try ends within two calls'
deadline, far inside its lease.

How it ends: created (key and URL stored, on the timeline); or failed, said once in the
incident channel (the token refused, a wrong repo or project, the tracker's validation
message, masked and escaped, or no issue after LATEST of trying). 429: again after its
Retry-After; 5xx and the network: again with backoff, the follow-up meanwhile "not yet in
GitHub". The token is read from the current config at each try and never
stored, logged or shown.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from bot.config.models import OwnershipConfig, Tracker
from bot.followups import github, jira
from bot.followups.calls import Issue, TrackerError
from bot.incidents import rooms
from bot.incidents.paging import timeline
from bot.store import delivery, jobs
from bot.store.db import reading, session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import FollowUp, Incident, Job
from bot.store.runtime import Baton
from bot.text.masking import mask
from bot.text.mrkdwn import clip, escape, mentions_as_text
from bot.text.spans import format_duration

log = logging.getLogger(__name__)

NAMES = {"github": "GitHub", "jira": "Jira"}
PENDING, CREATED, FAILED = "pending", "created", "failed"
STEP = "issue"  # the job's delivery step (bot/store/delivery.py)
MAX_BACKOFF = timedelta(minutes=5)  # the longest wait between tries while a tracker is down
LATEST = timedelta(minutes=90)  # tried (down, rate-limited) for this long after it was queued
MAX_IN_FLIGHT = 2  # calls to trackers at once in this process: the rest of the pool pages
_slots = threading.Semaphore(MAX_IN_FLIGHT)


class IssuePayload(Payload):
    KIND = "tracker_issue"
    follow_up: int


def tracker_for(ownership: OwnershipConfig, area: str) -> Tracker | None:
    """The area's own tracker, else the top-level one; None without either."""
    own = ownership.areas.get(area)
    return (own.tracker if own is not None else None) or ownership.tracker


def kind_of(tracker: Tracker) -> str:
    return "github" if tracker.github is not None else "jira"


def label(inc_id: int) -> str:
    return f"baton-{inc_id}"


def queue(s: Session, *, baton: Baton, follow_up: FollowUp, now: datetime) -> bool:
    """In the caller's transaction: when the follow-up's area has a tracker, mark it pending
    with a fresh marker and queue the job that makes its issue. False without a tracker (or
    when it was queued before)."""
    if follow_up.tracker_state is not None:
        return False
    inc = s.get(Incident, follow_up.incident_id)
    tracker = tracker_for(baton.config.ownership, inc.area) if inc is not None else None
    if tracker is None:
        return False
    if follow_up.id is None:
        s.add(follow_up)
        s.flush()
    follow_up.tracker, follow_up.tracker_state = kind_of(tracker), PENDING
    follow_up.marker = f"baton-followup-{follow_up.id}-{secrets.token_hex(6)}"
    s.add(follow_up)
    assert follow_up.id is not None
    IssuePayload(follow_up=follow_up.id).enqueue(s, incident_id=follow_up.incident_id, due_at=now, now=now)
    return True


# -- what goes into the issue --------------------------------------------------------------------


def _typed(text: str) -> str:
    """Text people typed, as it leaves Baton: masked, Slack mentions as text."""
    return mentions_as_text(mask(text).text)


def _title(fu: FollowUp, inc: Incident) -> str:
    first = next((line for line in _typed(fu.text).splitlines() if line.strip()), "Follow-up")
    return ("DRILL: " if inc.drill else "") + clip(" ".join(first.split()), 200)


def _origin(inc: Incident) -> str:
    drill = "drill " if inc.drill else ""
    return f"A follow-up of Baton {drill}incident #{inc.id} ({inc.severity}, {inc.area}): "


def _send(tracker: Tracker, fu: FollowUp, inc: Incident) -> Issue:
    labels = ["incident", label(inc.id or 0)]
    marker = f"Baton marker: {fu.marker}"
    if tracker.github is not None:
        body = "\n\n".join(
            [github.quoted(_typed(fu.text)), _origin(inc) + github.quoted(_typed(inc.title)), marker]
        )
        return github.create(tracker.github, title=github.quoted(_title(fu, inc)), body=body, labels=labels)
    assert tracker.jira is not None
    description = jira.document(
        jira.quoted(_typed(fu.text)),
        [{"type": "text", "text": _origin(inc)}, *jira.quoted(_typed(inc.title))],
        [{"type": "text", "text": marker}],
    )
    return jira.create(tracker.jira, title=_title(fu, inc), description=description, labels=labels)


def _find(tracker: Tracker, fu: FollowUp, inc: Incident) -> Issue | None:
    if tracker.github is not None:
        return github.find(tracker.github, marker=fu.marker, label=label(inc.id or 0))
    assert tracker.jira is not None
    return jira.find(tracker.jira, marker=fu.marker, label=label(inc.id or 0))


# -- the job -------------------------------------------------------------------------------------


def run_issue(baton: Baton, job: Job, payload: IssuePayload) -> None:
    """Make the follow-up's issue, once (the job `tracker_issue`)."""
    with reading(baton.engine) as s:
        fu = s.get(FollowUp, payload.follow_up)
        inc = s.get(Incident, fu.incident_id) if fu is not None else None
    if fu is None or inc is None or fu.tracker_state != PENDING or fu.tracker is None:
        return  # made, failed, or never meant for a tracker
    name = NAMES.get(fu.tracker, fu.tracker)
    tracker = tracker_for(baton.config.ownership, inc.area)
    if tracker is None or kind_of(tracker) != fu.tracker:
        _fail(baton, fu, inc, f"{name} is no longer the tracker of {inc.area} in ownership.yaml")
        return
    if not _slots.acquire(blocking=False):
        raise jobs.Defer(f"{MAX_IN_FLIGHT} tracker calls already in flight", after=timedelta(seconds=1))
    try:
        delivery.once(
            baton,
            job,
            STEP,
            lambda: _send(tracker, fu, inc).stored(),
            look=lambda since: _stored(_find(tracker, fu, inc)),
            record=lambda s, stored: _created(s, fu, inc, Issue.read(stored), now=baton.clock.now()),
        )
    except TrackerError as e:
        _ended(baton, job, fu, inc, e)
        return
    finally:
        _slots.release()
    baton.wake()


def _stored(issue: Issue | None) -> str | None:
    return issue.stored() if issue is not None else None


def _ended(baton: Baton, job: Job, fu: FollowUp, inc: Incident, e: TrackerError) -> None:
    """A try that did not make the issue: again later, or the follow-up failed (said once).

    A rate limit waits its Retry-After; a tracker that is down (5xx, the network) is tried again
    after as long as it has been down so far (1 s, 2 s, 4 s … at most MAX_BACKOFF). Neither is a
    failed try of the job queue's (which gives up after about 20 minutes): the follow-up is
    failed once LATEST has passed since it was queued."""
    log.warning("follow-up %s: %s (try %d)", fu.id, e.problem, job.attempts)
    now = baton.clock.now()
    elapsed = max(timedelta(0), now - job.created_at)
    if e.retry:
        if e.kind == "limited":
            after = e.after or timedelta(minutes=1)
        else:
            after = max(timedelta(seconds=1), min(MAX_BACKOFF, elapsed))
        if elapsed + after <= LATEST:
            raise jobs.Retry(e.problem, after=after)
        if e.kind == "limited":
            _fail(baton, fu, inc, f"{e.problem}, for longer than Baton waits")
        else:
            _fail(baton, fu, inc, f"no issue after {format_duration(elapsed)} of trying (last: {e.problem})")
        return
    _fail(baton, fu, inc, e.problem)


def _created(s: Session, fu: FollowUp, inc: Incident, issue: Issue, *, now: datetime) -> None:
    """Recorded with the step's mark (bot/store/delivery.py): the issue's key and URL."""
    done = s.execute(
        update(FollowUp)
        .where(col(FollowUp.id) == fu.id, col(FollowUp.tracker_state) == PENDING)
        .values(tracker_state=CREATED, tracker_key=issue.key, tracker_url=issue.url, tracker_error=None)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 1:  # type: ignore[attr-defined]
        assert inc.id is not None
        name = NAMES.get(fu.tracker or "", "the tracker")
        timeline(
            s,
            inc.id,
            at=now,
            actor="baton",
            kind="follow-up tracked",
            text=f"follow-up #{fu.id} is {name} issue {issue.key} ({issue.url})",
            follow_up=fu.id,
            key=issue.key,
        )


def _fail(baton: Baton, fu: FollowUp, inc: Incident, why: str) -> None:
    """The follow-up has no issue and will not get one: stored, on the timeline and said in the
    incident channel, in one transaction, once (only the try that ends it pending says so)."""
    now = baton.clock.now()
    name = NAMES.get(fu.tracker or "", "the tracker")
    with session(baton.engine) as s:
        done = s.execute(
            update(FollowUp)
            .where(col(FollowUp.id) == fu.id, col(FollowUp.tracker_state) == PENDING)
            .values(tracker_state=FAILED, tracker_error=why)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            assert inc.id is not None
            what = clip(" ".join(_typed(fu.text).split()), 80)
            timeline(
                s,
                inc.id,
                at=now,
                actor="baton",
                kind="follow-up untracked",
                text=f"follow-up #{fu.id} is not in {name}: {why}",
                follow_up=fu.id,
            )
            rooms.post(
                s,
                inc,
                text=f":warning: The follow-up “{escape(what)}” is not in {name}: {escape(why)}. "
                "It is kept in Baton.",
                now=now,
            )
        s.commit()
    baton.wake()


ISSUE = JobKind(IssuePayload, run_issue)
HANDLERS = registry(ISSUE)
