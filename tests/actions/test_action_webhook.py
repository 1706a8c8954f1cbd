"""The call of an approved action's webhook, on SQLite and PostgreSQL.

Each test inserts an ActionRequest row already "approved" and its `action_call` job itself (the
contract with bot/actions/requests.py), and runs the job on Baton's ticker, mostly on an injected
clock: the POST and its idempotency key, retries with backoff and their end, refusals, Retry-After,
a hanging webhook that delays no page, two replicas and a restart that POST once.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.actions import snapshot, webhook
from bot.app.runner import boot
from bot.app.ticker import Ticker
from bot.config.loader import load_config
from bot.incidents import paging, rooms
from bot.incidents import services as incidents
from bot.incidents.notes import incident_note
from bot.slack.standin import FakeSlack
from bot.store import jobs
from bot.store.clock import FakeClock
from bot.store.db import is_sqlite, session
from bot.store.models import ActionRequest, Incident, Job, TimelineEvent
from bot.store.runtime import Baton
from tests.conftest import SHIPPED_OWNERSHIP, incident_channel, page_dms, settings_for
from tests.webhookserver import WebhookServer, webhook_server

LEO, MAYA = "U07LEO0002", "U07MAYA001"
TOKEN = "s3cr3t-t0ken-in-the-url"  # the URL's query carries it: it must show up nowhere
WHAT = "Action `rollback-prompt` (version=v41) for #1"  # how the channel names the request
HANDLERS = {**paging.HANDLERS, **rooms.HANDLERS, **webhook.HANDLERS}

ACTIONS = """\
    actions:
      rollback-prompt:
        title: Roll back to the last approved prompt version
        url: "{url}"
        approval: accountable
        params: [version]
