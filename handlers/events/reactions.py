"""A :pushpin: (BATON_EVIDENCE_REACTION) on a message in an incident channel adds it to the evidence."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from bot.incidents import services as incidents
from bot.records import evidence
from bot.text.errors import Refused
from bot.text.mrkdwn import unescape
from handlers.listener import baton_of


def reaction_added(event: dict[str, Any], context: BoltContext) -> None:
    baton = baton_of(context)
    item = event.get("item") or {}
    if event.get("reaction") != baton.settings.evidence_reaction or item.get("type") != "message":
        return
    channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
    inc = incidents.find_by_channel(baton=baton, channel_id=channel)
    if inc is None or inc.id is None:
        return  # a pin anywhere else is just a pin
    message = baton.chat.message(channel, ts)
    if message is None:
        return
    try:
        evidence.add(
            baton=baton,
            number=inc.id,
            author=str(event.get("user", "")),
            text=unescape(str(message.get("text") or "")),
            link=baton.chat.permalink(channel, ts),
            source_channel=channel,
            source_ts=ts,
            message_author=message.get("user"),
        )
    except Refused:
        return  # an empty message: nothing to keep
