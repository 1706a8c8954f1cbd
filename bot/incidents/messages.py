"""What Baton says about an incident, on its own (channel, DMs, topic): short, scannable Block
Kit with the one action the reader needs as a button. Plain dicts, so the domain needs no Slack
library.

Every builder here runs text a person typed (titles, status updates, summaries, notes) through
bot.text.mrkdwn.escape, so a typed `<!channel>` or `<https://evil|Acknowledge>` is shown, never
obeyed. Services pass raw (masked) text in and never format Slack markup themselves.
"""

from __future__ import annotations

import re

from bot.store.clock import slack_time
from bot.store.models import Incident
from bot.text import drill
from bot.text.blocks import Blocks, actions, button, context, fields, header, section
from bot.text.mrkdwn import chunks, clip, escape

# Action IDs of the buttons; handlers/actions registers listeners for exactly these.
ACK = "incident_ack"
RESOLVE = "incident_resolve"
ESCALATE = "incident_escalate"


def mention(user_id: str) -> str:
    """A person as a Slack mention; Baton's own sources (alertmanager, prometheus) by name."""
    if USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return SOURCES.get(user_id, escape(user_id))


USER_ID = re.compile(r"[UW][A-Z0-9]+")
# Who declares or acts when no person does.
SOURCES = {
    "baton": "Baton",
    "alertmanager": "Alertmanager",
    "prometheus": "Prometheus (SLO)",
    "feedback": "the product's feedback",  # failure cases from POST /feedback
    "schedule": "the drill schedule",  # nudges.drill
}


def mentions(user_ids: list[str]) -> str:
    return ", ".join(mention(u) for u in user_ids) or "nobody"


def title(inc: Incident, limit: int = 300) -> str:
    """The incident's title as mrkdwn: shown as typed."""
    return escape(clip(inc.title, limit))


def headline(inc: Incident) -> str:
    return f"{inc.severity} · {escape(inc.policy.area_name or inc.area)} · #{inc.id} {title(inc)}"


def topic(inc: Incident) -> str:
    commander = mention(inc.commander) if inc.commander else "none"
    status = f" | {escape(clip(inc.status, 120))}" if inc.status else ""
    level = f"{inc.severity} {inc.policy.level_name}"
    said = f"{level} | {inc.area} | IC {commander} | {inc.state}{status}"
    return drill.said(said) if inc.drill else said


def _deadline(inc: Incident) -> str:
    if inc.deadline is None:
        return "no response window"
    return f"{slack_time(inc.deadline)} ({inc.policy.response_time or ''} window)"


def opening(inc: Incident, paged: list[str]) -> tuple[str, Blocks]:
    """The pinned first message of an incident channel."""
    assert inc.id is not None
    text = f":rotating_light: {headline(inc)}"
    facts = fields(
        f"*Severity*\n{inc.severity} {inc.policy.level_name}",
        f"*Area*\n{inc.policy.area_name or inc.area} (`{inc.area}`)",
        f"*Respond by*\n{_deadline(inc)}",
        f"*Commander*\n{mention(inc.commander) if inc.commander else '—'}",
        f"*Paged*\n{mentions(paged)}",
        f"*Declared by*\n{mention(inc.declared_by)}",
    )
    blocks: Blocks = [
        # plain_text: Slack shows it as it is, so the title is not escaped here.
        header(f"{inc.severity} · #{inc.id} {inc.title}"),
        facts,
        actions(
            button("Acknowledge", ACK, str(inc.id), style="primary"),
            button("Escalate now", ESCALATE, str(inc.id)),
            button("Resolve", RESOLVE, str(inc.id), style="danger"),
            block_id=f"incident-{inc.id}",
        ),
    ]
    runbook = inc.policy.runbook
    if runbook:
        blocks.append(context(f"Runbook: <{runbook}>"))
    return text, blocks


