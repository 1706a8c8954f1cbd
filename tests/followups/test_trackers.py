"""Follow-ups become issues in GitHub and Jira (local fakes answering as the public references
say): exactly one issue per follow-up, across a 502 after the issue was made, timeouts and
rate limits; refusals said once in the incident channel; the token nowhere."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.followups import calls, tracker
from bot.followups import messages as follow_up_messages
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.db import session
from bot.store.models import FollowUp, Job, TimelineEvent
from tests.followups.conftest import GH_TOKEN, JIRA_EMAIL, JIRA_TOKEN, Tracked, start
from tests.trackerservers import GitHubServer, JiraServer


def test_a_follow_up_becomes_one_github_issue(tracked: Tracked) -> None:
    fid = tracked.follow_up("Add an eval for citations")
    assert tracked.get(fid).tracker_state == "pending"
    assert follow_up_messages.tracker(tracked.get(fid)) == "not yet in GitHub"
    tracked.run()
    [post] = tracked.gh.calls("POST", r"/issues$")
    assert post.path == "/repos/acme/ml-platform/issues"
    assert post.headers["authorization"] == f"Bearer {GH_TOKEN}"
    assert post.headers["accept"] == "application/vnd.github+json"
    assert post.headers["x-github-api-version"] == "2022-11-28"
    body = post.json()
    assert body["title"] == "Add an eval for citations"
    assert body["labels"] == ["incident", f"baton-{tracked.github_incident}"]
    fu = tracked.get(fid)
    assert fu.marker.startswith(f"baton-followup-{fid}-") and fu.marker in body["body"]
    assert (fu.tracker, fu.tracker_state, fu.tracker_key) == ("github", "created", "acme/ml-platform#1")
    assert fu.tracker_url == "https://github.example/acme/ml-platform/issues/1"
    assert follow_up_messages.tracker(fu) == f"GitHub: <{fu.tracker_url}>"
    assert [e.text for e in tracked.events("follow-up tracked")] == [
        f"follow-up #{fid} is GitHub issue acme/ml-platform#1 ({fu.tracker_url})"
    ]
    tracked.later(timedelta(hours=1))
    assert len(tracked.gh.issues) == 1 and len(tracked.gh.calls("POST", "")) == 1


def test_a_follow_up_of_an_area_with_its_own_jira_becomes_a_jira_task_in_adf(tracked: Tracked) -> None:
    fid = tracked.follow_up("Alert on stuck deploys\nand page platform", incident=tracked.jira_incident)
    tracked.run()
    assert tracked.gh.requests == []
    [post] = tracked.jira.calls("POST", r"/rest/api/3/issue$")
    fields = post.json()["fields"]
    assert fields["project"] == {"key": "MLOPS"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == "Alert on stuck deploys"
    assert fields["labels"] == ["incident", f"baton-{tracked.jira_incident}"]
    doc = fields["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    first = doc["content"][0]
    assert first == {
        "type": "paragraph",
        "content": [
            {"type": "text", "text": "Alert on stuck deploys"},
            {"type": "hardBreak"},
            {"type": "text", "text": "and page platform"},
        ],
    }
    fu = tracked.get(fid)
    assert fu.marker in json.dumps(doc)
    assert (fu.tracker, fu.tracker_state, fu.tracker_key) == ("jira", "created", "MLOPS-1")
    assert fu.tracker_url == f"{tracked.jira.url}/browse/MLOPS-1"
    assert post.headers["authorization"].startswith("Basic ")


@pytest.mark.parametrize("which", ["github", "jira"])
def test_a_502_after_the_issue_was_made_is_looked_up_and_adopted(tracked: Tracked, which: str) -> None:
    server = tracked.gh if which == "github" else tracked.jira
    incident = tracked.github_incident if which == "github" else tracked.jira_incident
    name = "GitHub" if which == "github" else "Jira"
    server.answer("create", 502, body={"message": "Server Error"}, made=True)
    fid = tracked.follow_up("Pin the prompt version", incident=incident)
    tracked.run()
    assert len(server.issues) == 1  # made, but Baton never heard
    fu = tracked.get(fid)
    assert fu.tracker_state == "pending" and follow_up_messages.tracker(fu) == f"not yet in {name}"
    [job] = tracked.jobs()
    assert job.delivery["issue"]["state"] == "sending" and job.last_error == f"{name} answered HTTP 502"
    tracked.later(jobs.backoff(1) + timedelta(seconds=1))
    assert len(server.issues) == 1
    assert len(server.calls("POST", "")) == 1  # looked up, not made again
    lookups = server.calls("GET", r"/issues$|/search/jql$")
    assert lookups and (which != "github" or lookups[0].query["labels"] == f"baton-{incident}")
    fu = tracked.get(fid)
    assert fu.tracker_state == "created"
    assert fu.tracker_key == ("acme/ml-platform#1" if which == "github" else "MLOPS-1")
    assert not any("not in" in t for t in tracked.said(incident))


def test_a_timeout_after_the_issue_was_made_is_adopted(
    tracked: Tracked, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calls, "TIMEOUT", 1.0)
    tracked.gh.hang("create", 2)  # made, answered after Baton's deadline
    fid = tracked.follow_up("Cache the embeddings")
    tracked.run()
    assert tracked.get(fid).tracker_state == "pending"
    assert tracked.jobs()[0].last_error == "GitHub did not answer within 1 s"
    tracked.later(timedelta(seconds=5))
    assert len(tracked.gh.issues) == 1 and tracked.get(fid).tracker_state == "created"


def test_when_github_is_down_the_follow_up_waits_and_is_made_once_it_is_back(tracked: Tracked) -> None:
    tracked.gh.answer("create", 503, times=3)
    fid = tracked.follow_up("Add a canary")
    tracked.run()
    waits = []
    for _ in range(3):
        [job] = tracked.jobs()
        assert tracked.get(fid).tracker_state == "pending" and job.retry_at is not None
        waits.append(job.retry_at - tracked.clock.now())
        tracked.later(timedelta(minutes=5, seconds=1))
    assert waits[0] <= timedelta(seconds=1) < waits[1] <= tracker.MAX_BACKOFF  # backing off
    assert tracked.get(fid).tracker_state == "created"
    assert len(tracked.gh.issues) == 1 and len(tracked.gh.calls("POST", "")) == 4
    assert not any("GitHub" in t for t in tracked.said(tracked.github_incident))


def test_a_tracker_down_for_good_is_said_once_when_baton_stops_trying(tracked: Tracked) -> None:
    tracked.gh.answer("create", 500, times=100)
    fid = tracked.follow_up("Add a canary")
    tracked.run()
    started = tracked.clock.now()
    while tracked.get(fid).tracker_state == "pending" and tracked.clock.now() - started < timedelta(hours=3):
        tracked.later(timedelta(minutes=5, seconds=1))
    assert (
        tracker.LATEST - tracker.MAX_BACKOFF
        <= tracked.clock.now() - started
        <= tracker.LATEST + tracker.MAX_BACKOFF
    )
    fu = tracked.get(fid)
    assert fu.tracker_state == "failed"
    assert fu.tracker_error is not None and fu.tracker_error.startswith("no issue after 1h")
    assert fu.tracker_error.endswith("of trying (last: GitHub answered HTTP 500)")
    said = [t for t in tracked.said(tracked.github_incident) if "not in GitHub" in t]
    assert said == [
        f":warning: The follow-up “Add a canary” is not in GitHub: {fu.tracker_error}. It is kept in Baton."
    ]
    tries = len(tracked.gh.calls("POST", ""))
    tracked.later(timedelta(hours=1))
    assert len(tracked.gh.calls("POST", "")) == tries and tracked.gh.issues == []


def test_a_429_waits_for_its_retry_after(tracked: Tracked) -> None:
    tracked.gh.answer("create", 429, body={"message": "slow down"}, headers={"Retry-After": "120"})
    fid = tracked.follow_up("Shard the index")
    tracked.run()
    assert len(tracked.gh.calls("POST", "")) == 1
    tracked.later(timedelta(seconds=100))
    assert len(tracked.gh.calls("POST", "")) == 1  # not before its Retry-After
    assert tracked.get(fid).tracker_state == "pending"
    tracked.later(timedelta(seconds=21))
    assert tracked.get(fid).tracker_state == "created"
    assert len(tracked.gh.issues) == 1
    [job] = tracked.jobs()
    assert job.attempts == 1  # a rate limit is not a failed try


def test_githubs_secondary_rate_limit_403_with_retry_after_is_waited_out(tracked: Tracked) -> None:
    body = {"message": "You have exceeded a secondary rate limit."}
    tracked.gh.answer("create", 403, body=body, headers={"Retry-After": "60"})
    fid = tracked.follow_up("Shard the index")
    tracked.run()
    assert tracked.get(fid).tracker_state == "pending"
    tracked.later(timedelta(seconds=61))
    assert tracked.get(fid).tracker_state == "created"
    assert not any("token" in t for t in tracked.said(tracked.github_incident))


def _refusals(t: Tracked) -> list[str]:
    return [m for i in (t.github_incident, t.jira_incident) for m in t.said(i) if "is not in" in m]


def _no_token_anywhere(t: Tracked, caplog: pytest.LogCaptureFixture) -> None:
    with session(t.baton.engine) as s:
        rows = [
            *s.exec(select(FollowUp)).all(),
            *s.exec(select(TimelineEvent)).all(),
            *s.exec(select(Job)).all(),
        ]
    stored = " ".join(repr(r.model_dump()) for r in rows)
    shown = " ".join(str(c.params) for c in t.fake.calls)
    logged = caplog.text
    for secret in (GH_TOKEN, JIRA_TOKEN):
        assert secret not in stored and secret not in shown and secret not in logged
    assert JIRA_EMAIL not in shown  # an address is masked where the tracker's words are shown


CASES = {
    # what the tracker answers -> what the channel is told after "is not in GitHub: "
    "github 401": (
        "github",
        ("create", 401, {"message": f"Bad credentials ({GH_TOKEN})"}),
        "GitHub refused the token (HTTP 401): give it one that may create issues in acme/ml-platform",
    ),
    "github 404": (
        "github",
        ("create", 404, {"message": "Not Found"}),
        "wrong repo or project: acme/ml-platform (GitHub answered HTTP 404)",
    ),
    "github 422": (
        "github",
        (
            "create",
            422,
            {
                "message": "Validation Failed",
                "errors": [
                    {"resource": "Issue", "code": "invalid", "message": f"<b>bad</b> @here {GH_TOKEN}"}
                ],
            },
        ),
        "GitHub refused the issue (HTTP 422): Validation Failed; &lt;b&gt;bad&lt;/b&gt; @here [token]",
    ),
    "jira 401": (
        "jira",
        ("create", 401, {"errorMessages": [f"bad {JIRA_EMAIL}:{JIRA_TOKEN}"]}),
        "Jira refused the token (HTTP 401): give it one that may create issues in MLOPS",
    ),
    "jira 400 project": (
        "jira",
        ("create", 400, {"errorMessages": [], "errors": {"project": "valid project is required"}}),
        "wrong repo or project: MLOPS (Jira: project: valid project is required)",
    ),
    "jira 404": (
        "jira",
        ("create", 404, {"errorMessages": ["Not found"]}),
        "wrong repo or project: MLOPS (Jira answered HTTP 404)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_refusal_is_said_once_in_the_channel_and_never_retried(
    tracked: Tracked, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    which, (route, status, body), said = CASES[case]
    server = tracked.gh if which == "github" else tracked.jira
    incident = tracked.github_incident if which == "github" else tracked.jira_incident
    name = "GitHub" if which == "github" else "Jira"
    server.answer(route, status, body=body)
    fid = tracked.follow_up("Write the runbook", incident=incident)
    tracked.run()
    tracked.later(timedelta(hours=1))
    fu = tracked.get(fid)
    assert fu.tracker_state == "failed"
    assert _refusals(tracked) == [
        f":warning: The follow-up “Write the runbook” is not in {name}: {said}. It is kept in Baton."
    ]
    assert len(server.calls("POST", "")) == 1
    assert server.issues == []
    assert follow_up_messages.tracker(fu).startswith(f"not in {name}: ")
    _no_token_anywhere(tracked, caplog)


def test_with_a_token_github_does_not_take_the_channel_hears_it_and_nothing_shows_the_token(
    fake_slack: FakeSlack,
    db_url: str,
    tmp_path: Path,
    jira_server: JiraServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GitHub's own check of the Bearer token (the fake echoes the header it got, as a careless
    proxy would): 401, said once, the token in no log, record or message."""
    caplog.set_level(logging.DEBUG)
    other = GitHubServer(token="tok-the-one-github-knows")
    with other.serving():
        t = start(fake_slack, db_url, tmp_path, other, jira_server)
        try:
            fid = t.follow_up("Rotate the key")
            t.run()
            assert t.get(fid).tracker_state == "failed"
            assert len(_refusals(t)) == 1 and "GitHub refused the token (HTTP 401)" in _refusals(t)[0]
            assert other.issues == []
            _no_token_anywhere(t, caplog)
        finally:
            t.ticker.shutdown()
            t.baton.engine.dispose()