"""


def ownership_with_actions(path: Path, url: str) -> Path:
    """The shipped ownership.yaml with a `rollback-prompt` action under model-quality."""
    text = SHIPPED_OWNERSHIP.read_text()
    anchor = "  model-quality:\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + ACTIONS.format(url=url), 1))
    return path


@dataclass
class Env:
    baton: Baton
    ticker: Ticker
    clock: FakeClock
    hook: WebhookServer
    fake: FakeSlack
    incident: int
    channel: str

    def run(self) -> None:
        """Run what is due now, and the channel posts that deferred a moment for their turn."""
        self.ticker.run_until_idle()
        for _ in range(2):
            self.clock.advance(timedelta(milliseconds=200))
            self.ticker.run_until_idle()

    def later(self, delta: timedelta) -> None:
        """Move the injected clock on and run what came due (minus the 400 ms run() adds)."""
        self.clock.advance(delta - timedelta(milliseconds=400))
        self.run()

    def approve(
        self, *, state: str = "approved", action: str = "rollback-prompt", **kw: Any
    ) -> ActionRequest:
        """An approved request and its action_call job, as bot/actions/requests.py writes them."""
        return approve(self.baton, self.incident, state=state, action=action, **kw)

    def request(self, request_id: int) -> ActionRequest:
        with session(self.baton.engine) as s:
            req = s.get(ActionRequest, request_id)
            assert req is not None
            return req

    def events(self, *kinds: str) -> list[TimelineEvent]:
        with session(self.baton.engine) as s:
            rows = s.exec(
                select(TimelineEvent)
                .where(col(TimelineEvent.incident_id) == self.incident)
                .order_by(col(TimelineEvent.id))
            ).all()
        return [e for e in rows if not kinds or e.kind in kinds]

    def said(self) -> list[str]:
        return [m["text"] for m in self.fake.messages(self.channel)]

    def note(self) -> str:
        with session(self.baton.engine) as s:
            inc = s.get(Incident, self.incident)
            assert inc is not None
            return incident_note(s, inc)


def approve(
    baton: Baton,
    incident: int,
    *,
    state: str = "approved",
    action: str = "rollback-prompt",
    params: dict[str, Any] | None = None,
    key: str | None = None,
) -> ActionRequest:
    now = baton.clock.now()
    key = key or uuid.uuid4().hex
    params = {"version": "v41"} if params is None else params
    area = baton.config.ownership.areas["model-quality"]
    spec = area.actions.get(action)
    # What the config said when it was asked (an action not in it: no url to keep).
    kept = snapshot.taken(spec, key=key) if spec is not None else {"approval": "accountable"}
    with session(baton.engine) as s:
        req = ActionRequest(
            incident_id=incident,
            area="model-quality",
            action=action,
            title="Roll back to the last approved prompt version",
            params=params,
            call_params=params,
            **kept,
            approvers=[MAYA],
            requested_by=LEO,
            requested_at=now,
            expires_at=now + timedelta(hours=1),
            state=state,
            decided_by=MAYA,
            decided_at=now,
            idempotency_key=key,
        )
        s.add(req)
        s.flush()
        jobs.enqueue(
            s, kind="action_call", incident_id=incident, due_at=now, now=now, payload={"request": req.id}
        )
        s.commit()
        s.refresh(req)
        return req


def make_baton(fake: FakeSlack, db_url: str, ownership: Path, clock: FakeClock) -> Baton:
    settings = settings_for(fake, db_url, BATON_OWNERSHIP_FILE=str(ownership))
    config = load_config(ownership_path=settings.ownership_file, severity_path=settings.severity_file)
    return boot(settings, config, clock=clock)


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    with webhook_server() as server:
        yield server


@pytest.fixture
def env(fake_slack: FakeSlack, db_url: str, tmp_path: Path, hook: WebhookServer) -> Iterator[Env]:
    """A Baton whose model-quality area has `rollback-prompt` (POSTing to `hook`), on an injected
    clock, with a P2 incident in model-quality whose channel is set up."""
    ownership = ownership_with_actions(tmp_path / "ownership.yaml", hook.url(f"/hook?token={TOKEN}"))
    clock = FakeClock()
    baton = make_baton(fake_slack, db_url, ownership, clock)
    ticker = Ticker(baton, handlers=HANDLERS, on_failure=rooms.report_failure)
    inc = incidents.declare(
        baton=baton, severity="P2", area="model-quality", title="Hallucinations", reporter=LEO
    )
    e = Env(baton, ticker, clock, hook, fake_slack, inc.id or 0, "")
    e.run()
    e.channel = incident_channel(fake_slack).id
    yield e
    ticker.shutdown()
    baton.engine.dispose()


def no_secret_anywhere(e: Env, caplog: pytest.LogCaptureFixture) -> None:
    """The URL's token is in no record, message or log line; nor is the URL's path."""
    with session(e.baton.engine) as s:
        rows = [
            *s.exec(select(ActionRequest)).all(),
            *s.exec(select(TimelineEvent)).all(),
            *s.exec(select(Job)).all(),
        ]
    stored = " ".join(repr(r.model_dump()) for r in rows)
    shown = " ".join(str(c.params) for c in e.fake.calls)
    for where, text in (("database", stored), ("Slack", shown), ("log", caplog.text)):
        assert TOKEN not in text, where
        assert f"127.0.0.1:{e.hook.port}" not in text, where


# -- the call ----------------------------------------------------------------------------------


def test_an_approved_request_is_posted_once_with_its_body_and_key_and_recorded(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    answer = (
        '{"ok": true, "rolled_back_to": "v41", "by": "ops@example.com", "note": "<!channel> done"}'
        + " " * 400
        + "END"
    )
    env.hook.answer(200, body=answer)
    req = env.approve()
    env.run()

    [got] = env.hook.received()
    assert got.method == "POST" and got.path == f"/hook?token={TOKEN}"
    assert got.json() == {
        "action": "rollback-prompt",
        "area": "model-quality",
        "incident": env.incident,
        "requested_by": LEO,
        "approved_by": MAYA,
        "params": {"version": "v41"},
        "idempotency_key": req.idempotency_key,
    }
    assert got.headers["idempotency-key"] == req.idempotency_key
    assert got.headers["content-type"] == "application/json"

    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status, done.error) == ("called", 1, 200, None)
    assert done.answered_at is not None
    assert done.answer is not None and len(done.answer) <= webhook.EXCERPT
    assert done.answer.startswith('{"ok": true, "rolled_back_to": "v41", "by": "[email]"')  # masked
    assert "END" not in done.answer  # only the first 300 characters

    [called] = env.events("action called")
    assert called.text == "rollback-prompt (version=v41) (request #1): try 1 of 6" and called.actor == "baton"
    [answered] = env.events("action answered")
    assert answered.text.startswith('rollback-prompt (request #1) try 1: HTTP 200: {"ok": true')
    assert called.id is not None and answered.id is not None and called.id < answered.id

    [post] = [t for t in env.said() if "rollback-prompt" in t]
    assert post.startswith(
        ":white_check_mark: Action `rollback-prompt` (version=v41) for #1 ran: the webhook answered HTTP 200."
    )
    assert "&lt;!channel&gt; done" in post and "<!channel>" not in post  # escaped
    assert "[email]" in post and "ops@example.com" not in post

    note = env.note()
    assert "Baton action called: rollback-prompt (version=v41) (request #1): try 1 of 6" in note
    assert "Baton action answered: rollback-prompt (request #1) try 1: HTTP 200" in note

    env.later(timedelta(hours=1))
    assert len(env.hook.received()) == 1  # nothing more, ever
    no_secret_anywhere(env, caplog)


def test_the_same_key_on_every_retry_after_500_500_200_with_backoff(env: Env) -> None:
    env.hook.answer(500, body="upstream down", times=2)
    req = env.approve()
    env.run()
    assert len(env.hook.received()) == 1
    assert env.request(req.id or 0).state == "approved"
    env.later(timedelta(seconds=4))
    assert len(env.hook.received()) == 1  # not before 5 s
    env.later(timedelta(seconds=1))
    assert len(env.hook.received()) == 2
    env.later(timedelta(seconds=9))
    assert len(env.hook.received()) == 2  # not before 10 s
    env.later(timedelta(seconds=1))
    assert len(env.hook.received()) == 3

    got = env.hook.received()
    assert {r.headers["idempotency-key"] for r in got} == {req.idempotency_key}
    assert {r.json()["idempotency_key"] for r in got} == {req.idempotency_key}
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status, done.error) == ("called", 3, 200, None)
    assert [e.text.rsplit(": ", 1)[1] for e in env.events("action called")] == [
        "try 1 of 6",
        "try 2 of 6",
        "try 3 of 6",
    ]
    answers = [e.text for e in env.events("action answered")]
    assert answers[0] == "rollback-prompt (request #1) try 1: HTTP 500: upstream down; trying again in 5s"
    assert answers[1] == "rollback-prompt (request #1) try 2: HTTP 500: upstream down; trying again in 10s"
    assert answers[2].startswith("rollback-prompt (request #1) try 3: HTTP 200")
    said = [t for t in env.said() if "rollback-prompt" in t]
    assert said == [
        f":hourglass_flowing_sand: {WHAT}: HTTP 500. Baton tries again in 5s (up to 6 tries)."
        "\n> upstream down",
        f':white_check_mark: {WHAT} ran: the webhook answered HTTP 200 on try 3.\n> {{"ok": true}}',
    ]


def test_a_refusal_is_not_retried_and_its_answer_is_recorded(env: Env) -> None:
    env.hook.answer(403, body='{"error": "version v41 <unknown>"}')
    req = env.approve()
    env.run()
    env.later(timedelta(minutes=30))
    assert len(env.hook.received()) == 1
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status) == ("failed", 1, 403)
    assert done.answer == '{"error": "version v41 <unknown>"}'
    assert done.error == "rollback-prompt: HTTP 403"
    [post] = [t for t in env.said() if "rollback-prompt" in t]
    assert post == (
        f":x: {WHAT} was refused: the webhook answered HTTP 403, so it did not run."
        " A refusal is not retried: fix what it says and request it again."
        '\n> {"error": "version v41 &lt;unknown&gt;"}'
    )
    [failed] = env.events("action failed")
    assert failed.text.startswith(
        "rollback-prompt (version=v41) (request #1) was refused: the webhook answered HTTP 403"
    )
    assert "action answered: rollback-prompt (request #1) try 1: HTTP 403" in env.note()


def test_a_webhooks_answer_mentions_nobody(env: Env) -> None:
    """The answer is an outside system's text: masked, and its `<@U…>` shown as text, like an
    alert's or a pager's (escape() alone would keep it a live mention)."""
    env.hook.answer(403, body="<@U0ATTACKER> <!channel> see\n xoxb-1234567890-abcdefghijkl")
    req = env.approve()
    env.run()
    done = env.request(req.id or 0)
    assert done.answer == "@U0ATTACKER <!channel> see\n [slack-token]"
    [post] = [t for t in env.said() if "rollback-prompt" in t]
    assert post.endswith("\n> @U0ATTACKER &lt;!channel&gt; see [slack-token]")


def test_a_redirect_is_not_followed(env: Env) -> None:
    env.hook.answer(307, headers={"Location": "http://elsewhere.example/steal?token=abc"})
    req = env.approve()
    env.run()
    env.later(timedelta(minutes=5))
    assert len(env.hook.received()) == 1  # neither followed nor retried
    done = env.request(req.id or 0)
    assert (done.state, done.status) == ("failed", 307)
    [post] = [t for t in env.said() if "rollback-prompt" in t]
    assert "a redirect, which Baton does not follow" in post and "elsewhere.example" not in post


def test_retry_after_is_honoured(env: Env) -> None:
    env.hook.answer(429, headers={"Retry-After": "30"})
    req = env.approve()
    env.run()
    env.later(timedelta(seconds=29))
    assert len(env.hook.received()) == 1  # the backoff alone would have been 5 s
    env.later(timedelta(seconds=1))
    assert len(env.hook.received()) == 2
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status) == ("called", 2, 200)
    assert "try 1: HTTP 429 (empty answer); trying again in 30s" in env.events("action answered")[0].text


def test_a_retry_after_longer_than_baton_waits_ends_the_call(env: Env) -> None:
    env.hook.answer(503, headers={"Retry-After": "3600"})
    req = env.approve()
    env.run()
    env.later(timedelta(hours=2))
    assert len(env.hook.received()) == 1
    assert env.request(req.id or 0).state == "failed"
    [post] = [t for t in env.said() if "rollback-prompt" in t]
    assert (
        "was not run: the webhook answered HTTP 503 and asked Baton to come back in 1h, longer than the 10m"
        in post
    )


def test_the_end_after_six_failed_tries(env: Env) -> None:
    env.hook.answer(500, body="still down", times=100)
    req = env.approve()
    env.run()
    for tries, wait in enumerate((5, 10, 20, 40, 80), start=1):
        env.later(timedelta(seconds=wait - 1))
        assert len(env.hook.received()) == tries
        env.later(timedelta(seconds=1))
        assert len(env.hook.received()) == tries + 1
    env.later(timedelta(hours=1))
    assert len(env.hook.received()) == webhook.MAX_TRIES == 6  # 155 s of backoff, then the end

    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status, done.answer) == ("failed", 6, 500, "still down")
    assert done.error == "rollback-prompt: HTTP 500"
    said = [t for t in env.said() if "rollback-prompt" in t]
    assert len(said) == 2  # the first failure (retrying) and the end
    assert said[1] == (
        f":x: {WHAT} failed: 6 tries, none succeeded (last: HTTP 500). "
        "The webhook answered every try with an error, so it most likely did not run."
    )
    assert len(env.events("action called")) == 6 and len(env.events("action answered")) == 6
    [failed] = env.events("action failed")
    assert "failed: 6 tries, none succeeded" in failed.text
    with session(env.baton.engine) as s:
        [job] = s.exec(select(Job).where(col(Job.kind) == "action_call")).all()
    assert job.state == "done"  # the job did its work: the request records the failure
    assert "action failed" in env.note()


def test_an_unreachable_webhook_ends_saying_it_did_not_run(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(webhook, "MAX_TRIES", 2)
    env.hook.stop()  # nothing listens on its port any more
    req = env.approve()
    env.run()
    env.later(timedelta(seconds=5))
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status) == ("failed", 2, None)
    assert done.error == "rollback-prompt: could not connect to the webhook"
    [*_, post] = [t for t in env.said() if "rollback-prompt" in t]
    assert post.endswith("Baton never reached the webhook, so it did not run.")
    assert [e.kind for e in env.events("action called", "action unanswered", "action failed")] == [
        "action called",
        "action unanswered",
        "action called",
        "action unanswered",
        "action failed",
    ]
    no_secret_anywhere(env, caplog)


def test_a_hanging_webhook_is_retried_with_the_same_key(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook, "TIMEOUT", 0.3)  # the webhook answers after 3 s: long after that
    env.hook.hang(3.0)
    req = env.approve()
    env.run()
    first = env.request(req.id or 0)
    assert (first.state, first.attempts, first.status) == ("approved", 1, None)
    assert first.error == "rollback-prompt: no answer within 300ms (the request was sent)"
    [retrying] = [t for t in env.said() if "rollback-prompt" in t]
    assert "It may have reached the webhook; the retry carries the same idempotency key." in retrying
    env.later(timedelta(seconds=5))
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status) == ("called", 2, 200)
    keys = [r.headers["idempotency-key"] for r in env.hook.received()]
    assert keys == [req.idempotency_key, req.idempotency_key]
    [unanswered] = env.events("action unanswered")
    assert unanswered.data["reached"] == "maybe"


def test_a_webhook_that_never_answers_in_time_may_have_run_and_says_so(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook, "TIMEOUT", 0.2)
    monkeypatch.setattr(webhook, "MAX_TRIES", 2)
    env.hook.hang(2.0, times=2)
    req = env.approve()
    env.run()
    env.later(timedelta(seconds=5))
    assert env.request(req.id or 0).state == "failed"
    [*_, post] = [t for t in env.said() if "rollback-prompt" in t]
    assert post == (
        f":x: {WHAT} failed: 2 tries, none succeeded (last: no answer within 200ms (the request was "
        "sent)). *It may have run all the same*: tries 1, 2 got no answer after the request was sent. "
        "Check the system before requesting it again."
    )


# -- what is not called --------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "denied", "expired", "called", "failed"])
def test_only_an_approved_request_is_called(env: Env, state: str) -> None:
    req = env.approve(state=state)
    env.run()
    assert env.hook.received() == []
    assert env.request(req.id or 0).state == state
    assert env.events("action called", "action failed") == []


def test_an_action_gone_from_the_config_is_failed_and_said(env: Env) -> None:
    Path(env.baton.settings.ownership_file).write_text(SHIPPED_OWNERSHIP.read_text())  # the actions removed
    assert env.baton.reload() is None
    req = env.approve()
    env.run()
    assert env.hook.received() == []
    done = env.request(req.id or 0)
    assert (done.state, done.attempts) == ("failed", 0)
    gone = "the action is no longer in ownership.yaml (under areas.model-quality.actions)"
    assert done.error == f"rollback-prompt: not called: {gone}"
    [post] = [t for t in env.said() if "rollback-prompt" in t]
    assert post == f":x: {WHAT} was not run: {gone}. Request it again if it is still needed."
    assert len(env.events("action failed")) == 1


# -- never in the way of pages -------------------------------------------------------------------


def test_hanging_webhooks_never_delay_a_page(env: Env) -> None:
    """Ten approvals against a webhook that does not answer: more than the ticker's workers. At
    most MAX_IN_FLIGHT calls hold a worker; a P1 declared meanwhile is paged while they hang."""
    assert env.ticker._workers == 8 and webhook.MAX_IN_FLIGHT == 2
    env.hook.hold(times=10)
    requests = [env.approve() for _ in range(10)]
    env.ticker.start(timedelta(milliseconds=50))
    env.baton.wake = env.ticker.wake
    env.hook.wait_for(lambda: env.hook.in_flight == min(webhook.MAX_IN_FLIGHT, env.ticker._workers))
    paged = len(page_dms(env.fake))

    incidents.declare(
        baton=env.baton, severity="P1", area="infra-deploy", title="5xx everywhere", reporter=LEO
    )
    env.baton.wake()
    env.fake.wait_for(lambda: len(page_dms(env.fake)) > paged, timeout=10)
    # The pages went out while both calls were still waiting for the webhook's answer.
    assert env.hook.answered == 0 and env.hook.in_flight == webhook.MAX_IN_FLIGHT
    assert [env.request(r.id or 0).status for r in requests] == [None] * 10

    env.hook.release()

    def all_called() -> bool:
        if all(env.request(r.id or 0).state == "called" for r in requests):
            return True
        env.clock.advance(webhook.WAIT_FOR_SLOT)  # the deferred calls come back
        env.ticker.wake()
        return False

    env.fake.wait_for(all_called, timeout=30)
    assert all(env.request(r.id or 0).state == "called" for r in requests)
    assert env.hook.max_in_flight == webhook.MAX_IN_FLIGHT
    assert sorted(r.headers["idempotency-key"] for r in env.hook.received()) == sorted(
        r.idempotency_key for r in requests
    )


# -- exactly once --------------------------------------------------------------------------------


def _idle(baton: Baton, tickers: list[Ticker]) -> bool:
    with session(baton.engine) as s:
        left = s.exec(
            select(Job).where(col(Job.state).in_(["pending", "running"]), col(Job.kind) == "action_call")
        ).all()
    return not left and all(t._busy == 0 for t in tickers)


def test_two_replicas_post_each_approval_once(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, hook: WebhookServer
) -> None:
    ownership = ownership_with_actions(tmp_path / "ownership.yaml", hook.url())
    clock = FakeClock()
    replicas = [make_baton(fake_slack, db_url, ownership, clock) for _ in range(2)]
    tickers = [Ticker(b, handlers=HANDLERS, on_failure=rooms.report_failure) for b in replicas]
    try:
        inc = incidents.declare(
            baton=replicas[0], severity="P2", area="model-quality", title="Drift", reporter=LEO
        )
        hook.hang(0.05, times=100)  # each call takes a moment, so both replicas are at it together
        for ticker, baton in zip(tickers, replicas, strict=True):
            ticker.start(timedelta(milliseconds=20))
            baton.wake = ticker.wake
        requests = [approve(replicas[i % 2], inc.id or 0) for i in range(8)]
        for baton in replicas:
            baton.wake()

        def all_called() -> bool:
            with session(replicas[1].engine) as s:
                states = s.exec(select(ActionRequest.state)).all()
            if all(st == "called" for st in states):
                return True
            clock.advance(webhook.WAIT_FOR_SLOT)  # deferred calls (both slots busy) come back
            for t in tickers:
                t.wake()
            return False

        fake_slack.wait_for(all_called, timeout=30)
        fake_slack.wait_for(lambda: _idle(replicas[0], tickers), timeout=10)
        keys = Counter(r.headers["idempotency-key"] for r in hook.received())
        assert keys == Counter({r.idempotency_key: 1 for r in requests})
        with session(replicas[0].engine) as s:
            rows = s.exec(select(ActionRequest)).all()
            called = s.exec(select(TimelineEvent).where(col(TimelineEvent.kind) == "action called")).all()
        assert {(r.state, r.attempts) for r in rows} == {("called", 1)}
        assert len(called) == 8
    finally:
        for t in tickers:
            t.shutdown()
        for b in replicas:
            b.engine.dispose()


def test_an_approval_before_a_restart_is_called_once_after_it(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, hook: WebhookServer
) -> None:
    ownership = ownership_with_actions(tmp_path / "ownership.yaml", hook.url())
    clock = FakeClock()
    first = make_baton(fake_slack, db_url, ownership, clock)
    inc = incidents.declare(baton=first, severity="P2", area="model-quality", title="Drift", reporter=LEO)
    req = approve(first, inc.id or 0)
    first.engine.dispose()  # stopped before its ticker ran the job
    assert hook.received() == []

    second = make_baton(fake_slack, db_url, ownership, clock)
    ticker = Ticker(second, handlers=HANDLERS, on_failure=rooms.report_failure)
    try:
        if is_sqlite(second.engine):
            jobs.release_all(second.engine, now=clock.now())  # as Runner.start does
        ticker.run_until_idle()
        clock.advance(timedelta(minutes=10))
        ticker.run_until_idle()
        assert [r.headers["idempotency-key"] for r in hook.received()] == [req.idempotency_key]
        with session(second.engine) as s:
            done = s.get(ActionRequest, req.id)
        assert done is not None and (done.state, done.attempts) == ("called", 1)
    finally:
        ticker.shutdown()
        second.engine.dispose()


class _Killed(BaseException):
    """The process dying mid-call: not an Exception, so nothing in Baton catches it."""


def test_a_call_cut_short_by_a_crash_is_visible_and_tried_once_more(
    fake_slack: FakeSlack, db_url: str, tmp_path: Path, hook: WebhookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ownership = ownership_with_actions(tmp_path / "ownership.yaml", hook.url())
    clock = FakeClock()
    first = make_baton(fake_slack, db_url, ownership, clock)
    inc = incidents.declare(baton=first, severity="P2", area="model-quality", title="Drift", reporter=LEO)
    req = approve(first, inc.id or 0)

    def killed(*args: Any, **kwargs: Any) -> webhook.Outcome:
        raise _Killed

    with monkeypatch.context() as m:
        m.setattr(webhook, "call", killed)
        dying = Ticker(first, handlers=HANDLERS, on_failure=rooms.report_failure)
        dying.run_until_idle()
        dying.shutdown()
    with session(first.engine) as s:
        mid = s.get(ActionRequest, req.id)
        [job] = s.exec(select(Job).where(col(Job.kind) == "action_call")).all()
    assert mid is not None and (mid.state, mid.attempts) == ("approved", 1)  # the try is on record
    assert job.state == "running"  # its worker died holding it
    first.engine.dispose()

    clock.advance(
        jobs.LEASE + timedelta(seconds=1)
    )  # the lease runs out (PostgreSQL); SQLite releases at start
    second = make_baton(fake_slack, db_url, ownership, clock)
    ticker = Ticker(second, handlers=HANDLERS, on_failure=rooms.report_failure)
    try:
        if is_sqlite(second.engine):
            jobs.release_all(second.engine, now=clock.now())
        ticker.run_until_idle()
        clock.advance(timedelta(minutes=1))  # past the backoff release_all gave it
        ticker.run_until_idle()
        assert [r.headers["idempotency-key"] for r in hook.received()] == [req.idempotency_key]
        with session(second.engine) as s:
            done = s.get(ActionRequest, req.id)
            tries = s.exec(
                select(TimelineEvent.text)
                .where(col(TimelineEvent.kind) == "action called")
                .order_by(col(TimelineEvent.id))
            ).all()
        assert done is not None and (done.state, done.attempts) == ("called", 2)
        assert [t.rsplit(": ", 1)[1] for t in tries] == ["try 1 of 6", "try 2 of 6"]
    finally:
        ticker.shutdown()
        second.engine.dispose()


# -- a total deadline per try --------------------------------------------------


def test_a_webhook_dripping_its_answer_is_cut_at_the_deadline_and_tried_again(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte every 0.1 s keeps every read inside any per-read timeout, and the whole answer
    would take over 9 s: the try ends at TIMEOUT all the same, as one that went unanswered."""
    monkeypatch.setattr(webhook, "TIMEOUT", 0.5)
    env.hook.drip(0.1, body='{"ok": true, "note": "' + "slow " * 8 + '"}')
    req = env.approve()
    env.run()
    first = env.request(req.id or 0)
    assert (first.state, first.attempts, first.status) == ("approved", 1, None)
    assert first.error == "rollback-prompt: no answer within 500ms (the request was sent)"
    env.hook.wait_for(lambda: env.hook.cut)  # Baton hung up before the last byte
    [unanswered] = env.events("action unanswered")
    assert unanswered.data["reached"] == "maybe"
    env.later(timedelta(seconds=5))  # the retry, answered at once, carries the same key
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.status) == ("called", 2, 200)
    assert [r.headers["idempotency-key"] for r in env.hook.received()] == [req.idempotency_key] * 2


