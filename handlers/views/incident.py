"""The declare and resolve modals."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext

from bot.incidents import services as incidents
from bot.records import drafts, evidence
from bot.text.errors import Refused
from handlers.listener import baton_of


def _value(view: dict[str, Any], block: str) -> str:
    element = view["state"]["values"].get(block, {}).get("value", {})
    selected = element.get("selected_option")
    return str(selected["value"] if selected else element.get("value") or "")


def declare_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    try:
        incidents.declare(
            baton=baton,
            severity=_value(view, "severity"),
            area=_value(view, "area"),
            title=_value(view, "title"),
            reporter=body["user"]["id"],
        )
    except Refused as e:
        ack(response_action="errors", errors={"title": str(e)[:150]})
        return
    ack()


def resolve_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    try:
        incidents.resolve(
            baton=baton,
            number=int(view["private_metadata"]),
            summary=_value(view, "summary"),
            user=body["user"]["id"],
        )
    except Refused as e:
        ack(response_action="errors", errors={"summary": str(e)[:150]})
        return
    ack()


def evidence_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    draft_id = view["private_metadata"]
    try:
        draft = drafts.get(baton=baton, draft_id=draft_id, user=body["user"]["id"])
        evidence.add(
            baton=baton,
            number=int(_value(view, "incident")),
            author=body["user"]["id"],
            text=draft.text,
            link=draft.link,
            source_channel=draft.channel,
            source_ts=draft.ts,
            message_author=draft.message_author,
        )
    except Refused as e:
        ack(response_action="errors", errors={"incident": str(e)[:150]})
        return
    drafts.discard(baton=baton, draft_id=draft_id)
    ack()
