"""Runtime settings from the environment."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.store import chainkey
from bot.store.chainkey import ChainKey
from bot.store.clock import TIME_ORIGIN_ENV, TIME_SCALE_ENV
from bot.store.db import DEFAULT_DATABASE
from bot.store.examples import placeholder

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
    "SLACK_APP_TOKEN": (
        "an App-Level Token (xapp-…) from your Slack app's settings page → Basic Information → "
        "App-Level Tokens, with the connections:write scope (or unset it to run in HTTP mode)"
    ),
    "BATON_ALERT_TOKEN": (
        "a long random string (e.g. the output of `openssl rand -hex 32`) that Alertmanager also "
        "sends as its bearer token, or unset it to turn POST /alerts/alertmanager off"
    ),
    "BATON_FEEDBACK_TOKEN": (
        "a long random string (e.g. the output of `openssl rand -hex 32`) that your product also "
        "sends as its bearer token, or unset it to turn POST /feedback off"
    ),
    "BATON_METRICS_TOKEN": (
        "a long random string (e.g. the output of `openssl rand -hex 32`) that Prometheus also "
        "sends as its bearer token when it scrapes /metrics, or unset it to keep /metrics off PORT"
    ),
}


# Slack's tokens and signing secret are printable ASCII; anything else is a paste gone wrong
# (the README's `xoxb-…` placeholder, a curly quote, a non-breaking space) and would fail
# later inside an HTTP header with a traceback.
_SECRETS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET")


# Shorter than any real one: Slack's bot tokens are about 55 characters, app-level tokens about
# 95, signing secrets 32; a bearer token anyone could guess protects nothing.
_SHORTEST = {
    "SLACK_BOT_TOKEN": 32,
    "SLACK_APP_TOKEN": 32,
    "SLACK_SIGNING_SECRET": 16,
    "BATON_ALERT_TOKEN": 16,
    "BATON_FEEDBACK_TOKEN": 16,
    "BATON_METRICS_TOKEN": 16,
}


def _check_real(name: str, value: str) -> None:
    """Refuse an example value or one too short to be real, before anything is sent with it;
    the message never echoes the value."""
    _check_printable(name, value)
    where = _WHERE[name]
    what = placeholder(value)
    if what is not None:
        raise SettingsError(f"{name} is {what}: set it to {where}.")
    if len(value) < _SHORTEST[name]:
        raise SettingsError(
            f"{name} is {len(value)} characters, shorter than any real one ({_SHORTEST[name]} or more): "
            f"set it to {where}."
        )


def _check_printable(name: str, value: str) -> None:
    """Refuse a token or secret with a character no Slack credential has; never echo the value."""
    bad = next((c for c in value if not "!" <= c <= "~"), None)
    if bad is None:
        return
    where = _WHERE.get(name, "the value from your Slack app's settings page")
    shown = "a space" if bad == " " else f"{bad!r} (U+{ord(bad):04X})"
    hint = " (still the README's placeholder?)" if bad == "\u2026" else ""
    raise SettingsError(
        f"{name} contains {shown}, which no Slack credential has{hint}: set it to {where}, copied exactly."
    )


@dataclass(frozen=True)
class Settings:
    # Secrets (and URLs that may carry a password) stay out of repr(): a traceback or a test
    # failure prints the settings.
    bot_token: str = field(repr=False)
    signing_secret: str | None = field(repr=False)
    app_token: str | None = field(repr=False)
    api_url: str
    database_url: str = field(repr=False)
    ownership_file: str
    severity_file: str
    port: int
    prometheus_url: str | None = field(repr=False)
    alert_token: str | None = field(repr=False)
    feedback_token: str | None = field(default=None, repr=False)  # never in a log line
    # /metrics on PORT answers only with this bearer token; without it, only on METRICS_PORT.
    metrics_token: str | None = field(default=None, repr=False)
    metrics_port: int | None = None  # a second listener serving /metrics alone
    metrics_host: str = "127.0.0.1"  # where METRICS_PORT listens: this machine only, by default
    evidence_reaction: str = "pushpin"
    # Seals the hash chains (bot/store/chainkey.py); None: plain SHA-256.
    chain_key: ChainKey | None = field(default=None, repr=False)
    # BATON_TIME_SCALE: the clock runs this many times faster (baton demo --speed; stand-in only).
    time_scale: float = 1.0
    time_origin: float | None = None  # BATON_TIME_ORIGIN: when the scaled clock starts (epoch s)
    host: str = "0.0.0.0"  # HOST: where PORT listens (baton demo: 127.0.0.1)

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
        for name, value in zip(_SECRETS, (bot_token, app_token, signing_secret), strict=True):
            if value is not None:
                _check_printable(name, value)
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
            # Serving uses every one of them: none may be an example value (checked in this order,
            # so the first problem named is the one Baton would have hit first).
            for name in (*_SECRETS, "BATON_ALERT_TOKEN", "BATON_FEEDBACK_TOKEN", "BATON_METRICS_TOKEN"):
                if (value := get(name)) is not None:
                    _check_real(name, value)
        port = _port("PORT", get("PORT") or "3000")
        metrics_text = get("METRICS_PORT")
        metrics_port = _port("METRICS_PORT", metrics_text) if metrics_text else None
        api_url = _api_url(get("SLACK_API_URL"))
        try:
            chain_key = chainkey.from_env(env)
        except chainkey.ChainKeyError as e:
            raise SettingsError(str(e)) from None
        return cls(
            time_scale=_time_scale(get(TIME_SCALE_ENV), api_url),
            time_origin=_time_origin(get(TIME_ORIGIN_ENV)),
            host=get("HOST") or "0.0.0.0",
            bot_token=bot_token or "",
            signing_secret=signing_secret,
            app_token=app_token,
            api_url=api_url,
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE,
            ownership_file=get("BATON_OWNERSHIP_FILE") or "ownership.yaml",
            severity_file=get("BATON_SEVERITY_FILE") or "severity.yaml",
            port=port,
            prometheus_url=get("PROMETHEUS_URL"),
            alert_token=get("BATON_ALERT_TOKEN"),
            feedback_token=get("BATON_FEEDBACK_TOKEN"),
            evidence_reaction=(get("BATON_EVIDENCE_REACTION") or "pushpin").strip(":"),
            metrics_token=get("BATON_METRICS_TOKEN"),
            metrics_port=metrics_port,
            metrics_host=get("METRICS_HOST") or "127.0.0.1",
            chain_key=chain_key,
        )


def _time_scale(text: str | None, api_url: str) -> float:
    """BATON_TIME_SCALE, honoured only when the Web API is on this machine (baton demo's
    stand-in): a fast clock against a real workspace would page real people early."""
    if text is None:
        return 1.0
    try:
        scale = float(text)
        if not 0 < scale <= 100_000:
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"{TIME_SCALE_ENV} must be a number above 0 and at most 100000 (e.g. 60), not {text!r}."
        ) from None
    host = urlsplit(api_url).hostname or ""
    if scale != 1.0 and not _loopback(host):
        raise SettingsError(
            f"{TIME_SCALE_ENV} runs the clock faster only against a Slack stand-in on this machine "
            f"(SLACK_API_URL on 127.0.0.1 or localhost), not {host or api_url}: unset it."
        )
    return scale


def _time_origin(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{TIME_ORIGIN_ENV} must be a time in epoch seconds, not {text!r}.") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port(name: str, text: str) -> int:
    try:
        port = int(text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise SettingsError(f"{name} must be a TCP port number (0-65535), not {text!r}.") from None
    return port


def _api_url(value: str | None) -> str:
    api_url = value or SLACK_API_DEFAULT
    # slack_sdk joins method names onto base_url verbatim.
    return api_url if api_url.endswith("/") else api_url + "/"


def slack_api_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The bot token and Web API base URL, for commands that call Slack but serve nothing."""
    env = os.environ if env is None else env
    token = env.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        raise SettingsError(f"SLACK_BOT_TOKEN is not set: set it to {_WHERE['SLACK_BOT_TOKEN']}.")
    _check_printable("SLACK_BOT_TOKEN", token)
    if not token.startswith("xoxb-"):
        raise SettingsError("SLACK_BOT_TOKEN must be a bot token starting with 'xoxb-'.")
    _check_real("SLACK_BOT_TOKEN", token)
    return token, _api_url(env.get("SLACK_API_URL", "").strip() or None)
