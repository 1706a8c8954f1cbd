"""The stand-in's vocabulary: workspace identity, the records it keeps (calls, users, channels,
ephemerals, views, response_url posts), Slack's error as an exception, and small argument readers."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0FAKE"
TEAM_DOMAIN = "fake-team"
TEAM_NAME = "Fake Team"
APP_ID = "A0FAKE"
BOT_ID = "B0FAKEBOT"
BOT_USER_ID = "UBATONBOT"
# Shaped like Slack's (Baton refuses a token too short to be real).
BOT_TOKEN = "xoxb-1000000001-2000000000002-FakeSlackBotToken0000001"
APP_TOKEN = "xapp-1-A0000000001-3000000000003-fakeslack0app0token0000000000000000000001"
GENERAL_ID = "C0GENERAL"
#: The bot token's scopes unless a test takes some away (``FakeSlack.scopes``).
DEFAULT_SCOPES: frozenset[str] = frozenset(
    {
        "commands",
        "chat:write",
        "users:read",
        "users:read.email",
        "channels:manage",
        "channels:read",
        "channels:history",
        "groups:read",
        "groups:history",
        "im:history",
        "im:write",
        "mpim:history",
        "mpim:write",
        "pins:write",
        "reactions:read",
        "usergroups:read",
        "files:write",
    }
)
#: (user_id, name, email, real name) of the humans every FakeSlack starts with; all are in #general.
DEFAULT_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("U07MAYA001", "maya", "maya@example.com", "Maya Okafor"),
    ("U07LEO0002", "leo", "leo@example.com", "Leo Brandt"),
    ("U07PRIYA03", "priya", "priya@example.com", "Priya Raman"),
)


@dataclass
class Call:
    """One request to ``/api/<method>`` as the fake saw and answered it."""

    method: str
    params: dict[str, Any]
    http_status: int
    monotonic: float  # time.monotonic() when the request arrived
    wall_time: float  # time.time() when the request arrived
    http_method: str = "POST"
    content_type: str = ""
    token: str | None = None
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass
class User:
    id: str
    name: str
    email: str | None = None
    real_name: str = ""
    is_bot: bool = False
    tz: str = "Europe/London"
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": self.real_name or self.name,
            "real_name_normalized": self.real_name or self.name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": TEAM_ID,
        }
        if self.email:
            profile["email"] = self.email
        if self.is_bot:
            profile["bot_id"] = BOT_ID
            profile["api_app_id"] = APP_ID
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name or self.name,
            "tz": self.tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }


@dataclass
class Channel:
    """A conversation: public/private channel, DM (``is_im``) or group DM (``is_mpim``)."""

    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_mpim: bool = False
    user: str | None = None  # the other party of a DM
    topic: str = ""
    purpose: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    pins: list[str] = field(default_factory=list)  # pinned message ts, in pin order
    archived: bool = False
    creator: str = BOT_USER_ID
    created: int = field(default_factory=lambda: int(time.time()))
    is_general: bool = False

    def message(self, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m.get("ts") == ts), None)

    def to_api(self, *, num_members: bool = False) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_mpim,
            "is_group": self.is_private and not self.is_mpim,
            "is_im": False,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private or self.is_mpim,
            "created": self.created,
            "is_archived": self.archived,
            "is_general": self.is_general,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": TEAM_ID,
            "updated": self.created * 1000,
            "parent_conversation": None,
            "creator": self.creator,
            "is_member": BOT_USER_ID in self.members,
            "topic": {"value": self.topic, "creator": self.creator if self.topic else "", "last_set": 0},
            "purpose": {
                "value": self.purpose,
                "creator": self.creator if self.purpose else "",
                "last_set": 0,
            },
            "previous_names": [],
        }
        if num_members:
            out["num_members"] = len(self.members)
        return out


@dataclass
class Ephemeral:
    """An ephemeral message (chat.postEphemeral or an ephemeral response_url post)."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    message_ts: str
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    via: str = "chat.postEphemeral"


@dataclass
class File:
    """A file from files.getUploadURLExternal: its bytes once POSTed to its upload URL, shared
    (with its title) by files.completeUploadExternal."""

    id: str
    name: str
    length: int
    content: bytes | None = None  # None until the upload URL received the bytes
    title: str = ""
    completed: bool = False
    channels: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": int(time.time()),
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": "application/octet-stream",
            "filetype": "binary",
            "user": BOT_USER_ID,
            "size": len(self.content or b""),
            "is_external": False,
            "channels": list(self.channels),
            "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{self.id}/{self.name}",
        }


@dataclass
class ViewRecord:
    """A views.open / views.push / views.update / views.publish that succeeded."""

    action: str  # "open" | "push" | "update" | "publish"
    view: dict[str, Any]  # the Slack-shaped view object returned to the caller
    user_id: str | None = None  # views.publish target
    trigger_id: str | None = None


@dataclass
class ResponseUrlPost:
    """A POST the app made to a response_url issued by :meth:`FakeSlack.response_url`."""

    url: str
    body: dict[str, Any]
    monotonic: float
    channel_id: str | None
    user_id: str | None


class ApiError(Exception):
    """Raised inside handlers; becomes ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
EMOJI_NAME_RE = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")
TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")


def present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def truthy(value: Any) -> bool:
    return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("1", "true"))


def ids(value: Any) -> list[str]:
    """Comma-separated ids (form) or a list (JSON) -> list of non-empty ids."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def json_arg(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] invalid JSON: {name}"]}
            ) from None
    return value


def paginate(items: list[Any], params: Mapping[str, Any], default_limit: int = 100) -> tuple[list[Any], str]:
    """Cursor pagination: the cursor is base64("offset:N"), like Slack's opaque cursors."""
    try:
        limit = int(params.get("limit") or default_limit) or default_limit
        cursor = str(params.get("cursor") or "")
        offset = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
    except (ValueError, IndexError):
        raise ApiError("invalid_cursor") from None
    chunk = items[offset : offset + limit]
    more = offset + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if more else ""
    return chunk, next_cursor
