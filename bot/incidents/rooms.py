"""The incident channel: created, named, topped and pinned by jobs, and spoken in.

Set-up is its own job so that pages (separate rows) never wait behind a slow or rate-limited
conversations.create; everything that speaks in the channel defers until the channel exists.
Set-up records each step it finished (create, invite, topic, post, pin), so a retry resumes at
the steps that failed, and it never makes a second channel for one incident: a `name_taken`
for a channel Baton itself just created (its answer was lost) adopts that channel. When set-up
gives up for good, what was meant for the channel goes to the reporter by DM.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.incidents import announce, messages, recipients
from bot.incidents.naming import channel_name
from bot.incidents.paging import INVITED, PagePayload, PagerPayload, timeline
from bot.slack.chat import ChatError
from bot.store import delivery, jobs, outbox
from bot.store.db import session
from bot.store.kinds import JobKind, Payload, registry
from bot.store.models import Incident, Job
from bot.store.outbox import PostPayload
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 20


def _done(baton: Baton, inc: Incident, step: str, *more: str, **values: Any) -> Incident:
    """Record a finished set-up step (and what it produced), so a retry skips it."""
    with _recording, session(baton.engine) as s:
        row = s.get(Incident, inc.id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)
        row.setup_done = [*row.setup_done, step, *more]
        s.add(row)
        if step == "create":
            assert row.id is not None
            timeline(
                s,
                row.id,
                at=baton.clock.now(),
                actor="baton",
                kind="channel",
                text=f"created #{row.channel_name}",
            )
            announce.channel_made(s, row.id, now=baton.clock.now())  # its link is there now
        s.commit()
    if step == "create":
        baton.wake()
    return row


class SetupPayload(Payload):
    """The incident channel's set-up: create, invite, topic, opening message, pin."""

    KIND = "setup"


class TopicPayload(Payload):
    """The channel's topic, said again after a change (severity, commander, status)."""

    KIND = "topic"


class InvitePayload(Payload):
    """People to invite to the incident channel (a new commander)."""

    KIND = "invite"
    users: list[str]


# The set-up's steps after `create` run side by side, and each records itself when done: the
# read-modify-write of setup_done must not interleave (one set-up job runs per incident, so a
# lock of this process is enough).
_recording = threading.Lock()


def run_setup(baton: Baton, job: Job, payload: SetupPayload) -> None:
    """Create the channel; then invite everyone, set the topic and post the opening message side
    by side; then pin it. Three round trips to Slack when nothing fails.

    Each step is recorded as it finishes, so a retry (or a restart after a crash) does only the
    steps still missing, and none twice.
    """
    inc = jobs.incident_of(baton.engine, job)
    assert inc.id is not None
    if inc.channel_id is None:
        channel_id, name = _create(baton, inc)
        inc = _done(baton, inc, "create", channel_id=channel_id, channel_name=name)
    channel = inc.channel_id
    assert channel is not None
    steps: list[Callable[[], Incident]] = []
    if "invite" not in inc.setup_done:
        steps.append(lambda: _invite_everyone(baton, inc))
    if "topic" not in inc.setup_done:
        steps.append(lambda: _set_topic(baton, inc))
    if inc.opening_ts is None:
        steps.append(lambda: _post_opening(baton, job, inc))
    latest, error = _side_by_side(steps)
    inc = latest or inc
    if inc.opening_ts is not None and "pin" not in inc.setup_done:
        baton.chat.pin(channel, inc.opening_ts)
        inc = _done(baton, inc, "pin")
    if error is not None:
        raise error  # the step that failed is retried on its own, with the job's backoff


def _side_by_side(steps: Sequence[Callable[[], Incident]]) -> tuple[Incident | None, BaseException | None]:
    """Run the steps at once (the last on this thread); the incident as the last one to finish
    left it, and the first error (each step that succeeded is recorded all the same)."""
    if not steps:
        return None, None
    latest: Incident | None = None
    errors: list[BaseException] = []
    pool = ThreadPoolExecutor(max_workers=len(steps) - 1) if len(steps) > 1 else None
    try:
        futures = [pool.submit(step) for step in steps[:-1]] if pool is not None else []
        results: list[Incident] = []
        try:
            results.append(steps[-1]())
        except Exception as e:
            errors.append(e)
        for future in futures:
            try:
                results.append(future.result())
            except Exception as e:
                errors.append(e)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    # The row as last written holds every step recorded so far.
    for row in results:
        if latest is None or len(row.setup_done) > len(latest.setup_done):
            latest = row
    return latest, (errors[0] if errors else None)