def test_github_enterprise_is_reached_at_its_api_url(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, jira_server: JiraServer
) -> None:
    ghe = GitHubServer(token=GH_TOKEN, prefix="/api/v3")
    with ghe.serving():
        t = start(fake_slack, db_url, tmp_path, ghe, jira_server)
        try:
            fid = t.follow_up("Upgrade the runner")
            t.run()
            [post] = ghe.calls("POST", "")
            assert post.path == "/api/v3/repos/acme/ml-platform/issues"
            assert t.get(fid).tracker_state == "created"
        finally:
            t.ticker.shutdown()
            t.baton.engine.dispose()


def test_what_would_notify_or_link_in_the_tracker_is_quoted(tracked: Tracked) -> None:
    text = "Ask @maya and @acme/sre about #12, acme/x#7 and GH-3; ping [~accountid:5b10a2] see https://acme.atlassian.net/browse/X-1"
    tracked.follow_up(text)
    tracked.follow_up(text, incident=tracked.jira_incident)
    tracked.run()
    [gh_post] = tracked.gh.calls("POST", "")
    body = gh_post.json()["body"]
    for live in ("@maya", "@acme/sre", "#12", "x#7", "GH-3", "#42"):  # #42: the incident's title
        assert live not in body and live not in gh_post.json()["title"]
    assert "Ask @\u200bmaya and @\u200bacme/sre about #\u200b12, acme/x#\u200b7 and GH-\u200b3" in body
    [jira_post] = tracked.jira.calls("POST", "")
    nodes = jira_post.json()["fields"]["description"]["content"][0]["content"]
    coded = [n["text"] for n in nodes if n.get("marks") == [{"type": "code"}]]
    assert coded == ["@maya", "@acme/sre", "[~accountid:5b10a2]", "https://acme.atlassian.net/browse/X-1"]
    assert "[~accountid" not in jira_post.json()["fields"]["summary"]


def test_what_is_sent_to_a_tracker_is_masked(tracked: Tracked) -> None:
    text = "Rotate password=hunter2 and tell ops@example.com"
    tracked.follow_up(text)
    tracked.follow_up(text, incident=tracked.jira_incident)
    tracked.run()
    sent = tracked.gh.calls("POST", "")[0].body.decode() + tracked.jira.calls("POST", "")[0].body.decode()
    assert "hunter2" not in sent and "ops@example.com" not in sent
    assert "Rotate password=" in sent
