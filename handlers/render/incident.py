"""Block Kit for /incident replies (ephemeral) and its modals."""

from __future__ import annotations

from typing import Any

from bot.config.fields import SEVERITIES
from bot.incidents import messages
from bot.store.clock import slack_time
from bot.store.models import Incident, TimelineEvent
from bot.store.runtime import Baton
from bot.text.blocks import section
from bot.text.mrkdwn import chunks, clip, escape, within

DECLARE_VIEW = "declare_incident"
RESOLVE_VIEW = "resolve_incident"
EVIDENCE_VIEW = "evidence_target"

HELP = """*Declare*: `/incident P1 model-quality Hallucination spike on checkout` (`/incident` alone: a form)
*Rehearse*: `/incident drill P1 model-quality [title]`: the real ladder, marked DRILL, scored \
(the area's owners and admins)
*In an incident channel*:
• `ack`: take it; stops the escalation
• `sev P0`: change the severity (re-plans the window; an upgrade pages the wider scope now)
• `status <text>`: post a status update
• `commander @user`: hand over command
• `evidence <text or link>`: keep it with the incident (or react :pushpin: to a message)
• `resolve <summary>`: close it and post the incident note
• `run <action> [k=v …]`: ask to run one of the area's actions (`/owner <area>` lists them); \
it runs once approved as its rule says
• `follow-up <text> [@owner]`: work to do after it (anyone may add; owner: the commander, else you)
• `follow-ups`: list them, each with a Done button (its owner, the commander, the area's A, admins)
• `review <link>`: record the incident's review, once resolved
• `reopen` · `timeline` · `note`
*Anywhere*: `list` (open incidents), `help`; any of the above with the number first, e.g. \
`/incident resolve #12 Reindexed` (backlog items have no channel)"""


def reply(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


def error(text: str) -> dict[str, Any]:
    return reply(f":warning: {text}")


def help_reply() -> dict[str, Any]:
    return reply(HELP)


def _where(inc: Incident) -> str:
    return (
        f"<#{inc.channel_id}>" if inc.channel_id else ("backlog" if inc.backlog else "channel being created")
    )


def declared(inc: Incident) -> dict[str, Any]:
    what = f"#{inc.id} ({inc.severity}, `{inc.area}`): {messages.title(inc)}"
    if inc.backlog:
        return reply(
            f":inbox_tray: Recorded backlog item {what}. "
            "Nobody is paged; it is posted to the backlog channel."
        )
    deadline = slack_time(inc.deadline) if inc.deadline else "—"
    if inc.drill:
        return reply(
            f"DRILL · *#{inc.id}* started ({inc.severity}, `{inc.area}`, window "
            f"{inc.policy.response_time}): {messages.title(inc)}\nThe real ladder pages now, marked DRILL; "
            f"respond by {deadline}. The score card comes when it is resolved or its last step has fired."
        )
    return reply(
        f":rotating_light: Declared *{inc.severity}* incident *#{inc.id}* in `{inc.area}`: "
        f"{messages.title(inc)}\nOpening the channel and paging now; respond by {deadline}."
    )


def incident_list(incidents: list[Incident]) -> dict[str, Any]:
    if not incidents:
        return reply(":white_check_mark: No open incidents.")
    lines = [
        f"• *#{i.id}* {'*DRILL* ' if i.drill else ''}{i.severity} `{i.area}` {messages.title(i, 100)} · "
        f"{i.state} · {_where(i)}"
        for i in incidents
    ]
    # One block, however many are open: those that do not fit are counted, not cut off mid-line.
    return reply("*Open incidents*\n" + within(lines, SECTION))


# Slack allows 50 blocks in a message and 3,000 characters in a section.
MAX_SECTIONS = 45
SECTION = 2900


def long_reply(title: str, body: str, *, code: bool = False, newest: bool = True) -> dict[str, Any]:
    """An ephemeral reply split over several sections; if even that is too long, the oldest
    (newest=True) or the last lines are left out, and the reply says so."""
    pieces = chunks(body, SECTION - 6)
    dropped = 0
    if len(pieces) > MAX_SECTIONS:
        dropped = len(pieces) - MAX_SECTIONS
        pieces = pieces[dropped:] if newest else pieces[:MAX_SECTIONS]
    blocks = [section(title)]
    if dropped:
        where = "earlier" if newest else "later"
        blocks.append(section(f"_{dropped * SECTION:,}+ characters of {where} entries are not shown._"))
    blocks += [section(f"```{p}```" if code else p) for p in pieces]
    return {"response_type": "ephemeral", "text": title, "blocks": blocks}


def timeline(inc: Incident, events: list[TimelineEvent]) -> dict[str, Any]:
    lines = [f"{slack_time(e.at)} {_actor(e.actor)} _{e.kind}_: {escape(clip(e.text, 300))}" for e in events]
    return long_reply(f"*Timeline of #{inc.id}* {messages.title(inc, 100)}", "\n".join(lines))


def note(inc: Incident, markdown: str) -> dict[str, Any]:
    return long_reply(f"*Incident note of #{inc.id}*", escape(markdown), code=True, newest=False)


def _actor(actor: str) -> str:
    return messages.mention(actor)


def _modal(
    callback_id: str, title: str, submit: str, blocks: list[dict[str, Any]], metadata: str = ""
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _input(block_id: str, label: str, element: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {"action_id": "value", **element},
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value}


def declare_view(baton: Baton) -> dict[str, Any]:
    levels = baton.config.severity.levels
    severities = [_option(f"{key} · {levels[key].name}", key) for key in SEVERITIES if key in levels]
    areas = [_option(f"{area.name} ({key})", key) for key, area in baton.config.ownership.areas.items()]
    title = {
        "type": "plain_text_input",
        "max_length": 3000,
        "placeholder": {"type": "plain_text", "text": "Hallucination spike on checkout"},
    }
    return _modal(
        DECLARE_VIEW,
        "Declare an incident",
        "Declare",
        [
            _input("severity", "Severity", {"type": "static_select", "options": severities}),
            _input("area", "Area", {"type": "static_select", "options": areas[:100]}),
            _input("title", "What is happening?", title),
        ],
    )


def resolve_view(inc: Incident) -> dict[str, Any]:
    summary = {"type": "plain_text_input", "multiline": True}
    return _modal(
        RESOLVE_VIEW,
        f"Resolve #{inc.id}",
        "Resolve",
        [_input("summary", "How was it resolved?", summary)],
        metadata=str(inc.id),
    )


def evidence_view(open_incidents: list[Incident], draft_id: str) -> dict[str, Any]:
    """Which incident a message from outside any incident channel is evidence for; the message
    itself waits as a draft (bot/records/drafts.py), the modal carries only its id."""
    options = [_option(f"#{i.id} {i.severity} {i.title}", str(i.id)) for i in open_incidents[:100]]
    return _modal(
        EVIDENCE_VIEW,
        "Add to evidence",
        "Add",
        [_input("incident", "Incident", {"type": "static_select", "options": options})],
        metadata=draft_id,
    )
