"""The stand-in's workspace: users, channels and DMs with their messages, user groups, views,
ephemerals and the bot's scopes; seeding and reading helpers for tests and the demo, and the
lookups the method implementations share (each raising Slack's error for what is missing)."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.slack.standin.records import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    DEFAULT_SCOPES,
    DEFAULT_USERS,
    GENERAL_ID,
    TEAM_ID,
    ApiError,
    Channel,
    Ephemeral,
    File,
    ResponseUrlPost,
    User,
    ViewRecord,
    json_arg,
    present,
    truthy,
)


class Workspace:
    """What a Slack workspace holds, behind one lock (method implementations run with it held)."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemeral_messages: list[Ephemeral] = []
        self.view_records: list[ViewRecord] = []
        self.response_posts: list[ResponseUrlPost] = []
        self.usergroups: dict[str, list[str]] = {}
        self.scopes: set[str] = set(DEFAULT_SCOPES)
        self.views_by_id: dict[str, dict[str, Any]] = {}  # view_id -> current view
        self.home_by_user: dict[str, str] = {}  # user_id -> view_id of the published home tab
        self.dms: dict[str, str] = {}  # user_id -> D... channel id
        self.used_triggers: set[str] = set()
        self.files: dict[str, File] = {}  # file_id -> file, from files.getUploadURLExternal
        self.bookmarks: dict[str, list[dict[str, Any]]] = {}  # channel_id -> its bookmarks, in order
        self.port = 0  # where the HTTP server listens, once started
        self._response_urls: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self._lock = threading.RLock()
        self._seed()

    def _seed(self) -> None:
        self.add_user(BOT_USER_ID, "baton", real_name="Baton", is_bot=True)
        general = Channel(GENERAL_ID, "general", is_general=True, members={BOT_USER_ID})
        self.channels[general.id] = general
        for user_id, name, email, real_name in DEFAULT_USERS:
            self.add_user(user_id, name, email, real_name=real_name)

    # -- seeding helpers ---------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-shaped id: C0FK000001, V0FK000002, ..."""
        return f"{prefix}0FK{next(self._ids):06d}"

    def local_url(self, path: str) -> str:
        """A URL on the stand-in's own server (response_url, a file's upload URL)."""
        return f"http://127.0.0.1:{self.port}{path}"

    def next_ts(self) -> str:
        """Strictly increasing, microsecond resolution, like Slack's message ts."""
        with self._lock:
            self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def add_user(
        self,
        user_id: str,
        name: str,
        email: str | None = None,
        *,
        real_name: str = "",
        is_bot: bool = False,
        tz: str = "Europe/London",
    ) -> User:
        """Add (or replace) a user; humans join #general like every Slack member."""
        user = User(user_id, name, email, real_name or name.title(), is_bot, tz)
        with self._lock:
            self.users[user_id] = user
            if not is_bot and GENERAL_ID in self.channels:
                self.channels[GENERAL_ID].members.add(user_id)
        return user

    def add_channel(
        self,
        name: str,
        *,
        members: Iterable[str] = (),
        is_private: bool = False,
        bot_member: bool = True,
        topic: str = "",
        purpose: str = "",
        channel_id: str | None = None,
    ) -> Channel:
        """Create a channel directly (no API call, no validation) for test setup."""
        with self._lock:
            channel = Channel(
                channel_id or self.new_id("C"),
                name,
                is_private=is_private,
                topic=topic,
                purpose=purpose,
                members=set(members) | ({BOT_USER_ID} if bot_member else set()),
                creator=BOT_USER_ID if bot_member else next(iter(members), BOT_USER_ID),
            )
            self.channels[channel.id] = channel
            return channel

    def add_usergroup(self, usergroup_id: str, users: Iterable[str]) -> None:
        """Define a user group (S...) for usergroups.users.list."""
        with self._lock:
            self.usergroups[usergroup_id] = list(users)

    def post_as_user(self, channel_id: str, user_id: str, text: str, **fields: Any) -> dict[str, Any]:
        """Put a message from a human into a channel (e.g. the source of a message shortcut)."""
        with self._lock:
            message = {
                "type": "message",
                "user": user_id,
                "text": text,
                "ts": self.next_ts(),
                "team": TEAM_ID,
            }
            message.update(fields)
            self.channels[channel_id].messages.append(message)
            return dict(message)

    # -- assertion helpers -------------------------------------------------------------------

    def channel_by_name(self, name: str) -> Channel | None:
        """The channel (archived or not) called ``name``, or None."""
        with self._lock:
            return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Copy of the messages in a channel or DM, oldest first ([] if unknown)."""
        with self._lock:
            channel = self.channels.get(channel_id)
            return [dict(m) for m in channel.messages] if channel else []

    def dm_channel(self, user_id: str) -> str | None:
        """The D... id of the bot's DM with ``user_id``, if it was opened."""
        with self._lock:
            return self.dms.get(user_id)

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        """Messages in the bot's DM with ``user_id`` ([] if no DM exists)."""
        dm = self.dm_channel(user_id)
        return self.messages(dm) if dm else []

    def ephemerals(self, user_id: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages, optionally only those shown to ``user_id``."""
        with self._lock:
            return [e for e in self.ephemeral_messages if user_id is None or e.user == user_id]

    def opened_views(self) -> list[dict[str, Any]]:
        """Views opened as modals (views.open and views.push), in order."""
        with self._lock:
            return [r.view for r in self.view_records if r.action in ("open", "push")]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view currently published for ``user_id``."""
        with self._lock:
            view_id = self.home_by_user.get(user_id)
            return dict(self.views_by_id[view_id]) if view_id else None

    def view(self, view_id: str) -> dict[str, Any] | None:
        """Current state of a view by id."""
        with self._lock:
            found = self.views_by_id.get(view_id)
            return dict(found) if found else None

    def shared_file(self, file_id: str) -> bytes | None:
        """The bytes of a file files.completeUploadExternal shared (None if unknown or not shared)."""
        with self._lock:
            found = self.files.get(file_id)
            return found.content if found is not None and found.completed else None

    # -- response_url ------------------------------------------------------------------------

    def response_url(
        self, channel_id: str | None = None, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """Issue a local response_url bound to the channel/user (and source message) it answers."""
        with self._lock:
            path = f"/hooks/actions/{TEAM_ID}/{next(self._ids)}/{secrets.token_hex(8)}"
            self._response_urls[path] = (channel_id, user_id, message_ts)
        return self.local_url(path)

    def responses(self, url: str | None = None) -> list[ResponseUrlPost]:
        with self._lock:
            return [p for p in self.response_posts if url is None or p.url == url]

    def handle_response_url(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        """Slack semantics: in_channel posts publicly, replace/delete_original edit the source,
        anything else is an ephemeral message to the user."""
        with self._lock:
            if path not in self._response_urls:
                return 404, "no_service"
            channel_id, user_id, message_ts = self._response_urls[path]
            url = self.local_url(path)
            self.response_posts.append(ResponseUrlPost(url, body, time.monotonic(), channel_id, user_id))
            channel = self.channels.get(channel_id or "")
            source = channel.message(message_ts) if channel and message_ts else None
            if channel and source is not None and truthy(body.get("delete_original")):
                channel.messages.remove(source)
            elif channel and source is not None and truthy(body.get("replace_original")):
                # The whole message is replaced (unlike chat.update, which keeps blocks it is
                # not given): a reply of text alone leaves no buttons behind.
                for key in ("text", "blocks", "attachments"):
                    if key in body:
                        source[key] = body[key]
                    elif key != "text":
                        source.pop(key, None)
            elif channel and body.get("response_type") == "in_channel":
                channel.messages.append(self.bot_message(body))
            elif channel_id and user_id:
                self.ephemeral_messages.append(
                    Ephemeral(
                        channel_id,
                        user_id,
                        body.get("text", ""),
                        body.get("blocks"),
                        self.next_ts(),
                        body.get("attachments"),
                        body.get("thread_ts"),
                        via="response_url",
                    )
                )
        return 200, "ok"

    # -- lookups used by method implementations (called with the lock held) ------------------

    def find_user(self, user_id: Any, code: str = "user_not_found") -> User:
        user = self.users.get(str(user_id))
        if user is None or user.deleted:
            raise ApiError(code)
        return user

    def visible_channel(self, channel_id: Any) -> Channel:
        """A channel the bot can see; private ones it is not in look nonexistent, as on Slack."""
        channel = self.channels.get(str(channel_id))
        if channel is None or (
            (channel.is_private or channel.is_im or channel.is_mpim) and BOT_USER_ID not in channel.members
        ):
            raise ApiError("channel_not_found")
        return channel

    def writable_channel(self, channel_id: Any) -> Channel:
        """A channel the bot may change: visible, not archived, bot is a member."""
        channel = self.visible_channel(channel_id)
        if channel.archived:
            raise ApiError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    def find_message(self, channel: Channel, ts: Any) -> dict[str, Any]:
        message = channel.message(str(ts))
        if message is None:
            raise ApiError("message_not_found")
        return message

    def need_scope(self, scope: str) -> None:
        """Slack's answer to a bot token without the scope a call needs."""
        if scope not in self.scopes:
            raise ApiError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))

    def open_dm(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's DM with ``user_id`` and whether it already existed."""
        existing = self.dms.get(user_id)
        if existing:
            return self.channels[existing], True
        dm = Channel(self.new_id("D"), "", is_im=True, user=user_id, members={BOT_USER_ID, user_id})
        self.channels[dm.id] = dm
        self.dms[user_id] = dm.id
        return dm, False

    def post_target(self, target: Any) -> Channel:
        """chat.postMessage's channel: C/G/D id, a user id (posts to the DM) or a #name."""
        target = str(target)
        if target[:1] in ("U", "W") and target in self.users:
            return self.open_dm(target)[0]
        if target not in self.channels:
            by_name = self.channel_by_name(target.lstrip("#"))
            if by_name is not None:
                target = by_name.id
        return self.writable_channel(target)

    def bot_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text") or "",
            "ts": self.next_ts(),
            "team": TEAM_ID,
            "bot_profile": {
                "id": BOT_ID,
                "app_id": APP_ID,
                "name": "Baton",
                "deleted": False,
                "team_id": TEAM_ID,
            },
        }
        for key in ("blocks", "attachments", "metadata"):
            if present(params.get(key)):
                message[key] = json_arg(params[key], key)
        if present(params.get("thread_ts")):
            message["thread_ts"] = str(params["thread_ts"])
        return message


#: One Web API method: the workspace and the call's arguments -> the answer's fields beside "ok".
Handler = Callable[[Workspace, dict[str, Any]], dict[str, Any]]
