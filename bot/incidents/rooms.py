"""The incident channel: created, named, topped and pinned by jobs, and spoken in.

Set-up is its own job so that pages (separate rows) never wait behind a slow or rate-limited
conversations.create; everything that speaks in the channel defers until the channel exists.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.incidents import messages
from bot.incidents.naming import channel_name
from bot.incidents.paging import timeline
from bot.slack.chat import ChatError
from bot.store import jobs
from bot.store.db import session
from bot.store.models import Incident, Job
from bot.store.runtime import Baton

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 20


def run_setup(baton: Baton, job: Job) -> None:
    """Create the channel (suffixing the name on collisions), invite, set the topic, post and pin."""
    chat = baton.chat
    with session(baton.engine) as s:
        inc = s.get(Incident, job.incident_id)
        if inc is None:
            raise jobs.Fail(f"incident {job.incident_id} is gone")
    assert inc.id is not None
    if inc.channel_id is None:
        channel_id, name = _create(baton, inc)
        with session(baton.engine) as s:
            row = s.get(Incident, inc.id)
            assert row is not None
            row.channel_id, row.channel_name = channel_id, name
            s.add(row)
            timeline(s, inc.id, at=baton.clock.now(), actor="baton", kind="channel", text=f"created #{name}")
            s.commit()
            inc = row
        baton.wake()  # notices waiting for the channel can go now
    assert inc.channel_id is not None
    people = [u for u in {inc.declared_by, inc.commander} if u]
    try:
        chat.invite(inc.channel_id, people)
    except ChatError as e:
        if e.retryable:
            raise
        log.warning("could not invite %s to %s: %s", people, inc.channel_name, e.error)
    chat.set_topic(inc.channel_id, messages.topic(inc))
    if inc.opening_ts is None:
        first: dict[str, Any] = next(
            (st for st in inc.policy.get("steps", []) if st["index"] == 0), {"notify": []}
        )
        text, blocks = messages.opening(inc, [p["user"] for p in first["notify"] if p["user"]])
        ts = chat.post_message(inc.channel_id, text=text, blocks=blocks)
        with session(baton.engine) as s:
            row = s.get(Incident, inc.id)
            assert row is not None
            row.opening_ts = ts
            s.add(row)
            s.commit()
        chat.pin(inc.channel_id, ts)


def _create(baton: Baton, inc: Incident) -> tuple[str, str]:
    assert inc.id is not None
    for attempt in range(MAX_NAME_ATTEMPTS):
        name = channel_name(number=inc.id, declared_at=inc.declared_at, title=inc.title, attempt=attempt)
        try:
            return baton.chat.create_channel(name), name
        except ChatError as e:
            if e.error != "name_taken":
                raise
    raise jobs.Fail(f"no free channel name after {MAX_NAME_ATTEMPTS} tries")


def _channel(baton: Baton, job: Job) -> tuple[Incident, str]:
    with session(baton.engine) as s:
        jobs.wait_turn(s, job, now=baton.clock.now())
        inc = s.get(Incident, job.incident_id)
    if inc is None:
        raise jobs.Fail(f"incident {job.incident_id} is gone")
    if inc.channel_id is None:
        if inc.backlog:
            raise jobs.Fail("a backlog item has no channel")
        raise jobs.Defer("the channel is not created yet")
    return inc, inc.channel_id


def run_post(baton: Baton, job: Job) -> None:
    """Post a message: in the incident channel, or to `channel` (a channel ID or a user's DM)."""
    target = job.payload.get("channel")
    if target is None:
        _, target = _channel(baton, job)
    baton.chat.post_message(target, text=job.payload["text"], blocks=job.payload.get("blocks"))


def run_topic(baton: Baton, job: Job) -> None:
    inc, channel = _channel(baton, job)
    baton.chat.set_topic(channel, messages.topic(inc))


def run_invite(baton: Baton, job: Job) -> None:
    _, channel = _channel(baton, job)
    baton.chat.invite(channel, job.payload["users"])


def post(
    s: Session, inc: Incident, *, text: str, now: datetime, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Queue a message for the incident channel (sent once the channel exists)."""
    payload: dict[str, Any] = {"text": text}
    if blocks:
        payload["blocks"] = blocks
    jobs.enqueue(s, kind="post", incident_id=inc.id, due_at=now, now=now, payload=payload)


def report_failure(baton: Baton, job: Job, error: str) -> None:
    """Say in the channel (or to the reporter) that something Baton owed did not go out."""
    if job.kind in ("post", "topic", "invite") or job.incident_id is None:
        return  # speaking about a failure to speak would loop
    now = baton.clock.now()
    with session(baton.engine) as s:
        inc = s.get(Incident, job.incident_id)
        if inc is None:
            return
        if job.kind == "page":
            who = f"<@{job.payload['user']}>" if job.payload.get("user") else job.payload.get("ref")
            text = f":warning: Could not page {who} by DM: {error}. Page them another way if this persists."
        elif job.kind == "pager":
            what = f"{job.payload.get('pager')} ({job.payload.get('action')})"
            text = f":warning: External pager {what} failed: {error}."
        elif job.kind == "setup":
            text = (
                f":warning: Could not set up the channel for incident #{inc.id} ({inc.title}): {error}. "
                "Pages still go out by DM."
            )
            jobs.enqueue(
                s,
                kind="post",
                incident_id=inc.id,
                due_at=now,
                now=now,
                payload={"channel": inc.declared_by, "text": text},
            )
            timeline(s, inc.id or 0, at=now, actor="baton", kind="failure", text=text)
            s.commit()
            baton.wake()
            return
        else:
            text = f":warning: {job.kind} failed: {error}."
        timeline(s, inc.id or 0, at=now, actor="baton", kind="failure", text=text)
        if inc.channel_id or not inc.backlog:
            post(s, inc, text=text, now=now)
        s.commit()
    baton.wake()


HANDLERS = {"setup": run_setup, "post": run_post, "topic": run_topic, "invite": run_invite}
