"""The demo's workspace from ownership.yaml, and a modal's form read back as Slack's state."""

from __future__ import annotations

from pathlib import Path

from bot.app.demo import workspace
from bot.app.demo.page import form_state
from bot.config.loader import load_config
from bot.slack.standin import FakeSlack
from tests.conftest import SHIPPED_OWNERSHIP, SHIPPED_SEVERITY


def test_the_stand_in_gets_the_people_channels_and_user_groups_of_the_yaml() -> None:
    fake = FakeSlack()
    people, groups = workspace.seed(fake, SHIPPED_OWNERSHIP, SHIPPED_SEVERITY)
    handles = {p.handle: p.id for p in people}
    assert handles["maya"] == "U07MAYA001" and handles["li"] == "ULIE"
    assert fake.users["ULIE"].email == "li.chen@example.com"  # users.lookupByEmail finds her
    assert fake.channels["C07MLTEAM"].name == "team-ml"
    assert fake.channels["C07BACKLOG"].name == "backlog"  # severity.yaml's backlog_channel
    assert set(people_ids := [p.id for p in people]) <= fake.channels["C07MLTEAM"].members
    assert fake.usergroups["S07MLTEAM"] == ["U07MAYA001", "ULIE", "U07OMAR001"]
    assert groups["S07MLTEAM"] == "ml-team"
    assert len(people_ids) == 12


def test_a_modal_form_is_sent_back_as_slack_state_values() -> None:
    options = [{"text": {"type": "plain_text", "text": "P1"}, "value": "P1"}]
    view = {
        "blocks": [
            {
                "type": "input",
                "block_id": "severity",
                "element": {"type": "static_select", "action_id": "value", "options": options},
            },
            {
                "type": "input",
                "block_id": "title",
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "not a field"}},
        ]
    }
    state = form_state(view, {"severity": {"value": "P1"}, "title": {"value": ""}})
    assert state == {
        "severity": {"value": {"type": "static_select", "selected_option": options[0]}},
        "title": {"value": {"type": "plain_text_input", "value": None}},  # empty: None, as Slack sends
    }
    assert form_state(view, {"severity": {"value": "P9"}})["severity"]["value"]["selected_option"] is None


def test_the_demo_adds_an_announcement_channel_only_where_the_yaml_has_none(tmp_path: Path) -> None:
    derived = workspace.with_announce(SHIPPED_OWNERSHIP, tmp_path)
    assert derived != SHIPPED_OWNERSHIP and "announce:" not in SHIPPED_OWNERSHIP.read_text().replace(
        "# announce", ""
    )
    config = load_config(ownership_path=derived, severity_path=SHIPPED_SEVERITY)
    assert config.ownership.announce is not None
    assert config.ownership.announce.channel == workspace.ANNOUNCE_CHANNEL
    fake = FakeSlack()
    workspace.seed(fake, derived, SHIPPED_SEVERITY)
    assert fake.channels[workspace.ANNOUNCE_CHANNEL].name == "incidents"
    # A file that names its own channel is run as it is.
    own = tmp_path / "own.yaml"
    own.write_text(derived.read_text().replace(workspace.ANNOUNCE_CHANNEL, "C07INCIDENTS"))
    assert workspace.with_announce(own, tmp_path / "x") == own
