"""Block Kit for /owner answers."""

from __future__ import annotations

from typing import Any

from bot.config.ownership import Ownership
from bot.oncall.overrides import OnCallNow
from bot.readiness.drills import Rehearsal
from bot.records import handoff_messages as say
from bot.records.handoff_views import Card
from bot.store.clock import slack_time
from bot.store.models import OncallOverride, Receipt
from bot.text.blocks import Block, actions, button, context, divider, fields, header, section
from bot.text.mrkdwn import clip, escape
from bot.text.spans import format_span


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": blocks}


def error(text: str, *, then: dict[str, Any] | None = None) -> dict[str, Any]:
    blocks = [section(f":warning: {text}")]
    out = message(f":warning: {text}", list(blocks))
    if then is not None:
        out["blocks"] += then["blocks"]
    return out


def _people(own: Ownership, refs: list[str]) -> str:
    return ", ".join(own.label(r) for r in refs) if refs else "—"


def area_list(own: Ownership) -> dict[str, Any]:
    blocks: list[Block] = [header("Who owns what")]
    lines = []
    for key in own.config.areas:
        raci = own.raci(key)
        who = raci.responsible_team and own.config.teams[raci.responsible_team].name
        responsible = who or _people(own, raci.responsible)
        lines.append(f"*{raci.name}* (`{key}`): R {responsible} · A {own.label(raci.accountable)}")
    blocks.append(section("\n".join(lines)))
    blocks.append(context("`/owner <area>` for the full RACI card"))
    return message("Who owns what: " + "; ".join(own.config.areas), blocks)


def _receipt_line(own: Ownership, r: Receipt) -> str:
    """`#3 accountable: @maya → @li (in Slack, date) · signed by @maya (date), countersignature
    pending (@li)`."""
    frm = f"<@{r.from_user}>" if r.from_user else own.label(r.from_ref)
    to = f"<@{r.to_user}>" if r.to_user else own.label(r.to_ref)
    how = {"slack": "in Slack", "rotation": "at a shift change", "override": "by an on-call override"}.get(
        r.origin, "by an edit of ownership.yaml"
    )
    signatures = [
        ("signed", "signature", r.outgoing_signed_by or r.from_user, r.outgoing_signed_at),
        ("countersigned", "countersignature", r.to_user, r.incoming_signed_at),
    ]
    if r.peer_user:
        signatures.append(("signed as peer", "peer signature", r.peer_user, r.peer_signed_at))
    parts = []
    for done, needed, who, at in signatures:
        by = f"<@{who}>" if who else "—"
        if at or r.state != "withdrawn":
            parts.append(f"{done} by {by} {slack_time(at)}" if at else f"*{needed} pending* ({by})")
    if r.state == "withdrawn":
        parts.append(f"withdrawn: {say.withdrawn_because(r)}")
    role = f"on-call of {r.team}" if r.role == "oncall" else r.role
    shown = " ".join(r.note.split())
    note = f' · note: "{escape(clip(shown, 300))}"' if shown and r.origin != "config" else ""
    return f"#{r.id} {role}: {frm} → {to} ({how}, {slack_time(r.started_at)}) · " + ", ".join(parts) + note


def _oncall(own: Ownership, who: str, now: OnCallNow | None) -> str:
    """`@maya until <date> → @li`, and which override put them on call."""
    if now is None:
        return own.label(who)
    line = own.label(now.who)
    if now.until is not None and now.next_who is not None:
        line += f" until {slack_time(now.until)} → {own.label(now.next_who)}"
    if now.override is not None:
        line += f"\noverride #{now.override.id} by <@{now.override.created_by}>"
    elif now.cause == "ownership.yaml":
        line += "\noverride planned in ownership.yaml"
    return line


def area_card(
    own: Ownership,
    area: str,
    handoffs: Card | None = None,
    *,
    oncall: OnCallNow | None = None,
    rehearsal: Rehearsal | None = None,
) -> dict[str, Any]:
    raci = own.raci(area)
    team = own.config.teams[raci.responsible_team] if raci.responsible_team else None
    responsible = f"{team.name}: {_people(own, raci.responsible)}" if team else _people(own, raci.responsible)
    facts = [
        f"*Responsible*\n{responsible}",
        f"*On call*\n{_oncall(own, raci.oncall, oncall)}",
        f"*Accountable*\n{own.label(raci.accountable)}",
        f"*Consulted*\n{_people(own, raci.consulted)}",
        f"*Informed*\n{_people(own, raci.informed)}",
    ]
    blocks: list[Block] = [header(f"{raci.name} ({area})")]
    if raci.covers:
        blocks.append(context(f"Covers: {raci.covers}"))
    blocks.append(fields(*facts))
    if raci.aliases:
        aliases = ", ".join(f"`{a}`" for a in raci.aliases)
        blocks.append(context(f"Also known as {aliases}"))
    blocks += _action_blocks(own, raci.area, raci.accountable)
    if handoffs is not None and handoffs.readiness is not None:
        ready = f"*Readiness* {handoffs.readiness.summary()} · `/readiness {area}` for the checklists"
        blocks.append(section(ready))
    if handoffs is not None:
        blocks += _handoff_blocks(own, handoffs)
    if rehearsal is not None:  # the area's last drill, next to its runbook
        blocks.append(section(f"*Drills* {rehearsal.text(slack_time)}"))
    if raci.runbook:
        blocks.append(actions(button("Open runbook", "open_runbook", url=raci.runbook)))
    text = (
        f"{raci.name}: responsible {responsible}; on call {own.label(raci.oncall)}; "
        f"accountable {own.label(raci.accountable)}"
    )
    return message(text, blocks)


