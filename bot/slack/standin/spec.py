"""Which Web API methods exist and what each requires, read from methods.json (generated from
Slack's published OpenAPI spec and overlay.py by generate.py), and the token and
required-argument checks every call passes before its method runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.slack.standin.records import ApiError, present

METHODS_PATH = Path(__file__).resolve().parent / "methods.json"

# Form-encoded clients send these as JSON strings (slack_sdk json.dumps them); decode before use.
JSON_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks", "files"})


@dataclass(frozen=True)
class MethodSpec:
    """What the stand-in knows about one Web API method."""

    name: str
    # Each rule: (arguments of which one must be present, Slack's error when none is).
    required: tuple[tuple[tuple[str, ...], str], ...]
    errors: frozenset[str]  # the error names Slack lists for the method
    token: str  # "bot", "app" (app-level xapp- token) or "none" (api.test, oauth.* exchanges)
    newer_than_spec: bool = False

    @property
    def needs_token(self) -> bool:
        return self.token != "none"


_lock = threading.Lock()
_cache: dict[Path, dict[str, MethodSpec]] = {}


def load_spec(path: Path = METHODS_PATH) -> dict[str, MethodSpec]:
    """methods.json as ``{method: MethodSpec}``, read once per process."""
    with _lock:
        if path not in _cache:
            raw = json.loads(path.read_text(encoding="utf-8"))["methods"]
            _cache[path] = {
                name: MethodSpec(
                    name,
                    tuple((tuple(rule["any_of"]), rule["error"]) for rule in entry["required"]),
                    frozenset(entry["errors"]),
                    entry["token"],
                    bool(entry.get("newer_than_spec")),
                )
                for name, entry in raw.items()
            }
        return _cache[path]


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
    if kind != spec.token:
        raise ApiError("not_allowed_token_type")


def check_required(spec: MethodSpec, params: Mapping[str, Any]) -> None:
    """Slack's error for the first required argument (or set of alternatives) that is missing."""
    for alternatives, code in spec.required:
        if not any(present(params.get(a)) for a in alternatives):
            extra: dict[str, Any] = {}
            if code == "invalid_arguments":
                field_names = " or ".join(alternatives)
                extra["response_metadata"] = {"messages": [f"[ERROR] missing required field: {field_names}"]}
            raise ApiError(code, **extra)
