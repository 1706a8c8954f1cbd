"""Start-up refuses an environment it cannot run with, naming the variable and where to get it."""

from __future__ import annotations

import pytest

from bot.store.settings import Settings, SettingsError, slack_api_from_env

# Shaped like real ones: Baton refuses an example value or one too short to be real.
BOT = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
APP = "xapp-1-A0123456789-1234567890123-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_missing_bot_token_names_the_variable_and_where_to_get_it() -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env({"SLACK_SIGNING_SECRET": SECRET})
    assert "SLACK_BOT_TOKEN is not set" in str(e.value)
    assert "OAuth & Permissions" in str(e.value)


def test_http_mode_needs_the_signing_secret() -> None:
    with pytest.raises(SettingsError) as e:
        Settings.from_env({"SLACK_BOT_TOKEN": BOT})
    assert "SLACK_SIGNING_SECRET is not set" in str(e.value)
    assert "Basic Information" in str(e.value)


def test_socket_mode_needs_no_signing_secret() -> None:
    s = Settings.from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": APP})
    assert s.socket_mode and s.signing_secret is None


def test_wrong_kind_of_token_is_refused() -> None:
    with pytest.raises(SettingsError, match="starting with 'xoxb-'"):
        Settings.from_env({"SLACK_BOT_TOKEN": APP, "SLACK_SIGNING_SECRET": SECRET})
    with pytest.raises(SettingsError, match="starting with 'xapp-'"):
        Settings.from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": BOT})


def test_defaults_and_api_url() -> None:
    s = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": BOT,
            "SLACK_SIGNING_SECRET": SECRET,
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
        Settings.from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET, "PORT": "abc"})


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"])
def test_a_credential_with_a_character_no_slack_credential_has_is_refused(name: str) -> None:
    env = {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET, "SLACK_APP_TOKEN": APP}
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
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1 2", "SLACK_SIGNING_SECRET": SECRET})


def test_slack_api_from_env_for_commands_that_only_call_slack() -> None:
    assert slack_api_from_env({"SLACK_BOT_TOKEN": BOT, "SLACK_API_URL": "http://127.0.0.1:9/api"}) == (
        BOT,
        "http://127.0.0.1:9/api/",
    )
    assert slack_api_from_env({"SLACK_BOT_TOKEN": BOT})[1] == "https://slack.com/api/"
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN is not set"):
        slack_api_from_env({"SLACK_SIGNING_SECRET": SECRET})
    with pytest.raises(SettingsError, match="contains '…'"):
        slack_api_from_env({"SLACK_BOT_TOKEN": "xoxb-…"})


def test_secrets_and_urls_that_may_hold_passwords_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1-secret-bot-0123456789012345678901",
            "SLACK_SIGNING_SECRET": "secret-signing-01234567",
            "SLACK_APP_TOKEN": "xapp-1-secret-app-0123456789012345678901",
            "DATABASE_URL": "postgresql://baton:secret-db@db/baton",
            "PROMETHEUS_URL": "http://u:secret-prom@prom:9090",
            "BATON_ALERT_TOKEN": "secret-alert-01234567",
            "BATON_FEEDBACK_TOKEN": "secret-feedback-01234567",
            "BATON_METRICS_TOKEN": "secret-metrics-01234567",
        }
    )
    assert settings.bot_token == "xoxb-1-secret-bot-0123456789012345678901"
    assert "secret" not in repr(settings) and "secret" not in str(settings)


@pytest.mark.parametrize(
    "name",
    [
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "BATON_ALERT_TOKEN",
        "BATON_FEEDBACK_TOKEN",
        "BATON_METRICS_TOKEN",
    ],
)
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("your-token-goes-here", "is still an example value (it has the word 'your'"),
        ("changeme", "is still an example value (it has the word 'changeme'"),
        ("CHANGE_ME_0123456789abcdef", "is still an example value (it has the word 'change'"),
        ("replace-with-the-real-one-0123456789", "is still an example value (it has the word 'replace'"),
        ("...", "is still an example value (it has '...'"),
        ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "is still an example value (it has 'x's where"),
        ("<token>", "is a variable or template that was never filled in"),
        ("${SLACK_BOT_TOKEN}", "is a variable or template that was never filled in"),
        ("$TOKEN", "is a variable or template that was never filled in"),
        ("{{token}}", "is a variable or template that was never filled in"),
        ("null", "is still an example value (it has the word 'null'"),
        ("a1b2c3", "is 6 characters, shorter than any real one"),
    ],
)
def test_every_secret_refuses_an_example_value_without_echoing_it(name: str, value: str, said: str) -> None:
    prefix = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}.get(name, "")
    typed = prefix + value
    env = {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": SECRET, name: typed}
    with pytest.raises(SettingsError) as e:
        Settings.from_env(env)
    message = str(e.value)
    if "characters" in said:
        said = f"is {len(typed)} characters, shorter than any real one"
    assert message.startswith(f"{name} {said}"), message
    assert typed not in message or typed == value  # a bare example word may be named, nothing more


def test_real_looking_values_pass_and_commands_without_slack_do_not_check_them() -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": APP,
        "BATON_ALERT_TOKEN": "9f0c2a7e41b35d6c8e0f1a2b3c4d5e6f",
        "BATON_FEEDBACK_TOKEN": "Zq3-h8Jd_2kWm9Lp0xRt",
    }
    assert Settings.from_env(env).bot_token == BOT
    # verify and export read DATABASE_URL only: an example signing secret does not stop them.
    loose = {**env, "SLACK_SIGNING_SECRET": "your-signing-secret", "BATON_ALERT_TOKEN": "changeme"}
    assert Settings.from_env(loose, require_slack=False).database_url == "sqlite:///baton.db"
    assert slack_api_from_env(loose)[0] == BOT
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN is still an example value"):
        slack_api_from_env({"SLACK_BOT_TOKEN": "xoxb-your-bot-token"})
