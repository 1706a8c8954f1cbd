"""One follow-up, one issue: across a process that dies between the tracker's answer and its
record, and across two replicas on one PostgreSQL. And `baton check --slack` asks the trackers."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot.app.ticker import Ticker
from bot.followups import tracker
from bot.incidents import rooms
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import session
from bot.store.models import FollowUp, Job
from tests import crashworker
from tests.conftest import ROOT
from tests.followups.conftest import GH_TOKEN, HANDLERS, make_baton, start, tracker_env
from tests.slack.test_slack_check import check_slack
from tests.trackerservers import GitHubServer, JiraServer


def test_a_process_that_dies_between_githubs_201_and_its_record_makes_no_second_issue(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, gh: GitHubServer, jira_server: JiraServer
) -> None:
    t = start(fake_slack, db_url, tmp_path, gh, jira_server, settle=False)
    try:
        fid = t.follow_up("Add retries to the embedder")
        died = crashworker.die_at(
            tracker.STEP, slack=fake_slack, db_url=db_url, ownership=t.ownership, **tracker_env()
        )
        assert died.returncode == crashworker.DIED, died.stderr
        assert len(gh.issues) == 1  # GitHub made it; the record never reached the database
        fu = t.get(fid)
        assert fu.tracker_state == "pending"
        [job] = t.jobs()
        assert job.state == "running" and job.delivery[tracker.STEP]["state"] == "sending"
        t.later(jobs.LEASE + timedelta(seconds=1))  # the lease runs out: this Baton takes the job over
        assert len(gh.issues) == 1 and len(gh.calls("POST", "")) == 1
        assert gh.calls("GET", r"/repos/acme/ml-platform/issues$")  # looked it up
        fu = t.get(fid)
        assert (fu.tracker_state, fu.tracker_key) == ("created", "acme/ml-platform#1")
        assert len(t.events("follow-up tracked")) == 1
    finally:
        t.ticker.shutdown()
        t.baton.engine.dispose()


def test_two_replicas_make_one_issue_per_follow_up(
    fake_slack: FakeSlack, pg_url: str, tmp_path: Path, gh: GitHubServer, jira_server: JiraServer
) -> None:
    """Two Batons on one PostgreSQL, each ticking at once; GitHub and Jira lose some answers
    (502 after making the issue) and are slow to one of them: each follow-up is one issue."""
    clock = FakeClock()
    t = start(fake_slack, pg_url, tmp_path, gh, jira_server, clock=clock)
    second = make_baton(fake_slack, pg_url, t.ownership, clock)
    other = Ticker(second, handlers=HANDLERS, on_failure=rooms.report_failure)
    try:
        gh.answer("create", 502, made=True, times=2)
        jira_server.answer("create", 502, made=True, times=2)
        made = [t.follow_up(f"GitHub follow-up {n}", baton=(t.baton, second)[n % 2]) for n in range(6)]
        made += [t.follow_up(f"Jira follow-up {n}", incident=t.jira_incident) for n in range(4)]

        def both() -> None:
            runs = [threading.Thread(target=x.run_until_idle) for x in (t.ticker, other)]
            for run in runs:
                run.start()
            for run in runs:
                run.join()

        def waiting() -> list[Job]:
            with session(t.baton.engine) as s:
                return list(
                    s.exec(
                        select(Job).where(Job.kind == tracker.IssuePayload.KIND, Job.state != "done")
                    ).all()
                )

        # Tries wait their backoff, or a free slot (two calls at once per replica).
        for _ in range(40):
            both()
            if not waiting():
                break
            clock.advance(timedelta(seconds=15))
        assert waiting() == []
        with session(t.baton.engine) as s:
            rows = {fu.id: fu for fu in s.exec(select(FollowUp)).all()}
        assert [rows[f].tracker_state for f in made] == ["created"] * 10
        assert len(gh.issues) == 6 and len(jira_server.issues) == 4
        for fid in made:  # each issue carries one follow-up's marker, each marker one issue
            marker = rows[fid].marker
            found = [i for i in gh.issues if marker in i["body"]] + [
                i for i in jira_server.issues if marker in str(i["fields"]["description"])
            ]
            assert len(found) == 1, (fid, rows[fid].tracker_key)
        assert len({rows[f].tracker_key for f in made}) == 10
    finally:
        other.shutdown()
        second.engine.dispose()
        t.ticker.shutdown()
        t.baton.engine.dispose()


def test_baton_check_asks_each_tracker_and_names_the_line_of_its_key(
    fake_slack: FakeSlack, tmp_path: Path, jira_server: JiraServer
) -> None:
    from tests.followups.conftest import ownership_with_trackers
    from tests.slack.test_slack_check import add_workspace

    add_workspace(fake_slack)
    wrong = GitHubServer(token=GH_TOKEN, repos=("acme/other",))
    with wrong.serving():
        ownership = ownership_with_trackers(tmp_path / "ownership.yaml", wrong, jira_server)
        env = {**tracker_env(), "JIRA_TOKEN": "tok-not-what-jira-knows", "PYTHONPATH": str(ROOT)}
        out = check_slack(fake_slack, "--slack", BATON_OWNERSHIP_FILE=str(ownership), **env)
    lines = ownership.read_text().splitlines()
    github_line = next(
        n for n, text in enumerate(lines, 1) if text.startswith("  github: {repo: acme/ml-platform")
    )
    jira_line = next(n for n, text in enumerate(lines, 1) if text.strip().startswith("jira: {url:"))
    assert out.returncode == 1, out.stderr
    assert (
        f"{ownership}:{github_line} tracker.github: acme/ml-platform: wrong repo: acme/ml-platform (GitHub "
        "answered HTTP 404: no such repo, or the token may not see it)"
    ) in out.stderr
    assert (
        f"{ownership}:{jira_line} areas.infra-deploy.tracker.jira: {jira_server.url} MLOPS: Jira refused the "
        "e-mail address and token (HTTP 401): set an API token of that account"
    ) in out.stderr, out.stderr
    assert "tok-" not in out.stderr + out.stdout
    assert "ok:" not in out.stdout
    # Slack had nothing to say: the count says where the problems are.
    assert out.stderr.splitlines()[-1] == "baton: 2 problems found in the issue trackers"


def test_baton_check_says_ok_of_the_trackers_it_asked(
    fake_slack: FakeSlack, tmp_path: Path, gh: GitHubServer, jira_server: JiraServer
) -> None:
    from tests.followups.conftest import ownership_with_trackers
    from tests.slack.test_slack_check import add_workspace

    add_workspace(fake_slack)
    ownership = ownership_with_trackers(tmp_path / "ownership.yaml", gh, jira_server)
    out = check_slack(
        fake_slack, "--slack", BATON_OWNERSHIP_FILE=str(ownership), **tracker_env(), PYTHONPATH=str(ROOT)
    )
    assert out.returncode == 0, out.stderr
    assert (
        out.stdout.splitlines()[-1] == "ok: 2 issue trackers in the config answered with the token set for it"
    )
    assert "tok-" not in out.stderr + out.stdout
