"""An incident's follow-ups as its record holds them (bot/incidents/notes.py: the note posted on
resolve, `baton export` in Markdown, JSON and HTML), read straight from the follow_up table.

Adding them and marking them done is bot/followups/'s, a layer above this one; what a row means
when shown (its tracker's state: "not yet in GitHub") is said here once, for every surface.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.store.models import FollowUp

TRACKERS = {"github": "GitHub", "jira": "Jira"}
# A URL a tracker gave back that may be shown as a link: http(s), nothing that could close or
# label a Slack link, no white space.
LINKABLE = re.compile(r"https?://[^<>|\s\"'`]+")


@dataclass(frozen=True)
class FollowUpItem:
    """One follow-up: its text (masked when stored), who owns it, whether it is done, and its
    issue in a tracker once it has one."""

    id: int
    text: str
    owner: str | None  # a Slack user ID
    created_by: str
    created_at: datetime
    state: str  # open / done
    done_by: str | None
    done_at: datetime | None
    tracker: str | None  # github / jira
    tracker_state: str | None  # pending / created / failed
    tracker_key: str | None
    tracker_url: str | None
    tracker_error: str | None = None  # why it is not there, once given up


def item(fu: FollowUp) -> FollowUpItem:
    assert fu.id is not None
    return FollowUpItem(
        id=fu.id,
        text=fu.text,
        owner=fu.owner,
        created_by=fu.created_by,
        created_at=fu.created_at,
        state=fu.state,
        done_by=fu.done_by,
        done_at=fu.done_at,
        tracker=fu.tracker,
        tracker_state=fu.tracker_state,
        tracker_key=fu.tracker_key,
        tracker_url=fu.tracker_url,
        tracker_error=fu.tracker_error,
    )


def follow_ups(s: Session, incident_id: int) -> list[FollowUp]:
    """The incident's follow-ups, oldest first."""
    return list(
        s.exec(
            select(FollowUp)
            .where(col(FollowUp.incident_id) == incident_id)
            .order_by(col(FollowUp.created_at), col(FollowUp.id))
        ).all()
    )


def tracker_name(tracker: str | None) -> str:
    return TRACKERS.get(tracker or "", tracker or "the tracker")


def link(url: str | None) -> str | None:
    """The tracker's URL if it can be shown as a link, else None."""
    return url if url and LINKABLE.fullmatch(url) else None


def tracker_status(tracker: str | None, state: str | None, error: str | None = None) -> str | None:
    """What to say of a follow-up with no issue (yet), as plain text: "not yet in GitHub" while
    it is being made, "not in Jira: <why>" once given up; None without a tracker or once made."""
    if not tracker or state in (None, "created"):
        return None
    if state == "failed":
        return f"not in {tracker_name(tracker)}: {error or 'creation failed'}"
    return f"not yet in {tracker_name(tracker)}"


def markdown_line(
    f: FollowUpItem, who: Callable[[str | None], str], when: Callable[[datetime | None], str]
) -> str:
    """`- [ ] Add a canary for prompt v42 (owner: maya <@U…>; https://github.com/…/12)`, as the
    incident note lists it; `who` names a user, `when` writes a time."""
    tick = "x" if f.state == "done" else " "
    parts = [f"owner: {who(f.owner)}"]
    if f.state == "done":
        parts.append(f"done by {who(f.done_by)} at {when(f.done_at)}")
    if f.tracker_url:
        parts.append(f"{tracker_name(f.tracker)}: {f.tracker_url}")
    elif status := tracker_status(f.tracker, f.tracker_state, f.tracker_error):
        parts.append(status)
    return f"- [{tick}] {' '.join(f.text.split())} ({'; '.join(parts)})"