def _invite_everyone(baton: Baton, inc: Incident) -> Incident:
    """One invitation for the reporter, the commander and everyone step 0 pages: people only
    (an incident Alertmanager or an SLO check declared has no human reporter, and Slack refuses
    a bot's or an app's ID, and Baton itself, in conversations.invite)."""
    assert inc.channel_id is not None
    me = baton.chat.bot_user_id()
    people = sorted(
        u
        for u in {inc.declared_by, inc.commander, *_first_paged(inc)}
        if u and messages.USER_ID.fullmatch(u) and u != me
    )
    invited = _invite(baton, inc, people)
    return _done(baton, inc, "invite", *(INVITED + u for u in invited))


def _invite(baton: Baton, inc: Incident, people: list[str]) -> list[str]:
    """Invite `people` in one call; when Slack refuses the call for one of them (deactivated,
    not in the workspace), invite the others one by one. Who made it in."""
    assert inc.channel_id is not None
    try:
        baton.chat.invite(inc.channel_id, people)
        return people
    except ChatError as e:
        if e.retryable:
            raise
        if len(people) == 1:
            log.warning("could not invite %s to %s: %s", people[0], inc.channel_name, e.error)
            return []
    return [u for u in people if _invite(baton, inc, [u])]


def _set_topic(baton: Baton, inc: Incident) -> Incident:
    assert inc.channel_id is not None
    baton.chat.set_topic(inc.channel_id, messages.topic(inc))
    return _done(baton, inc, "topic")


def _post_opening(baton: Baton, job: Job, inc: Incident) -> Incident:
    assert inc.channel_id is not None
    text, blocks = messages.opening(inc, _first_paged(inc))
    # Once: a set-up retried after the post went out (its answer lost, or the record of it)
    # finds it in the channel instead of posting a second card.
    ts = delivery.post(baton, job, inc.channel_id, text=text, blocks=blocks, step="opening").ts
    return _done(baton, inc, "post", opening_ts=ts)


def _first_paged(inc: Incident) -> list[str]:
    """The people step 0 of the ladder pages (Slack user IDs)."""
    first = inc.policy.step(0)
    return [p.user for p in first.notify if p.user] if first is not None else []


def _create(baton: Baton, inc: Incident) -> tuple[str, str]:
    """Create the channel, suffixing the name on collisions.

    Each name is written down before Baton first asks for it (conversations.create is sent
    once per call, never retried inside slack_sdk), so a later `name_taken` for a name asked
    for before means an earlier answer was lost, or the process died: that channel is ours.
    """
    assert inc.id is not None
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = channel_name(
            number=inc.id, declared_at=inc.declared_at, title=inc.title, attempt=attempt, drill=inc.drill
        )
        asked_before = f"try:{name}" in inc.setup_done
        if not asked_before:
            inc = _done(baton, inc, f"try:{name}")
        try:
            return baton.chat.create_channel(name), name
        except ChatError as e:
            if e.error != "name_taken":
                raise
        if asked_before:
            ours = _ours(baton, name)
            if ours is not None:
                return ours, name
    raise jobs.Fail(f"no free channel name after {MAX_NAME_ATTEMPTS} tries")


def _ours(baton: Baton, name: str) -> str | None:
    """The ID of channel `name` if Baton created it and no incident has it yet."""
    found = baton.chat.find_channel(name)
    if found is None or found.get("creator") != baton.chat.bot_user_id():
        return None
    with session(baton.engine) as s:
        taken = s.exec(select(Incident.id).where(col(Incident.channel_id) == found["id"])).first()
    return None if taken is not None else str(found["id"])


def _channel(baton: Baton, job: Job) -> tuple[Incident, str | None]:
    """The incident and its channel, once there is one; (incident, None) when set-up gave up."""
    with session(baton.engine) as s:
        jobs.wait_turn(s, job, now=baton.clock.now())
    inc = jobs.incident_of(baton.engine, job)
    if inc.channel_id is None:
        if inc.backlog and inc.channel_error is None:
            raise jobs.Fail("a backlog item has no channel")
        if inc.channel_error is None:
            raise jobs.Defer("the channel is not created yet")
    return inc, inc.channel_id


def run_post(baton: Baton, job: Job, payload: PostPayload) -> None:
    """Post a message, once (bot/store/delivery.py): one that names where it goes through the
    outbox; else in the incident channel. Without a channel (set-up gave up), or when it is a
    report for "whoever can hear it" (`to_people`), the first of the reporter, the commander,
    the accountable person and the team's channel gets it."""
    if payload.addressed:
        outbox.run(baton, job, payload)
        return
    text, blocks = payload.text, payload.blocks
    if payload.to_people:
        inc, target = jobs.incident_of(baton.engine, job), None
    else:
        inc, target = _channel(baton, job)
    if target is None:
        outbox.post_to_first(baton, job, recipients.who_hears(baton, inc), text=text, blocks=blocks)
        return
    delivery.post(baton, job, target, text=text, blocks=blocks)


