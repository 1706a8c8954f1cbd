"""Runtime settings from the environment (PRODUCT.md §5)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

SLACK_API_DEFAULT = "https://slack.com/api/"


class SettingsError(Exception):
    """The environment cannot start Baton; the message says which variable and how to fix it."""


_WHERE = {
    "SLACK_BOT_TOKEN": (
        "the Bot User OAuth Token (xoxb-…) from your Slack app's settings page → OAuth & Permissions, "
        "after installing the app created from slack-app-manifest.yaml"
    ),
    "SLACK_SIGNING_SECRET": (
        "the Signing Secret from your Slack app's settings page → Basic Information → App Credentials "
        "(HTTP mode needs it; or set SLACK_APP_TOKEN to use Socket Mode instead)"
    ),
}


@dataclass(frozen=True)
class Settings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None
    api_url: str
    database_url: str
    ownership_file: str
    severity_file: str
    port: int
    prometheus_url: str | None
    alert_token: str | None
    evidence_reaction: str = "pushpin"

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_slack: bool = True) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        bot_token = get("SLACK_BOT_TOKEN")
        app_token = get("SLACK_APP_TOKEN")
        signing_secret = get("SLACK_SIGNING_SECRET")
        if require_slack:
            if bot_token is None:
                raise SettingsError(f"SLACK_BOT_TOKEN is not set: set it to {_WHERE['SLACK_BOT_TOKEN']}.")
            if not bot_token.startswith("xoxb-"):
                raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'.")
            if app_token is not None and not app_token.startswith("xapp-"):
                raise SettingsError(
                    "SLACK_APP_TOKEN must be an app-level token starting with 'xapp-' (Basic Information → "
                    "App-Level Tokens, scope connections:write); unset it to run in HTTP mode."
                )
            if app_token is None and signing_secret is None:
                raise SettingsError(
                    f"SLACK_SIGNING_SECRET is not set: set it to {_WHERE['SLACK_SIGNING_SECRET']}."
                )
        port_text = get("PORT") or "3000"
        try:
            port = int(port_text)
            if not 0 <= port <= 65535:
                raise ValueError
        except ValueError:
            raise SettingsError(f"PORT must be a TCP port number (0-65535), not {port_text!r}.") from None
        api_url = get("SLACK_API_URL") or SLACK_API_DEFAULT
        if not api_url.endswith("/"):
            api_url += "/"  # slack_sdk joins method names onto base_url verbatim
        return cls(
            bot_token=bot_token or "",
            signing_secret=signing_secret,
            app_token=app_token,
            api_url=api_url,
            database_url=get("DATABASE_URL") or "sqlite:///baton.db",
            ownership_file=get("BATON_OWNERSHIP_FILE") or "ownership.yaml",
            severity_file=get("BATON_SEVERITY_FILE") or "severity.yaml",
            port=port,
            prometheus_url=get("PROMETHEUS_URL"),
            alert_token=get("BATON_ALERT_TOKEN"),
            evidence_reaction=(get("BATON_EVIDENCE_REACTION") or "pushpin").strip(":"),
        )
