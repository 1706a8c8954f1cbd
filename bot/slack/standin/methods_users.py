"""The api.*, auth.*, users.* and usergroups.* methods."""

from __future__ import annotations

import time
from typing import Any

from bot.slack.standin.records import (
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    ApiError,
    paginate,
    truthy,
)
from bot.slack.standin.state import Handler, Workspace


def api_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("error"):
        raise ApiError(str(params["error"]), args=params)
    return {"args": params}


def auth_test(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": "baton",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def users_info(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    # Slack still describes a deactivated account here, with deleted: true.
    user = ws.users.get(str(params["user"]))
    if user is None:
        raise ApiError("user_not_found")
    return {"user": user.to_api()}


def users_lookupByEmail(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    email = str(params["email"]).lower()
    user = next(
        (u for u in ws.users.values() if u.email and u.email.lower() == email and not u.deleted), None
    )
    if user is None:
        raise ApiError("users_not_found")
    return {"user": user.to_api()}


def users_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    page, cursor = paginate([u.to_api() for u in ws.users.values()], params, 200)
    return {"members": page, "cache_ts": int(time.time()), "response_metadata": {"next_cursor": cursor}}


def usergroups_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    include_users = truthy(params.get("include_users"))
    groups = []
    for group_id, users in ws.usergroups.items():
        group: dict[str, Any] = {
            "id": group_id,
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": group_id,
            "handle": group_id.lower(),
            "description": "",
            "is_external": False,
            "auto_type": None,
            "created_by": BOT_USER_ID,
            "updated_by": BOT_USER_ID,
            "deleted_by": None,
            "date_create": 1700000000,
            "date_update": 1700000000,
            "date_delete": 0,  # the fake has no disabled groups
            "prefs": {"channels": [], "groups": []},
            "user_count": str(len(users)),
        }
        if include_users:
            group["users"] = list(users)
        groups.append(group)
    return {"usergroups": groups}


def usergroups_users_list(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    group = ws.usergroups.get(str(params["usergroup"]))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group)}


#: Method name -> implementation (called with the workspace lock held, after the checks).
HANDLERS: dict[str, Handler] = {
    "api.test": api_test,
    "auth.test": auth_test,
    "users.info": users_info,
    "users.lookupByEmail": users_lookupByEmail,
    "users.list": users_list,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
}
