"""The "Add to incident evidence" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext, Respond

from bot.incidents import services as incidents
from bot.records import drafts, evidence
from bot.store.runtime import Baton
from bot.text.errors import Refused
from bot.text.mrkdwn import unescape
from handlers.listener import baton_of
from handlers.render import incident as render


def add_to_evidence(shortcut: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """A lazy function (handlers/listener.py): acked first, it reads Slack and answers."""
    baton = baton_of(context)
    channel = shortcut["channel"]["id"]
    message = shortcut.get("message") or {}
    ts = str(shortcut.get("message_ts") or message.get("ts") or "")
    inc = incidents.find_by_channel(baton=baton, channel_id=channel)
    if inc is None:
        # Not in an incident channel: ask which incident it belongs to.
        open_ = incidents.list_open(baton=baton)
        if not open_:
            respond(response_type="ephemeral", text=":warning: There is no open incident to add this to.")
            return
        # The message waits in the database: the modal carries only the draft's id.
        draft = drafts.save(
            baton=baton,
            user=shortcut["user"]["id"],
            channel=channel,
            ts=ts,
            message_author=message.get("user"),
            text=unescape(str(message.get("text") or "")),
            link=baton.chat.permalink(channel, ts) if ts else None,
        )
        baton.chat.open_view(shortcut["trigger_id"], render.evidence_view(open_, draft))
        return
    assert inc.id is not None
    respond(response_type="ephemeral", text=_add(baton, inc.id, shortcut["user"]["id"], channel, ts, message))


def _add(baton: Baton, number: int, user: str, channel: str, ts: str, message: dict[str, Any]) -> str:
    try:
        added = evidence.add(
            baton=baton,
            number=number,
            author=user,
            text=unescape(str(message.get("text") or "")),
            link=baton.chat.permalink(channel, ts),
            source_channel=channel,
            source_ts=ts,
            message_author=message.get("user"),
        )
    except Refused as e:
        return f":warning: {e}"
    if added.already:
        return f"That message is already in the evidence of #{number}."
    return f":pushpin: Added to the evidence of #{number}."