def run_topic(baton: Baton, job: Job, payload: TopicPayload) -> None:
    inc, channel = _channel(baton, job)
    if channel is not None:
        baton.chat.set_topic(channel, messages.topic(inc))


def run_invite(baton: Baton, job: Job, payload: InvitePayload) -> None:
    _, channel = _channel(baton, job)
    if channel is not None:
        baton.chat.invite(channel, payload.users)


def post(
    s: Session, inc: Incident, *, text: str, now: datetime, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Queue a message for the incident channel (sent once the channel exists). A backlog item
    has no channel: what happens to it is on its timeline."""
    if inc.backlog and inc.channel_id is None:
        return
    PostPayload(text=text, blocks=blocks or None).enqueue(s, incident_id=inc.id, due_at=now, now=now)


# -- when a job fails ----------------------------------------------------------------------------


def _failure_text(inc: Incident, job: Job, error: str, final: bool) -> str:
    page = PagePayload.peek(job)
    if page is not None:
        who = f"<@{page.user}>" if page.user else page.ref
        return f":warning: Could not page {who} by DM: {error}. Page them another way if this persists."
    pager = PagerPayload.peek(job)
    if job.kind == PagerPayload.KIND:
        what = f"{pager.pager} ({pager.action})" if pager is not None else "(one that cannot be read)"
        return f":warning: External pager {what} failed: {error}."
    if job.kind == "setup":
        then = (
            "Pages still go out by DM, and what would be said in the channel comes to you here."
            if final
            else "Pages go out by DM meanwhile."
        )
        return (
            f":warning: Could not set up the channel for incident #{inc.id} ({messages.title(inc, 100)}): "
            f"{error}. {then}"
        )
    post = PostPayload.peek(job)
    if post is not None and post.backlog:
        return (
            f":warning: Could not post backlog item #{inc.id} ({messages.title(inc, 100)}) to "
            f"<#{post.channel}>: {error}. It is recorded: `/incident list` shows it."
        )
    where = f"<#{inc.channel_id}>" if inc.channel_id else "the incident channel"
    return f":warning: Baton could not {job.kind} in {where} for incident #{inc.id}: {error}."


def report_failure(baton: Baton, job: Job, error: str, final: bool, *, unexpected: bool = False) -> None:
    """Tell a person that something Baton owed did not go out (or is being retried).

    A failure to speak in the channel, or of the channel itself, goes to the reporter by DM (or,
    when there is no reporter to reach, the commander, the accountable person, the team's
    channel: bot/incidents/recipients.py); pages and pager events are reported in the channel
    (to those people when there is none). A report
    that itself fails is only logged and counted: reporting it would loop. Messages Slack
    refuses for a while are retried quietly, but an unexpected failure (a bug, the database
    refusing) is told of at its first try, whatever the job.
    """
    if job.incident_id is None:
        outbox.report_give_up(baton, job, error, final, unexpected=unexpected)
        return
    if job.payload.get("report"):  # a report is never reported in turn, even one that does not fit
        return
    in_channel = job.kind not in (*jobs.CHANNEL_KINDS, POST.name)
    if not final and not unexpected and job.kind not in ("page", "pager", "setup"):
        return  # messages are retried quietly; people hear when one is given up
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = s.get(Incident, job.incident_id)
        if inc is None:
            return
        text = _failure_text(inc, job, error, final)
        if job.kind == "setup" and final:
            inc.channel_error = error
            s.add(inc)
        assert inc.id is not None
        timeline(s, inc.id, at=now, actor="baton", kind="failure", text=text)
        # The channel, once it exists (or whoever can hear it, should its set-up give up later).
        to_channel = in_channel and not (inc.backlog and inc.channel_id is None)
        report = PostPayload(text=text, report=True, to_people=not to_channel)
        report.enqueue(s, incident_id=inc.id, due_at=now, now=now)
        s.commit()
    baton.wake()


SETUP = JobKind(SetupPayload, run_setup)
POST = JobKind(PostPayload, run_post)
TOPIC = JobKind(TopicPayload, run_topic)
INVITE = JobKind(InvitePayload, run_invite)
# With the announcement's kinds (bot/incidents/announce.py): every ticker that runs an
# incident's channel runs its announcement and FYI too.
HANDLERS = registry(SETUP, POST, TOPIC, INVITE, *announce.HANDLERS.values())
