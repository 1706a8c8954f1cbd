"""A stateful fake of the Slack Web API for tests, using only the standard library.

``FakeSlack`` serves ``http://127.0.0.1:PORT/api/<method>`` from a ThreadingHTTPServer in a daemon
thread. Point ``slack_sdk.WebClient(base_url=fake.url, token=fake.bot_token)`` (or Bolt's
``App(client=...)``) at it. It

* validates calls against Slack's official (2020) OpenAPI spec in ``tests/data`` plus a small
  overlay for the spec's known gaps (see ``_EXTRA_METHODS`` / ``_REQUIRED_OVERLAY``);
* keeps workspace state (users, channels, DMs, messages, pins, reactions, ephemerals, views) and
  answers with Slack-shaped responses and Slack's documented error codes;
* records every call (``.calls``) and can inject 429/5xx answers, dropped connections and
  latency, and hold a method to a rate limit like Slack's tiers (``.rate_limit``);
* grants the bot token ``.scopes``, said in every answer's ``X-OAuth-Scopes`` header as Slack
  does, and answers ``missing_scope`` where a method's scope for the conversation is missing
  (conversations.history and conversations.open);
* owns a Socket Mode stand-in (``.socket``) whose URL ``apps.connections.open`` returns, and
  serves ``response_url`` endpoints (``.response_url()``) so Bolt's ``respond()`` can be captured.

Like Slack, API errors are HTTP 200 with ``{"ok": false, "error": ...}``; only unknown methods
(404), injected rate limits (429) and injected server errors (5xx) use other statuses.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

try:  # tests/ may be a package (tests.fakeslack) or a plain sys.path entry (pytest's rootdir-less mode)
    from .socketmode_standin import SocketModeStandIn
except ImportError:
    from socketmode_standin import SocketModeStandIn  # type: ignore[no-redef]

T = TypeVar("T")

SPEC_PATH = Path(__file__).resolve().parent / "data" / "slack_web_openapi_v2.json"

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
    }
)
# The status `_answer` gives a call whose connection is dropped without an answer.
_DROPPED = 0

#: (user_id, name, email, real name) of the humans every FakeSlack starts with; all are in #general.
DEFAULT_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("U07MAYA001", "maya", "maya@example.com", "Maya Okafor"),
    ("U07LEO0002", "leo", "leo@example.com", "Leo Brandt"),
    ("U07PRIYA03", "priya", "priya@example.com", "Priya Raman"),
)


# =============================================================================================
# Spec + overlay
# =============================================================================================


@dataclass(frozen=True)
class MethodSpec:
    """What the fake needs to know about one Web API method."""

    name: str
    required: tuple[str, ...]  # spec-required arguments, token excluded
    errors: frozenset[str]  # the spec's documented error codes
    needs_token: bool  # False only for api.test and the oauth.* exchanges


# (a) Methods the 2020 spec lacks but Baton uses.
_EXTRA_METHODS: dict[str, MethodSpec] = {
    "apps.connections.open": MethodSpec("apps.connections.open", (), frozenset(), True),
}

# (b) Arguments Slack requires although the 2020 spec marks them optional (or lacks them).
# Each rule is (alternatives, error): satisfied when any alternative is present; otherwise the call
# fails with ``error`` (the code Slack documents for that case, invalid_arguments when none fits).
_TEXT = ("text", "blocks", "attachments")
_REQUIRED_OVERLAY: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "conversations.create": ((("name",), "invalid_name_required"),),
    "conversations.invite": ((("channel",), "channel_not_found"), (("users",), "no_user")),
    "conversations.setTopic": ((("channel",), "channel_not_found"), (("topic",), "invalid_arguments")),
    "conversations.setPurpose": ((("channel",), "channel_not_found"), (("purpose",), "invalid_arguments")),
    "conversations.info": ((("channel",), "channel_not_found"),),
    "conversations.members": ((("channel",), "channel_not_found"),),
    "conversations.join": ((("channel",), "channel_not_found"),),
    "conversations.archive": ((("channel",), "channel_not_found"),),
    "conversations.history": ((("channel",), "channel_not_found"),),
    "conversations.open": ((("users", "channel"), "users_list_not_supplied"),),
    "chat.postMessage": ((("channel",), "channel_not_found"), (_TEXT, "no_text")),
    "chat.postEphemeral": (
        (("channel",), "channel_not_found"),
        (("user",), "user_not_found"),
        (_TEXT, "no_text"),
    ),
    "chat.update": ((("channel",), "channel_not_found"), (("ts",), "message_not_found")),
    "pins.add": ((("channel",), "channel_not_found"), (("timestamp",), "no_item_specified")),
    "views.open": ((("trigger_id",), "invalid_arguments"), (("view",), "invalid_arguments")),
    "views.publish": ((("user_id",), "invalid_arguments"), (("view",), "invalid_arguments")),
    "views.update": ((("view",), "invalid_arguments"), (("view_id", "external_id"), "invalid_arguments")),
    "users.lookupByEmail": ((("email",), "invalid_arguments"),),
    "users.info": ((("user",), "user_not_found"),),
}

# For spec-required arguments outside the overlay: documented codes that fit a missing argument,
# used only if the method's spec lists them.
_MISSING_ARG_CODES: dict[str, tuple[str, ...]] = {
    "channel": ("channel_not_found",),
    "user": ("user_not_found",),
    "users": ("no_user", "users_not_found", "user_not_found"),
    "ts": ("message_not_found",),
    "timestamp": ("no_item_specified", "message_not_found"),
    "message_ts": ("message_not_found",),
    "name": ("invalid_name", "invalid_name_required"),
    "text": ("no_text",),
}

# Only these methods take an app-level (xapp-) token; everything else wants a bot token.
_APP_TOKEN_METHODS = frozenset({"apps.connections.open", "apps.event.authorizations.list"})

# Form-encoded clients send these as JSON strings (slack_sdk json.dumps them); decode before use.
_JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks"})

_spec_lock = threading.Lock()
_spec_cache: dict[str, MethodSpec] | None = None


def load_spec(path: Path = SPEC_PATH) -> dict[str, MethodSpec]:
    """Parse the OpenAPI spec once per process (1.2 MB) into ``{method: MethodSpec}``."""
    global _spec_cache
    with _spec_lock:
        if _spec_cache is None:
            raw = json.loads(path.read_text(encoding="utf-8"))
            specs: dict[str, MethodSpec] = {}
            for route, operations in raw["paths"].items():
                name = route.lstrip("/")
                required: list[str] = []
                errors: set[str] = set()
                needs_token = False
                for op in operations.values():
                    for param in op.get("parameters", []):
                        if param["name"] == "token":
                            needs_token = True
                        elif param.get("required") and param["name"] not in required:
                            required.append(param["name"])
                    schema = op.get("responses", {}).get("default", {}).get("schema", {})
                    errors.update(schema.get("properties", {}).get("error", {}).get("enum") or [])
                specs[name] = MethodSpec(name, tuple(required), frozenset(errors), needs_token)
            specs.update(_EXTRA_METHODS)
            _spec_cache = specs
        return _spec_cache


# =============================================================================================
# State and records
# =============================================================================================


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


@dataclass
class _Fault:
    status: int
    retry_after: int
    remaining: int
    error: str | None
    effect: bool = False  # the call is carried out, then answered with the fault (a lost answer)
    when: Callable[[Mapping[str, Any]], bool] | None = None  # only calls whose params match


class ApiError(Exception):
    """Raised inside handlers; becomes ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


_CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
_EMOJI_NAME_RE = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")
_TRIGGER_RE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")
_5XX_ERRORS = {
    500: "fatal_error",
    502: "service_unavailable",
    503: "service_unavailable",
    504: "request_timeout",
}


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _truthy(value: Any) -> bool:
    return value is True or value == 1 or (isinstance(value, str) and value.lower() in ("1", "true"))


def _ids(value: Any) -> list[str]:
    """Comma-separated ids (form) or a list (JSON) -> list of non-empty ids."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def _json_arg(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": [f"[ERROR] invalid JSON: {name}"]}
            ) from None
    return value


# =============================================================================================
# The fake
# =============================================================================================


class FakeSlack:
    """Stateful fake Slack Web API server; see the module docstring."""

    bot_token = BOT_TOKEN
    app_token = APP_TOKEN
    bot_user_id = BOT_USER_ID
    bot_id = BOT_ID
    team_id = TEAM_ID
    app_id = APP_ID

    def __init__(self, *, spec_path: Path = SPEC_PATH) -> None:
        self.spec = load_spec(spec_path)
        self.socket = SocketModeStandIn(app_id=APP_ID)
        self.calls: list[Call] = []
        self.arrivals: list[tuple[str, float]] = []  # (method, time.monotonic()) as each call arrived
        # The clock rate limits count their window on (seconds); a test may drive it by hand.
        self.limit_clock: Callable[[], float] = time.monotonic
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemeral_messages: list[Ephemeral] = []
        self.view_records: list[ViewRecord] = []
        self.response_posts: list[ResponseUrlPost] = []
        self.usergroups: dict[str, list[str]] = {}
        self.scopes: set[str] = set(DEFAULT_SCOPES)
        self._views: dict[str, dict[str, Any]] = {}  # view_id -> current view
        self._home: dict[str, str] = {}  # user_id -> view_id of the published home tab
        self._dms: dict[str, str] = {}  # user_id -> D... channel id
        self._used_triggers: set[str] = set()
        self._response_urls: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._latency: dict[str, float] = {}
        self._held: dict[str, threading.Event] = {}
        self._limits: dict[str, tuple[int, float, deque[float]]] = {}  # method -> (calls, window, accepted)
        self._ids = itertools.count(1)
        self._last_ts_us = 0
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._seed()

    def _seed(self) -> None:
        self.add_user(BOT_USER_ID, "baton", real_name="Baton", is_bot=True)
        general = Channel(GENERAL_ID, "general", is_general=True, members={BOT_USER_ID})
        self.channels[general.id] = general
        for user_id, name, email, real_name in DEFAULT_USERS:
            self.add_user(user_id, name, email, real_name=real_name)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        """Start the HTTP server and the Socket Mode stand-in on free ports."""
        if self._server is not None:
            return self
        self.socket.start()
        server = _Server(self)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeslack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop both servers. Close Socket Mode clients first, or they will try to reconnect."""
        with self._lock:
            for release in self._held.values():
                release.set()  # a held answer never outlives its test
        self.socket.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/api/"

    # -- seeding helpers ---------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0FK{next(self._ids):06d}"

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
                channel_id or self._new_id("C"),
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
                "ts": self._next_ts(),
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
            return self._dms.get(user_id)

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
            view_id = self._home.get(user_id)
            return dict(self._views[view_id]) if view_id else None

    def view(self, view_id: str) -> dict[str, Any] | None:
        """Current state of a view by id."""
        with self._lock:
            found = self._views.get(view_id)
            return dict(found) if found else None

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one method, in arrival order of their answers."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.arrivals.clear()

    def arrived(self, method: str) -> float | None:
        """When the first call of `method` arrived (time.monotonic()), answered or not yet."""
        with self._lock:
            return next((at for m, at in self.arrivals if m == method), None)

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 30.0,  # a guard against a hang, not a deadline under test
        *,
        interval: float = 0.02,
        message: str = "",
    ) -> T:
        """Poll ``predicate`` until it returns something truthy and return that.

        LookupError/AssertionError raised by the predicate count as "not yet" (so
        ``lambda: fake.messages(c)[-1]`` works). On timeout raises AssertionError with the last
        value/exception and the most recent calls.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = predicate()
                if last:
                    return last
            except (LookupError, AssertionError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                with self._lock:
                    recent = [f"{c.method}->{c.http_status} {c.error or 'ok'}" for c in self.calls[-10:]]
                raise AssertionError(
                    f"condition not met within {timeout}s{': ' + message if message else ''}; "
                    f"last result: {last!r}; recent calls: {recent}"
                )
            time.sleep(interval)

    # -- fault injection ---------------------------------------------------------------------

    def inject(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        error: str | None = None,
        effect: bool = False,
        when: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any) fail (only those whose params
        ``when`` accepts, if given).

        429 answers carry ``Retry-After: retry_after`` and ``ratelimited``; 5xx answer a JSON error;
        ``status=200, error="..."`` answers a plain ``ok: false`` (e.g. to simulate fatal_error);
        ``status=0`` closes the connection without an answer (a connection reset after the
        request was sent: the client cannot tell whether Slack acted).
        ``effect=True`` carries the call out first and then answers with the fault, as when a
        gateway times out after Slack did the work: the caller cannot tell it happened.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(
                _Fault(status, retry_after, times, error, effect, when)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()
            self._limits.clear()

    def rate_limit(self, method: str, *, per_minute: int, window: float = 60.0) -> None:
        """Hold ``method`` to ``per_minute`` calls in any sliding ``window`` seconds, as Slack's
        tiers do (Tier 2: 20 a minute); beyond that it answers 429 ``ratelimited`` with a
        Retry-After (whole seconds, rounded up) saying when the oldest accepted call leaves the
        window. Refused calls do not count. ``window`` < 60 replays the same shape faster;
        ``per_minute=0`` removes the limit."""
        with self._lock:
            if per_minute > 0:
                self._limits[method] = (per_minute, window, deque())
            else:
                self._limits.pop(method, None)

    def _rate_limited(self, method: str) -> int | None:
        """Retry-After seconds if ``method`` is over its limit now; else count the call and None."""
        with self._lock:
            limit = self._limits.get(method)
            if limit is None:
                return None
            calls, window, accepted = limit
            now = self.limit_clock()
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) >= calls:
                return max(1, math.ceil(accepted[0] + window - now))
            accepted.append(now)
            return None

    def hold(self, method_or_star: str) -> threading.Event:
        """Hold the answers of one method (or "*": every method) until the returned Event is set:
        a test proves something did not wait for Slack by finishing while a call is unanswered.
        (A guard of a minute lets a test that forgot to release end.)"""
        release = threading.Event()
        with self._lock:
            self._held[method_or_star] = release
        return release

    def arrived_count(self, method: str) -> int:
        """How many calls of `method` arrived, answered or not."""
        with self._lock:
            return sum(1 for m, _ in self.arrivals if m == method)

    def answered(self, method: str) -> int:
        """How many calls of `method` were answered (arrivals not yet answered are not counted)."""
        return len(self.calls_to(method))

    def set_latency(self, method_or_star: str, seconds: float) -> None:
        """Delay answers of one method (or "*" = every method without its own delay); 0 removes."""
        with self._lock:
            if seconds > 0:
                self._latency[method_or_star] = seconds
            else:
                self._latency.pop(method_or_star, None)

    def _take_fault(self, method: str, params: Mapping[str, Any]) -> _Fault | None:
        with self._lock:
            for key in (method, "*"):
                for fault in self._faults.get(key, []):
                    if fault.when is not None and not fault.when(params):
                        continue
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults[key].remove(fault)
                    return fault
            return None

    # -- response_url ------------------------------------------------------------------------

    def response_url(
        self, channel_id: str | None = None, user_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """Issue a local response_url bound to the channel/user (and source message) it answers."""
        with self._lock:
            path = f"/hooks/actions/{TEAM_ID}/{next(self._ids)}/{secrets.token_hex(8)}"
            self._response_urls[path] = (channel_id, user_id, message_ts)
        return f"http://127.0.0.1:{self.port}{path}"

    def responses(self, url: str | None = None) -> list[ResponseUrlPost]:
        with self._lock:
            return [p for p in self.response_posts if url is None or p.url == url]

    def _handle_response_url(self, path: str, body: dict[str, Any]) -> tuple[int, str]:
        """Slack semantics: in_channel posts publicly, replace/delete_original edit the source,
        anything else is an ephemeral message to the user."""
        with self._lock:
            if path not in self._response_urls:
                return 404, "no_service"
            channel_id, user_id, message_ts = self._response_urls[path]
            url = f"http://127.0.0.1:{self.port}{path}"
            self.response_posts.append(ResponseUrlPost(url, body, time.monotonic(), channel_id, user_id))
            channel = self.channels.get(channel_id or "")
            source = channel.message(message_ts) if channel and message_ts else None
            if channel and source is not None and _truthy(body.get("delete_original")):
                channel.messages.remove(source)
            elif channel and source is not None and _truthy(body.get("replace_original")):
                for key in ("text", "blocks", "attachments"):
                    if key in body:
                        source[key] = body[key]
            elif channel and body.get("response_type") == "in_channel":
                channel.messages.append(self._bot_message(body))
            elif channel_id and user_id:
                self.ephemeral_messages.append(
                    Ephemeral(
                        channel_id,
                        user_id,
                        body.get("text", ""),
                        body.get("blocks"),
                        self._next_ts(),
                        body.get("attachments"),
                        body.get("thread_ts"),
                        via="response_url",
                    )
                )
        return 200, "ok"

    # -- request pipeline --------------------------------------------------------------------

    def _next_ts(self) -> str:
        # Strictly increasing, microsecond resolution, like Slack's message ts.
        with self._lock:
            self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _handle_api(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        http_method: str,
        content_type: str,
        received: tuple[float, float],
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Answer one API call: (status, extra headers, JSON body). Records it in ``calls``."""
        with self._lock:
            # Recorded as it arrives: `calls` records a call once answered, after any latency.
            self.arrivals.append((method, received[0]))
            delay = self._latency.get(method, self._latency.get("*", 0.0))
            held = self._held.get(method, self._held.get("*"))
        if delay:
            time.sleep(delay)
        if held is not None:
            held.wait(60)
        status, headers, body = self._answer(method, params, token)
        if token == self.bot_token:
            with self._lock:
                headers = {**headers, "X-OAuth-Scopes": ",".join(sorted(self.scopes))}
        with self._lock:
            self.calls.append(
                Call(method, params, status, received[0], received[1], http_method, content_type, token, body)
            )
        return status, headers, body

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        fault = self._take_fault(method, params)
        if fault is not None and fault.effect:
            self._carry_out(method, params, token)
        if fault is not None:
            if fault.status == _DROPPED:
                return _DROPPED, {}, {"ok": False, "error": "connection dropped by the fake"}
            if fault.status == 429:
                return 429, {"Retry-After": str(fault.retry_after)}, {"ok": False, "error": "ratelimited"}
            code = fault.error or _5XX_ERRORS.get(fault.status, "fatal_error")
            return fault.status, {}, {"ok": False, "error": code}
        retry_after = self._rate_limited(method)
        if retry_after is not None:
            return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
        return self._carry_out(method, params, token)

    def _carry_out(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        spec = self.spec.get(method)
        if spec is None:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        try:
            self._authenticate(spec, token)
            self._check_required(spec, params)
            handler = getattr(self, "_api_" + method.replace(".", "_"), None)
            with self._lock:
                result = handler(params) if handler is not None else {}
            return 200, {}, {"ok": True, **result}
        except ApiError as err:
            return 200, {}, {"ok": False, "error": err.code, **err.extra}

    def _authenticate(self, spec: MethodSpec, token: str | None) -> None:
        """not_authed / invalid_auth / not_allowed_token_type (bot vs app-level token)."""
        if not spec.needs_token:
            return
        if not token:
            raise ApiError("not_authed")
        if token == self.bot_token:
            kind = "bot"
        elif token == self.app_token:
            kind = "app"
        else:
            raise ApiError("invalid_auth")
        if (kind == "app") != (spec.name in _APP_TOKEN_METHODS):
            raise ApiError("not_allowed_token_type")

    def _check_required(self, spec: MethodSpec, params: Mapping[str, Any]) -> None:
        rules = list(_REQUIRED_OVERLAY.get(spec.name, ()))
        covered = {arg for alternatives, _ in rules for arg in alternatives}
        for arg in spec.required:
            if arg not in covered:
                fitting = [c for c in _MISSING_ARG_CODES.get(arg, ()) if c in spec.errors]
                rules.append(((arg,), fitting[0] if fitting else "invalid_arguments"))
        for alternatives, code in rules:
            if not any(_present(params.get(a)) for a in alternatives):
                extra: dict[str, Any] = {}
                if code == "invalid_arguments":
                    field_names = " or ".join(alternatives)
                    extra["response_metadata"] = {
                        "messages": [f"[ERROR] missing required field: {field_names}"]
                    }
                raise ApiError(code, **extra)

    # -- lookups used by handlers (called with the lock held) --------------------------------

    def _user(self, user_id: Any, code: str = "user_not_found") -> User:
        user = self.users.get(str(user_id))
        if user is None or user.deleted:
            raise ApiError(code)
        return user

    def _visible_channel(self, channel_id: Any) -> Channel:
        """A channel the bot can see; private ones it is not in look nonexistent, as on Slack."""
        channel = self.channels.get(str(channel_id))
        if channel is None or (
            (channel.is_private or channel.is_im or channel.is_mpim) and BOT_USER_ID not in channel.members
        ):
            raise ApiError("channel_not_found")
        return channel

    def _writable_channel(self, channel_id: Any) -> Channel:
        """A channel the bot may change: visible, not archived, bot is a member."""
        channel = self._visible_channel(channel_id)
        if channel.archived:
            raise ApiError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    def _message(self, channel: Channel, ts: Any) -> dict[str, Any]:
        message = channel.message(str(ts))
        if message is None:
            raise ApiError("message_not_found")
        return message

    def _need(self, scope: str) -> None:
        """Slack's answer to a bot token without the scope a call needs."""
        if scope not in self.scopes:
            raise ApiError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))

    def _open_dm(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's DM with ``user_id`` and whether it already existed."""
        existing = self._dms.get(user_id)
        if existing:
            return self.channels[existing], True
        dm = Channel(self._new_id("D"), "", is_im=True, user=user_id, members={BOT_USER_ID, user_id})
        self.channels[dm.id] = dm
        self._dms[user_id] = dm.id
        return dm, False

    def _post_target(self, target: Any) -> Channel:
        """chat.postMessage's channel: C/G/D id, a user id (posts to the DM) or a #name."""
        target = str(target)
        if target[:1] in ("U", "W") and target in self.users:
            return self._open_dm(target)[0]
        if target not in self.channels:
            by_name = self.channel_by_name(target.lstrip("#"))
            if by_name is not None:
                target = by_name.id
        return self._writable_channel(target)

    def _bot_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": params.get("text") or "",
            "ts": self._next_ts(),
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
            if _present(params.get(key)):
                message[key] = _json_arg(params[key], key)
        if _present(params.get("thread_ts")):
            message["thread_ts"] = str(params["thread_ts"])
        return message

    def _parse_view(self, raw: Any, allowed_types: tuple[str, ...]) -> dict[str, Any]:
        view = _json_arg(raw, "view")
        if not isinstance(view, dict) or view.get("type") not in allowed_types:
            raise ApiError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] view.type must be one of {list(allowed_types)}"]},
            )
        if view["type"] == "modal" and not view.get("title"):
            raise ApiError(
                "invalid_arguments", response_metadata={"messages": ["[ERROR] missing required field: title"]}
            )
        return view

    def _store_view(
        self, view: Mapping[str, Any], view_id: str | None = None, root: str | None = None
    ) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
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
        self._views[view_id] = stored
        return dict(stored)

    def _use_trigger(self, trigger_id: Any) -> str:
        trigger = str(trigger_id)
        if not _TRIGGER_RE.match(trigger):
            raise ApiError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise ApiError("exchanged_trigger_id")  # a trigger opens one view only
        self._used_triggers.add(trigger)
        return trigger

    @staticmethod
    def _page(items: list[Any], params: Mapping[str, Any], default_limit: int = 100) -> tuple[list[Any], str]:
        """Cursor pagination: the cursor is base64("offset:N"), like Slack's opaque cursors."""
        try:
            limit = int(params.get("limit") or default_limit) or default_limit
            cursor = str(params.get("cursor") or "")
            offset = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        except (ValueError, IndexError):
            raise ApiError("invalid_cursor") from None
        page = items[offset : offset + limit]
        more = offset + limit < len(items)
        next_cursor = base64.b64encode(f"offset:{offset + limit}".encode()).decode() if more else ""
        return page, next_cursor

    # =========================================================================================
    # Method handlers: _api_<method with dots as underscores>(params) -> extra response fields.
    # Called with the lock held, after auth and required-argument checks.
    # =========================================================================================

    def _api_api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("error"):
            raise ApiError(str(params["error"]), args=params)
        return {"args": params}

    def _api_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": "baton",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.socket.new_url()}

    def _api_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        # Slack still describes a deactivated account here, with deleted: true.
        user = self.users.get(str(params["user"]))
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.to_api()}

    def _api_users_lookupByEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params["email"]).lower()
        user = next(
            (u for u in self.users.values() if u.email and u.email.lower() == email and not u.deleted), None
        )
        if user is None:
            raise ApiError("users_not_found")
        return {"user": user.to_api()}

    def _api_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        page, cursor = self._page([u.to_api() for u in self.users.values()], params, 200)
        return {"members": page, "cache_ts": int(time.time()), "response_metadata": {"next_cursor": cursor}}

    def _api_usergroups_list(self, params: dict[str, Any]) -> dict[str, Any]:
        include_users = _truthy(params.get("include_users"))
        groups = []
        for group_id, users in self.usergroups.items():
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

    def _api_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(params["usergroup"]))
        if group is None:
            raise ApiError("no_such_subteam")
        return {"users": list(group)}

    def _api_conversations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["name"])
        if len(name) > 80:
            raise ApiError("invalid_name_maxlength")
        if not _CHANNEL_NAME_RE.match(name):
            raise ApiError("invalid_name_specials")
        if not re.search(r"[a-z0-9]", name):
            raise ApiError("invalid_name_punctuation")
        if self.channel_by_name(name) is not None:  # archived channels keep their names taken
            raise ApiError("name_taken")
        channel = Channel(
            self._new_id("C"), name, is_private=_truthy(params.get("is_private")), members={BOT_USER_ID}
        )
        self.channels[channel.id] = channel
        return {"channel": channel.to_api()}

    def _api_conversations_invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
        if channel.is_im:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.archived:
            raise ApiError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise ApiError("not_in_channel")
        user_ids = _ids(params["users"])
        if not user_ids:
            raise ApiError("no_user")
        if len(user_ids) > 1000:
            raise ApiError("too_many_users")
        for user_id in user_ids:
            if user_id == BOT_USER_ID:
                raise ApiError("cant_invite_self")
            self._user(user_id)
        # Slack fails only when every user is already a member; otherwise it invites the rest.
        if all(u in channel.members for u in user_ids):
            raise ApiError("already_in_channel")
        channel.members.update(user_ids)
        return {"channel": channel.to_api()}

    def _api_conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(params["channel"]))
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

    def _api_conversations_setTopic(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params["channel"])
        topic = str(params["topic"])
        if len(topic) > 250:
            raise ApiError("too_long")
        channel.topic = topic
        return {"channel": channel.to_api()}

    def _api_conversations_setPurpose(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params["channel"])
        purpose = str(params["purpose"])
        if len(purpose) > 250:
            raise ApiError("too_long")
        channel.purpose = purpose
        return {"channel": channel.to_api()}

    def _api_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
        return {"channel": channel.to_api(num_members=_truthy(params.get("include_num_members")))}

    def _api_conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
        page, cursor = self._page(sorted(channel.members), params)
        return {"members": page, "response_metadata": {"next_cursor": cursor}}

    def _api_conversations_list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = set(_ids(params.get("types") or "public_channel"))
        exclude_archived = _truthy(params.get("exclude_archived"))
        found = []
        for channel in self.channels.values():
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
        page, cursor = self._page(found, params)
        return {"channels": page, "response_metadata": {"next_cursor": cursor}}

    def _api_conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
        if channel.is_im:
            self._need("im:history")
        elif channel.is_mpim:
            self._need("mpim:history")
        else:
            self._need("groups:history" if channel.is_private else "channels:history")
        # Like Slack: only messages between oldest and latest (ends excluded unless inclusive).
        oldest = float(params.get("oldest") or 0)
        latest = float(params["latest"]) if _present(params.get("latest")) else float("inf")
        inclusive = _truthy(params.get("inclusive"))

        def within(ts: str) -> bool:
            value = float(ts)
            if inclusive:
                return oldest <= value <= latest
            return oldest < value < latest

        newest_first = [dict(m) for m in reversed(channel.messages) if within(str(m.get("ts", "0")))]
        if not _truthy(params.get("include_all_metadata")):  # Slack leaves it out unless asked
            newest_first = [{k: v for k, v in m.items() if k != "metadata"} for m in newest_first]
        page, cursor = self._page(newest_first, params)
        return {
            "messages": page,
            "has_more": bool(cursor),
            "pin_count": len(channel.pins),
            "response_metadata": {"next_cursor": cursor},
        }

    def _api_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if _present(params.get("channel")):
            channel = self._visible_channel(params["channel"])
            return {"no_op": True, "already_open": True, "channel": {"id": channel.id}}
        user_ids = [u for u in _ids(params["users"]) if u != BOT_USER_ID]
        if not user_ids:
            raise ApiError("not_enough_users")
        if len(user_ids) > 8:
            raise ApiError("too_many_users")
        self._need("im:write" if len(user_ids) == 1 else "mpim:write")
        for user_id in user_ids:
            self._user(user_id)
        if len(user_ids) == 1:
            channel, existed = self._open_dm(user_ids[0])
        else:
            members = {BOT_USER_ID, *user_ids}
            found = next((c for c in self.channels.values() if c.is_mpim and c.members == members), None)
            existed = found is not None
            if found is None:
                name = "mpdm-" + "--".join(sorted(self.users[u].name for u in members)) + "-1"
                found = Channel(self._new_id("G"), name, is_private=True, is_mpim=True, members=members)
                self.channels[found.id] = found
            channel = found
        body: dict[str, Any] = {
            "channel": channel.to_api() if _truthy(params.get("return_im")) else {"id": channel.id}
        }
        if existed:
            body = {"no_op": True, "already_open": True, **body}
        return body

    def _api_conversations_archive(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
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

    def _api_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._post_target(params["channel"])
        message = self._bot_message(params)
        channel.messages.append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def _api_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params["user"])
        target = str(params["channel"])
        channel = self._open_dm(user.id)[0] if target == user.id else self._visible_channel(target)
        if channel.archived:
            raise ApiError("is_archived")
        if user.id not in channel.members:
            raise ApiError("user_not_in_channel")
        ts = self._next_ts()
        self.ephemeral_messages.append(
            Ephemeral(
                channel.id,
                user.id,
                str(params.get("text") or ""),
                _json_arg(params["blocks"], "blocks") if _present(params.get("blocks")) else None,
                ts,
                _json_arg(params["attachments"], "attachments")
                if _present(params.get("attachments"))
                else None,
                str(params["thread_ts"]) if _present(params.get("thread_ts")) else None,
            )
        )
        return {"message_ts": ts}

    def _api_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
        message = self._message(channel, params["ts"])
        if message.get("user") != BOT_USER_ID:
            raise ApiError("cant_update_message")
        if channel.archived:
            raise ApiError("is_archived")
        if "text" in params:
            message["text"] = str(params.get("text") or "")
        for key in ("blocks", "attachments", "metadata"):
            if key in params:
                message[key] = _json_arg(params[key], key)
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"], "message": dict(message)}

    def _api_chat_getPermalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible_channel(params["channel"])
        message = self._message(channel, params["message_ts"])
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _api_pins_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._writable_channel(params["channel"])
        message = self._message(channel, params["timestamp"])
        if message["ts"] in channel.pins:
            raise ApiError("already_pinned")
        channel.pins.append(message["ts"])
        message.setdefault("pinned_to", []).append(channel.id)
        return {}

    def _api_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["name"])
        if not _EMOJI_NAME_RE.match(name):  # e.g. ":fire:" with colons is rejected by Slack
            raise ApiError("invalid_name")
        channel = self._visible_channel(params["channel"])
        message = self._message(channel, params["timestamp"])
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

    def _api_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._parse_view(params["view"], ("modal",))
        trigger = self._use_trigger(params["trigger_id"])
        stored = self._store_view(view)
        self.view_records.append(ViewRecord("open", stored, trigger_id=trigger))
        return {"view": stored}

    def _api_views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._parse_view(params["view"], ("modal",))
        trigger = self._use_trigger(params["trigger_id"])
        stored = self._store_view(view)
        self.view_records.append(ViewRecord("push", stored, trigger_id=trigger))
        return {"view": stored}

    def _api_views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = str(params.get("view_id") or "")
        if not view_id:
            external_id = str(params["external_id"])
            view_id = next((v["id"] for v in self._views.values() if v["external_id"] == external_id), "")
        current = self._views.get(view_id)
        if current is None:
            raise ApiError("not_found")
        if _present(params.get("hash")) and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        view = self._parse_view(params["view"], (current["type"],))
        stored = self._store_view(view, view_id, current["root_view_id"])
        self.view_records.append(ViewRecord("update", stored))
        return {"view": stored}

    def _api_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._user(params["user_id"], "invalid_arguments")
        view = self._parse_view(params["view"], ("home",))
        current_id = self._home.get(user.id)
        if current_id and _present(params.get("hash")) and params["hash"] != self._views[current_id]["hash"]:
            raise ApiError("hash_conflict")
        stored = self._store_view(view, current_id)
        self._home[user.id] = stored["id"]
        self.view_records.append(ViewRecord("publish", stored, user_id=user.id))
        return {"view": stored}


