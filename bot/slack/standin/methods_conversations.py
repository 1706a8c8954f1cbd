"""The conversations.* methods: create, invite, join, topic, purpose, info, members, list, history,
open and archive."""

from __future__ import annotations

import re
from typing import Any

from bot.slack.standin.records import (
    BOT_USER_ID,
    CHANNEL_NAME_RE,
    ApiError,
    Channel,
    ids,
    paginate,
    present,
    truthy,
)
from bot.slack.standin.state import Handler, Workspace


def conversations_create(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    name = str(params["name"])
    if len(name) > 80:
        raise ApiError("invalid_name_maxlength")
    if not CHANNEL_NAME_RE.match(name):
        raise ApiError("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise ApiError("invalid_name_punctuation")
    if ws.channel_by_name(name) is not None:  # archived channels keep their names taken
        raise ApiError("name_taken")
    channel = Channel(
        ws.new_id("C"), name, is_private=truthy(params.get("is_private")), members={BOT_USER_ID}
    )
    ws.channels[channel.id] = channel
    return {"channel": channel.to_api()}


def conversations_invite(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    if channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.archived:
        raise ApiError("is_archived")
    if BOT_USER_ID not in channel.members:
        raise ApiError("not_in_channel")
    user_ids = ids(params["users"])
    if not user_ids:
        raise ApiError("no_user")
    if len(user_ids) > 1000:
        raise ApiError("too_many_users")
    for user_id in user_ids:
        if user_id == BOT_USER_ID:
            raise ApiError("cant_invite_self")
        ws.find_user(user_id)
    # Slack fails only when every user is already a member; otherwise it invites the rest.
    if all(u in channel.members for u in user_ids):
        raise ApiError("already_in_channel")
    channel.members.update(user_ids)
    return {"channel": channel.to_api()}


def conversations_join(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.channels.get(str(params["channel"]))
    if channel is None or channel.is_im or channel.is_mpim:
        raise ApiError("channel_not_found")
    if channel.is_private:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.archived:
        raise ApiError("is_archived")
    result: dict[str, Any] = {"channel": channel.to_api()}
    if BOT_USER_ID in channel.members:
        result["warning"] = "already_in_channel"
        result["response_metadata"] = {"warnings": ["already_in_channel"]}
    channel.members.add(BOT_USER_ID)
    result["channel"] = channel.to_api()
    return result


def conversations_setTopic(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return _set_text(ws, params, "topic")


def conversations_setPurpose(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return _set_text(ws, params, "purpose")


def _set_text(ws: Workspace, params: dict[str, Any], field: str) -> dict[str, Any]:
    """A channel's topic or purpose: at most 250 characters, as Slack allows."""
    channel = ws.writable_channel(params["channel"])
    text = str(params[field])
    if len(text) > 250:
        raise ApiError("too_long")
    setattr(channel, field, text)
    return {"channel": channel.to_api()}


def conversations_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    return {"channel": channel.to_api(num_members=truthy(params.get("include_num_members")))}


def conversations_members(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    page, cursor = paginate(sorted(channel.members), params)
    return {"members": page, "response_metadata": {"next_cursor": cursor}}


def conversations_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    types = set(ids(params.get("types") or "public_channel"))
    exclude_archived = truthy(params.get("exclude_archived"))
    found = []
    for channel in ws.channels.values():
        kind = (
            "im"
            if channel.is_im
            else "mpim"
            if channel.is_mpim
            else "private_channel"
            if channel.is_private
            else "public_channel"
        )
        if kind not in types or (exclude_archived and channel.archived):
            continue
        if kind != "public_channel" and BOT_USER_ID not in channel.members:
            continue
        found.append(channel.to_api())
    page, cursor = paginate(found, params)
    return {"channels": page, "response_metadata": {"next_cursor": cursor}}


def conversations_history(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    if channel.is_im:
        ws.need_scope("im:history")
    elif channel.is_mpim:
        ws.need_scope("mpim:history")
    else:
        ws.need_scope("groups:history" if channel.is_private else "channels:history")
    # Like Slack: only messages between oldest and latest (ends excluded unless inclusive).
    oldest = float(params.get("oldest") or 0)
    latest = float(params["latest"]) if present(params.get("latest")) else float("inf")
    inclusive = truthy(params.get("inclusive"))

    def within(ts: str) -> bool:
        value = float(ts)
        if inclusive:
            return oldest <= value <= latest
        return oldest < value < latest

    # Like Slack: a thread's replies are not in the channel's history (conversations.replies).
    newest_first = [
        dict(m)
        for m in reversed(channel.messages)
        if within(str(m.get("ts", "0"))) and m.get("thread_ts", m.get("ts")) == m.get("ts")
    ]
    if not truthy(params.get("include_all_metadata")):  # Slack leaves it out unless asked
        newest_first = [{k: v for k, v in m.items() if k != "metadata"} for m in newest_first]
    page, cursor = paginate(newest_first, params)
    return {
        "messages": page,
        "has_more": bool(cursor),
        "pin_count": len(channel.pins),
        "response_metadata": {"next_cursor": cursor},
    }


def conversations_open(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    if present(params.get("channel")):
        channel = ws.visible_channel(params["channel"])
        return {"no_op": True, "already_open": True, "channel": {"id": channel.id}}
    user_ids = [u for u in ids(params["users"]) if u != BOT_USER_ID]
    if not user_ids:
        raise ApiError("not_enough_users")
    if len(user_ids) > 8:
        raise ApiError("too_many_users")
    ws.need_scope("im:write" if len(user_ids) == 1 else "mpim:write")
    for user_id in user_ids:
        ws.find_user(user_id)
    if len(user_ids) == 1:
        channel, existed = ws.open_dm(user_ids[0])
    else:
        members = {BOT_USER_ID, *user_ids}
        found = next((c for c in ws.channels.values() if c.is_mpim and c.members == members), None)
        existed = found is not None
        if found is None:
            name = "mpdm-" + "--".join(sorted(ws.users[u].name for u in members)) + "-1"
            found = Channel(ws.new_id("G"), name, is_private=True, is_mpim=True, members=members)
            ws.channels[found.id] = found
        channel = found
    body: dict[str, Any] = {
        "channel": channel.to_api() if truthy(params.get("return_im")) else {"id": channel.id}
    }
    if existed:
        body = {"no_op": True, "already_open": True, **body}
    return body


def conversations_archive(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.visible_channel(params["channel"])
    if channel.is_im or channel.is_mpim:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_general:
        raise ApiError("cant_archive_general")
    if channel.archived:
        raise ApiError("already_archived")
    if BOT_USER_ID not in channel.members:
        raise ApiError("not_in_channel")
    channel.archived = True
    return {}


def conversations_replies(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """A thread: its parent first, then its replies, oldest first (between oldest and latest)."""
    channel = ws.visible_channel(params["channel"])
    if channel.is_im:
        ws.need_scope("im:history")
    else:
        ws.need_scope("groups:history" if channel.is_private else "channels:history")
    ts = str(params["ts"])
    if channel.message(ts) is None:
        raise ApiError("thread_not_found")
    oldest = float(params.get("oldest") or 0)
    latest = float(params["latest"]) if present(params.get("latest")) else float("inf")
    thread = [
        dict(m)
        for m in channel.messages
        if (m.get("ts") == ts or m.get("thread_ts") == ts) and oldest <= float(str(m.get("ts"))) <= latest
    ]
    if not truthy(params.get("include_all_metadata")):
        thread = [{k: v for k, v in m.items() if k != "metadata"} for m in thread]
    page, cursor = paginate(thread, params)
    return {"messages": page, "has_more": bool(cursor), "response_metadata": {"next_cursor": cursor}}


#: Method name -> implementation (called with the workspace lock held, after the checks).
HANDLERS: dict[str, Handler] = {
    "conversations.create": conversations_create,
    "conversations.invite": conversations_invite,
    "conversations.join": conversations_join,
    "conversations.setTopic": conversations_setTopic,
    "conversations.setPurpose": conversations_setPurpose,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
    "conversations.list": conversations_list,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.open": conversations_open,
    "conversations.archive": conversations_archive,
}
