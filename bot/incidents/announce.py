"""The announcement and the FYI (ownership.yaml `announce:`), as jobs.

One message per incident in `announce.channel`, for every way an incident is born (they all end
in `declaration.declare_in`, which calls `declared`), edited in place whenever a change the message
shows is recorded (`services._record` calls `changed`). Each "announce" job renders the
incident as it stands when the job runs: the first one posts (once, bot/store/delivery.py) and
keeps the message's ts on the incident; later ones chat.update that ts. One job posts it, on
one replica or several: it claims the post on the incident's locked row first (announce_ts
"job:<id>" until Slack's ts replaces it), and the others defer until the ts is there. Edits
take turns per incident (`jobs.wait_turn`), so they land in order. A status is also said in
the announcement's thread ("announce_thread", which waits for the announcement).

None of it ever delays the channel or a page: its own job kinds, not PAGE_KINDS, due when the
incident channel is made (`channel_made`, from rooms.py), so that it links to it, or 30 s
after the declaration without it: never claimed alongside the pages. Slack refusing the post
for a while (429, 5xx) retries the job; refusing it for good (not_in_channel,
channel_not_found) is said once in the incident channel.

The FYI: the area's consulted and informed people whom the incident does not page at once get
one DM when it is declared and one when it is resolved, with no button ("fyi" jobs). Whoever a
later step or a raise pages is paged as usual, by the ladder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.config.fields import SEVERITIES
from bot.incidents import messages
from bot.incidents.announcement import announcement, fyi
from bot.incidents.paging import timeline
from bot.slack.chat import ChatError
from bot.store import delivery, jobs
from bot.store.db import reading, session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job, TimelineEvent
from bot.store.outbox import PostPayload
from bot.store.runtime import Baton
from bot.text import drill

log = logging.getLogger(__name__)

# How long the first announcement (and a declaration's FYI) waits for the incident channel, so
# that it links to it; past that it goes without, and the link is added when the channel exists.
CHANNEL_WAIT = timedelta(seconds=30)
LINK_AGAIN = timedelta(seconds=30)
# What the announcement shows: a change recorded as one of these edits it.
SHOWN = frozenset({"acknowledged", "severity", "status", "commander", "resolved", "reopened"})
# Timeline kinds: the announcement posted; Slack refusing it for good (said once).
ANNOUNCED, REFUSED = "announced", "announce_refused"


class AnnouncePayload(Payload):
    """Post the incident's announcement, or edit it to the incident's current state."""

    KIND = "announce"
    relink: bool = False  # queued to add the channel's link once it exists (set-up was slow)


class ThreadPayload(Payload):
    """A status update, said again in the announcement's thread."""

    KIND = "announce_thread"
    text: str


class FyiPayload(Payload):
    """The FYI DMs of a declaration (or a resolve) to the consulted and informed nobody pages."""

    KIND = "fyi"
    resolved: bool = False


# -- queued by the services, in their transaction ----------------------------------------------


def where(baton: Baton, inc: Incident) -> str | None:
    """The announce channel, if the incident's severity is announced (P3 only when min_severity
    says P3); None when it is not, or nothing is announced."""
    cfg = baton.config.ownership.announce
    if cfg is None or inc.severity not in SEVERITIES:
        return None
    return cfg.channel if SEVERITIES.index(inc.severity) <= SEVERITIES.index(cfg.min_severity) else None


def declared(baton: Baton, s: Session, inc: Incident, *, now: datetime) -> None:
    """A new incident (any way it was born): its announcement, and its FYI DMs, due when the
    incident channel exists (`channel_made`), to link to it, or CHANNEL_WAIT from now without
    it: never claimed ahead of the channel's set-up or the pages."""
    assert inc.id is not None
    linked = now + CHANNEL_WAIT if _channel_coming(inc) else now
    channel = where(baton, inc)
    if channel is not None:
        inc.announce_channel = channel
        s.add(inc)
        AnnouncePayload().enqueue(s, incident_id=inc.id, due_at=linked, now=now)
    if not inc.backlog and informed(baton, inc):
        FyiPayload().enqueue(s, incident_id=inc.id, due_at=linked, now=now)


