"""What the announcement and the FYI say (ownership.yaml `announce:`): the
incident's current state as one message, and the DM to the area's consulted and informed people
who are not paged. Plain Block Kit, escaped like every other message (bot/incidents/messages.py);
no button: the announcement is read, the incident is worked in its channel.
"""

from __future__ import annotations

from datetime import timedelta

from bot.incidents.messages import mention, title
from bot.store.clock import slack_time
from bot.store.models import Incident
from bot.text.blocks import Blocks, context, fields, section
from bot.text.mrkdwn import clip, escape
from bot.text.spans import format_duration

FYI = "FYI"

_STATE = {
    "open": ":red_circle: Open, waiting for an acknowledgement",
    "acknowledged": ":large_orange_circle: Acknowledged",
    "resolved": ":white_check_mark: Resolved",
}


def _took(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=max(0, round(delta.total_seconds()))))


def channel_link(inc: Incident) -> str:
    """The incident channel as a link once it exists; else why there is none (yet)."""
    if inc.channel_id:
        return f"<#{inc.channel_id}>"
    if inc.backlog:
        return "none (a backlog item)"
    return "not set up" if inc.channel_error else "being set up"


def _area(inc: Incident) -> str:
    return escape(inc.policy.area_name or inc.area)


def _window(inc: Incident) -> str:
    """The window's deadline while it runs; how it was met once acknowledged or resolved."""
    if inc.acknowledged_at is not None:
        started = inc.window_started_at or inc.declared_at
        verdict = "inside" if inc.ack_within_window else "outside"
        window = inc.policy.response_time or ""
        return f"acknowledged after {_took(inc.acknowledged_at - started)}, {verdict} the {window} window"
    if inc.deadline is None:
        return "no response window"
    if inc.state == "resolved":
        return f"resolved unacknowledged (respond by {slack_time(inc.deadline)})"
    return f"by {slack_time(inc.deadline)} ({inc.policy.response_time or ''} window)"


def announcement(inc: Incident) -> tuple[str, Blocks]:
    """The announcement as the incident stands now: severity, area, title, status, commander,
    the channel, the window; once resolved, how long it took to acknowledge and to resolve."""
    assert inc.id is not None
    state = _STATE.get(inc.state, escape(inc.state))
    text = f"{inc.severity} · {_area(inc)} · #{inc.id} {title(inc)} — {state}"
    commander = mention(inc.commander) if inc.commander else "—"
    facts = [
        f"*Status*\n{state}",
        f"*Commander*\n{commander}",
        f"*Channel*\n{channel_link(inc)}",
        f"*Response*\n{_window(inc)}",
    ]
    if inc.state == "resolved" and inc.resolved_at is not None:
        facts.append(f"*Duration*\n{_took(inc.resolved_at - inc.declared_at)}")
    blocks = [
        section(
            f"*{inc.severity} {escape(inc.policy.level_name)}* · {_area(inc)} · *#{inc.id}* {title(inc)}"
        ),
        fields(*facts),
    ]
    if inc.state == "resolved" and inc.summary:
        blocks.append(section(f"*Resolved:* {escape(clip(inc.summary, 500))}"))
    elif inc.status:
        blocks.append(context(f"*Latest:* {escape(clip(inc.status, 500))}"))
    return text, blocks


def fyi(inc: Incident, *, resolved: bool) -> tuple[str, Blocks]:
    """The DM to a consulted or informed person nobody pages now: marked FYI, no button."""
    assert inc.id is not None
    what = f"{inc.severity} · {_area(inc)} · #{inc.id} {title(inc)}"
    if resolved:
        took = _took((inc.resolved_at or inc.declared_at) - inc.declared_at)
        said = f"resolved after {took}: {what}"
        more = f"*Resolved:* {escape(clip(inc.summary or '', 500))}" if inc.summary else ""
    else:
        said = f"declared: {what}"
        more = (
            f"You are consulted or informed for {_area(inc)}; nobody is asking you to act. "
            f"Follow it in {channel_link(inc)}."
        )
    text = f"{FYI} · {said}"
    blocks = [section(f"*{FYI}* · {said}")]
    if more:
        blocks.append(context(more))
    return text, blocks
