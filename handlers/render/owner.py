"""Block Kit for /owner answers."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.config.ownership import Ownership


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": [b.to_dict() for b in blocks]}


def error(text: str, *, then: dict[str, Any] | None = None) -> dict[str, Any]:
    blocks = [SectionBlock(text=MarkdownTextObject(text=f":warning: {text}"))]
    out = message(text, list(blocks))
    if then is not None:
        out["blocks"] += then["blocks"]
    return out


def _people(own: Ownership, refs: list[str]) -> str:
    return ", ".join(own.label(r) for r in refs) if refs else "—"


def area_list(own: Ownership) -> dict[str, Any]:
    blocks: list[Block] = [HeaderBlock(text="Who owns what")]
    lines = []
    for key in own.config.areas:
        raci = own.raci(key)
        who = raci.responsible_team and own.config.teams[raci.responsible_team].name
        responsible = who or _people(own, raci.responsible)
        lines.append(f"*{raci.name}* (`{key}`): R {responsible} · A {own.label(raci.accountable)}")
    blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines))))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text="`/owner <area>` for the full RACI card")]))
    return message("Who owns what: " + "; ".join(own.config.areas), blocks)


def area_card(own: Ownership, area: str) -> dict[str, Any]:
    raci = own.raci(area)
    team = own.config.teams[raci.responsible_team] if raci.responsible_team else None
    responsible = f"{team.name}: {_people(own, raci.responsible)}" if team else _people(own, raci.responsible)
    fields = [
        MarkdownTextObject(text=f"*Responsible*\n{responsible}"),
        MarkdownTextObject(text=f"*On call*\n{own.label(raci.oncall)}"),
        MarkdownTextObject(text=f"*Accountable*\n{own.label(raci.accountable)}"),
        MarkdownTextObject(text=f"*Consulted*\n{_people(own, raci.consulted)}"),
        MarkdownTextObject(text=f"*Informed*\n{_people(own, raci.informed)}"),
    ]
    blocks: list[Block] = [HeaderBlock(text=f"{raci.name} ({area})"[:150])]
    if raci.covers:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Covers: {raci.covers}")]))
    blocks.append(SectionBlock(fields=fields))
    if raci.aliases:
        aliases = ", ".join(f"`{a}`" for a in raci.aliases)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Also known as {aliases}")]))
    if raci.runbook:
        blocks.append(
            ActionsBlock(
                elements=[ButtonElement(text="Open runbook", url=raci.runbook, action_id="open_runbook")]
            )
        )
    text = (
        f"{raci.name}: responsible {responsible}; on call {own.label(raci.oncall)}; "
        f"accountable {own.label(raci.accountable)}"
    )
    return message(text, blocks)


def person_card(own: Ownership, person: str) -> dict[str, Any]:
    owned = own.owned_by(person)
    label = own.label(person)
    if not owned:
        return message(
            f"{label} owns nothing in ownership.yaml.",
            [SectionBlock(text=MarkdownTextObject(text=f"{label} is not R, A, C or I for any area."))],
        )
    lines = [f"*{own.raci(area).name}* (`{area}`): {', '.join(roles)}" for area, roles in owned]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"What {label} owns")),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text="\n".join(lines))),
        ContextBlock(
            elements=[MarkdownTextObject(text="R responsible · A accountable · C consulted · I informed")]
        ),
    ]
    return message(f"What {label} owns: " + "; ".join(f"{a} ({', '.join(r)})" for a, r in owned), blocks)
