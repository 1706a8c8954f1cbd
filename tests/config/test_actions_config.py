"""Actions per area in ownership.yaml: validated strictly with
file:line errors, ``${VAR}`` in the URL substituted and never shown, and `/owner <area>` listing them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config.issues import ConfigError
from bot.config.loader import load_config
from bot.config.models import APPROVALS, ActionSpec, OwnershipConfig
from bot.config.ownership import Ownership
from bot.slack.standin import FakeSlack
from handlers.render import owner as render
from tests.config.test_config import SEVERITY
from tests.conftest import SHIPPED_OWNERSHIP, SHIPPED_SEVERITY, start_baton

# Line numbers below are counted in this text.
OWNERSHIP = """\
people:
  maya: U07MAYA001
  li: li.chen@example.com
teams:
  ml:
    name: ML Team
    members: [maya, li]
areas:
  model-quality:
    name: Model / Prompt
    responsible: ml
    accountable: maya
    actions:
      rollback-prompt:
        title: Roll back to the last approved prompt version
        url: "${PROMPT_ROLLBACK_URL}"
        approval: accountable
        params: [version]
      disable-feature:
        title: Switch the assistant off for all users
        url: "${FEATURE_FLAG_URL}"
        approval: two-person
"""

ROLLBACK_SECRET = "s3cr3t-rollback-token"
FLAG_SECRET = "flag-key-9f8e7d6c"
ENV = {
    "PROMPT_ROLLBACK_URL": f"https://deploy.example.com/hooks/rollback?token={ROLLBACK_SECRET}",
    "FEATURE_FLAG_URL": f"https://flags.example.com/off/{FLAG_SECRET}",
}
AT = "areas.model-quality.actions.rollback-prompt"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths, so messages read "ownership.yaml:14 …" as `baton check` prints them.
    monkeypatch.chdir(tmp_path)


def _load(ownership: str = OWNERSHIP, env: dict[str, str] | None = None):
    Path("ownership.yaml").write_text(ownership)
    Path("severity.yaml").write_text(SEVERITY)
    return load_config(
        ownership_path="ownership.yaml", severity_path="severity.yaml", env=ENV if env is None else env
    )


def _errors(ownership: str = OWNERSHIP, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(ownership, env)
    lines = str(caught.value).splitlines()
    assert lines == [str(issue) for issue in caught.value.issues]
    return lines


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_actions_load_with_the_url_substituted() -> None:
    area = _load().ownership.areas["model-quality"]
    assert list(area.actions) == ["rollback-prompt", "disable-feature"]
    rollback, disable = area.actions["rollback-prompt"], area.actions["disable-feature"]
    assert rollback.title == "Roll back to the last approved prompt version"
    assert rollback.url == ENV["PROMPT_ROLLBACK_URL"]
    assert (rollback.approval, rollback.names, rollback.masked) == ("accountable", ["version"], [])
    assert (disable.url, disable.approval, disable.names) == (ENV["FEATURE_FLAG_URL"], "two-person", [])
    assert APPROVALS == ("none", "accountable", "two-person")


def test_a_param_may_be_marked_masked_in_either_form() -> None:
    flow = _load(_edit(OWNERSHIP, "params: [version]", "params: [version, {name: reason, mask: true}]"))
    block = _load(
        _edit(
            OWNERSHIP,
            "params: [version]",
            "params:\n          - version\n          - name: reason\n            mask: true\n"
            "          - {name: build, mask: false}",
        )
    )
    flowed = flow.ownership.areas["model-quality"].actions["rollback-prompt"]
    assert (flowed.names, flowed.masked) == (["version", "reason"], ["reason"])
    blocked = block.ownership.areas["model-quality"].actions["rollback-prompt"]
    assert (blocked.names, blocked.masked) == (["version", "reason", "build"], ["reason"])


def test_an_area_without_actions_has_none() -> None:
    text = OWNERSHIP.split("    actions:\n")[0]
    assert _load(text, env={}).ownership.areas["model-quality"].actions == {}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "approval: accountable",
            "approval: boss",
            [
                f"ownership.yaml:17 {AT}.approval: 'boss' is not an approval rule; "
                "use none, accountable or two-person"
            ],
            id="unknown-approval-rule",
        ),
        pytest.param(
            "approval: accountable",
            "approval: acountable",
            [
                f"ownership.yaml:17 {AT}.approval: 'acountable' is not an approval rule; "
                "use none, accountable or two-person (did you mean 'accountable'?)"
            ],
            id="misspelt-approval-rule",
        ),
        pytest.param(
            "approval: accountable",
            "approval: yes",
            [
                f"ownership.yaml:17 {AT}.approval: expected an approval rule, got a boolean (true); "
                "use none, accountable or two-person"
            ],
            id="approval-not-text",
        ),
        pytest.param(
            '        url: "${PROMPT_ROLLBACK_URL}"\n',
            "",
            [
                f"ownership.yaml:14 {AT}.url: is required: the http(s) URL Baton POSTs to, "
                'e.g. "${PROMPT_ROLLBACK_URL}"'
            ],
            id="missing-url",
        ),
        pytest.param(
            "        title: Roll back to the last approved prompt version\n",
            "",
            [
                f"ownership.yaml:14 {AT}.title: is required: a short line saying what it does, "
                "e.g. 'Roll back the prompt'"
            ],
            id="missing-title",
        ),
        pytest.param(
            "        approval: accountable\n",
            "",
            [
                f"ownership.yaml:14 {AT}.approval: is required: the approval rule, "
                "one of none, accountable or two-person"
            ],
            id="missing-approval",
        ),
        pytest.param(
            "title: Roll back to the last approved prompt version",
            'title: "  "',
            [
                f"ownership.yaml:15 {AT}.title: must not be empty; say what the action does, "
                "e.g. 'Roll back the prompt'"
            ],
            id="empty-title",
        ),
        pytest.param(
            'url: "${PROMPT_ROLLBACK_URL}"',
            "url: ftp://deploy.example.com/rollback",
            [f"ownership.yaml:16 {AT}.url: 'ftp://deploy.example.com/rollback' is not an http(s) URL"],
            id="url-not-http",
        ),
        pytest.param(
            "approval: accountable",
            "approve: accountable",
            [
                f"ownership.yaml:14 {AT}.approval: is required: the approval rule, "
                "one of none, accountable or two-person",
                f"ownership.yaml:17 {AT}.approve: unknown key (did you mean 'approval'?)",
            ],
            id="misspelt-key",
        ),
        pytest.param(
            "        params: [version]\n",
            "        params: [version]\n        colour: red\n",
            [f"ownership.yaml:19 {AT}.colour: unknown key (expected one of: title, url, approval, params)"],
            id="unknown-key",
        ),
        pytest.param(
            "      rollback-prompt:\n",
            "      Rollback_Prompt:\n",
            [
                "ownership.yaml:14 areas.model-quality.actions.Rollback_Prompt: "
                "action name 'Rollback_Prompt' "
                "must be lowercase letters, digits and dashes (e.g. 'rollback-prompt'); "
                "it is typed in `/incident run <action>`"
            ],
            id="bad-action-name",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, Build Id]",
            [
                f"ownership.yaml:18 {AT}.params[1]: 'Build Id' is not a parameter name; "
                "use lowercase letters, digits, '_' or '-', starting with a letter (e.g. 'version')"
            ],
            id="bad-param-name",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, build, version]",
            [f"ownership.yaml:18 {AT}.params[2]: 'version' is listed twice (first as params[0])"],
            id="duplicate-param",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, {name: reason, mask: maybe}]",
            [f"ownership.yaml:18 {AT}.params[1].mask: expected true or false, got text ('maybe')"],
            id="mask-not-true-or-false",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, {name: reason, masked: true}]",
            [f"ownership.yaml:18 {AT}.params[1].masked: unknown key (did you mean 'mask'?)"],
            id="misspelt-mask",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, {mask: true}]",
            [
                f"ownership.yaml:18 {AT}.params[1].name: is required: "
                "the name people type as name=value, e.g. 'version'"
            ],
            id="masked-param-without-name",
        ),
        pytest.param(
            "params: [version]",
            "params:\n          - version\n          - name: Reason\n            mask: true",
            [
                f"ownership.yaml:20 {AT}.params[1]: 'Reason' is not a parameter name; "
                "use lowercase letters, digits, '_' or '-', starting with a letter (e.g. 'version')"
            ],
            id="bad-masked-param-name-in-block-style",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, 3]",
            [
                f"ownership.yaml:18 {AT}.params[1]: expected a parameter name (e.g. version) or a mapping "
                "such as {name: customer_email, mask: true}, got a number (3)"
            ],
            id="param-neither-name-nor-mapping",
        ),
        pytest.param(
            "params: [version]",
            "params: [version, {name: version, mask: true}]",
            [f"ownership.yaml:18 {AT}.params[1]: 'version' is listed twice (first as params[0])"],
            id="duplicate-param-masked",
        ),
        pytest.param(
            "params: [version]",
            "params: version",
            [f"ownership.yaml:18 {AT}.params: expected a list, got text ('version')"],
            id="params-not-a-list",
        ),
        pytest.param(
            "        approval: two-person\n",
            "        approval: two-person\n      rollback-prompt:\n        title: Again\n"
            '        url: "https://deploy.example.com/x"\n        approval: none\n',
            [
                "ownership.yaml:23 areas.model-quality.actions.rollback-prompt: "
                "duplicate key (first defined on line 14)"
            ],
            id="duplicate-action-name",
        ),
    ],
)
def test_action_mistake_is_reported_with_file_line_and_path(old: str, new: str, expected: list[str]) -> None:
    errors = _errors(_edit(OWNERSHIP, old, new))
    assert errors == expected
    assert not any(secret in error for error in errors for secret in (ROLLBACK_SECRET, FLAG_SECRET))


def test_an_unset_variable_in_the_url_is_named_at_its_line_and_nothing_else() -> None:
    # Only the cause: not also "'${PROMPT_ROLLBACK_URL}' is not an http(s) URL".
    assert _errors(env={"FEATURE_FLAG_URL": ENV["FEATURE_FLAG_URL"]}) == [
        f"ownership.yaml:16 {AT}.url: environment variable PROMPT_ROLLBACK_URL is not set"
    ]
    assert _errors(env={}) == [
        f"ownership.yaml:16 {AT}.url: environment variable PROMPT_ROLLBACK_URL is not set",
        "ownership.yaml:21 areas.model-quality.actions.disable-feature.url: "
        "environment variable FEATURE_FLAG_URL is not set",
    ]


def test_a_bad_url_from_the_environment_is_named_by_its_variable_not_shown() -> None:
    secret = "not-a-url-but-a-s3cr3t"
    errors = _errors(env={**ENV, "PROMPT_ROLLBACK_URL": secret})
    assert errors == [
        f"ownership.yaml:16 {AT}.url: the value of ${{PROMPT_ROLLBACK_URL}} is not an http(s) URL"
    ]
    # A variable inside the text: the text as written, not the token.
    text = _edit(
        OWNERSHIP, 'url: "${PROMPT_ROLLBACK_URL}"', 'url: "hooks://deploy.example.com/${ROLLBACK_TOKEN}"'
    )
    errors = _errors(text, env={**ENV, "ROLLBACK_TOKEN": "tok-5e4d3c2b"})
    assert errors == [
        f"ownership.yaml:16 {AT}.url: 'hooks://deploy.example.com/${{ROLLBACK_TOKEN}}' is not an http(s) URL"
    ]


def test_the_url_from_the_environment_never_appears_in_errors_or_reprs() -> None:
    # Every other mistake in both actions at once: none of the messages quotes the URLs.
    text = _edit(OWNERSHIP, "approval: accountable", "approval: boss\n        colour: red")
    text = _edit(text, "approval: two-person", "approval: 2\n        params: [X]")
    with pytest.raises(ConfigError) as caught:
        _load(text)
    assert len(caught.value.issues) == 4
    for shown in (str(caught.value), repr(caught.value.issues)):
        assert ROLLBACK_SECRET not in shown and FLAG_SECRET not in shown
    # A loaded action logged by mistake does not print its URL either.
    config = _load()
    action = config.ownership.areas["model-quality"].actions["rollback-prompt"]
    for shown in (repr(action), str(action), repr(config.ownership), repr(config)):
        assert ROLLBACK_SECRET not in shown and FLAG_SECRET not in shown
    assert "Roll back to the last approved prompt version" in repr(action)


def test_models_built_directly_check_actions_too() -> None:
    with pytest.raises(ValidationError, match="'boss' is not an approval rule"):
        ActionSpec.model_validate({"title": "T", "url": "https://x.example.com", "approval": "boss"})
    area = {"name": "X", "responsible": "maya", "accountable": "maya"}
    bad_name = {"Roll Back": {"title": "T", "url": "https://x.example.com", "approval": "none"}}
    with pytest.raises(ValidationError, match="action name 'Roll Back' must be lowercase"):
        OwnershipConfig.model_validate(
            {"people": {"maya": "U07MAYA001"}, "areas": {"x": {**area, "actions": bad_name}}}
        )


def _uncommented_example() -> str:
    """The shipped ownership.yaml with its commented `actions:` example switched on."""
    lines = SHIPPED_OWNERSHIP.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("    # actions:"))
    end = start + 1
    while lines[end].startswith("    #   "):
        end += 1
    for i in range(start, end):
        lines[i] = "    " + lines[i][len("    # ") :]
    return "".join(lines)


def test_the_shipped_file_has_no_actions_and_its_commented_example_is_valid() -> None:
    shipped = load_config(ownership_path=SHIPPED_OWNERSHIP, severity_path=SHIPPED_SEVERITY, env={})
    assert all(area.actions == {} for area in shipped.ownership.areas.values())
    Path("ownership.yaml").write_text(_uncommented_example())
    config = load_config(ownership_path="ownership.yaml", severity_path=SHIPPED_SEVERITY, env=ENV)
    actions = config.ownership.areas["model-quality"].actions
    assert {name: (a.approval, a.names, a.masked) for name, a in actions.items()} == {
        "rollback-prompt": ("accountable", ["version"], []),
        "disable-feature": ("two-person", ["reason"], ["reason"]),
    }
    assert actions["rollback-prompt"].url == ENV["PROMPT_ROLLBACK_URL"]


# --------------------------------------------------------------------------- /owner <area>

NONE_ACTION = """\
      flush-cache:
        title: Flush the answer cache & <!channel>
        url: https://cache.example.com/flush
        approval: none
