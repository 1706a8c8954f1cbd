"""What Baton says of follow-ups in Slack: in the incident channel when one is added or done, and
one line per follow-up wherever they are listed (`/incident follow-ups`, App Home, the weekly
review). The text people typed is escaped; a tracker's issue is a plain link (its URL is shown,
so nothing a tracker answered can disguise where it points).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.incidents.followup_items import link, tracker_name, tracker_status
from bot.store.clock import slack_time
from bot.store.models import FollowUp
from bot.text.mrkdwn import clip, escape

if TYPE_CHECKING:
    from bot.followups.services import OpenFollowUp

DONE = "follow_up_done"  # the Done button's action ID; its value is the follow-up's id
TEXT_SHOWN = 300  # characters of a follow-up's text in a list line


def _who(user: str | None) -> str:
    return f"<@{user}>" if user else "nobody"


def what(fu: FollowUp, limit: int = TEXT_SHOWN) -> str:
    """The follow-up's text as mrkdwn: escaped, on one line, clipped."""
    return escape(clip(" ".join(fu.text.split()), limit))


def tracker(fu: FollowUp) -> str:
    """ "<https://github.com/acme/x/issues/12>", "not yet in GitHub", or ""."""
    url = link(fu.tracker_url)
    if url:
        return f"{tracker_name(fu.tracker)}: <{url}>"
    if fu.tracker_url:  # something a link cannot carry: shown as text
        return f"{tracker_name(fu.tracker)}: {escape(fu.tracker_url)}"
    return escape(tracker_status(fu.tracker, fu.tracker_state, fu.tracker_error) or "")


def line(fu: FollowUp, *, number: int | None = None) -> str:
    """`• Add a canary · owner @maya · open · GitHub: <https://…>` (with `#12 ` first when given)."""
    head = f"*#{number}* " if number is not None else ""
    state = f"done by {_who(fu.done_by)}" if fu.state == "done" else "open"
    parts = [f"{head}{what(fu)}", f"owner {_who(fu.owner)}", state]
    if issue := tracker(fu):
        parts.append(issue)
    return "• " + " · ".join(parts)


def added(fu: FollowUp, *, user: str) -> str:
    """Said in the incident channel when a follow-up is added."""
    owner = "" if fu.owner == user else f" for {_who(fu.owner)}"
    return (
        f":clipboard: {_who(user)} added a follow-up{owner}: {what(fu, 1000)}\n"
        "`/incident follow-ups` lists them, each with a Done button."
    )


def marked_done(fu: FollowUp, *, user: str) -> str:
    return f":ballot_box_with_check: {_who(user)} marked a follow-up done: {what(fu, 1000)}"


def since(fu: FollowUp) -> str:
    return f"added {slack_time(fu.created_at)}"


def overdue_count(found: list[OpenFollowUp] | tuple[OpenFollowUp, ...]) -> str:
    """ "3 open, 1 overdue (open over 14 days)"."""
    late = sum(f.overdue for f in found)
    return f"{len(found)} open" + (f", {late} overdue (open over 14 days)" if late else "")


def review_mrkdwn(f: OpenFollowUp) -> str:
    """One open follow-up in the weekly review's post."""
    inc = f.incident
    late = ":hourglass: *overdue* · " if f.overdue else ""
    drill = "DRILL " if inc.drill else ""
    return f"{line(f.follow_up, number=inc.id)} · {late}{drill}{since(f.follow_up)}"


def review_markdown(f: OpenFollowUp) -> str:
    """One open follow-up in `baton nudge review`'s Markdown (text as stored: masked)."""
    fu, inc = f.follow_up, f.incident
    late = "overdue, " if f.overdue else ""
    drill = "drill " if inc.drill else ""
    issue = fu.tracker_url or tracker_status(fu.tracker, fu.tracker_state, fu.tracker_error)
    more = f" · {issue}" if issue else ""
    added = f"{fu.created_at:%Y-%m-%d %H:%M} UTC"
    owner = fu.owner or "nobody"
    return f"{drill}#{inc.id}: {' '.join(fu.text.split())} · owner {owner} · {late}added {added}{more}"