def changed(s: Session, inc: Incident, *, kind: str, actor: str, text: str, now: datetime) -> None:
    """A change on the record (services._record): the announcement is edited, a status goes to
    its thread, a resolve tells the FYI people. A severity change may make an incident that was
    not announced one that is: its job decides, with the config at hand."""
    if kind not in SHOWN:
        return
    assert inc.id is not None
    if inc.announce_channel is not None or kind == "severity":
        # A first post (a raise out of the backlog, whose channel the raise just asked for)
        # waits for the channel like a declaration's, to link to it; an edit goes now.
        first = inc.announce_ts is None and _channel_coming(inc)
        AnnouncePayload().enqueue(s, incident_id=inc.id, due_at=now + CHANNEL_WAIT if first else now, now=now)
    if kind == "status" and inc.announce_channel is not None:
        ThreadPayload(text=messages.status(actor, text)).enqueue(s, incident_id=inc.id, due_at=now, now=now)
    if kind == "resolved" and not inc.backlog:
        FyiPayload(resolved=True).enqueue(s, incident_id=inc.id, due_at=now, now=now)


def informed(baton: Baton, inc: Incident) -> list[str]:
    """The area's consulted and informed people (Slack user IDs) whom the incident does not page
    at once at its level: not in the steps due at the window's start, nor its commander or
    reporter. (Later steps page wider, up to everyone at the breach: until then they are told,
    not paged.)"""
    try:
        raci = baton.ownership.raci(inc.area)
    except Exception:  # the area left ownership.yaml since: nobody to tell
        return []
    paged = {p.user for st in inc.policy.steps if st.after <= 0 for p in st.notify if p.user}
    out: list[str] = []
    for ref in [*raci.consulted, *raci.informed]:
        user = baton.ownership.user_id(ref)
        if user and user not in paged and user not in out and user not in (inc.commander, inc.declared_by):
            out.append(user)
    return out


# -- the jobs ----------------------------------------------------------------------------------

# announce_ts while a job posts the first message: "job:<id>", claimed on the incident's row.
CLAIM = "job:"


def posted_ts(inc: Incident) -> str | None:
    """The announcement's ts once it is posted (not a job's claim to post it)."""
    ts = inc.announce_ts
    return None if ts is None or ts.startswith(CLAIM) else ts


def _channel_coming(inc: Incident) -> bool:
    """Whether the incident channel is still being set up."""
    return not inc.backlog and inc.channel_id is None and inc.channel_error is None


def channel_made(s: Session, incident_id: int, *, now: datetime) -> None:
    """The incident channel exists (bot/incidents/rooms.py, in the transaction that records it):
    the announcement and FYI that waited for its link are due now."""
    s.execute(
        update(Job)
        .where(
            col(Job.incident_id) == incident_id,
            col(Job.kind).in_([AnnouncePayload.KIND, FyiPayload.KIND]),
            col(Job.state) == "pending",
            col(Job.due_at) > now,
        )
        .values(due_at=now, retry_at=None)
        .execution_options(synchronize_session=False)
    )


def _take_turn(baton: Baton, job: Job) -> None:
    """After every earlier announce job of the incident that is due: edits keep their order."""
    with reading(baton.engine) as s:
        jobs.wait_turn(s, job, now=baton.clock.now(), kinds=(AnnouncePayload.KIND,))


def _claim(baton: Baton, job: Job) -> str | None:
    """The announcement's ts, to edit; or None: this job posts it, having claimed that on the
    incident's row (locked), so one job posts it, on one replica or several. Defer while
    another job that is still alive holds the claim; take it over from one that ended."""
    mine = f"{CLAIM}{job.id}"
    with session(baton.engine) as s:
        inc = s.exec(select(Incident).where(col(Incident.id) == job.incident_id).with_for_update()).first()
        if inc is None:
            raise jobs.Fail(f"incident {job.incident_id} is gone")
        held = inc.announce_ts
        if held is not None and not held.startswith(CLAIM):
            return held
        if held is not None and held != mine:
            other = s.get(Job, int(held.removeprefix(CLAIM)))
            if other is not None and other.state in ("pending", "running"):
                raise jobs.Defer(f"job {other.id} posts the announcement")
        inc.announce_ts = mine
        s.add(inc)
        s.commit()
    return None


