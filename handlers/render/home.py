"""Block Kit for the App Home tab: the viewer's open incidents, the areas they own with their
readiness, the handoffs waiting for their signature and their open follow-ups, each with the
one button it needs.

The buttons reuse the action IDs and values of the channel, the DMs and the handoff requests,
so a click on Home goes through the same listener and the same who-may rule.
"""

from __future__ import annotations

from typing import Any

from bot.config.ownership import Signer
from bot.followups import messages as follow_up_messages
from bot.followups.services import OpenFollowUp
from bot.home.overview import COMMANDING, OWNER, PAGED, OpenIncident, Overview, OwnedArea, Signature
from bot.incidents.messages import ACK
from bot.records.handoff_messages import NOTE, SHIFT, SIGN
from bot.store.clock import slack_time
from bot.text.blocks import button, context, header, section
from bot.text.mrkdwn import clip, escape

Block = dict[str, Any]

# Slack allows 100 blocks in a Home view: four lists of at most 20 rows each, plus headings.
MAX_ROWS = 20
_WHY = {PAGED: "you were paged", COMMANDING: "you are the commander", OWNER: "your area"}
_BUTTON = {Signer.INCOMING: "Countersign", Signer.OUTGOING: "Sign", Signer.PEER: "Sign as peer"}
_HOW = {
    "config": "an edit of ownership.yaml",
    "rotation": "a shift change",
    "override": "an on-call override",
}


def _heading(text: str) -> list[Block]:
    return [{"type": "divider"}, header(text)]


def _when(inc: OpenIncident) -> str:
    if inc.state != "open":
        by = f" by <@{inc.acknowledged_by}>" if inc.acknowledged_by else ""
        return f"acknowledged{by}" + (" · window breached" if inc.breached else "")
    if inc.breached:
        return ":alarm_clock: open · *breached*"
    if inc.backlog or inc.deadline is None:
        return "open · backlog, no response window"
    return f"open · deadline {slack_time(inc.deadline)}"


DRILL = "DRILL · "


def _incident(inc: OpenIncident) -> Block:
    where = f" · <#{inc.channel_id}>" if inc.channel_id else ""
    why = ", ".join(_WHY[w] for w in inc.why)
    text = (
        f"{DRILL if inc.drill else ''}*{inc.severity}* · *#{inc.number}* {escape(clip(inc.title, 200))}\n"
        f"{_when(inc)}{where}\n_{escape(inc.area_name)} · {why}_"
    )
    # Backlog items page nobody: there is no escalation for an acknowledgement to stop.
    ack = None
    if inc.state == "open" and not inc.backlog:
        ack = button("Acknowledge", ACK, str(inc.number), style="primary")
    return section(text, block_id=f"home-incident-{inc.number}", accessory=ack)


def _area(area: OwnedArea) -> Block:
    roles = ", ".join(area.roles)
    return section(
        f"*{escape(area.name)}* (`{area.area}`) · you are {roles}\nReadiness: {area.readiness.summary()}",
        block_id=f"home-area-{area.area}",
    )


def _person(user: str | None, ref: str) -> str:
    return f"<@{user}>" if user else escape(ref)


def _signature(sig: Signature) -> Block:
    frm, to = _person(sig.from_user, sig.from_ref), _person(sig.to_user, sig.to_ref)
    how = _HOW.get(sig.origin, "a handoff in Slack")
    note = f"\n> {escape(clip(sig.note, 200))}" if sig.note and sig.origin != "config" else ""
    text = (
        f"*Handoff #{sig.receipt_id}*: {escape(sig.what)}, {frm} → {to} ({how}, {slack_time(sig.started_at)})"
        f"{note}"
    )
    if sig.as_ == Signer.OUTGOING and sig.origin in SHIFT:
        # The outgoing on-call signs with a note, in the modal the DM's button opens too.
        sign = button("Write handover note", NOTE, str(sig.receipt_id), style="primary")
    else:
        sign = button(_BUTTON[sig.as_], SIGN, f"{sig.receipt_id}:{sig.as_}", style="primary")
    return section(text, block_id=f"home-handoff-{sig.receipt_id}-{sig.as_}", accessory=sign)


def _follow_up(open_: OpenFollowUp) -> Block:
    fu, inc = open_.follow_up, open_.incident
    where = f" · <#{inc.channel_id}>" if inc.channel_id else ""
    late = " · :hourglass: *overdue*" if open_.overdue else ""
    drill = DRILL if inc.drill else ""
    text = (
        f"{follow_up_messages.line(fu, number=inc.id)}{late}\n"
        f"_{drill}{escape(clip(inc.title, 100))}{where} · {follow_up_messages.since(fu)}_"
    )
    done = button("Done", follow_up_messages.DONE, str(fu.id), style="primary")
    return section(text, block_id=f"home-follow-up-{fu.id}", accessory=done)


def _capped(rows: list[Block], more: str) -> list[Block]:
    if len(rows) <= MAX_ROWS:
        return rows
    return [*rows[:MAX_ROWS], context(f"and {len(rows) - MAX_ROWS} more: {more}")]


def home_view(ov: Overview, *, notice: str | None = None) -> dict[str, Any]:
    """The Home view of `ov.user`; `notice` (mrkdwn Baton wrote) answers a click made on it."""
    blocks: list[Block] = [
        header("Your incidents, areas, handoffs and follow-ups"),
        context(f"As of {slack_time(ov.now)}. Opening this tab again refreshes it."),
    ]
    if notice:
        blocks.append(section(notice, block_id="home-notice"))

    blocks += _heading("Your open incidents")
    if ov.incidents:
        blocks += _capped([_incident(i) for i in ov.incidents], "`/incident list`")
    else:
        blocks.append(
            section(
                ":white_check_mark: Nothing open on your areas, and nothing you are paged for or command."
            )
        )

    blocks += _heading("Areas you own")
    if ov.areas:
        blocks += _capped([_area(a) for a in ov.areas], "`/owner` lists every area")
        blocks.append(context("`/readiness <area>` shows the checklists and ticks items."))
    else:
        blocks.append(
            section("You own no area: ownership.yaml names you R or A nowhere. `/owner` shows who does.")
        )

    blocks += _heading("Handoffs waiting for your signature")
    if ov.signatures:
        blocks += _capped([_signature(sig) for sig in ov.signatures], "`/owner history <area>`")
    else:
        blocks.append(section("No handoff is waiting for your signature."))

    blocks += _heading("My follow-ups")
    if ov.follow_ups:
        blocks += _capped([_follow_up(f) for f in ov.follow_ups], "`/incident follow-ups` in each incident")
    else:
        blocks.append(section("No open follow-up is yours."))
    return {"type": "home", "callback_id": "baton_home", "blocks": blocks}
