"""Which Web API methods exist and what each requires: Slack's OpenAPI spec plus an overlay for
the spec's known gaps, and the token and required-argument checks every call passes first."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.slack.standin.records import ApiError, present

# The vendored spec in the repository's tests/data (read until methods.json replaces it).
SPEC_PATH = Path(__file__).resolve().parents[3] / "tests" / "data" / "slack_web_openapi_v2.json"


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
APP_TOKEN_METHODS = frozenset({"apps.connections.open", "apps.event.authorizations.list"})

# Form-encoded clients send these as JSON strings (slack_sdk json.dumps them); decode before use.
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks"})

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


def authenticate(spec: MethodSpec, token: str | None, bot_token: str, app_token: str) -> None:
    """not_authed / invalid_auth / not_allowed_token_type (bot vs app-level token)."""
    if not spec.needs_token:
        return
    if not token:
        raise ApiError("not_authed")
    if token == bot_token:
        kind = "bot"
    elif token == app_token:
        kind = "app"
    else:
        raise ApiError("invalid_auth")
    if (kind == "app") != (spec.name in APP_TOKEN_METHODS):
        raise ApiError("not_allowed_token_type")


def check_required(spec: MethodSpec, params: Mapping[str, Any]) -> None:
    """Slack's error for the first required argument (or set of alternatives) that is missing."""
    rules = list(_REQUIRED_OVERLAY.get(spec.name, ()))
    covered = {arg for alternatives, _ in rules for arg in alternatives}
    for arg in spec.required:
        if arg not in covered:
            fitting = [c for c in _MISSING_ARG_CODES.get(arg, ()) if c in spec.errors]
            rules.append(((arg,), fitting[0] if fitting else "invalid_arguments"))
    for alternatives, code in rules:
        if not any(present(params.get(a)) for a in alternatives):
            extra: dict[str, Any] = {}
            if code == "invalid_arguments":
                field_names = " or ".join(alternatives)
                extra["response_metadata"] = {"messages": [f"[ERROR] missing required field: {field_names}"]}
            raise ApiError(code, **extra)
