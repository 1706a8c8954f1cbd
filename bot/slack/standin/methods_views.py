"""The views.* methods: modals opened with a trigger, updated by id or external_id, and App Home tabs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from bot.slack.standin import limits
from bot.slack.standin.records import (
    APP_ID,
    BOT_ID,
    TEAM_ID,
    TRIGGER_RE,
    ApiError,
    ViewRecord,
    json_arg,
    present,
)
from bot.slack.standin.state import Handler, Workspace


def parse_view(ws: Workspace, raw: Any, allowed_types: tuple[str, ...]) -> dict[str, Any]:
    view = json_arg(raw, "view")
    if not isinstance(view, dict) or view.get("type") not in allowed_types:
        raise ApiError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] view.type must be one of {list(allowed_types)}"]},
        )
    if view["type"] == "modal" and not view.get("title"):
        raise ApiError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: title"]}
        )
    limits.check_view(view)
    return view


def store_view(
    ws: Workspace, view: Mapping[str, Any], view_id: str | None = None, root: str | None = None
) -> dict[str, Any]:
    view_id = view_id or ws.new_id("V")
    stored = {
        "id": view_id,
        "team_id": TEAM_ID,
        "type": view["type"],
        "blocks": list(view.get("blocks", [])),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "title": view.get("title"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "previous_view_id": None,
        "root_view_id": root or view_id,
        "app_id": APP_ID,
        "external_id": view.get("external_id", ""),
        "app_installed_team_id": TEAM_ID,
        "bot_id": BOT_ID,
    }
    ws.views_by_id[view_id] = stored
    return dict(stored)


def use_trigger(ws: Workspace, trigger_id: Any) -> str:
    trigger = str(trigger_id)
    if not TRIGGER_RE.match(trigger):
        raise ApiError("invalid_trigger_id")
    if trigger in ws.used_triggers:
        raise ApiError("exchanged_trigger_id")  # a trigger opens one view only
    ws.used_triggers.add(trigger)
    return trigger


def views_open(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return _show_modal(ws, params, "open")


def views_push(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return _show_modal(ws, params, "push")


def _show_modal(ws: Workspace, params: dict[str, Any], action: str) -> dict[str, Any]:
    """views.open / views.push: a modal, shown with a trigger_id that is then used up."""
    view = parse_view(ws, params["view"], ("modal",))
    trigger = use_trigger(ws, params["trigger_id"])
    stored = store_view(ws, view)
    ws.view_records.append(ViewRecord(action, stored, trigger_id=trigger))
    return {"view": stored}


def views_update(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    view_id = str(params.get("view_id") or "")
    if not view_id:
        external_id = str(params["external_id"])
        view_id = next((v["id"] for v in ws.views_by_id.values() if v["external_id"] == external_id), "")
    current = ws.views_by_id.get(view_id)
    if current is None:
        raise ApiError("not_found")
    if present(params.get("hash")) and params["hash"] != current["hash"]:
        raise ApiError("hash_conflict")
    view = parse_view(ws, params["view"], (current["type"],))
    stored = store_view(ws, view, view_id, current["root_view_id"])
    ws.view_records.append(ViewRecord("update", stored))
    return {"view": stored}


def views_publish(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    user = ws.find_user(params["user_id"], "invalid_arguments")
    view = parse_view(ws, params["view"], ("home",))
    current_id = ws.home_by_user.get(user.id)
    if current_id and present(params.get("hash")) and params["hash"] != ws.views_by_id[current_id]["hash"]:
        raise ApiError("hash_conflict")
    stored = store_view(ws, view, current_id)
    ws.home_by_user[user.id] = stored["id"]
    ws.view_records.append(ViewRecord("publish", stored, user_id=user.id))
    return {"view": stored}


#: Method name -> implementation (called with the workspace lock held, after the checks).
HANDLERS: dict[str, Handler] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