def test_every_deadline_holding_a_job_is_well_inside_the_lease() -> None:
    """A try that outlived the job's lease would be taken over by another replica while still
    open, and the webhook called twice: each outbound call's deadline is a fraction of it."""
    from bot.monitoring import prometheus
    from bot.slack import pagers

    for deadline in (webhook.TIMEOUT, pagers.TIMEOUT, prometheus.TIMEOUT):
        assert deadline * 10 <= jobs.LEASE.total_seconds()


# -- a resolved incident's requests are not called -----------------------------


def _resolve(e: Env) -> None:
    incidents.resolve(baton=e.baton, number=e.incident, summary="Rolled back by hand", user=MAYA)


def test_an_approval_not_yet_called_is_not_called_once_the_incident_is_resolved(env: Env) -> None:
    req = env.approve()
    _resolve(env)  # before the ticker ran the call
    env.run()
    env.later(timedelta(minutes=10))
    assert env.hook.received() == []
    done = env.request(req.id or 0)
    assert (done.state, done.attempts, done.call_params) == ("failed", 0, {})
    assert done.error == "rollback-prompt: not called: incident #1 was resolved before Baton called it"
    [post] = [t for t in env.said() if t.startswith(":x:")]
    assert post == (
        f":x: {WHAT} was not run: incident #1 was resolved before Baton called it. "
        "Request it again if it is still needed."
    )
    assert [e.kind for e in env.events("action called", "action failed")] == ["action failed"]


