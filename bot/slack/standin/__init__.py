"""A stand-in of Slack's Web API on a local port, used by the test suite and by ``baton demo``.

``FakeSlack`` serves ``http://127.0.0.1:PORT/api/<method>`` from a ThreadingHTTPServer in a daemon
thread, with the standard library only. Point ``slack_sdk.WebClient(base_url=fake.url,
token=fake.bot_token)`` (or Bolt's ``App(client=...)``) at it. It

* checks calls against Slack's published method list (see ``spec.py``): unknown methods,
  missing tokens and missing required arguments are refused with Slack's error names;
* keeps workspace state (users, channels, DMs, messages, pins, reactions, ephemerals, views) and
  answers with Slack-shaped responses and Slack's documented error codes (``methods_*.py``);
* records every call (``.calls``) and can inject 429/5xx answers, dropped connections and
  latency, and hold a method to a rate limit like Slack's tiers (``.rate_limit``, off unless
  asked for);
* grants the bot token ``.scopes``, said in every answer's ``X-OAuth-Scopes`` header as Slack
  does, and answers ``missing_scope`` where a method's scope for the conversation is missing;
* owns a Socket Mode stand-in (``.socket``, which needs ``websockets`` and is imported on first
  use) whose URL ``apps.connections.open`` returns, and serves ``response_url`` endpoints
  (``.response_url()``) so Bolt's ``respond()`` can be captured.

Nothing under bot/ outside ``baton demo`` imports this package: ``baton serve`` never loads it.
"""

from bot.slack.standin.records import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    DEFAULT_SCOPES,
    DEFAULT_USERS,
    GENERAL_ID,
    TEAM_ID,
    ApiError,
    Call,
    Channel,
    Ephemeral,
    File,
    ResponseUrlPost,
    User,
    ViewRecord,
)
from bot.slack.standin.server import FakeSlack
from bot.slack.standin.spec import MethodSpec, load_spec

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "DEFAULT_SCOPES",
    "DEFAULT_USERS",
    "GENERAL_ID",
    "TEAM_ID",
    "ApiError",
    "Call",
    "Channel",
    "Ephemeral",
    "FakeSlack",
    "File",
    "MethodSpec",
    "ResponseUrlPost",
    "User",
    "ViewRecord",
    "load_spec",
]