"""


def _card_text(card: dict[str, object]) -> str:
    return json.dumps(card["blocks"], ensure_ascii=False)


def test_the_card_lists_actions_and_their_rules_but_never_the_url() -> None:
    config = _load(OWNERSHIP + NONE_ACTION)
    card = render.area_card(Ownership(config.ownership), "model-quality")
    section = next(b for b in card["blocks"] if "*Actions*" in b.get("text", {}).get("text", ""))
    assert section["text"]["text"].splitlines() == [
        "*Actions*",
        "`rollback-prompt` — Roll back to the last approved prompt version — "
        "approval: the accountable person (<@U07MAYA001>) — `version=…`",
        "`disable-feature` — Switch the assistant off for all users — "
        "approval: two people (the requester and one other)",
        # Titles are escaped: no @channel from a config file.
        "`flush-cache` — Flush the answer cache &amp; &lt;!channel&gt; — runs without approval",
    ]
    shown = _card_text(card)
    assert "/incident run &lt;action&gt;" in shown
    for url in (*ENV.values(), "cache.example.com"):
        assert url not in shown


def test_the_card_names_whoever_holds_accountable_now() -> None:
    # A countersigned handoff makes li accountable before ownership.yaml is edited.
    config = _load()
    own = Ownership(
        config.ownership,
        emails={"li.chen@example.com": "U07LICHEN1"},
        overrides={"area:model-quality:accountable": "li"},
    )
    shown = _card_text(render.area_card(own, "model-quality"))
    assert "approval: the accountable person (<@U07LICHEN1>)" in shown
    assert "U07MAYA001" not in shown.split("*Actions*", 1)[1]


def test_an_area_without_actions_shows_no_actions_section() -> None:
    config = _load(OWNERSHIP.split("    actions:\n")[0], env={})
    shown = _card_text(render.area_card(Ownership(config.ownership), "model-quality"))
    assert "Actions" not in shown and "/incident run" not in shown


def test_owner_command_lists_the_actions_through_signed_http(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "ownership.yaml"
    path.write_text(_uncommented_example())
    config = load_config(ownership_path=path, severity_path=SHIPPED_SEVERITY, env=ENV)
    rb = start_baton(fake_slack, db_url, config=config, BATON_OWNERSHIP_FILE=str(path))
    try:
        resp = rb.command("/owner", "prompt")  # an alias of model-quality
        assert resp.status_code == 200, resp.text
        shown = _card_text(resp.json())
        assert "`rollback-prompt` — Roll back to the last approved prompt version — " in shown
        assert "approval: the accountable person (<@U07MAYA001>) — `version=…`" in shown
        assert "`disable-feature` — Switch the assistant off for all users — approval: two people" in shown
        assert not re.search(r"deploy\.example\.com|flags\.example\.com|s3cr3t|9f8e7d6c", shown)
        # Areas without actions say nothing about them.
        other = _card_text(rb.command("/owner", "data").json())
        assert "Data" in other and "Actions" not in other
    finally:
        rb.stop()