def test_a_retry_waiting_when_the_incident_is_resolved_is_not_sent(env: Env) -> None:
    env.hook.answer(500, body="upstream down")
    req = env.approve()
    env.run()
    assert len(env.hook.received()) == 1 and env.request(req.id or 0).state == "approved"
    _resolve(env)  # within the 5 s backoff: the retry is brought forward and refused at once
    env.run()
    done = env.request(req.id or 0)
    assert (done.state, done.attempts) == ("failed", 1)
    env.later(timedelta(minutes=10))
    assert len(env.hook.received()) == 1
    [post] = [t for t in env.said() if t.startswith(":x:")]
    assert post == (
        f":x: {WHAT} was not tried again after try 1: incident #1 was resolved before Baton called it. "
        "The webhook answered with an error, so it most likely did not run."
    )
    with session(env.baton.engine) as s:
        [job] = s.exec(select(Job).where(col(Job.kind) == "action_call")).all()
    assert job.state == "done"


def test_a_try_in_flight_when_the_incident_is_resolved_is_recorded_and_not_repeated(env: Env) -> None:
    """What was sent before the resolution cannot be unsent: its answer is recorded as usual."""
    env.hook.hold()
    req = env.approve()
    env.ticker.start(timedelta(milliseconds=50))
    env.baton.wake = env.ticker.wake
    env.hook.wait_for(lambda: env.hook.in_flight)
    _resolve(env)
    env.hook.release()
    env.fake.wait_for(lambda: env.request(req.id or 0).state == "called" or None, timeout=10)
    assert len(env.hook.received()) == 1 and env.request(req.id or 0).status == 200
    resolved_at = next(e.id or 0 for e in env.events("resolved"))
    [answered] = env.events("action answered")
    assert (answered.id or 0) > resolved_at  # recorded after the resolution, as it happened


