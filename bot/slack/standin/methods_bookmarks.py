"""The bookmarks.* methods, newer than the 2020 spec: links pinned to a channel's header."""

from __future__ import annotations

import time
from typing import Any

from bot.slack.standin.records import ApiError, Channel, present
from bot.slack.standin.state import Handler, Workspace

MAX_PER_CHANNEL = 100  # "Conversations are limited to 100 bookmarks" (Slack's bookmarks.add page)


def _link(value: Any) -> str:
    link = str(value or "")
    if not link.startswith(("http://", "https://")):
        raise ApiError("invalid_link")
    return link


def _member_channel(ws: Workspace, channel_id: Any) -> Channel:
    channel = ws.visible_channel(channel_id)
    if channel.is_im or channel.is_mpim:
        raise ApiError("channel_not_found")
    return channel


def _find(ws: Workspace, channel: Channel, bookmark_id: Any) -> dict[str, Any]:
    found = next((b for b in ws.bookmarks.get(channel.id, []) if b["id"] == str(bookmark_id)), None)
    if found is None:
        raise ApiError("bookmark_not_found")
    return found


def bookmarks_add(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.writable_channel(_member_channel(ws, params["channel_id"]).id)
    if params["type"] != "link":  # the only type Slack accepts
        raise ApiError("invalid_bookmark_type")
    link = _link(params.get("link"))
    marks = ws.bookmarks.setdefault(channel.id, [])
    if len(marks) >= MAX_PER_CHANNEL:
        raise ApiError("too_many_bookmarks")
    now = int(time.time())
    bookmark = {
        "id": ws.new_id("Bk"),
        "channel_id": channel.id,
        "title": str(params["title"]),
        "link": link,
        "emoji": str(params.get("emoji") or ""),
        "type": "link",
        "entity_id": None,
        "date_created": now,
        "date_updated": 0,
        "rank": chr(ord("a") + len(marks) % 26),
        "last_updated_by_user_id": "",
        "app_id": None,
    }
    marks.append(bookmark)
    return {"bookmark": dict(bookmark)}


def bookmarks_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = _member_channel(ws, params["channel_id"])
    return {"bookmarks": [dict(b) for b in ws.bookmarks.get(channel.id, [])]}


def bookmarks_edit(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.writable_channel(_member_channel(ws, params["channel_id"]).id)
    bookmark = _find(ws, channel, params["bookmark_id"])
    if present(params.get("link")):
        bookmark["link"] = _link(params["link"])
    for key in ("title", "emoji"):
        if present(params.get(key)):
            bookmark[key] = str(params[key])
    bookmark["date_updated"] = int(time.time())
    return {"bookmark": dict(bookmark)}


def bookmarks_remove(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    channel = ws.writable_channel(_member_channel(ws, params["channel_id"]).id)
    ws.bookmarks[channel.id].remove(_find(ws, channel, params["bookmark_id"]))
    return {}


#: Method name -> implementation (called with the workspace lock held, after the checks).
HANDLERS: dict[str, Handler] = {
    "bookmarks.add": bookmarks_add,
    "bookmarks.list": bookmarks_list,
    "bookmarks.edit": bookmarks_edit,
    "bookmarks.remove": bookmarks_remove,
}
