"""`baton check --slack` and the same check at `baton serve` start-up, against the fake Slack.

The fake starts as a workspace that agrees with the shipped files (every person, team channel,
user group and the backlog channel exist, with Baton in the channels); each test then breaks
one thing and reads what Baton says about it.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.slack.standin import FakeSlack
from tests.conftest import (
    BATON,
    CHAIN_KEY,
    ROOT,
    SHIPPED_OWNERSHIP,
    SIGNING_SECRET,
    clean_env,
    serve,
    serve_env,
)
from tests.slack_signing import post_signed, slash_command_body

# The shipped ownership.yaml's team channels and user groups.
TEAM_CHANNELS = {
    "C07MLTEAM": "ml-team",
    "C07PLATFORM": "platform-team",
    "C07DATATEAM": "data-team",
    "C07PRODUCT": "product-team",
}
USERGROUPS = {"S07MLTEAM": ["U07MAYA001", "U07OMAR001"], "S07PLATFORM": ["U07SAM0001", "U07PRIYA01"]}


def add_workspace(fake: FakeSlack) -> None:
    """What the fake_slack fixture lacks for the shipped files: team channels and user groups."""
    for channel_id, name in TEAM_CHANNELS.items():
        fake.add_channel(name, channel_id=channel_id)
    for group_id, users in USERGROUPS.items():
        fake.add_usergroup(group_id, users)


@pytest.fixture
def workspace(fake_slack: FakeSlack) -> FakeSlack:
    add_workspace(fake_slack)
    return fake_slack


def at(path: Path, written: str) -> str:
    """`file:line` of the first line of a shipped file that has `written`, as problems name it."""
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if written in text)
    return f"{path.name}:{line}"


OWNERSHIP, SEVERITY = SHIPPED_OWNERSHIP, ROOT / "severity.yaml"


def check_slack(fake: FakeSlack, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_API_URL": fake.url, **env}
    return subprocess.run(
        [BATON, "check", *args],
        capture_output=True,
        text=True,
        env={**clean_env(), **base},
        cwd=ROOT,
        timeout=60,
    )


def test_all_fine(workspace: FakeSlack) -> None:
    out = check_slack(workspace, "--slack")
    assert out.returncode == 0, out.stderr
    assert "ok: Slack has every channel, user group and user in the config" in out.stdout
    assert out.stderr == ""
    asked = {c.params["channel"] for c in workspace.calls_to("conversations.info")}
    assert asked == {*TEAM_CHANNELS, "C07BACKLOG"}
    assert workspace.calls_to("usergroups.list") and workspace.calls_to("users.info")


def test_without_slack_it_stays_offline(workspace: FakeSlack) -> None:
    out = check_slack(workspace)
    assert out.returncode == 0, out.stderr
    assert workspace.calls == []


def test_slack_needs_the_bot_token(workspace: FakeSlack) -> None:
    out = check_slack(workspace, "--slack", SLACK_BOT_TOKEN="")
    assert out.returncode == 2
    assert "SLACK_BOT_TOKEN is not set" in out.stderr and "Traceback" not in out.stderr
    assert workspace.calls == []


def test_a_missing_channel(workspace: FakeSlack) -> None:
    del workspace.channels["C07DATATEAM"]
    out = check_slack(workspace, "--slack")
    assert out.returncode == 1
    assert out.stdout == ""  # no "ok" before the problem
    assert out.stderr.splitlines() == [
        f"{at(OWNERSHIP, 'channel: C07DATATEAM')} teams.data.channel: C07DATATEAM: "
        "no channel with this ID is visible to Baton: "
        "check the ID (in Slack: the channel's name → About → Channel ID), or, for a private channel, "
        "/invite @baton there",
        "baton: 1 problem found in Slack",
    ]


def test_an_archived_channel(workspace: FakeSlack) -> None:
    workspace.channels["C07BACKLOG"].archived = True
    out = check_slack(workspace, "--slack")
    assert out.returncode == 1
    assert (
        f"{at(SEVERITY, 'backlog_channel: C07BACKLOG')} backlog_channel: C07BACKLOG: "
        "#ai-backlog is archived, so Baton cannot post there: "
        "unarchive it, or put another channel's ID here"
    ) in out.stderr.splitlines()


def test_a_channel_baton_is_not_in(workspace: FakeSlack) -> None:
    workspace.add_channel("ml-team", channel_id="C07MLTEAM", bot_member=False, members=["U07MAYA001"])
    out = check_slack(workspace, "--slack")
    assert out.returncode == 1
    assert (
        f"{at(OWNERSHIP, 'channel: C07MLTEAM')} teams.ml.channel: C07MLTEAM: "
        "Baton is not a member of #ml-team, so it cannot post "
        "there: /invite @baton in #ml-team, or add the chat:write.public scope to the app"
    ) in out.stderr.splitlines()


def test_a_missing_user_group(workspace: FakeSlack) -> None:
    del workspace.usergroups["S07PLATFORM"]
    out = check_slack(workspace, "--slack")
    assert out.returncode == 1
    assert out.stderr.splitlines()[0] == (
        f"{at(OWNERSHIP, 'usergroup: S07PLATFORM')} teams.platform.usergroup: S07PLATFORM: "
        "no user group with this ID: check it "
        "(in Slack: People → User groups → the group → ⋮ → Copy group ID), or remove usergroup"
    )


def test_a_deleted_and_a_missing_user(workspace: FakeSlack) -> None:
    workspace.users["U07OMAR001"].deleted = True
    del workspace.users["U07KENJI01"]
    out = check_slack(workspace, "--slack")
    assert out.returncode == 1
    lines = out.stderr.splitlines()
    # Slack still describes a deactivated account (deleted: true); a wrong ID finds nobody.
    assert lines[:2] == [
        f"{at(OWNERSHIP, 'omar: U07OMAR001')} people.omar: U07OMAR001: "
        "@omar's account is deactivated, so they cannot be paged: "
        "put someone else here",
        f"{at(OWNERSHIP, 'kenji: U07KENJI01')} people.kenji: U07KENJI01: "
        "no user with this ID in the workspace, so they cannot "
        "be paged: check the ID (their profile → ⋮ → Copy member ID)",
    ]
    assert lines[2:] == ["baton: 2 problems found in Slack"]


def test_an_email_no_slack_user_has(workspace: FakeSlack) -> None:
    ben = next(u for u in workspace.users.values() if u.email == "ben.okafor@example.com")
    del workspace.users[ben.id]
    out = check_slack(workspace, "--slack")
    assert out.returncode == 1
    assert out.stderr.splitlines()[0].startswith(
        f"{at(OWNERSHIP, 'ben: ben.okafor')} people.ben: ben.okafor@example.com: "
        "no Slack user has this e-mail"
    )


def test_a_refused_token_stops_the_check_with_what_to_do(workspace: FakeSlack) -> None:
    out = check_slack(
        workspace, "--slack", SLACK_BOT_TOKEN="xoxb-1234567890-1234567890123-revokedRevokedRevoked12"
    )
    assert out.returncode == 2
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in out.stderr
    assert "xoxb-1234567890-1234567890123-revokedRevokedRevoked12" not in out.stderr


# -- the same check inside `baton serve` ---------------------------------------------------------


class Lines:
    """A running process's combined output, read line by line on a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def having(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def stop(self) -> list[str]:
        """SIGTERM, wait for the exit, and every line it wrote."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        self._thread.join(timeout=5)
        return list(self.lines)


@pytest.fixture
def served(workspace: FakeSlack, tmp_path: Path) -> Iterator[tuple[FakeSlack, dict[str, str], Path]]:
    # With a chain key: an unkeyed start warns once about that (tests/records/test_chain_key.py).
    yield workspace, serve_env(workspace, tmp_path, BATON_CHAIN_KEY=CHAIN_KEY), tmp_path


def test_serve_logs_one_warning_per_problem_without_delaying_requests(
    served: tuple[FakeSlack, dict[str, str], Path],
) -> None:
    fake, env, cwd = served
    fake.channels["C07PRODUCT"].archived = True
    # Slack is slow to list user groups: the check waits, requests must not.
    fake.set_latency("usergroups.list", 5)
    out = Lines(serve(env, cwd))
    try:
        body = slash_command_body("/owner", "infra")
        resp = post_signed(f"http://127.0.0.1:{env['PORT']}/slack/events", body, SIGNING_SECRET)
        assert resp.status_code == 200 and "Platform Team" in resp.text
        # Answered while the check still waited for Slack: it had not reached the backlog channel.
        assert not any(c.params.get("channel") == "C07BACKLOG" for c in fake.calls_to("conversations.info"))
        fake.wait_for(lambda: out.having("against Slack: 1 problem"), timeout=30)
    finally:
        lines = out.stop()
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 1, lines
    assert warnings[0].endswith(
        f"WARNING bot.slack.check: {SHIPPED_OWNERSHIP}:{at(OWNERSHIP, 'channel: C07PRODUCT').split(':')[1]} "
        "teams.product.channel: C07PRODUCT: #product-team "
        "is archived, so Baton cannot post there: unarchive it, or put another channel's ID here"
    )


LACKS_DM_SCOPES = (
    "the bot token lacks im:write and im:history: after a lost answer (a Slack 5xx, a restart) Baton "
    "cannot look in a person's DM for the page it sent, so it may page them twice; reinstall the app "
    "from slack-app-manifest.yaml, which asks for it"
)


@pytest.mark.parametrize("lacking", [("im:write", "im:history"), ("im:history",)])
def test_check_warns_when_the_token_cannot_look_in_dms(
    workspace: FakeSlack, lacking: tuple[str, ...]
) -> None:
    workspace.scopes -= set(lacking)
    out = check_slack(workspace, "--slack")
    # A warning about the app, not a problem of the config: the config's exit status and ok lines.
    assert out.returncode == 0, out.stderr
    assert "ok: Slack has every channel" in out.stdout
    said = LACKS_DM_SCOPES if len(lacking) == 2 else LACKS_DM_SCOPES.replace("im:write and ", "")
    assert out.stderr == f"baton: warning: {said}\n"


def test_serve_warns_at_start_up_when_the_token_cannot_look_in_dms(
    served: tuple[FakeSlack, dict[str, str], Path],
) -> None:
    fake, env, cwd = served
    fake.scopes -= {"im:write", "im:history"}
    out = Lines(serve(env, cwd))
    try:
        fake.wait_for(lambda: out.having("against Slack: no problems"), timeout=30)
    finally:
        lines = out.stop()
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 1 and warnings[0].endswith(f"WARNING bot.slack.check: {LACKS_DM_SCOPES}"), lines


def test_check_warns_when_a_drills_picture_cannot_be_shared(workspace: FakeSlack) -> None:
    workspace.scopes -= {"files:write"}
    out = check_slack(workspace, "--slack")
    assert out.returncode == 0, out.stderr
    assert out.stderr == (
        "baton: warning: the bot token lacks files:write: a drill's score card goes without its picture; "
        "reinstall the app from slack-app-manifest.yaml, which asks for it\n"
    )


def test_the_announce_channel_must_exist_and_take_baton_s_posts(workspace: FakeSlack, tmp_path: Path) -> None:
    """ownership.yaml `announce.channel`: missing, then there without Baton, then fine."""
    ownership = tmp_path / "ownership.yaml"
    ownership.write_text(OWNERSHIP.read_text() + "\nannounce:\n  channel: C07INCIDENTS\n  min_severity: P2\n")
    # PYTHONPATH: the code of this tree, whichever tree the venv's `baton` was installed from.
    env = {
        "BATON_OWNERSHIP_FILE": str(ownership),
        "BATON_SEVERITY_FILE": str(SEVERITY),
        "PYTHONPATH": str(ROOT),
    }
    where = f"{ownership.parent}/{at(ownership, '  channel: C07INCIDENTS')} announce.channel: C07INCIDENTS"

    out = check_slack(workspace, "--slack", **env)
    assert out.returncode == 1
    assert out.stderr.splitlines()[0] == (
        f"{where}: no channel with this ID is visible to Baton: check the ID (in Slack: the channel's "
        "name → About → Channel ID), or, for a private channel, /invite @baton there"
    )

    workspace.add_channel("incidents", channel_id="C07INCIDENTS", bot_member=False, members=["U07MAYA001"])
    out = check_slack(workspace, "--slack", **env)
    assert out.returncode == 1
    assert out.stderr.splitlines()[0] == (
        f"{where}: Baton is not a member of #incidents, so it cannot post there: /invite @baton in "
        "#incidents, or add the chat:write.public scope to the app"
    )

    workspace.channels["C07INCIDENTS"].members.add("UBATONBOT")
    out = check_slack(workspace, "--slack", **env)
    assert out.returncode == 0, out.stderr