def _unclaim(baton: Baton, job: Job) -> None:
    with session(baton.engine) as s:
        s.execute(
            update(Incident)
            .where(col(Incident.id) == job.incident_id, col(Incident.announce_ts) == f"{CLAIM}{job.id}")
            .values(announce_ts=None)
        )
        s.commit()


def _link_later(s: Session, inc: Incident, now: datetime) -> None:
    """Said without the channel (its set-up is slow): said again once it exists (channel_made
    brings this forward), or in LINK_AGAIN."""
    if _channel_coming(inc):
        AnnouncePayload(relink=True).enqueue(s, incident_id=inc.id, due_at=now + LINK_AGAIN, now=now)


def run_announce(baton: Baton, job: Job, payload: AnnouncePayload) -> None:
    _take_turn(baton, job)
    inc = jobs.incident_of(baton.engine, job)
    channel = inc.announce_channel or where(baton, inc)
    if channel is None:
        return  # not announced at this severity
    ts = _claim(baton, job)
    inc = jobs.incident_of(baton.engine, job)  # as it is now, after any change made while this job waited
    if ts is not None:
        _update(baton, inc, inc.announce_channel or channel, ts, relink=payload.relink)
        return
    text, blocks = announcement(inc)
    try:
        sent = delivery.post(
            baton,
            job,
            channel,
            text=text,
            blocks=blocks,
            step="announce",
            record=_posted(baton, inc, channel),
        )
    except ChatError as e:
        if e.retryable:
            raise  # 429 / 5xx: the job's retry (a lost answer is looked for first: no second post)
        _unclaim(baton, job)
        _refused(baton, inc, channel, e.error)
        return
    if not sent.fresh and inc.channel_id is not None:
        # Found after a lost answer: an earlier try drew it, perhaps before the channel existed.
        with session(baton.engine) as s:
            AnnouncePayload(relink=True).enqueue(
                s, incident_id=inc.id, due_at=baton.clock.now(), now=baton.clock.now()
            )
            s.commit()
    baton.wake()


def _posted(baton: Baton, inc: Incident, channel: str) -> Callable[[Session, str | None], None]:
    """The record of the first post, with the delivery's mark: where and which message."""

    def record(s: Session, ts: str | None) -> None:
        row = s.get(Incident, inc.id)
        if row is None:
            return
        row.announce_channel, row.announce_ts = channel, ts
        s.add(row)
        assert row.id is not None
        now = baton.clock.now()
        timeline(s, row.id, at=now, actor="baton", kind=ANNOUNCED, text=f"announced in <#{channel}>")
        _relink(s, shown=inc, now_is=row, now=now)

    return record


def _relink(s: Session, *, shown: Incident, now_is: Incident, now: datetime) -> None:
    """After a post or an edit rendered from `shown`: the link to the channel follows. Edited now
    if the channel was made while the message was on its way (nothing else would: channel_made
    found no job waiting), or later while it is still being set up."""
    if shown.channel_id is None and now_is.channel_id is not None:
        AnnouncePayload(relink=True).enqueue(s, incident_id=now_is.id, due_at=now, now=now)
    else:
        _link_later(s, now_is, now)


def _update(baton: Baton, inc: Incident, channel: str, ts: str, *, relink: bool) -> None:
    text, blocks = announcement(inc)
    if inc.drill:
        text, listed = drill.said(text), drill.blocks(blocks)
        blocks = listed or []
    try:
        baton.chat.update_message(channel, ts, text=text, blocks=blocks)
    except ChatError as e:
        if e.retryable:
            raise
        _refused(baton, inc, channel, e.error)
        return
    now = baton.clock.now()
    with session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        made_since = row is not None and inc.channel_id is None and row.channel_id is not None
        # One chain of relinks, from the first post; and one edit if the channel came meanwhile.
        if row is not None and (made_since or (relink and _channel_coming(row))):
            _relink(s, shown=inc, now_is=row, now=now)
            s.commit()
    if made_since:
        baton.wake()