# =============================================================================================
# HTTP plumbing
# =============================================================================================


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer on a free 127.0.0.1 port that knows its FakeSlack."""

    daemon_threads = True  # a hung client must not block stop()
    request_queue_size = 128  # the default backlog of 5 refuses bursts of concurrent clients

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into FakeSlack calls. HTTP/1.0: one request per connection."""

    server_version = "FakeSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    server: _Server

    @property
    def fake(self) -> FakeSlack:
        return self.server.fake

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        received = (time.monotonic(), time.time())
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "")

        if split.path.startswith("/hooks/"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"raw": raw.decode("utf-8", "replace")}
            status, text = self.fake._handle_response_url(split.path, body if isinstance(body, dict) else {})
            self._send(status, {"Content-Type": "text/html"}, text.encode())
            return
        if not split.path.startswith("/api/"):
            self._send(404, {"Content-Type": "text/plain"}, b"not found")
            return

        method = split.path[len("/api/") :].strip("/")
        params: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
        body_token: str | None = params.pop("token", None)
        if raw and content_type.startswith("application/json"):
            try:
                decoded = json.loads(raw)
            except ValueError:
                self._json(200, {}, {"ok": False, "error": "invalid_json"})
                return
            if not isinstance(decoded, dict):
                self._json(200, {}, {"ok": False, "error": "json_not_object"})
                return
            # Slack ignores a token inside a JSON body: JSON callers must use the Authorization header.
            decoded.pop("token", None)
            params.update(decoded)
        elif raw and content_type.startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            body_token = form.pop("token", None) or body_token
            decoded_form: dict[str, Any] = dict(form)
            for key in _JSON_FIELDS & form.keys():
                # Undecodable values stay strings; handlers then answer invalid_arguments.
                with contextlib.suppress(ValueError):
                    decoded_form[key] = json.loads(form[key])
            params.update(decoded_form)
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else body_token
        status, headers, body_out = self.fake._handle_api(
            method, params, token, self.command, content_type, received
        )
        if status == _DROPPED:
            # Done (or not) and no answer: the client sees the connection closed under it.
            self.close_connection = True
            return
        self._json(status, headers, body_out)

    def _json(self, status: int, headers: Mapping[str, str], body: Mapping[str, Any]) -> None:
        self._send(
            status, {"Content-Type": "application/json; charset=utf-8", **headers}, json.dumps(body).encode()
        )

    def _send(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
