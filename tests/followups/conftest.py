"""A Baton whose follow-ups go to a local GitHub (model-quality, the top-level tracker) and a
local Jira (infra-deploy's own tracker), on an injected clock, with an incident in each area."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.followups import tracker
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.slack.standin import FakeSlack
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import FollowUp, Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from tests.conftest import SHIPPED_OWNERSHIP, settings_for
from tests.trackerservers import GitHubServer, JiraServer

LEO = "U07LEO0002"
# Neither looks like a token masking knows: only Baton's own care keeps them out of sight.
GH_TOKEN = "tok-gh-9f8e7d6c5b4a39281706"
JIRA_TOKEN = "tok-jira-0a1b2c3d4e5f60718293"
JIRA_EMAIL = "baton-bot@example.com"
HANDLERS = {**paging.HANDLERS, **rooms.HANDLERS, **tracker.HANDLERS}

TRACKERS = """\
tracker:
  github: {{repo: {repo}, token: "${{GITHUB_TOKEN}}", api_url: "{api_url}"}}
"""
JIRA = """\
    tracker:
      jira: {{url: "{url}", project: {project}, email: "${{JIRA_EMAIL}}", token: "${{JIRA_TOKEN}}"}}
"""


def ownership_with_trackers(
    path: Path, gh: GitHubServer, jira: JiraServer, *, repo: str = "acme/ml-platform", project: str = "MLOPS"
) -> Path:
    """The shipped ownership.yaml with GitHub at the top level and Jira for infra-deploy."""
    text = SHIPPED_OWNERSHIP.read_text()
    anchor = "  infra-deploy:\n"
    assert anchor in text
    text = text.replace(anchor, anchor + JIRA.format(url=jira.url, project=project), 1)
    path.write_text(text + "\n" + TRACKERS.format(repo=repo, api_url=gh.api_url))
    return path


def tracker_env() -> dict[str, str]:
    return {"GITHUB_TOKEN": GH_TOKEN, "JIRA_TOKEN": JIRA_TOKEN, "JIRA_EMAIL": JIRA_EMAIL}


def make_baton(fake: FakeSlack, db_url: str, ownership: Path, clock: FakeClock) -> Baton:
    settings = settings_for(fake, db_url, BATON_OWNERSHIP_FILE=str(ownership))
    config = load_config(
        ownership_path=settings.ownership_file,
        severity_path=settings.severity_file,
        env={**os.environ, **tracker_env()},
    )
    return boot(settings, config, clock=clock)


@dataclass
class Tracked:
    baton: Baton
    ticker: Ticker
    clock: FakeClock
    fake: FakeSlack
    gh: GitHubServer
    jira: JiraServer
    ownership: Path
    github_incident: int = 0  # model-quality: the top-level GitHub
    jira_incident: int = 0  # infra-deploy: its own Jira

    def run(self) -> None:
        self.ticker.run_until_idle()
        for _ in range(2):  # channel posts that deferred a moment for their turn
            self.clock.advance(timedelta(milliseconds=200))
            self.ticker.run_until_idle()

    def later(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.run()

    def follow_up(self, text: str, *, incident: int | None = None, baton: Baton | None = None) -> int:
        """A follow-up row as the follow-up service writes it, queued for its tracker."""
        baton = baton or self.baton
        now = baton.clock.now()
        with session(baton.engine) as s:
            fu = FollowUp(
                incident_id=incident or self.github_incident, text=text, created_by=LEO, created_at=now
            )
            s.add(fu)
            s.flush()
            tracker.queue(s, baton=baton, follow_up=fu, now=now)
            s.commit()
            assert fu.id is not None
            fid = fu.id
        baton.wake()
        return fid

    def get(self, fid: int) -> FollowUp:
        with session(self.baton.engine) as s:
            fu = s.get(FollowUp, fid)
            assert fu is not None
            return fu

    def channel(self, incident: int) -> str:
        with session(self.baton.engine) as s:
            inc = s.get(Incident, incident)
            assert inc is not None and inc.channel_id is not None
            return inc.channel_id

    def said(self, incident: int) -> list[str]:
        return [str(m["text"]) for m in self.fake.messages(self.channel(incident))]

    def jobs(self) -> list[Job]:
        with session(self.baton.engine) as s:
            return list(s.exec(select(Job).where(col(Job.kind) == tracker.IssuePayload.KIND)).all())

    def events(self, kind: str) -> list[TimelineEvent]:
        with session(self.baton.engine) as s:
            return list(s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == kind)).all())


def start(
    fake: FakeSlack,
    db_url: str,
    tmp_path: Path,
    gh: GitHubServer,
    jira: JiraServer,
    *,
    settle: bool = True,
    clock: FakeClock | None = None,
    **kw: str,
) -> Tracked:
    """`settle=False`: the incidents' jobs are left due, and the clock where it started."""
    ownership = ownership_with_trackers(tmp_path / "ownership.yaml", gh, jira, **kw)
    clock = clock or FakeClock()
    baton = make_baton(fake, db_url, ownership, clock)
    ticker = Ticker(baton, handlers=HANDLERS, on_failure=rooms.report_failure)
    t = Tracked(baton, ticker, clock, fake, gh, jira, ownership)
    t.github_incident = (
        incidents.declare(
            baton=baton, severity="P2", area="model-quality", title="Answers cite #42 wrongly", reporter=LEO
        ).id
        or 0
    )
    t.jira_incident = (
        incidents.declare(
            baton=baton, severity="P2", area="infra-deploy", title="Deploys stuck", reporter=LEO
        ).id
        or 0
    )
    if settle:
        t.run()
    return t


@pytest.fixture
def gh() -> Iterator[GitHubServer]:
    server = GitHubServer(token=GH_TOKEN)
    with server.serving():
        yield server


@pytest.fixture
def jira_server() -> Iterator[JiraServer]:
    server = JiraServer(email=JIRA_EMAIL, token=JIRA_TOKEN)
    with server.serving():
        yield server


@pytest.fixture
def tracked(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, gh: GitHubServer, jira_server: JiraServer
) -> Iterator[Tracked]:
    t = start(fake_slack, db_url, tmp_path, gh, jira_server)
    yield t
    t.ticker.shutdown()
    t.baton.engine.dispose()