def _refused(baton: Baton, inc: Incident, channel: str, error: str) -> None:
    """Slack refused the announcement for good: said in the incident channel, once per incident
    (a later change tries again, quietly)."""
    assert inc.id is not None
    log.warning("incident %s: the announcement in %s was refused: %s", inc.id, channel, error)
    now = baton.clock.now()
    with session(baton.engine) as s:
        told = s.exec(
            select(TimelineEvent.id)
            .where(col(TimelineEvent.incident_id) == inc.id, col(TimelineEvent.kind) == REFUSED)
            .limit(1)
        ).first()
        if told is not None:
            return
        text = refusal(channel, error)
        timeline(s, inc.id, at=now, actor="baton", kind=REFUSED, text=text)
        to_people = inc.backlog and inc.channel_id is None  # no channel to say it in
        PostPayload(text=text, report=True, to_people=to_people).enqueue(
            s, incident_id=inc.id, due_at=now, now=now
        )
        s.commit()
    baton.wake()


def refusal(channel: str, error: str) -> str:
    if error in ("not_in_channel", "is_archived", "channel_not_found"):
        fix = {
            "not_in_channel": f"invite Baton there (`/invite @baton` in <#{channel}>)",
            "is_archived": "unarchive it, or put another channel in ownership.yaml `announce.channel`",
            "channel_not_found": "check `announce.channel` in ownership.yaml (a channel's ID)",
        }[error]
    else:
        fix = "`baton check --slack` says what is wrong"
    return (
        f":warning: Baton could not announce this incident in <#{channel}> ({error}): {fix}. "
        "The incident and its pages are not affected."
    )


def run_thread(baton: Baton, job: Job, payload: ThreadPayload) -> None:
    """The status in the announcement's thread, once the announcement is there; nothing when
    there is none and none is coming (not announced, or refused: that was said)."""
    _take_turn(baton, job)
    inc = jobs.incident_of(baton.engine, job)
    ts = posted_ts(inc)
    if ts is None or inc.announce_channel is None:
        with reading(baton.engine) as s:
            coming = s.exec(
                select(Job.id).where(
                    col(Job.incident_id) == inc.id,
                    col(Job.kind) == AnnouncePayload.KIND,
                    col(Job.state).in_(["pending", "running"]),
                )
            ).first()
        if coming is not None:
            raise jobs.Defer("the announcement is not posted yet", after=timedelta(seconds=1))
        return
    try:
        delivery.post(baton, job, inc.announce_channel, text=payload.text, step="thread", thread_ts=ts)
    except ChatError as e:
        if e.retryable:
            raise
        log.warning("incident %s: status not said in the announcement's thread: %s", inc.id, e.error)


def run_fyi(baton: Baton, job: Job, payload: FyiPayload) -> None:
    """One DM to each consulted or informed person not paged, each sent once however often the
    job is tried. One Slack refuses for good (a deactivated account) is logged; the rest go."""
    inc = jobs.incident_of(baton.engine, job)
    text, blocks = fyi(inc, resolved=payload.resolved)
    for user in informed(baton, inc):
        try:
            delivery.post(baton, job, user, text=text, blocks=blocks, step=f"fyi:{user}")
        except ChatError as e:
            if e.retryable:
                raise
            log.warning("incident %s: FYI to %s refused: %s", inc.id, user, e.error)


ANNOUNCE = JobKind(AnnouncePayload, run_announce)
THREAD = JobKind(ThreadPayload, run_thread)
FYI = JobKind(FyiPayload, run_fyi)
HANDLERS = registry(ANNOUNCE, THREAD, FYI)
