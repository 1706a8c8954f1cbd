"""Hand-written additions to Slack's 2020 OpenAPI spec, merged by ``generate.py`` into
methods.json: methods newer than the spec (each with its page on docs.slack.dev), and required
arguments the spec marks optional. Edit here, then run ``python -m bot.slack.standin.generate``.
"""

from __future__ import annotations

from typing import TypedDict

DOCS = "https://docs.slack.dev/reference/methods/"

#: Errors every Web API method can answer (Slack's docs list them on each method's page).
COMMON_ERRORS = (
    "access_denied",
    "account_inactive",
    "fatal_error",
    "internal_error",
    "invalid_arg_name",
    "invalid_arguments",
    "invalid_auth",
    "invalid_charset",
    "invalid_form_data",
    "invalid_post_type",
    "missing_post_type",
    "missing_scope",
    "not_allowed_token_type",
    "not_authed",
    "ratelimited",
    "request_timeout",
    "service_unavailable",
    "token_expired",
    "token_revoked",
)


class Rule(TypedDict):
    """A required argument: satisfied when any of ``any_of`` is present, else Slack's ``error``."""

    any_of: list[str]
    error: str


class Newer(TypedDict):
    """A method the 2020 spec lacks, as Slack's page describes it."""

    doc: str
    required: list[Rule]
    errors: list[str]


def _rule(error: str, *any_of: str) -> Rule:
    return {"any_of": list(any_of), "error": error}


#: Methods newer than the spec (or missing from it) that Baton or the stand-in use.
NEWER_METHODS: dict[str, Newer] = {
    "apps.connections.open": {
        "doc": DOCS + "apps.connections.open",
        "required": [],
        "errors": [],
    },
    "bookmarks.add": {
        "doc": DOCS + "bookmarks.add",
        "required": [
            _rule("channel_not_found", "channel_id"),
            _rule("invalid_arguments", "title"),
            _rule("invalid_arguments", "type"),
        ],
        "errors": [
            "channel_not_found",
            "invalid_bookmark_type",
            "invalid_link",
            "is_archived",
            "not_in_channel",
            "too_many_bookmarks",
        ],
    },
    "bookmarks.edit": {
        "doc": DOCS + "bookmarks.edit",
        "required": [_rule("channel_not_found", "channel_id"), _rule("invalid_arguments", "bookmark_id")],
        "errors": [
            "bookmark_not_found",
            "channel_not_found",
            "invalid_link",
            "is_archived",
            "not_in_channel",
        ],
    },
    "bookmarks.list": {
        "doc": DOCS + "bookmarks.list",
        "required": [_rule("channel_not_found", "channel_id")],
        "errors": ["channel_not_found", "not_in_channel"],
    },
    "bookmarks.remove": {
        "doc": DOCS + "bookmarks.remove",
        "required": [_rule("channel_not_found", "channel_id"), _rule("invalid_arguments", "bookmark_id")],
        "errors": ["bookmark_not_found", "channel_not_found", "is_archived", "not_in_channel"],
    },
    "files.getUploadURLExternal": {
        "doc": DOCS + "files.getUploadURLExternal",
        "required": [_rule("invalid_arguments", "filename"), _rule("invalid_arguments", "length")],
        "errors": [
            "alt_txt_too_large",
            "file_upload_size_restricted",
            "file_uploads_disabled",
            "missing_argument",
            "snippet_too_large",
        ],
    },
    "files.completeUploadExternal": {
        "doc": DOCS + "files.completeUploadExternal",
        "required": [_rule("invalid_arguments", "files")],
        "errors": [
            "channel_not_found",
            "file_not_found",
            "file_update_failed",
            "invalid_channel",
            "is_archived",
            "not_in_channel",
            "posting_to_general_channel_denied",
        ],
    },
}

_TEXT = ("text", "blocks", "attachments")

#: Arguments Slack requires although the 2020 spec marks them optional (or lacks them), with the
#: code Slack documents for that case (invalid_arguments when none fits). Replaces the spec's own.
REQUIRED: dict[str, list[Rule]] = {
    "conversations.create": [_rule("invalid_name_required", "name")],
    "conversations.invite": [_rule("channel_not_found", "channel"), _rule("no_user", "users")],
    "conversations.setTopic": [_rule("channel_not_found", "channel"), _rule("invalid_arguments", "topic")],
    "conversations.setPurpose": [
        _rule("channel_not_found", "channel"),
        _rule("invalid_arguments", "purpose"),
    ],
    "conversations.info": [_rule("channel_not_found", "channel")],
    "conversations.members": [_rule("channel_not_found", "channel")],
    "conversations.join": [_rule("channel_not_found", "channel")],
    "conversations.archive": [_rule("channel_not_found", "channel")],
    "conversations.history": [_rule("channel_not_found", "channel")],
    "conversations.replies": [_rule("channel_not_found", "channel"), _rule("thread_not_found", "ts")],
    "conversations.open": [_rule("users_list_not_supplied", "users", "channel")],
    "chat.postMessage": [_rule("channel_not_found", "channel"), _rule("no_text", *_TEXT)],
    "chat.postEphemeral": [
        _rule("channel_not_found", "channel"),
        _rule("user_not_found", "user"),
        _rule("no_text", *_TEXT),
    ],
    "chat.update": [_rule("channel_not_found", "channel"), _rule("message_not_found", "ts")],
    "pins.add": [_rule("channel_not_found", "channel"), _rule("no_item_specified", "timestamp")],
    "views.open": [_rule("invalid_arguments", "trigger_id"), _rule("invalid_arguments", "view")],
    "views.publish": [_rule("invalid_arguments", "user_id"), _rule("invalid_arguments", "view")],
    "views.update": [
        _rule("invalid_arguments", "view"),
        _rule("invalid_arguments", "view_id", "external_id"),
    ],
    "users.lookupByEmail": [_rule("invalid_arguments", "email")],
    "users.info": [_rule("user_not_found", "user")],
}

#: For spec-required arguments outside REQUIRED: documented codes that fit a missing argument, used
#: only if the method's spec lists them (else invalid_arguments).
MISSING_ARG_CODES: dict[str, tuple[str, ...]] = {
    "channel": ("channel_not_found",),
    "user": ("user_not_found",),
    "users": ("no_user", "users_not_found", "user_not_found"),
    "ts": ("message_not_found",),
    "timestamp": ("no_item_specified", "message_not_found"),
    "message_ts": ("message_not_found",),
    "name": ("invalid_name", "invalid_name_required"),
    "text": ("no_text",),
}

#: Only these methods take an app-level (xapp-) token; everything else wants a bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open", "apps.event.authorizations.list"})
