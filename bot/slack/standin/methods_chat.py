"""The chat.*, pins.* and reactions.* methods."""

from __future__ import annotations

from typing import Any

from bot.slack.standin import limits
from bot.slack.standin.records import (
    BOT_USER_ID,
    EMOJI_NAME_RE,
    TEAM_DOMAIN,
    ApiError,
    Ephemeral,
    json_arg,
    present,
)
from bot.slack.standin.state import Handler, Workspace


def chat_postMessage(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.post_target(params["channel"])
    limits.check_message(params)
    message = ws.bot_message(params)
    channel.messages.append(message)
    return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}


def chat_postEphemeral(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    user = ws.find_user(params["user"])
    target = str(params["channel"])
    channel = ws.open_dm(user.id)[0] if target == user.id else ws.visible_channel(target)
    limits.check_message(params)
    if channel.archived:
        raise ApiError("is_archived")
    if user.id not in channel.members:
        raise ApiError("user_not_in_channel")
    ts = ws.next_ts()
    ws.ephemeral_messages.append(
        Ephemeral(
            channel.id,
            user.id,
            str(params.get("text") or ""),
            json_arg(params["blocks"], "blocks") if present(params.get("blocks")) else None,
            ts,
            json_arg(params["attachments"], "attachments") if present(params.get("attachments")) else None,
            str(params["thread_ts"]) if present(params.get("thread_ts")) else None,
        )
    )
    return {"message_ts": ts}


def chat_update(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    message = ws.find_message(channel, params["ts"])
    limits.check_message(params)
    if message.get("user") != BOT_USER_ID:
        raise ApiError("cant_update_message")
    if channel.archived:
        raise ApiError("is_archived")
    if "text" in params:
        message["text"] = str(params.get("text") or "")
    for key in ("blocks", "attachments", "metadata"):
        if key in params:
            message[key] = json_arg(params[key], key)
    message["edited"] = {"user": BOT_USER_ID, "ts": ws.next_ts()}
    return {"channel": channel.id, "ts": message["ts"], "text": message["text"], "message": dict(message)}


def chat_getPermalink(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    message = ws.find_message(channel, params["message_ts"])
    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


def pins_add(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.writable_channel(params["channel"])
    message = ws.find_message(channel, params["timestamp"])
    if message["ts"] in channel.pins:
        raise ApiError("already_pinned")
    channel.pins.append(message["ts"])
    message.setdefault("pinned_to", []).append(channel.id)
    return {}


def reactions_add(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["name"])
    if not EMOJI_NAME_RE.match(name):  # e.g. ":fire:" with colons is rejected by Slack
        raise ApiError("invalid_name")
    channel = ws.visible_channel(params["channel"])
    message = ws.find_message(channel, params["timestamp"])
    reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
    reaction = next((r for r in reactions if r["name"] == name), None)
    if reaction is None:
        reaction = {"name": name, "users": [], "count": 0}
        reactions.append(reaction)
    if BOT_USER_ID in reaction["users"]:
        raise ApiError("already_reacted")
    reaction["users"].append(BOT_USER_ID)
    reaction["count"] += 1
    return {}


#: Method name -> implementation (called with the workspace lock held, after the checks).
HANDLERS: dict[str, Handler] = {
    "chat.postMessage": chat_postMessage,
    "chat.postEphemeral": chat_postEphemeral,
    "chat.update": chat_update,
    "chat.getPermalink": chat_getPermalink,
    "pins.add": pins_add,
    "reactions.add": reactions_add,
}