def _action_blocks(own: Ownership, area: str, accountable: str) -> list[Block]:
    """The area's actions and who must approve each; never the URL, which may carry a secret."""
    specs = own.config.areas[area].actions
    if not specs:
        return []
    rules = {
        "none": "runs without approval",
        "accountable": f"approval: the accountable person ({own.label(accountable)})",
        "two-person": "approval: two people (the requester and one other)",
    }
    lines = ["*Actions*"]
    for name, spec in specs.items():
        params = " ".join(f"`{p}=…`" for p in spec.names)
        parts = [f"`{name}`", escape(spec.title), rules[spec.approval], *([params] if params else [])]
        lines.append(" — ".join(parts))
    hint = "`/incident run <action> [k=v …]` in the incident channel"
    return [
        section("\n".join(lines)),
        context(hint),
    ]


def person_card(own: Ownership, person: str) -> dict[str, Any]:
    owned = own.owned_by(person)
    label = own.label(person)
    if not owned:
        return message(
            f"{label} owns nothing in ownership.yaml.",
            [section(f"{label} is not R, A, C or I for any area.")],
        )
    lines = [f"*{own.raci(area).name}* (`{area}`): {', '.join(roles)}" for area, roles in owned]
    blocks: list[Block] = [
        section(f"What {label} owns"),
        divider(),
        section("\n".join(lines)),
        context("R responsible · A accountable · C consulted · I informed"),
    ]
    return message(f"What {label} owns: " + "; ".join(f"{a} ({', '.join(r)})" for a, r in owned), blocks)


def _handoff_blocks(own: Ownership, card: Card) -> list[Block]:
    lines = []
    for what, ref, receipt_id, named in card.overridden:
        lines.append(
            f":pushpin: {own.label(ref)} holds {what} since handoff #{receipt_id}; ownership.yaml still "
            f"names {own.label(named)}: edit it to match."
        )
    for r in card.pending:
        lines.append(f":warning: *Unsigned handoff* {_receipt_line(own, r)}")
    for r in card.unsigned_at_change:
        lines.append(f":warning: on-call handover #{r.id} was not signed at the shift change")
    if card.last is not None and card.last not in card.pending:
        lines.append(f"Last handoff: {_receipt_line(own, card.last)}")
    if not lines:
        return []
    return [section("\n".join(lines))]


def history(own: Ownership, area: str, receipts: list[Receipt]) -> dict[str, Any]:
    raci = own.raci(area)
    if not receipts:
        return message(
            f"No handoffs of {raci.name} yet.",
            [section(f"No handoffs of *{raci.name}* (`{area}`) yet.")],
        )
    blocks: list[Block] = [header(f"Handoffs of {raci.name}")]
    lines = [_receipt_line(own, r) for r in receipts]  # newest first
    for start in range(0, len(lines), 10):
        blocks.append(section("\n".join(lines[start : start + 10])))
    pending = sum(1 for r in receipts if r.state == "pending")
    note = f"{len(receipts)} receipts, newest first" + (
        f"; {pending} waiting for a signature" if pending else ""
    )
    blocks.append(context(note))
    return message(f"Handoffs of {raci.name}: {len(receipts)}", blocks[:50])


def handoff_started(own: Ownership, r: Receipt) -> dict[str, Any]:
    to = f"<@{r.to_user}>" if r.to_user else own.label(r.to_ref)
    frm = f"<@{r.from_user}>" if r.from_user else own.label(r.from_ref)
    role = f"the on-call of {r.team}" if r.role == "oncall" else f"the {r.role} role"
    peer = f" and <@{r.peer_user}> as peer" if r.peer_user else ""
    text = (
        f":handshake: Handoff #{r.id} of {role} of `{r.area}` started and signed by you. {to}{peer} "
        f"is asked to countersign; until then {frm} is still the one paged."
    )
    return message(text, [section(text)])


def oncall_added(own: Ownership, row: OncallOverride) -> dict[str, Any]:
    """The answer to `/owner oncall`: who, for which team, until when, and who after."""
    team = own.config.teams[row.team].name
    after = own.oncall(row.team, at=row.ends_at)
    text = (
        f":pager: {own.label(row.who)} is on call for *{escape(team)}* from now until "
        f"{slack_time(row.ends_at)} ({format_span(row.ends_at - row.starts_at)}), then "
        f"{own.label(after)}: override #{row.id}. Pages for {escape(team)} go to them first."
    )
    if row.note:
        text += f"\nNote: {escape(row.note)}"
    return message(text, [section(text)])