def page_dm(inc: Incident, *, reason: str) -> tuple[str, Blocks]:
    """The DM that pages one person: what, how urgent, and the Acknowledge button."""
    assert inc.id is not None
    where = f" in <#{inc.channel_id}>" if inc.channel_id else ""
    text = f":rotating_light: You are paged for {inc.severity} incident #{inc.id}: {title(inc)}"
    blocks: Blocks = [
        section(
            f":rotating_light: *You are paged* for *{inc.severity}* incident *#{inc.id}*{where}\n"
            f"*{title(inc)}*\nArea: {inc.policy.area_name or inc.area} · Respond by {_deadline(inc)}"
        ),
        context(reason),
        actions(button("Acknowledge", ACK, str(inc.id), style="primary")),
    ]
    return text, blocks


def paging_notice(inc: Incident, *, users: list[str], description: str, groups: list[dict[str, str]]) -> str:
    """Said in the channel at each step. A team paged whole is also named by its Slack user
    group, so its members' clients flag it the way they are used to."""
    teams = "".join(f"<!subteam^{g['id']}> " for g in groups)
    return (
        f":pager: Paging {teams}{mentions(users)}: {description}. "
        "Acknowledge with the button or `/incident ack`."
    )


def breach_notice(inc: Incident) -> str:
    return (
        f":alarm_clock: *Response window breached*: nobody acknowledged {inc.severity} #{inc.id} within "
        f"{inc.policy.response_time or ''}. Paging everyone in the {inc.area} RACI."
    )


def backlog_post(inc: Incident) -> str:
    return (
        f":inbox_tray: Backlog #{inc.id} ({inc.severity} {inc.policy.level_name}, "
        f"{inc.policy.area_name or inc.area}): {title(inc)} — reported by {mention(inc.declared_by)}"
    )


# -- what people did, said in the channel ------------------------------------------------------


def acknowledged(user: str, *, took: str, verdict: str, window: str | None) -> str:
    return (
        f":white_check_mark: {mention(user)} acknowledged after {took}, {verdict} the {window} window. "
        "Escalation stopped."
    )


def severity_changed(user: str, *, old: str, new: str, level_name: str, raised: bool, plan: str) -> str:
    verb = "raised" if raised else "lowered"
    return (
        f":rotating_light: {mention(user)} {verb} the severity from {old} to *{new}* ({level_name}). {plan}"
    )


def status(user: str, text: str) -> str:
    return f":memo: Status from {mention(user)}: {escape(text)}"


def commander_changed(user: str, commander: str, note: str) -> str:
    said = f" “{escape(note)}”" if note else ""
    return f":sports_medal: {mention(user)} made {mention(commander)} the incident commander.{said}"


def resolved(user: str, summary: str) -> str:
    return f":white_check_mark: {mention(user)} resolved the incident: {escape(summary)}"


def reopened(user: str, state: str, *, paging: bool) -> str:
    again = " The response window starts again; paging now." if paging else ""
    return f":arrows_counterclockwise: {mention(user)} reopened the incident ({state}).{again}"


def escalated(user: str, description: str) -> str:
    return f":arrow_double_up: {mention(user)} escalated now: {description}."


def evidence_added(author: str, *, text: str, link: str | None, masked: int) -> str:
    where = f" (<{link}|source>)" if link else ""
    note = f" ({masked} item{'s' if masked != 1 else ''} masked)" if masked else ""
    return f":pushpin: Evidence from {mention(author)}{where}: {escape(clip(text, 300))}{note}"


# The incident note posted on resolve is one message: as much of the note as one block shows.
NOTE_POSTED = 2900


def resolve_note(number: int, markdown: str) -> str:
    """The incident note as posted on resolve: one message whatever the note's length (an
    incident with 1,500 feedback cases has a note of hundreds of thousands of characters), its
    start in a code block, how much is left out, and where the whole note is."""
    pieces = chunks(escape(markdown), NOTE_POSTED)
    head = pieces[0] if pieces else ""
    left = len("".join(pieces[1:]).splitlines())
    more = f"_{left} more lines of the note are not shown here._\n" if left else ""
    return (
        f"```{head}```\n{more}_The whole note: `/incident note` in this channel, or `baton export {number}`._"
    )
