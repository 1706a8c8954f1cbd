"""Block Kit for the messages Baton posts on its own (channel, DMs): short, scannable, with the
one action the reader needs as a button. Plain dicts, so the domain needs no Slack library.
"""

from __future__ import annotations

from typing import Any

from bot.store.clock import slack_time
from bot.store.models import Incident

# Action IDs of the buttons; handlers/actions registers listeners for exactly these.
ACK = "incident_ack"
RESOLVE = "incident_resolve"
ESCALATE = "incident_escalate"

Blocks = list[dict[str, Any]]

STATE_EMOJI = {
    "open": ":red_circle:",
    "acknowledged": ":large_yellow_circle:",
    "resolved": ":white_check_mark:",
}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:3000]}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _md(text)}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_md(text)]}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def mentions(user_ids: list[str]) -> str:
    return ", ".join(mention(u) for u in user_ids) or "nobody"


def headline(inc: Incident) -> str:
    return f"{inc.severity} · {inc.policy.get('area_name', inc.area)} · #{inc.id} {inc.title}"


def topic(inc: Incident) -> str:
    commander = mention(inc.commander) if inc.commander else "none"
    status = f" | {inc.status}" if inc.status else ""
    level = f"{inc.severity} {inc.policy.get('level_name', '')}"
    return f"{level} | {inc.area} | IC {commander} | {inc.state}{status}"


def _deadline(inc: Incident) -> str:
    if inc.deadline is None:
        return "no response window"
    return f"{slack_time(inc.deadline)} ({inc.policy.get('response_time', '')} window)"


def opening(inc: Incident, paged: list[str]) -> tuple[str, Blocks]:
    """The pinned first message of an incident channel."""
    assert inc.id is not None
    text = f":rotating_light: {headline(inc)}"
    fields = [
        _md(f"*Severity*\n{inc.severity} {inc.policy.get('level_name', '')}"),
        _md(f"*Area*\n{inc.policy.get('area_name', inc.area)} (`{inc.area}`)"),
        _md(f"*Respond by*\n{_deadline(inc)}"),
        _md(f"*Commander*\n{mention(inc.commander) if inc.commander else '—'}"),
        _md(f"*Paged*\n{mentions(paged)}"),
        _md(f"*Declared by*\n{mention(inc.declared_by)}"),
    ]
    blocks: Blocks = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{inc.severity} · #{inc.id} {inc.title}"[:150]},
        },
        {"type": "section", "fields": fields},
        {
            "type": "actions",
            "block_id": f"incident-{inc.id}",
            "elements": [
                button("Acknowledge", ACK, str(inc.id), style="primary"),
                button("Escalate now", ESCALATE, str(inc.id)),
                button("Resolve", RESOLVE, str(inc.id), style="danger"),
            ],
        },
    ]
    runbook = inc.policy.get("runbook")
    if runbook:
        blocks.append(context(f"Runbook: <{runbook}>"))
    return text, blocks


def page_dm(inc: Incident, *, reason: str) -> tuple[str, Blocks]:
    """The DM that pages one person: what, how urgent, and the Acknowledge button."""
    assert inc.id is not None
    where = f" in <#{inc.channel_id}>" if inc.channel_id else ""
    text = f":rotating_light: You are paged for {inc.severity} incident #{inc.id}: {inc.title}"
    blocks: Blocks = [
        section(
            f":rotating_light: *You are paged* for *{inc.severity}* incident *#{inc.id}*{where}\n"
            f"*{inc.title}*\nArea: {inc.policy.get('area_name', inc.area)} · Respond by {_deadline(inc)}"
        ),
        context(reason),
        {"type": "actions", "elements": [button("Acknowledge", ACK, str(inc.id), style="primary")]},
    ]
    return text, blocks


def paging_notice(inc: Incident, *, users: list[str], description: str) -> str:
    return f":pager: Paging {mentions(users)}: {description}. Acknowledge with the button or `/incident ack`."


def breach_notice(inc: Incident) -> str:
    return (
        f":alarm_clock: *Response window breached*: nobody acknowledged {inc.severity} #{inc.id} within "
        f"{inc.policy.get('response_time', '')}. Paging everyone in the {inc.area} RACI."
    )
