"""The whole path of a follow-up into a tracker: typed in Slack (a signed slash command into a
running Baton), one issue in the local GitHub, its link shown back in Slack. SQLite and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack.standin import FakeSlack
from tests.conftest import start_baton
from tests.followups.conftest import GH_TOKEN, JIRA_EMAIL, JIRA_TOKEN, ownership_with_trackers, tracker_env
from tests.trackerservers import GitHubServer, JiraServer

MAYA = "U07MAYA001"


def test_a_follow_up_typed_in_slack_becomes_one_github_issue_shown_back(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in tracker_env().items():
        monkeypatch.setenv(name, value)
    with (
        GitHubServer(token=GH_TOKEN).serving() as gh,
        JiraServer(email=JIRA_EMAIL, token=JIRA_TOKEN).serving() as jira,
    ):
        ownership = ownership_with_trackers(tmp_path / "ownership.yaml", gh, jira)  # type: ignore[arg-type]
        rb = start_baton(fake_slack, db_url, BATON_OWNERSHIP_FILE=str(ownership))
        try:
            rb.command("/incident", "P1 model-quality Answers are wrong", user_id=MAYA)
            said = rb.command("/incident", "follow-up #1 Add a canary for @octocat see #42", user_id=MAYA)
            assert said.status_code == 200 and ":warning:" not in said.text, said.text
            fake_slack.wait_for(lambda: gh.calls("POST", r"/issues$") or None, timeout=20, message="issue")
            (made,) = gh.calls("POST", r"/issues$")
            body = made.json()
            assert body["labels"] == ["incident", "baton-1"]
            # A typed @name and #42 notify and link nobody in GitHub.
            assert (
                "@octocat" not in body["title"] + body["body"] and "#42" not in body["title"] + body["body"]
            )

            def listed() -> str | None:
                text = str(rb.command("/incident", "follow-ups #1", user_id=MAYA).json())
                return text if "issues/1" in text else None

            shown = fake_slack.wait_for(listed, timeout=20, message="the issue's link")
            assert "GitHub: <https://github.example/acme/ml-platform/issues/1>" in shown, shown
            assert len(gh.calls("POST", r"/issues$")) == 1
        finally:
            rb.stop()
