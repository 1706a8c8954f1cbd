"""Start-up refuses an environment it cannot run with, naming the variable and where to get it."""

from __future__ import annotations

import pytest

from bot.store.settings import Settings, SettingsError, slack_api_from_env


def test_missing_bot_token_names_the_variable_and_where_to_get_it() -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env({"SLACK_SIGNING_SECRET": "s"})
    assert "SLACK_BOT_TOKEN is not set" in str(e.value)
    assert "OAuth & Permissions" in str(e.value)


def test_http_mode_needs_the_signing_secret() -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert "SLACK_SIGNING_SECRET is not set" in str(e.value)
    assert "Basic Information" in str(e.value)


def test_socket_mode_needs_no_signing_secret() -> None:
    s = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert s.socket_mode and s.signing_secret is None


def test_wrong_kind_of_token_is_refused() -> None:
    with pytest.raises(SettingsError, match="starting with 'xoxb-'"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(SettingsError, match="starting with 'xapp-'"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"})


def test_defaults_and_api_url() -> None:
    s = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": "https://slack-gov.com/api",
        }
    )
    assert s.api_url == "https://slack-gov.com/api/"
    assert (s.database_url, s.port, s.ownership_file, s.severity_file) == (
        "sqlite:///baton.db",
        3000,
        "ownership.yaml",
        "severity.yaml",
    )


def test_bad_port_is_refused_with_the_value() -> None:
    with pytest.raises(SettingsError, match="PORT must be a TCP port number.*'abc'"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PORT": "abc"})


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"])
def test_a_credential_with_a_character_no_slack_credential_has_is_refused(name: str) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": "xapp-1"}
    env[name] = env[name] + "-pasted\u201cquote"
    with pytest.raises(SettingsError) as e:
        Settings.from_env(env)
    assert str(e.value).startswith(
        f"{name} contains '\u201c' (U+201C), which no Slack credential has: set it to"
    )
    assert "pasted" not in str(e.value)  # the rest of the value is never shown


def test_the_readmes_placeholder_is_recognised() -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-…", "SLACK_SIGNING_SECRET": "…"})
    assert "SLACK_BOT_TOKEN contains '…' (U+2026)" in str(e.value)
    assert "still the README's placeholder?" in str(e.value) and "OAuth & Permissions" in str(e.value)


def test_a_space_inside_a_token_is_named() -> None:
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN contains a space"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1 2", "SLACK_SIGNING_SECRET": "s"})


def test_slack_api_from_env_for_commands_that_only_call_slack() -> None:
    assert slack_api_from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": "http://127.0.0.1:9/api"}) == (
        "xoxb-1",
        "http://127.0.0.1:9/api/",
    )
    assert slack_api_from_env({"SLACK_BOT_TOKEN": "xoxb-1"})[1] == "https://slack.com/api/"
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN is not set"):
        slack_api_from_env({"SLACK_SIGNING_SECRET": "s"})
    with pytest.raises(SettingsError, match="contains '…'"):
        slack_api_from_env({"SLACK_BOT_TOKEN": "xoxb-…"})


def test_secrets_and_urls_that_may_hold_passwords_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1-secret-bot",
            "SLACK_SIGNING_SECRET": "secret-signing",
            "SLACK_APP_TOKEN": "xapp-1-secret-app",
            "DATABASE_URL": "postgresql://baton:secret-db@db/baton",
            "PROMETHEUS_URL": "http://u:secret-prom@prom:9090",
            "BATON_ALERT_TOKEN": "secret-alert",
            "BATON_FEEDBACK_TOKEN": "secret-feedback",
        }
    )
    assert settings.bot_token == "xoxb-1-secret-bot"
    assert "secret" not in repr(settings) and "secret" not in str(settings)