# -- the config at call time ---------------------------------------------------


def _edit_action(e: Env, old: str, new: str) -> None:
    path = Path(e.baton.settings.ownership_file)
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    assert e.baton.reload() is None


def test_a_url_changed_between_tries_is_not_called_and_the_old_one_not_again(env: Env) -> None:
    env.hook.answer(500, body="upstream down")
    req = env.approve()
    env.run()
    assert len(env.hook.received()) == 1
    with webhook_server() as other:
        _edit_action(env, env.hook.url(f"/hook?token={TOKEN}"), other.url("/elsewhere"))
        env.later(timedelta(seconds=5))  # the retry's time
        env.later(timedelta(minutes=10))
        assert other.received() == []
    assert len(env.hook.received()) == 1
    done = env.request(req.id or 0)
    assert (done.state, done.attempts) == ("failed", 1)
    assert done.error == ("rollback-prompt: not called: its url changed in ownership.yaml since it was asked")
    [post] = [t for t in env.said() if t.startswith(":x:")]
    assert post.startswith(
        f":x: {WHAT} was not tried again after try 1: its url changed in ownership.yaml since it was asked."
    )


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("approval: accountable", "approval: two-person", "its approval rule (accountable → two-person)"),
        ("params: [version]", "params: [{name: version, mask: true}]", "its parameters"),
        ("params: [version]", "params: [version, region]", "its parameters"),
    ],
)
def test_an_approval_whose_action_changed_before_the_call_is_not_called(
    env: Env, old: str, new: str, what: str
) -> None:
    req = env.approve()
    _edit_action(env, old, new)
    env.run()
    assert env.hook.received() == []
    done = env.request(req.id or 0)
    assert done.state == "failed"
    assert done.error == f"rollback-prompt: not called: {what} changed in ownership.yaml since it was asked"


def test_a_title_edited_after_approval_changes_nothing(env: Env) -> None:
    req = env.approve()
    _edit_action(env, "title: Roll back to the last approved prompt version", "title: Roll back the prompt")
    env.run()
    assert env.request(req.id or 0).state == "called" and len(env.hook.received()) == 1
